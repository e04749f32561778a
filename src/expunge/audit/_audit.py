"""Run every attack and test on the original, unlearned and reference models, and judge the gate."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from expunge.audit._metrics import (
    canary_exposure,
    feature_probe_accuracy,
    head_reset_accuracy,
    kl_divergence,
    relearn_curve,
)
from expunge.audit._policy import Policy
from expunge.audit._roc import AttackFigures, attack_figures, min_nonmembers, roc_curve
from expunge.audit._setlevel import SetLevelTest, set_level_test
from expunge.audit._shadows import ShadowSet, train_shadows
from expunge.audit.attacks import AttackInputs, get_attack
from expunge.datasets import CanarySet, Split
from expunge.errors import AuditError, InsufficientDataError, ModelError
from expunge.models import ModelSpec, TrainConfig, accuracy, per_sample_loss

__all__ = ["AuditData", "AuditResult", "Criterion", "run_audit"]

MODEL_ROLES = ("original", "unlearned", "reference")
CAP = 3000


@dataclass(frozen=True)
class AuditData:
    """The samples an audit needs, all with their IDs.

    Attributes:
        forget: The forgotten training samples.
        nonmembers: Held-out training-pool samples no audited model trained on (class-matched for class
            forgetting); never only the test set, whose samples are easier than training samples.
        retain: Retained training samples.
        test: The test set.
        pool: The pool shadow models draw from; it must contain ``forget`` and ``nonmembers``.
        anchor: Samples whose accuracy and predictive distribution must be preserved.
        probe_train: Labelled samples to fit the linear feature probe on.
        spec: Architecture of the audited models.
        recipe: Their training recipe (shadows are trained alike).
        num_classes: Number of classes.
        target_class: The forgotten class, when a whole class was forgotten.
        canaries: Canaries planted before training, when any; their exposure is gated only when every planted
            canary is in the forget set.
    """

    forget: Split
    nonmembers: Split
    retain: Split
    test: Split
    pool: Split
    anchor: Split
    probe_train: Split
    spec: ModelSpec
    recipe: TrainConfig
    num_classes: int
    target_class: int | None = None
    canaries: CanarySet | None = None


@dataclass(frozen=True)
class Criterion:
    """One gate criterion: the measured value against its threshold."""

    name: str
    value: float
    threshold: float
    passed: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "name": self.name,
            "value": self.value,
            "threshold": self.threshold,
            "passed": self.passed,
            "detail": self.detail,
        }


@dataclass
class AuditResult:
    """Everything an audit measured, the gate's verdict, and the raw curves the HTML report plots."""

    passed: bool
    criteria: list[Criterion]
    attacks: dict[str, dict[str, AttackFigures]]
    set_level: dict[str, SetLevelTest]
    relearn: dict[str, list[float]]
    head_reset: dict[str, float]
    probe: dict[str, float]
    anchor_acc: dict[str, float]
    kl_anchor: dict[str, float]
    forget_acc: dict[str, float]
    canary_exposure: dict[str, float]
    distinguishable: dict[str, bool]
    n_forget: int
    n_nonmembers: int
    shadows: int
    shadow_train_seconds: float
    seconds: float
    warnings: list[str] = field(default_factory=list)
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict, repr=False)
    losses: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return the ``audit.json`` document."""
        return {
            "passed": self.passed,
            "criteria": [c.to_json() for c in self.criteria],
            "attacks": {a: {m: f.to_json() for m, f in by_model.items()} for a, by_model in self.attacks.items()},
            "distinguishable_from_retrain": self.distinguishable,
            "set_level": {m: t.to_json() for m, t in self.set_level.items()},
            "relearn_curve": self.relearn,
            "head_reset_acc": self.head_reset,
            "probe_acc": self.probe,
            "anchor_acc": self.anchor_acc,
            "kl_anchor": self.kl_anchor,
            "forget_acc": self.forget_acc,
            "canary_exposure": self.canary_exposure,
            "n_forget": self.n_forget,
            "n_nonmembers": self.n_nonmembers,
            "shadows": self.shadows,
            "shadow_train_seconds": self.shadow_train_seconds,
            "seconds": self.seconds,
            "warnings": self.warnings,
            "meta": self.meta,
        }

    def write_json(self, folder: Path | str) -> Path:
        """Write ``audit.json`` into ``folder`` and return its path."""
        path = Path(folder) / "audit.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return path


def _cap(split: Split, seed: int) -> Split:
    return split.sample(CAP, np.random.default_rng(seed))


def _same_architecture(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(sa[k].shape == sb[k].shape for k in sa)


def run_audit(
    models: dict[str, nn.Module],
    data: AuditData,
    *,
    policy: Policy | None = None,
    seed: int = 0,
    cache_dir: Path | None = None,
    unlearn_fn: Callable[[nn.Module, Split, Split], nn.Module] | None = None,
    unlearn_key: str = "",
) -> AuditResult:
    """Audit an unlearned model against the original and a retrained reference.

    Args:
        models: ``{"original": …, "unlearned": …, "reference": …}``; ``reference`` is optional but every gap
            criterion needs it.
        data: The samples, see :class:`AuditData`.
        policy: Attacks, shadows and thresholds; default :class:`Policy()`.
        seed: Seed of shadows, bootstraps and draws.
        cache_dir: Where shadow models are cached.
        unlearn_fn: The method under test, ``(model, forget, retain) -> model``: needed by ``ulira``.
        unlearn_key: Identifies ``unlearn_fn`` (method and parameters) in the ULiRA shadow cache.

    Raises:
        AuditError: ``original`` or ``unlearned`` is missing, a role is unknown, or an attack or criterion needs
            something not given (a reference, the method under test).
        ModelError: A model's architecture differs from the unlearned one's.
        UnknownAttackError: The policy names an attack that is not registered.
    """
    policy = policy or Policy()
    start = time.perf_counter()
    if "unlearned" not in models or "original" not in models:
        raise AuditError(f"An audit needs the 'original' and 'unlearned' models; got {sorted(models)}.")
    unknown = sorted(set(models) - set(MODEL_ROLES))
    if unknown:
        raise AuditError(f"Unknown model role(s) {unknown}; roles are {list(MODEL_ROLES)}.")
    for role, model in models.items():
        if not _same_architecture(model, models["unlearned"]):
            raise ModelError(
                f"The {role} model has another architecture than the unlearned model: "
                "their parameter names or shapes differ."
            )
    for model in models.values():
        model.eval()
    attack_names = list(policy.attacks)
    attacks = {name: get_attack(name) for name in attack_names}
    for name, attack in attacks.items():
        if attack.needs_method and (unlearn_fn is None or "reference" not in models):
            raise AuditError(
                f"{name} needs the method under test and a reference model: pass --reference and a "
                "model written by `expunge unlearn`."
            )
    forget, nonmembers = data.forget, data.nonmembers
    nf = len(forget)
    for fpr in policy.required_fprs:
        need = min_nonmembers(fpr)
        if len(nonmembers) < need:
            raise InsufficientDataError(
                f"TPR at {fpr:.1%} FPR needs at least {need} non-members; got {len(nonmembers)}. Hold out more "
                "training data, or drop this rate from required_fprs."
            )

    shadows: ShadowSet | None = None
    shadow_seconds = 0.0
    if any(a.needs_shadows for a in attacks.values()):
        shadows = train_shadows(
            data.pool, spec=data.spec, recipe=data.recipe, k=policy.shadows, seed=seed, cache_dir=cache_dir
        )
        shadow_seconds = shadows.train_seconds
    inputs = AttackInputs.from_splits(
        forget,
        nonmembers,
        shadows=shadows,
        known_members=_cap(data.retain, seed).xy,
        known_nonmembers=_cap(data.test, seed).xy,
    )

    figures: dict[str, dict[str, AttackFigures]] = {}
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    all_scores: dict[str, dict[str, np.ndarray]] = {}
    unmeasured: dict[str, list[str]] = {}
    for name, attack in attacks.items():
        if attack.needs_method and unlearn_fn is not None:  # never None here: checked above, before any work
            shadow_seconds += attack.fit(
                pool=data.pool,
                forget=forget,
                spec=data.spec,
                recipe=data.recipe,
                unlearn_fn=unlearn_fn,
                key=unlearn_key,
                k=max(2, policy.shadows // 2),
                seed=seed,
                cache_dir=cache_dir,
            )
            on_forget = AttackInputs(x=forget.x, y=forget.y, ids=forget.ids)
            unl, ref = (attack.scores(models[role], on_forget) for role in ("unlearned", "reference"))
            figures[name] = {"unlearned": attack_figures(unl, ref, bootstrap=policy.bootstrap, seed=seed)}
            curves[name] = {"unlearned": roc_curve(unl, ref)}
            continue
        figures[name], curves[name], all_scores[name] = {}, {}, {}
        for role, model in models.items():
            scores = attack.scores(model, inputs)
            all_scores[name][role] = scores
            figs = attack_figures(scores[:nf], scores[nf:], bootstrap=policy.bootstrap, seed=seed)
            figures[name][role] = figs
            curves[name][role] = roc_curve(scores[:nf], scores[nf:])
            for warning in figs.warnings:
                unmeasured.setdefault(warning, []).append(f"{name}/{role}")

    warnings = [f"{message} Left null for: {', '.join(where)}." for message, where in unmeasured.items()]
    set_attack = policy.set_level_attack if policy.set_level_attack in all_scores else next(iter(all_scores), None)
    set_level = {}
    if set_attack is not None:
        for role, scores in all_scores[set_attack].items():
            set_level[role] = set_level_test(scores[:nf], scores[nf:], seed=seed)

    rng = np.random.default_rng(seed)
    order = rng.permutation(nf)
    n_attack = min(policy.relearn_samples, max(1, nf // 2))
    attack_idx, eval_idx = order[:n_attack], order[n_attack:] if nf > n_attack else order
    eval_idx = eval_idx[:CAP]
    relearn = {
        role: relearn_curve(
            model,
            (forget.x[attack_idx], forget.y[attack_idx]),
            (forget.x[eval_idx], forget.y[eval_idx]),
            steps=policy.relearn_steps,
        )
        for role, model in models.items()
    }
    capped_forget = _cap(forget, seed)
    head_reset = {}
    if data.target_class is not None:
        head_reset = {
            r: head_reset_accuracy(m, data.target_class, capped_forget.x, capped_forget.y) for r, m in models.items()
        }
    probe_train = _cap(data.probe_train, seed)
    probe = {
        r: feature_probe_accuracy(
            m, (probe_train.x, probe_train.y), (capped_forget.x, capped_forget.y), num_classes=data.num_classes
        )
        for r, m in models.items()
    }
    anchor = _cap(data.anchor, seed)
    anchor_acc = {r: accuracy(m, anchor.x, anchor.y) for r, m in models.items()}
    kl = {r: kl_divergence(models["original"], m, anchor.x) for r, m in models.items()}
    forget_acc = {r: accuracy(m, capped_forget.x, capped_forget.y) for r, m in models.items()}
    exposure: dict[str, float] = {}
    if data.canaries is not None:
        planted = (data.canaries.planted.x, data.canaries.planted.y)
        candidates = (data.canaries.candidates.x, data.canaries.candidates.y)
        exposure = {r: canary_exposure(m, planted, candidates) for r, m in models.items()}
    losses = {
        r: {
            part: per_sample_loss(m, s.x, s.y).numpy()
            for part, s in (
                ("forget", capped_forget),
                ("retain", _cap(data.retain, seed)),
                ("test", _cap(data.test, seed)),
            )
        }
        for r, m in models.items()
    }

    distinguishable = {}
    if "reference" in models:
        for name, by_model in figures.items():
            if "reference" in by_model:
                lo, hi = by_model["unlearned"].auc_ci
                distinguishable[name] = not lo <= by_model["reference"].auc <= hi
    forgotten_canaries = data.canaries is not None and set(data.canaries.planted.ids.tolist()) <= set(
        forget.ids.tolist()
    )
    criteria = _judge(
        policy,
        figures,
        set_level,
        relearn,
        head_reset,
        anchor_acc,
        kl,
        exposure if forgotten_canaries else None,
        has_reference="reference" in models,
    )
    return AuditResult(
        passed=all(c.passed for c in criteria),
        criteria=criteria,
        attacks=figures,
        set_level=set_level,
        relearn=relearn,
        head_reset=head_reset,
        probe=probe,
        anchor_acc=anchor_acc,
        kl_anchor=kl,
        forget_acc=forget_acc,
        canary_exposure=exposure,
        distinguishable=distinguishable,
        n_forget=nf,
        n_nonmembers=len(nonmembers),
        shadows=len(shadows) if shadows else 0,
        shadow_train_seconds=shadow_seconds,
        seconds=time.perf_counter() - start,
        warnings=warnings,
        curves=curves,
        losses=losses,
        meta={"set_level_attack": set_attack, "attacks": attack_names, "seed": seed, "target_class": data.target_class},
    )


def _judge(
    policy: Policy,
    figures: dict[str, dict[str, AttackFigures]],
    set_level: dict[str, SetLevelTest],
    relearn: dict[str, list[float]],
    head_reset: dict[str, float],
    anchor_acc: dict[str, float],
    kl: dict[str, float],
    canary_exposure: dict[str, float] | None,
    *,
    has_reference: bool,
) -> list[Criterion]:
    out: list[Criterion] = []
    limits = policy.criteria()

    def add(name: str, value: float, detail: str) -> None:
        out.append(Criterion(name, float(value), limits[name], bool(value <= limits[name]), detail))

    def need_reference(name: str) -> None:
        if not has_reference:
            raise AuditError(
                f"The criterion {name!r} compares with a retrained reference: pass --reference "
                'retrain or a reference model folder, or set it to "off" in the policy.'
            )

    if "set_level_z_max" in limits and "unlearned" in set_level:
        add(
            "set_level_z_max",
            set_level["unlearned"].z,
            f"set-level z of the forget set under {policy.set_level_attack}",
        )
    if "auc_gap_max" in limits:
        need_reference("auc_gap_max")
        gaps = {a: abs(f["unlearned"].auc - f["reference"].auc) for a, f in figures.items() if "reference" in f}
        if gaps:
            worst = max(gaps, key=gaps.get)
            add("auc_gap_max", gaps[worst], f"largest |AUC(unlearned) − AUC(retrained)|, attack {worst}")
    if "relearn_gap_max" in limits:
        need_reference("relearn_gap_max")
        add(
            "relearn_gap_max",
            relearn["unlearned"][-1] - relearn["reference"][-1],
            "relearn accuracy above the retrained reference's",
        )
    if "head_reset_gap_max" in limits and head_reset:
        need_reference("head_reset_gap_max")
        add(
            "head_reset_gap_max",
            head_reset["unlearned"] - head_reset["reference"],
            "head-reset accuracy above the retrained reference's",
        )
    if "anchor_acc_drop_max" in limits:
        add(
            "anchor_acc_drop_max",
            anchor_acc["original"] - anchor_acc["unlearned"],
            "anchor accuracy lost against the original",
        )
    if "kl_anchor_max" in limits:
        add("kl_anchor_max", kl["unlearned"], "KL(original ‖ unlearned) on the anchor set, nats")
    if "canary_exposure_gap_max" in limits and canary_exposure:
        need_reference("canary_exposure_gap_max")
        add(
            "canary_exposure_gap_max",
            canary_exposure["unlearned"] - canary_exposure["reference"],
            "canary exposure above the retrained model's (never trained on them), bits",
        )
    return out
