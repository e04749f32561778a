"""The root Typer app: the engine's commands and the governance sub-app are attached here."""

from __future__ import annotations

from typing import Annotated

import typer

from expunge.cli import _audit, _lm, _rag, _unlearn, governance
from expunge.cli._errors import ExpungeGroup, show_tracebacks

app = typer.Typer(
    name="expunge",
    help="Make AI systems forget on demand, and prove it.",
    cls=ExpungeGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    traceback: Annotated[
        bool, typer.Option("--traceback", help="On an unexpected error (exit 3), also print the Python traceback.")
    ] = False,
) -> None:
    """Make AI systems forget on demand, and prove it."""
    show_tracebacks(traceback)


bench_app = typer.Typer(help="Benchmarks that write results.json and a markdown table.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
app.add_typer(_rag.app, name="rag")
app.add_typer(_lm.app, name="lm")

app.command("unlearn")(_unlearn.unlearn)
app.command("methods")(_unlearn.methods)
app.command("demo")(_unlearn.demo)
app.command("audit")(_audit.audit)
bench_app.command("classifiers")(_unlearn.bench_classifiers)
bench_app.command("audit")(_unlearn.bench_audit)
bench_app.command("rag")(_rag.bench_rag)
bench_app.command("answers")(_rag.bench_answers)
bench_app.command("lm")(_lm.bench_lm)

# The governance app's groups and commands join the root; its benchmarks join `expunge bench`.
for group in governance.app.registered_groups:
    if group.name == "bench":
        bench_app.registered_commands.extend(group.typer_instance.registered_commands)
    else:
        app.registered_groups.append(group)
app.registered_commands.extend(governance.app.registered_commands)


def main() -> None:
    """Run the CLI (the ``expunge`` console script)."""
    app()
