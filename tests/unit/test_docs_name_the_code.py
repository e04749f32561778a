"""The docs name everything a user can reach: every setting, CLI command and option, registry entry and route.

Nothing here is a hand-typed list: each walk starts from the code (the settings table, the Typer app, every
:class:`~expunge.registry.Registry` found in the package, the OpenAPI document), so a new one fails until the
docs (README.md and docs/*.md) name it.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import expunge
from expunge.cli import app
from expunge.config import Settings
from expunge.registry import Registry

ROOT = Path(__file__).parents[2]
DOCS = "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
CLICK = typer.main.get_command(app)


def leaves(group, path=()):
    """Every runnable command under ``group``, as (path of names, click command)."""
    for name, sub in sorted(group.commands.items()):
        if hasattr(sub, "commands"):
            yield from leaves(sub, (*path, name))
        else:
            yield (*path, name), sub


COMMANDS = list(leaves(CLICK))


def registries() -> dict[str, Registry]:
    """Every Registry bound at module level anywhere in the package, by its kind."""
    found: dict[int, Registry] = {}
    for info in pkgutil.walk_packages(expunge.__path__, "expunge."):
        if ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, Registry):
                found[id(value)] = value
    return {r.kind: r for r in found.values()}


def test_the_walks_find_what_they_walk():
    assert len(COMMANDS) >= 34
    assert {"unlearning method", "attack", "data set", "architecture", "vector store scheme", "subscriber"} <= set(
        registries()
    )


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name):
    assert f"EXPUNGE_{name.upper()}" in DOCS, f"EXPUNGE_{name.upper()} is not documented"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_and_option_is_documented(path, command):
    name = " ".join(path)
    assert f"expunge {name}" in DOCS or f"`{name}" in DOCS, f"command {name} is not documented"
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    undocumented = [
        option
        for param in command.params
        for option in param.opts
        if option.startswith("--") and option != "--help" and not re.search(rf"(?<![\w-]){option}(?![\w-])", DOCS)
    ]
    assert undocumented == [], f"{name}: options not documented: {undocumented}"


@pytest.mark.parametrize("kind", sorted(registries()))
def test_every_registry_entry_is_documented(kind):
    registry = registries()[kind]
    missing = [name for name in registry.names() if f"`{name}" not in DOCS]
    assert missing == [], f"{kind} entries not documented: {missing}"


def test_every_route_is_documented(tmp_path):
    from expunge.requests import open_governance
    from expunge.service import create_app

    gov = open_governance(f"sqlite:///{tmp_path / 'expunge.db'}", keys_dir=tmp_path / "keys")
    try:
        paths = create_app(gov, worker=False).openapi()["paths"]
    finally:
        gov.db.dispose()
    assert len(paths) >= 15
    undocumented = [p for p in paths if re.sub(r"/?\{.*", "", p) not in DOCS]
    assert undocumented == [], f"routes not documented: {undocumented}"
