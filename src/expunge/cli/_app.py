"""The root Typer app: sub-commands are attached here."""

from __future__ import annotations

import typer

from expunge.cli import _unlearn

app = typer.Typer(
    name="expunge",
    help="Make AI systems forget on demand, and prove it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks that write results.json and a markdown table.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

app.command("unlearn")(_unlearn.unlearn)
app.command("methods")(_unlearn.methods)
app.command("demo")(_unlearn.demo)
bench_app.command("classifiers")(_unlearn.bench_classifiers)


def main() -> None:
    """Run the CLI (the ``expunge`` console script)."""
    app()
