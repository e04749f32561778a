"""``expunge bench classifiers``: retrain and every method on one scenario, over several seeds."""

from __future__ import annotations

import json
import platform
import statistics
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from expunge.errors import InvalidParameterError
from expunge.unlearn import (
    FIGURES,
    available_methods,
    get_method,
    make_method,
    markdown_table,
    prepare_scenario,
    run_method,
    train_original,
    tune_dose,
)

__all__ = ["NOISE_FLOOR_ROW", "resolve_methods", "run_classifier_bench"]

NOISE_FLOOR_ROW = "retrain_other_seed"
NOISE_FLOOR_SEED_OFFSET = 1000

SUMMARY_COLUMNS = [
    "method",
    "seconds",
    "speedup",
    "forget_acc",
    "retain_acc",
    "test_acc",
    "unlearning_score",
    "gap_to_retrain",
    "mia_auc",
    "relearn_acc",
    "head_reset_acc",
    "probe_acc",
    "kl_anchor",
    "peak_rss_mb",
    "suppressed",
]


def resolve_methods(spec: str, *, class_forgetting: bool) -> list[str]:
    """Turn ``all`` or a comma-separated list into method names (``retrain`` excluded: it always runs).

    ``suppress_logit`` is skipped when the forget set is not a class, where it is undefined.

    Raises:
        UnknownMethodError: A listed name is not registered.
    """
    if spec.strip() == "all":
        names = [m for m in available_methods() if m != "retrain"]
        return [m for m in names if class_forgetting or m != "suppress_logit"]
    names = [name.strip() for name in spec.split(",") if name.strip()]
    if not names:
        raise InvalidParameterError(f"--methods must be 'all' or a comma-separated list of methods; got {spec!r}.")
    for name in names:
        get_method(name)
    return [n for n in names if n != "retrain" and (class_forgetting or n != "suppress_logit")]


def run_classifier_bench(
    *,
    dataset: str,
    arch: str,
    scenario: str,
    methods: str = "all",
    seeds: int = 3,
    out: Path,
    tune: int = 0,
    params: dict[str, dict[str, Any]] | None = None,
    max_train: int | None = None,
    cache_dir: Path | None = None,
    noise_floor: bool = False,
) -> dict[str, Any]:
    """Run retrain and each method on ``seeds`` seeds; write ``results.json`` and ``results.md`` to ``out``.

    Args:
        dataset: Registered data set.
        arch: Registered architecture.
        scenario: Forget spec (``class:K`` or ``random:FRACTION``).
        methods: ``all`` or a comma-separated list.
        seeds: Number of seeds (0, 1, ...).
        out: Output folder.
        tune: Dose-tuning trials per method and seed (0 = each method's defaults or ``params``).
        params: Per-method parameter overrides.
        max_train: Keep only this many members (small mode).
        cache_dir: Where trained originals are cached.
        noise_floor: Also retrain a second time with other initial weights and data order (seed + 1000) and
            measure it against the reference like any method, as the row ``retrain_other_seed``: the gap two exact
            retrains already have, below which no method's gap is meaningful.

    Returns:
        The ``results.json`` document.
    """
    if seeds < 1:
        raise InvalidParameterError(f"--seeds must be an int >= 1. Got {seeds!r} instead.")
    params = params or {}
    resolve_methods(methods, class_forgetting=scenario.strip().startswith("class:"))  # fail before any training
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for seed in range(seeds):
        sc = prepare_scenario(dataset, arch=arch, forget=scenario, seed=seed, max_train=max_train)
        names = resolve_methods(methods, class_forgetting=sc.forget_set.target_class is not None)
        original, train_seconds = train_original(sc, cache_dir=cache_dir)
        _, ref = run_method(make_method("retrain"), original, sc)
        reference = (ref.figures, ref.seconds)
        ref_row = ref.to_json() | {"gap_to_retrain": 0.0, "speedup": 1.0, "original_train_seconds": train_seconds}
        rows.append(ref_row)
        if noise_floor:
            other = replace(sc, seed=sc.seed + NOISE_FLOOR_SEED_OFFSET)
            _, floor = run_method(make_method("retrain"), original, other, reference=reference, measure_on=sc)
            floor.method = NOISE_FLOOR_ROW
            rows.append(floor.to_json() | {"original_train_seconds": train_seconds})
        for name in names:
            chosen = params.get(name, {})
            tuning = None
            if tune:
                tuning = tune_dose(name, original, sc, trials=tune, seed=seed, fixed=chosen)
                chosen = tuning.best_params
            _, report = run_method(make_method(name, chosen), original, sc, reference=reference)
            row = report.to_json() | {"original_train_seconds": train_seconds}
            if tuning is not None:
                row["tuning"] = {"trials": tune, "best_value": tuning.best_value, "objective": tuning.objective}
            rows.append(row)
    summary = _summarise(rows)
    doc = {
        "benchmark": "classifiers",
        "config": {
            "dataset": dataset,
            "arch": arch,
            "scenario": scenario,
            "methods": methods,
            "seeds": seeds,
            "tune": tune,
            "params": params,
            "max_train": max_train,
            "noise_floor": noise_floor,
            "recipe": asdict(sc.train_config),
            "n_forget": rows[0]["n_forget"],
            "n_retain": rows[0]["n_retain"],
        },
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "processor": platform.machine(),
        },
        "wall_seconds": time.perf_counter() - started,
        "summary": summary,
        "rows": rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (out / "results.md").write_text(_markdown(doc), encoding="utf-8")
    return doc


def _summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_method: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_method.setdefault(row["method"], []).append(row)
    summary = []
    for method, group in by_method.items():
        entry: dict[str, Any] = {"method": method, "runs": len(group)}
        for key in ("seconds", "speedup", *FIGURES, "gap_to_retrain", "peak_rss_mb"):
            values = [r[key] for r in group if r.get(key) is not None]
            entry[key] = statistics.fmean(values) if values else None
            entry[f"{key}_std"] = statistics.pstdev(values) if len(values) > 1 else 0.0
        entry["suppressed"] = f"{sum(bool(r['suppression_suspected']) for r in group)}/{len(group)}"
        summary.append(entry)
    return summary


def _markdown(doc: dict[str, Any]) -> str:
    c = doc["config"]
    head = (
        f"# Classifier unlearning: {c['dataset']} / {c['arch']}, forget `{c['scenario']}`\n\n"
        f"{c['seeds']} seed(s), {c['n_forget']} forgotten / {c['n_retain']} retained samples, recipe "
        f"{c['recipe']['epochs']} epochs; torch {doc['machine']['torch']} on {doc['machine']['threads']} threads. "
        f"Means over seeds; `seconds` is unlearning time, `speedup` is retraining time / unlearning time in the "
        f"same run; `suppressed` counts runs flagged `suppression_suspected`. "
        f"Tuning trials per method: {c['tune']}.\n\n"
    )
    if c.get("noise_floor"):
        head += (
            f"`{NOISE_FLOOR_ROW}` is a second exact retrain with other initial weights and data order, measured "
            "against the reference like the methods: its gap is what two exact retrains already differ by.\n\n"
        )
    return head + markdown_table(doc["summary"], SUMMARY_COLUMNS)
