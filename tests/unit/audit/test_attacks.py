"""Each attack against a case with a known answer, the ROC figures, the set-level test and the policy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from expunge.audit import (
    AttackInputs,
    Policy,
    attack_figures,
    available_attacks,
    get_attack,
    load_policy,
    min_nonmembers,
    roc_curve,
    set_level_test,
    tpr_at_fpr,
    train_shadows,
)
from expunge.datasets import Split
from expunge.errors import AuditError, ConfigError, InsufficientDataError, UnknownAttackError
from expunge.models import ModelSpec, TrainConfig, build_model, train_model

SPEC = ModelSpec("mlp", (200,), 2, hidden=(64,))
RECIPE = TrainConfig(epochs=60, lr=0.05, batch_size=25, weight_decay=0.0)


@pytest.fixture(scope="module")
def memorised():
    """A learnable rule with 30 % of labels flipped: flipped samples are hard for every model that did not train
    on them, so a model that memorised its members is exposed — more so once difficulty is calibrated."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(240, 200, generator=g)
    flipped = torch.rand(240, generator=g) < 0.3
    y = ((x[:, 0] > 0) ^ flipped).long()
    pool = Split(x, y, np.array([f"s:{i:03d}" for i in range(240)], dtype=object))
    members, others = pool.subset(np.arange(120)), pool.subset(np.arange(120, 240))
    target = build_model(SPEC, seed=0)
    train_model(
        target, members.batches(25, shuffle=True, generator=torch.Generator().manual_seed(0)), RECIPE, progress=False
    )
    shadows = train_shadows(pool, spec=SPEC, recipe=RECIPE, k=8, seed=1, progress=False)
    ex = torch.cat([members.x, others.x])
    ey = torch.cat([members.y, others.y])
    ids = np.concatenate([members.ids, others.ids])
    inputs = AttackInputs(
        x=ex,
        y=ey,
        ids=ids,
        shadow_stats=shadows.statistics(ex, ey),
        shadow_losses=shadows.losses(ex, ey),
        shadow_in=shadows.membership_of(ids),
        known_members=(members.x[:60], members.y[:60]),
        known_nonmembers=(others.x[:60], others.y[:60]),
    )
    never = build_model(SPEC, seed=5)
    train_model(
        never, others.batches(25, shuffle=True, generator=torch.Generator().manual_seed(1)), RECIPE, progress=False
    )
    return target, never, inputs


@pytest.mark.parametrize("name", ["loss_threshold", "confidence_svm", "calibrated", "lira", "lira_offline"])
def test_attack_tells_a_memorised_set_from_unseen_data(name, memorised):
    target, _never, inputs = memorised
    scores = get_attack(name).scores(target, inputs)
    figs = attack_figures(scores[:120], scores[120:], bootstrap=20)
    # Known answers on this case: every attack sees the memorised half. Calibration cannot separate easy
    # members from easy non-members (both have ~0 loss under every model), hence its lower floor.
    floor = {"calibrated": 0.7}.get(name, 0.85)
    assert figs.auc > floor, (name, figs.auc)


@pytest.mark.parametrize("name", ["loss_threshold", "calibrated", "lira"])
def test_attack_sits_near_chance_on_a_model_that_saw_neither_half_as_members(name, memorised):
    _target, never, inputs = memorised
    # `never` trained on the second half only: the first half are non-members for it, like the second half are
    # members; scoring the first half against a fresh random split of the rest measures a null.
    fresh = build_model(SPEC, seed=9)
    scores = get_attack(name).scores(fresh, inputs)
    assert abs(attack_figures(scores[:120], scores[120:], bootstrap=20).auc - 0.5) < 0.12


def test_unknown_attack_lists_available():
    with pytest.raises(UnknownAttackError, match="Available: calibrated, confidence_svm, lira"):
        get_attack("shadow_boxing")
    assert {"loss_threshold", "confidence_svm", "calibrated", "lira"} <= set(available_attacks())


def test_roc_and_low_fpr_figures():
    fpr, tpr = roc_curve(np.array([3.0, 2.0, 0.5]), np.array([1.0, 0.0]))
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    assert tpr_at_fpr(fpr, tpr, 0.0) == pytest.approx(2 / 3)
    assert min_nonmembers(0.001) == 1000 and min_nonmembers(0.01) == 100
    figs = attack_figures(np.ones(50), np.zeros(300), bootstrap=10)
    assert figs.tpr_at_1pct_fpr == 1.0 and figs.tpr_at_0_1pct_fpr is None
    assert figs.warnings == ("TPR at 0.1% FPR needs at least 1000 non-members; got 300.",)
    assert figs.to_json()["tpr_at_0.1pct_fpr"] is None


def test_set_level_test_separates_a_shifted_set_from_a_null_one():
    rng = np.random.default_rng(0)
    nonmembers = rng.normal(size=3000)
    shifted = set_level_test(rng.normal(0.2, 1.0, 600), nonmembers)
    same = set_level_test(rng.normal(0.0, 1.0, 600), nonmembers)
    assert shifted.z > 3 and shifted.p_value < 0.01
    assert abs(same.z) < 2.5
    with pytest.raises(InsufficientDataError):
        set_level_test(np.ones(1), nonmembers)


def test_policy_file_is_validated(tmp_path):
    assert load_policy(None) == Policy()
    path = tmp_path / "policy.toml"
    path.write_text('[criteria]\nrelearn_gap_max = 0.1\nkl_anchor_max = "off"\n[audit]\nshadows = 4\n')
    policy = load_policy(path)
    assert policy.relearn_gap_max == 0.1 and "kl_anchor_max" not in policy.criteria() and policy.shadows == 4
    path.write_text("[criteria]\nforgetfulness_min = 1\n")
    with pytest.raises(ConfigError, match="Unknown criterion 'forgetfulness_min'.*Known criteria: anchor_acc_drop_max"):
        load_policy(path)
    path.write_text("[audit]\nshadows = 3\n")
    with pytest.raises(ConfigError, match="even int >= 2; got 3"):
        load_policy(path)


def test_ulira_is_a_registered_attack_that_catches_a_method_that_does_nothing():
    spec, recipe = ModelSpec("mlp", (100,), 2, hidden=(32,)), TrainConfig(epochs=30, lr=0.05, batch_size=40)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(160, 100, generator=g)
    y = ((x[:, 0] > 0) ^ (torch.rand(160, generator=g) < 0.3)).long()
    pool = Split(x, y, np.array([f"u:{i:03d}" for i in range(160)], dtype=object))
    forget, rest = pool.subset(np.arange(40)), pool.subset(np.arange(40, 160))

    def trained(split, seed):
        model = build_model(spec, seed=seed)
        batches = split.batches(40, shuffle=True, generator=torch.Generator().manual_seed(seed))
        train_model(model, batches, recipe, progress=False)
        return model

    unlearned, reference = trained(pool, 1), trained(rest, 2)  # "unlearned" by a method that changed nothing
    attack = get_attack("ulira")
    on_forget = AttackInputs(x=forget.x, y=forget.y, ids=forget.ids)
    assert "ulira" in available_attacks() and attack.needs_method
    with pytest.raises(AuditError, match="fit"):
        attack.scores(unlearned, on_forget)

    def no_op(model, forget, retain):
        return model

    attack.fit(
        pool=pool, forget=forget, spec=spec, recipe=recipe, unlearn_fn=no_op, key="noop", k=2, seed=0, cache_dir=None
    )
    with pytest.raises(AuditError, match="exactly those"):
        attack.scores(unlearned, AttackInputs(x=rest.x, y=rest.y, ids=rest.ids))
    unl, ref = attack.scores(unlearned, on_forget), attack.scores(reference, on_forget)
    assert unl.shape == ref.shape == (40,)
    # The no-op model still carries the forget set, so its forget samples look "unlearned, not retrained".
    assert attack_figures(unl, ref, bootstrap=10).auc > 0.7  # 0.98 when written
