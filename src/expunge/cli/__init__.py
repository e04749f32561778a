"""The ``expunge`` command line: a thin Typer layer over the same functions the service calls.

Owns: parsing options, printing results with Rich, and mapping the error tree to exit codes
(0 success, 1 a check failed, 2 bad input, 3 an internal failure). Must not hold logic of its own:
every command calls a library function of another area.
"""

from expunge.cli._app import app, main

__all__ = ["app", "main"]
