"""The CLI and the service import only the public names of the areas (their ``__init__``), never a private module.

import-linter cannot say "a module whose name starts with an underscore" in a forbidden contract (a
wildcard replaces a whole module name only), so this reads every import of ``cli/`` and ``service/``,
function-level ones included, with ``ast``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[3] / "src" / "expunge"
DOORS = ("cli", "service")
# Imports still owed a public home, each with its reason; a new entry needs one too.
OWED = {
    # Benchmark drivers, which move out of the areas into expunge.bench (issue 12, item 5).
    "expunge.rag._bench": "benchmark driver",
    "expunge.rag._answers_bench": "benchmark driver",
    "expunge.unlearn._bench": "benchmark driver",
    "expunge.unlearn._audit_bench": "benchmark driver",
    # Imports optuna, which `import expunge.unlearn` must not load for every command.
    "expunge.unlearn._tune": "optuna only when a command tunes",
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [(node.lineno, node.module)]
            out += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names if alias.name.startswith("_")]
    return sorted(out)


def private_imports(door: str, *, root: Path = SRC) -> list[str]:
    found = []
    for path in sorted((root / door).rglob("*.py")):
        for line, module in imported_modules(path):
            parts = module.split(".")
            if parts[0] != "expunge" or len(parts) < 3 or parts[1] == door:
                continue  # outside expunge, a top-level module (config, errors, db), or the door's own modules
            if any(p.startswith("_") for p in parts[2:]) and module not in OWED:
                found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("door", DOORS)
def test_the_door_imports_only_public_names_of_the_areas(door):
    assert private_imports(door) == []


def test_the_check_finds_a_private_import(tmp_path):
    fake = tmp_path / "expunge" / "cli"
    fake.mkdir(parents=True)
    (fake / "x.py").write_text(
        "from expunge.requests import Governance\n"
        "def f():\n    from expunge.requests._governance import Governance\n"
        "from expunge.catalog import _tables\n"
        "from expunge.cli._io import write_output\n"
    )
    assert private_imports("cli", root=tmp_path / "expunge") == [
        "cli/x.py:3 imports expunge.requests._governance",
        "cli/x.py:4 imports expunge.catalog._tables",
    ]
