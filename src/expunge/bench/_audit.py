"""``expunge bench audit``: how strong the attacks are, whether the set-level test separates, what the gate passes."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from expunge.audit import (
    AttackInputs,
    Policy,
    ShadowSet,
    attack_figures,
    get_attack,
    run_audit,
    set_level_test,
    train_shadows,
)
from expunge.bench._classifiers import resolve_methods
from expunge.datasets import parse_forget_spec
from expunge.errors import InvalidForgetSetError, InvalidParameterError
from expunge.unlearn import (
    Scenario,
    audit_data,
    make_method,
    markdown_table,
    prepare_scenario,
    run_method,
    train_original,
    train_reference,
)

__all__ = ["run_audit_bench"]


def _strength(
    scenario: Scenario, original: torch.nn.Module, shadows: ShadowSet, *, members: int, seed: int
) -> list[dict[str, Any]]:
    """Per-example attacks on the original model: random members vs held-out non-members."""
    rng = np.random.default_rng(seed)
    pool = scenario.members
    picked = pool.subset(np.sort(rng.choice(len(pool), min(members, len(pool)), replace=False)))
    holdout = scenario.partition.holdout
    inputs = AttackInputs.from_splits(
        picked,
        holdout,
        shadows=shadows,
        known_members=(scenario.retain.x[:3000], scenario.retain.y[:3000]),
        known_nonmembers=(scenario.dataset.test.x[:3000], scenario.dataset.test.y[:3000]),
    )
    rows = []
    for name in ("loss_threshold", "confidence_svm", "calibrated", "lira_offline", "lira"):
        scores = get_attack(name).scores(original, inputs)
        f = attack_figures(scores[: len(picked)], scores[len(picked) :], seed=seed)
        rows.append(
            {
                "attack": name,
                "auc": f.auc,
                "tpr_at_0.1pct_fpr": f.tpr_at_0_1pct_fpr,
                "tpr_at_1pct_fpr": f.tpr_at_1pct_fpr,
                "balanced_accuracy": f.balanced_accuracy,
                "members": len(picked),
                "nonmembers": len(holdout),
            }
        )
    return rows


def run_audit_bench(
    *,
    dataset: str = "mnist",
    arch: str = "mlp",
    shadows: int = 16,
    draws: int = 3,
    forget_size: int = 600,
    methods: str = "all",
    class_scenario: str = "class:7",
    max_train: int | None = None,
    out: Path,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Measure attack strength, the set-level test and the gate's verdicts; write results.json and results.md."""
    started = time.perf_counter()
    if shadows < 2 or shadows % 2:
        raise InvalidParameterError(f"--shadows must be an even number >= 2 (half hold each sample). Got {shadows}.")
    if draws < 1:
        raise InvalidParameterError(f"--draws must be at least 1. Got {draws}.")
    resolve_methods(methods, class_forgetting=True)  # fail before any training
    base = prepare_scenario(dataset, arch=arch, forget=class_scenario, seed=0, max_train=max_train)
    if not 2 <= forget_size < len(base.members):
        raise InvalidForgetSetError(
            f"--forget-size must be from 2 to less than the {len(base.members)} training members. Got {forget_size}."
        )
    original, _ = train_original(base, cache_dir=cache_dir)
    data = audit_data(base)
    shadow_set = train_shadows(
        data.pool, spec=base.spec, recipe=base.train_config, k=shadows, seed=0, cache_dir=cache_dir
    )
    shadow_seconds = shadow_set.one_off_seconds
    strength = _strength(base, original, shadow_set, members=3000, seed=0)

    fraction = forget_size / len(base.members)
    set_rows = []
    policy = Policy(shadows=shadows)
    for draw in range(draws):
        sc = prepare_scenario(dataset, arch=arch, forget=f"random:{fraction:.6f}", seed=0, max_train=max_train)
        sc = _redraw(sc, draw)
        reference, _ = train_reference(sc, cache_dir=cache_dir)
        d = audit_data(sc)
        inputs = AttackInputs.from_splits(d.forget, d.nonmembers, shadows=shadow_set)
        lira = get_attack("lira")
        nf = len(d.forget)
        for role, model in (("original", original), ("retrained", reference)):
            s = lira.scores(model, inputs)
            t = set_level_test(s[:nf], s[nf:], seed=draw)
            set_rows.append(
                {
                    "draw": draw,
                    "model": role,
                    "z": t.z,
                    "p_value": t.p_value,
                    "forget": nf,
                    "nonmembers": len(d.nonmembers),
                }
            )

    gate_rows = []
    audit_seconds = []
    for scenario_spec in (class_scenario, f"random:{fraction:.6f}"):
        sc = prepare_scenario(dataset, arch=arch, forget=scenario_spec, seed=0, max_train=max_train)
        reference, _ = train_reference(sc, cache_dir=cache_dir)
        names = ["retrain", *resolve_methods(methods, class_forgetting=sc.forget_set.target_class is not None)]
        for name in names:
            unlearned, report = run_method(make_method(name), original, sc)
            t = time.perf_counter()
            result = run_audit(
                {"original": original, "unlearned": unlearned, "reference": reference},
                audit_data(sc),
                policy=policy,
                cache_dir=cache_dir,
            )
            audit_seconds.append(time.perf_counter() - t)
            failed = [c.name for c in result.criteria if not c.passed]
            gate_rows.append(
                {
                    "scenario": scenario_spec,
                    "method": name,
                    "passed": "PASS" if result.passed else "fail",
                    "failed_criteria": ", ".join(failed) or "-",
                    "set_level_z": result.set_level["unlearned"].z,
                    "lira_auc": result.attacks["lira"]["unlearned"].auc,
                    "relearn_acc": result.relearn["unlearned"][-1],
                    "head_reset_acc": result.head_reset.get("unlearned"),
                    "audit_seconds": audit_seconds[-1],
                }
            )
    doc = {
        "benchmark": "audit",
        "config": {
            "dataset": dataset,
            "arch": arch,
            "shadows": shadows,
            "draws": draws,
            "forget_size": forget_size,
            "class_scenario": class_scenario,
            "max_train": max_train,
        },
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "shadow_train_seconds": shadow_seconds,
        "audit_seconds_cached_median": float(np.median(audit_seconds)),
        "audit_seconds_cached_max": float(np.max(audit_seconds)),
        "attack_strength": strength,
        "set_level": set_rows,
        "gate": gate_rows,
        "wall_seconds": time.perf_counter() - started,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    md = (
        f"# Audit benchmark: {dataset} / {arch}, {shadows} shadows\n\n"
        f"One-off shadow training: {shadow_seconds:.1f} s. A full audit with cached shadows and reference (all "
        f"default attacks, set-level test, relearn, head reset, probe, KL): median "
        f"{doc['audit_seconds_cached_median']:.1f} s, max {doc['audit_seconds_cached_max']:.1f} s.\n\n"
        "## Attack strength on the original model (random members vs held-out non-members)\n\n"
        + markdown_table(
            strength,
            ["attack", "auc", "tpr_at_0.1pct_fpr", "tpr_at_1pct_fpr", "balanced_accuracy", "members", "nonmembers"],
        )
        + f"\n## Set-level test (LiRA), random {forget_size}-sample forget sets\n\n"
        + markdown_table(set_rows, ["draw", "model", "z", "p_value", "forget", "nonmembers"])
        + "\n## The default gate, per method (seed 0, default doses)\n\n"
        + markdown_table(
            gate_rows,
            [
                "scenario",
                "method",
                "passed",
                "failed_criteria",
                "set_level_z",
                "lira_auc",
                "relearn_acc",
                "head_reset_acc",
                "audit_seconds",
            ],
        )
    )
    (out / "results.md").write_text(md, encoding="utf-8")
    return doc


def _redraw(scenario: Scenario, draw: int) -> Scenario:
    """Return the scenario with its random forget set redrawn with seed ``draw`` (model seed unchanged)."""
    forget_set = parse_forget_spec(
        scenario.forget_set.spec, scenario.members, num_classes=scenario.dataset.num_classes, seed=1000 + draw
    )
    forget, retain = forget_set.split(scenario.members)
    return replace(scenario, forget_set=forget_set, forget=forget, retain=retain)
