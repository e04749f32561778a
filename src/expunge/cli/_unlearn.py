"""Commands of the unlearning engine: ``unlearn``, ``methods``, ``bench classifiers``, ``bench audit``, ``demo``.

PyTorch and the engine are imported inside the commands, not at the top: every ``expunge`` process builds
this module to know the commands, and a bus worker or the server should not pay seconds of torch import.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from expunge.cli._audit import run_audit_command
from expunge.cli._errors import cli_errors
from expunge.cli._io import check_output_dir, make_console
from expunge.config import get_settings
from expunge.errors import InvalidParameterError, UnknownArchitectureError, UnknownDatasetError, unknown_name_message

console = make_console()


def _threads() -> None:
    import torch

    torch.set_num_threads(get_settings().threads)


def _parse_params(text: str | None, *, example: str = '{"lr": 0.01}') -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidParameterError(f"--params must be a JSON object like '{example}'; got {text!r}.") from err
    if not isinstance(value, dict):
        raise InvalidParameterError(f"--params must be a JSON object like '{example}'; got {text!r}.")
    return value


def _check_names(dataset: str, arch: str) -> None:
    """Refuse an unknown data set or architecture before any data is loaded."""
    from expunge.datasets import available_datasets
    from expunge.models import available_architectures

    if dataset not in available_datasets():
        raise UnknownDatasetError(unknown_name_message("data set", dataset, available_datasets()))
    if arch not in available_architectures():
        raise UnknownArchitectureError(unknown_name_message("architecture", arch, available_architectures()))


def _check_bench_params(per_method: dict) -> None:
    """Validate ``--params`` of a benchmark, {method: {param: value}}, before any training."""
    from expunge.unlearn import get_method

    for name, chosen in per_method.items():
        if not isinstance(chosen, dict):
            raise InvalidParameterError(
                f'--params must map each method to a JSON object, like \'{{"finetune": {{"lr": 0.01}}}}\'; '
                f"{name!r} maps to {chosen!r}."
            )
        get_method(name).Params.from_mapping(chosen)


Dataset = Annotated[str, typer.Option(help="Data set: mnist, fashion_mnist, adult or blobs.")]
Arch = Annotated[str, typer.Option(help="Architecture: mlp or cnn.")]
Seed = Annotated[int, typer.Option(help="Seed of the model, data order and random forget draws.", min=0, max=2**32 - 1)]
MaxTrain = Annotated[
    int | None, typer.Option(help="Train on only the first N members (quick runs).", min=1, max=10_000_000)
]
Trials = Annotated[
    int, typer.Option(help="Dose-tuning trials on the validation split (0 = no tuning).", min=0, max=10_000)
]


@cli_errors
def unlearn(
    dataset: Dataset = "mnist",
    arch: Arch = "mlp",
    forget: Annotated[
        str, typer.Option(help="class:K, random:FRACTION, canaries or a file of sample IDs.")
    ] = "class:7",
    method: Annotated[str, typer.Option(help="Registered method; see `expunge methods`.")] = "eu_k",
    params: Annotated[str | None, typer.Option(help="Method parameters as a JSON object.")] = None,
    tune: Trials = 0,
    sampler: Annotated[str, typer.Option(help="Tuning sampler: random or tpe.")] = "random",
    reference: Annotated[
        str, typer.Option(help="'retrain' to measure against retraining, 'none' to skip.")
    ] = "retrain",
    seed: Seed = 0,
    max_train: MaxTrain = None,
    canaries: Annotated[
        int, typer.Option(help="Plant N canaries among the training data (audit their exposure).", min=0, max=100_000)
    ] = 0,
    out: Annotated[Path, typer.Option(help="Output folder.", callback=check_output_dir)] = Path("runs/unlearn"),
) -> None:
    """Train (or load from cache) a model, make it forget, and write report.json, report.md, the model and the IDs."""
    from expunge.datasets import write_id_file
    from expunge.models import save_checkpoint
    from expunge.unlearn import (
        SAMPLERS,
        get_method,
        make_method,
        measure,
        prepare_scenario,
        run_method,
        train_original,
        train_reference,
        tune_dose,
    )

    # Every input is checked before any data is loaded or any weight trained.
    if reference not in ("retrain", "none"):
        raise InvalidParameterError(f"--reference must be 'retrain' or 'none'; got {reference!r}.")
    if sampler not in SAMPLERS:
        raise InvalidParameterError(f"--sampler must be one of {', '.join(SAMPLERS)}; got {sampler!r}.")
    _check_names(dataset, arch)
    chosen = _parse_params(params)
    get_method(method).Params.from_mapping(chosen)
    settings = get_settings()
    _threads()
    scenario = prepare_scenario(dataset, arch=arch, forget=forget, seed=seed, max_train=max_train, canaries=canaries)
    console.print(
        f"[bold]{dataset}[/] / {arch}: forgetting {len(scenario.forget)} of {len(scenario.members)} "
        f"training samples ({scenario.forget_set.spec}) with [bold]{method}[/]"
    )
    original, train_seconds = train_original(scenario, cache_dir=settings.cache_dir)
    out.mkdir(parents=True, exist_ok=True)
    if tune:
        result = tune_dose(method, original, scenario, trials=tune, sampler=sampler, fixed=chosen, seed=seed)
        chosen = result.best_params
        (out / "tuning.json").write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
        console.print(f"tuned dose after {tune} trials: {chosen} (objective {result.best_value:.4f})")
    ref = None
    if reference == "retrain":
        ref_model, ref_seconds = train_reference(scenario, cache_dir=settings.cache_dir)
        ref = (measure(ref_model, scenario, original=original), ref_seconds)
    model, report = run_method(make_method(method, chosen), original, scenario, reference=ref)
    report.model_sha256 = save_checkpoint(
        model,
        scenario.spec,
        out,
        method=method,
        params=report.params,
        forget_spec=forget,
        seed=seed,
        max_train=max_train,
        canaries=canaries,
    )
    report.notes.append(f"Original model trained in {train_seconds:.2f} s (cached runs report the first time).")
    report.write(out)
    write_id_file(out / "forget_ids.txt", scenario.forget_set.ids)
    console.print(report.to_markdown())
    console.print(f"wrote {out}/report.json, report.md, model.pt, model.json, forget_ids.txt")


@cli_errors
def methods() -> None:
    """List every registered unlearning method with its paper and parameters."""
    from expunge.unlearn import available_methods, get_method

    table = Table(title="unlearning methods")
    for column in ("method", "exact", "parameters", "paper"):
        table.add_column(column, overflow="fold")
    for name in available_methods():
        cls = get_method(name)
        described = ", ".join(f"{d['name']}={d['default']!r}" for d in cls.Params.describe())
        table.add_row(name, "yes" if cls.exact else "no", described or "-", cls.paper)
    console.print(table)


@cli_errors
def bench_classifiers(
    dataset: Dataset = "mnist",
    arch: Arch = "mlp",
    scenario: Annotated[str, typer.Option(help="Forget spec: class:K or random:FRACTION.")] = "class:7",
    methods: Annotated[str, typer.Option(help="'all' or a comma-separated list of methods.")] = "all",
    seeds: Annotated[int, typer.Option(help="Number of seeds (0, 1, ...).", min=1, max=100)] = 3,
    tune: Annotated[int, typer.Option(help="Dose-tuning trials per method and seed.", min=0, max=10_000)] = 0,
    params: Annotated[str | None, typer.Option(help="Per-method parameters: JSON {method: {param: value}}.")] = None,
    max_train: MaxTrain = None,
    noise_floor: Annotated[
        bool, typer.Option("--noise-floor", help="Also retrain with another seed: the gap exact retrains already have.")
    ] = False,
    out: Annotated[
        Path, typer.Option(help="Output folder for results.json and results.md.", callback=check_output_dir)
    ] = Path("runs/bench"),
) -> None:
    """Run retrain and every chosen method on one scenario and write results.json and results.md."""
    from expunge.bench import run_classifier_bench

    _check_names(dataset, arch)
    per_method = _parse_params(params, example='{"finetune": {"lr": 0.01}}')
    _check_bench_params(per_method)
    settings = get_settings()
    _threads()
    doc = run_classifier_bench(
        dataset=dataset,
        arch=arch,
        scenario=scenario,
        methods=methods,
        seeds=seeds,
        out=out,
        tune=tune,
        params=per_method,
        max_train=max_train,
        cache_dir=settings.cache_dir,
        noise_floor=noise_floor,
    )
    console.print((out / "results.md").read_text(encoding="utf-8"))
    console.print(f"wrote {out}/results.json and results.md ({len(doc['rows'])} runs)")


@cli_errors
def bench_audit(
    dataset: Dataset = "mnist",
    arch: Arch = "mlp",
    shadows: Annotated[int, typer.Option(help="Shadow models (even).", min=2, max=256)] = 16,
    draws: Annotated[int, typer.Option(help="Random forget sets for the set-level test.", min=1, max=1000)] = 3,
    forget_size: Annotated[int, typer.Option(help="Samples per random forget set.", min=2, max=10_000_000)] = 600,
    methods: Annotated[
        str, typer.Option(help="'all' or a comma-separated list of methods for the gate table.")
    ] = "all",
    class_scenario: Annotated[str, typer.Option(help="The class-forgetting scenario of the gate table.")] = "class:7",
    max_train: MaxTrain = None,
    out: Annotated[
        Path, typer.Option(help="Output folder for results.json and results.md.", callback=check_output_dir)
    ] = Path("runs/bench-audit"),
) -> None:
    """Measure attack strength at low FPR, the set-level test over random forget sets, and the gate per method."""
    from expunge.bench import run_audit_bench

    _check_names(dataset, arch)
    settings = get_settings()
    _threads()
    run_audit_bench(
        dataset=dataset,
        arch=arch,
        shadows=shadows,
        draws=draws,
        forget_size=forget_size,
        methods=methods,
        class_scenario=class_scenario,
        max_train=max_train,
        out=out,
        cache_dir=settings.cache_dir,
    )
    console.print((out / "results.md").read_text(encoding="utf-8"))


@cli_errors
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.", callback=check_output_dir)] = Path("runs/demo"),
) -> None:
    """Run the main job on the embedded defaults: forget every 7 from an MNIST MLP beside retraining, audit it, then
    erase a person from a RAG index through a data-subject request and prove it."""
    unlearn(
        dataset="mnist",
        arch="mlp",
        forget="class:7",
        method="eu_k",
        params=None,
        tune=0,
        sampler="random",
        reference="retrain",
        seed=0,
        max_train=None,
        canaries=0,
        out=out,
    )
    result = run_audit_command(model=out, forget=out / "forget_ids.txt", reference="retrain", policy=None)
    console.print(f"audit gate: {'PASS' if result.passed else 'FAIL'}; open {out / 'audit.html'} to see why.")
    from expunge.cli._rag import rag_demo

    rag_demo(out)
