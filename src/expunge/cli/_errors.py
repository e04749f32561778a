"""Exit codes for the error tree: the only place they are decided."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from rich.console import Console

from expunge.errors import ExpungeError, TamperedEvidenceError

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED_CHECK", "EXIT_INTERNAL", "cli_errors"]

EXIT_FAILED_CHECK = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3

F = TypeVar("F", bound=Callable[..., Any])
_err = Console(stderr=True)


def exit_code_for(error: ExpungeError) -> int:
    """Return the exit code of an expected error: 1 for altered evidence, 2 for what the caller can fix, else 3."""
    if isinstance(error, TamperedEvidenceError):
        return EXIT_FAILED_CHECK
    if isinstance(error, ValueError | LookupError | FileNotFoundError | PermissionError):
        return EXIT_BAD_INPUT
    return EXIT_INTERNAL


def cli_errors(func: F) -> F:
    """Print an :class:`ExpungeError` as one red sentence with its code and exit with its code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ExpungeError as error:
            _err.print(f"[bold red]error[/] [dim]({error.code})[/]: {error.message}", highlight=False)
            sys.exit(exit_code_for(error))

    return wrapper  # type: ignore[return-value]
