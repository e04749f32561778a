"""``expunge audit``: the audit gate over a model written by ``expunge unlearn``.

PyTorch and the engine are imported inside the command (see ``expunge.cli._unlearn``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from expunge.cli._errors import EXIT_FAILED_CHECK, cli_errors
from expunge.cli._io import check_output_dir, make_console
from expunge.config import get_settings
from expunge.errors import AuditError, ModelError

if TYPE_CHECKING:
    from expunge.audit import AuditResult

console = make_console()


def _check_bench(bench: Path | None) -> None:
    """Refuse, before any work, a --bench folder whose results.json cannot be charted."""
    if bench is None:
        return
    try:
        doc = json.loads((bench / "results.json").read_text(encoding="utf-8"))
    except OSError as err:
        raise AuditError(f"--bench {str(bench)!r} has no readable results.json ({err.strerror}).") from err
    except (UnicodeError, ValueError) as err:
        raise AuditError(f"--bench {str(bench)!r}: results.json is not JSON ({err}).") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
        raise AuditError(f"--bench {str(bench)!r}: results.json was not written by `expunge bench classifiers`.")


def run_audit_command(
    *,
    model: Path,
    forget: Path,
    reference: str,
    policy: Path | None,
    bench: Path | None = None,
    out: Path | None = None,
) -> AuditResult:
    """Audit a model folder written by ``expunge unlearn``; write and print the report; return the result."""
    import torch

    from expunge.audit import load_policy, run_audit, write_report
    from expunge.datasets import Split
    from expunge.models import load_checkpoint
    from expunge.unlearn import ForgetData, audit_data, make_method, prepare_scenario, train_original, train_reference

    # Every input is read and checked before any model is trained.
    settings = get_settings()
    rules = load_policy(policy)
    _check_bench(bench)
    if reference != "retrain" and not Path(reference).is_dir():
        raise AuditError(f"--reference must be 'retrain' or a model folder; {reference!r} is neither.")
    ref_model = load_checkpoint(Path(reference)).model if reference != "retrain" else None
    checkpoint = load_checkpoint(model)
    meta = checkpoint.meta
    dataset = checkpoint.spec.extra.get("dataset")
    if not dataset or "seed" not in meta:
        raise ModelError(f"{model} was not written by `expunge unlearn`: model.json lacks the data set or seed.")
    method = make_method(meta.get("method", "retrain"), meta.get("params") or {})
    scenario = prepare_scenario(
        dataset,
        arch=checkpoint.spec.arch,
        forget=str(forget),
        seed=int(meta["seed"]),
        hidden=checkpoint.spec.hidden,
        max_train=meta.get("max_train"),
        canaries=int(meta.get("canaries") or 0),
    )
    torch.set_num_threads(settings.threads)
    original, _ = train_original(scenario, cache_dir=settings.cache_dir)
    if ref_model is None:
        ref_model, _ = train_reference(scenario, cache_dir=settings.cache_dir)

    def unlearn_fn(shadow: torch.nn.Module, forget_split: Split, retain_split: Split) -> torch.nn.Module:
        batch = scenario.train_config.batch_size
        gen = torch.Generator().manual_seed(0)
        data = ForgetData(
            forget=forget_split.batches(batch, shuffle=True, generator=gen),
            retain=retain_split.batches(batch, shuffle=True, generator=gen),
            num_classes=scenario.dataset.num_classes,
            target_class=scenario.forget_set.target_class,
            train_config=scenario.train_config,
            model_factory=scenario.model_factory,
        )
        return method.forget(shadow, data, generator=gen)

    result = run_audit(
        {"original": original, "unlearned": checkpoint.model, "reference": ref_model},
        audit_data(scenario),
        policy=rules,
        seed=int(meta["seed"]),
        cache_dir=settings.cache_dir,
        unlearn_fn=unlearn_fn,
        unlearn_key=f"{method.name}:{sorted(method.params.to_json().items())}",
    )
    result.meta.update(
        {
            "model": str(model),
            "model_sha256": checkpoint.sha256,
            "method": method.name,
            "reference": reference,
            "policy": str(policy) if policy else "default",
        }
    )
    folder = out or model
    json_path, html_path = write_report(result, folder, title=f"Audit of {method.name} on {dataset}", bench_dir=bench)
    table = Table(title=f"audit gate: {'PASS' if result.passed else 'FAIL'}")
    for column in ("criterion", "measured", "threshold", "result"):
        table.add_column(column)
    for c in result.criteria:
        table.add_row(c.name, f"{c.value:.4f}", f"{c.threshold:.4f}", "pass" if c.passed else "[red]FAIL[/]")
    console.print(table)
    for warning in result.warnings:
        console.print(f"[yellow]warning[/]: {warning}")
    console.print(f"wrote {json_path} and {html_path}")
    return result


@cli_errors
def audit(
    model: Annotated[
        Path,
        typer.Option(
            help="Folder of the unlearned model (written by `expunge unlearn`).", exists=True, file_okay=False
        ),
    ],
    forget: Annotated[
        Path,
        typer.Option(
            help="File of forgotten sample IDs, one per line (forget_ids.txt).",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    reference: Annotated[
        str, typer.Option(help="'retrain' to retrain a reference now, or a model folder.")
    ] = "retrain",
    policy: Annotated[
        Path | None,
        typer.Option(
            help="Policy TOML ([criteria] thresholds, [audit] settings).", exists=True, dir_okay=False, readable=True
        ),
    ] = None,
    bench: Annotated[
        Path | None,
        typer.Option(help="A bench folder (results.json) to chart methods side by side.", exists=True, file_okay=False),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Where audit.json and audit.html go; default the model folder.", callback=check_output_dir),
    ] = None,
) -> None:
    """Run the membership attacks and forgetting tests and judge the gate: exit 0 on pass, 1 on fail."""
    result = run_audit_command(model=model, forget=forget, reference=reference, policy=policy, bench=bench, out=out)
    if not result.passed:
        sys.exit(EXIT_FAILED_CHECK)
