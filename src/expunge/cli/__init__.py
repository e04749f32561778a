"""The ``expunge`` command line: a thin Typer layer over the same functions the service calls.

Owns: parsing options, printing results with Rich, and mapping the error tree to exit codes
(0 success, 1 a check failed, 2 bad input, 3 an internal failure).
Must not touch: logic of its own, or an area's private modules — every command calls a public library
function of another area, the same one the service calls.
"""

from expunge.cli._app import app, main

__all__ = ["app", "main"]
