"""Output that survives a pipe, and checks on the paths and names the caller gives, done before any work.

Rich wraps at the terminal's width, and takes that width from stdin when stdout is a pipe: a JSON
line or an error sentence redirected to a file came out broken mid-line. Consoles made here never
wrap prose, and lay tables out unbounded unless they write to a terminal.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console, ConsoleDimensions

from expunge.catalog import check_tenant
from expunge.errors import CatalogError

__all__ = ["check_output_dir", "check_output_file", "check_tenant_option", "make_console", "write_output"]

# Wide enough for any table row to stay on one line; only used when the output is not a terminal.
_UNWRAPPED_WIDTH = 10_000


class _PipeSafeConsole(Console):
    """A console as wide as a terminal on a terminal, and unbounded on a pipe or a file."""

    def _size(self) -> ConsoleDimensions:
        size = Console.size.fget(self)
        return size if self.is_terminal else ConsoleDimensions(_UNWRAPPED_WIDTH, size.height)

    size = property(_size, Console.size.fset)


def make_console(*, stderr: bool = False) -> Console:
    """Return a Rich console that never wraps a line of prose, and wraps tables only on a terminal.

    The stream is looked up at each print, so a console made at import writes where the command's
    stdout (or stderr) is at that moment.
    """
    return _PipeSafeConsole(stderr=stderr, soft_wrap=True)


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def _check_creatable(path: Path) -> None:
    anchor = _nearest_existing(path.parent)
    if not anchor.is_dir():
        raise typer.BadParameter(f"{str(path)!r} cannot be created: {str(anchor)!r} is a file, not a folder.")
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"{str(path)!r} cannot be created: no permission to write in {str(anchor)!r}.")


def check_output_file(path: Path | None) -> Path | None:
    """Typer callback of an option naming a file to write: refuse a folder or an uncreatable path.

    Raises:
        typer.BadParameter: The path is a folder, lies under a file, or in a folder that may not be written.
    """
    if path is None:
        return None
    if path.is_dir():
        raise typer.BadParameter(f"{str(path)!r} is a folder; give the path of a file to write.")
    if path.exists() and not os.access(path, os.W_OK):
        raise typer.BadParameter(f"{str(path)!r} may not be written (no permission).")
    _check_creatable(path)
    return path


def check_output_dir(path: Path | None) -> Path | None:
    """Typer callback of an option naming a folder to write into (created if missing).

    Raises:
        typer.BadParameter: The path is a file, lies under a file, or may not be written.
    """
    if path is None:
        return None
    if path.exists() and not path.is_dir():
        raise typer.BadParameter(f"{str(path)!r} is a file; give a folder (it is created if missing).")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise typer.BadParameter(f"{str(path)!r} may not be written (no permission).")
        return path
    _check_creatable(path)
    return path


def write_output(path: Path, data: bytes, *, option: str = "--out") -> None:
    """Write ``data`` to ``path``, creating its folder; an OS refusal is bad input, said in one sentence.

    Raises:
        typer.BadParameter: The file cannot be written (the folder vanished, the disk refused it).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as err:
        raise typer.BadParameter(
            f"cannot write {str(path)!r}: {err.strerror or err}.", param_hint=f"'{option}'"
        ) from err


def check_tenant_option(value: str | None) -> str | None:
    """Typer callback of a ``--tenant`` option: the catalog's tenant rule, checked before the database opens.

    Raises:
        typer.BadParameter: The name is empty, too long or has characters a tenant name may not have.
    """
    if value is None:
        return None
    try:
        return check_tenant(value)
    except CatalogError as err:
        raise typer.BadParameter(err.message) from err
