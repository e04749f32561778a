"""Exit codes for the error tree, and the root of every command: the only place they are decided.

0 success; 1 a check failed (evidence altered, an audit gate failed, a probe found the person) and
nothing else; 2 bad input, said in one sentence (what is wrong, what is accepted); 3 an internal or
environment failure (a database down, a bug), also one line; 141 when the reader of a pipe went away.
"""

from __future__ import annotations

import errno
import io
import os
import sys
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError
from typer.core import TyperGroup

from expunge.cli._io import make_console
from expunge.db import database_error
from expunge.errors import ExpungeError, TamperedEvidenceError

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED_CHECK", "EXIT_INTERNAL", "ExpungeGroup", "cli_errors", "show_tracebacks"]

EXIT_FAILED_CHECK = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer killed by a closed pipe

F = TypeVar("F", bound=Callable[..., Any])
_err = make_console(stderr=True)
_SHOW_TRACEBACK: ContextVar[bool] = ContextVar("expunge_show_traceback", default=False)
# OS errors about a path the caller named: bad input. Others (a full disk, an I/O error) are not.
_PATH_ERRNOS = {
    errno.ENOENT,
    errno.EACCES,
    errno.EPERM,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.EEXIST,
    errno.EROFS,
    errno.ENAMETOOLONG,
    errno.ELOOP,
}


def _click_class(name: str) -> type[Exception]:
    # Typer vendors click from 0.2x on, and re-exports only some of its exceptions: find ours by name.
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)


_ClickException = _click_class("ClickException")


def exit_code_for(error: ExpungeError) -> int:
    """Return the exit code of an expected error: 1 for altered evidence, 2 for what the caller can fix, else 3."""
    if isinstance(error, TamperedEvidenceError):
        return EXIT_FAILED_CHECK
    if isinstance(error, ValueError | LookupError | FileNotFoundError | PermissionError):
        return EXIT_BAD_INPUT
    return EXIT_INTERNAL


def show_tracebacks(enabled: bool) -> None:
    """Print the Python traceback of an unexpected error (the root ``--traceback`` option)."""
    _SHOW_TRACEBACK.set(enabled)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _say(code: str, message: str) -> None:
    sentence = _one_line(message)
    if not sentence.endswith((".", "!", "?")):
        sentence += "."
    _err.print(f"[bold red]error[/] [dim]({code})[/]: {sentence}", highlight=False, markup=True)


def report(error: ExpungeError) -> int:
    """Print an expected error as one line with its code; return its exit code."""
    _say(error.code, escape(error.message))
    return exit_code_for(error)


def _usage(err: Exception) -> int:
    if type(err).__name__ == "NoArgsIsHelpError":  # the help was already printed
        return EXIT_BAD_INPUT
    message = err.format_message()
    param = getattr(err, "param", None)
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None and high is not None and "accepted" not in message:
        message = f"{message.rstrip('.')}; accepted: {low} to {high}."
    ctx = getattr(err, "ctx", None)
    if ctx is not None:
        message = f"{message.rstrip('.')}. See '{ctx.command_path} --help'."
    _say("usage", escape(message))
    return int(getattr(err, "exit_code", EXIT_BAD_INPUT))


def _os_error(err: OSError) -> int:
    where = f" {str(err.filename)!r}" if err.filename else ""
    if err.errno in _PATH_ERRNOS and err.filename:
        _say("cli.path", escape(f"Cannot use{where}: {err.strerror}. Give a path that exists and may be used."))
        return EXIT_BAD_INPUT
    return _internal(err)


def _broken_pipe() -> int:
    # The reader left: send what is still buffered nowhere, so the exit does not fail flushing it.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # not a real file descriptor (a test runner)
        pass
    return EXIT_BROKEN_PIPE


def _internal(err: BaseException) -> int:
    if _SHOW_TRACEBACK.get():
        traceback.print_exception(err, file=sys.stderr)
    detail = _one_line(err) or "no message"
    _say(
        "internal",
        escape(f"Unexpected {type(err).__name__}: {detail}. Run again with `expunge --traceback …` and report it."),
    )
    return EXIT_INTERNAL


class ExpungeGroup(TyperGroup):
    """The root command group: turns every failure into one line on stderr and an exit code.

    Usage errors (a value out of range, a missing option) exit 2, errors of the tree exit by
    :func:`exit_code_for`, a database error by its translation, and anything unexpected exits 3 with
    one line instead of a traceback (``--traceback`` shows it).
    """

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; in standalone mode, exit with the code of what happened."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra)
        token = _SHOW_TRACEBACK.set(False)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except _ClickException as err:
            code = _usage(err)
        except typer.Abort:
            _say("aborted", "Aborted.")
            code = 130
        except ExpungeError as err:
            code = report(err)
        except SQLAlchemyError as err:
            code = report(database_error(err))
        except OSError as err:
            code = _broken_pipe() if err.errno == errno.EPIPE else _os_error(err)
        except Exception as err:  # the last resort: one line and exit 3, never a traceback
            code = _internal(err)
        finally:
            _SHOW_TRACEBACK.reset(token)
        sys.exit(code if isinstance(code, int) else 0)


def cli_errors(func: F) -> F:
    """Print an :class:`ExpungeError` as one red sentence with its code and exit with its code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ExpungeError as error:
            sys.exit(report(error))

    return wrapper
