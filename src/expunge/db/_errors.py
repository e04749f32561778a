"""Turn the driver's exceptions into the error tree: one sentence each, the cause kept as ``__cause__``."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from expunge.errors import BackendError, DatabaseBusyError, InvalidDatabaseError

__all__ = ["database_error"]

# What SQLite says when the file is not a database it can use (sqlite3.c, sqlite3ErrStr), and what
# the user can do about it. Matched on the message: the driver raises one class for all of them.
_UNUSABLE_SQLITE = (
    "file is not a database",
    "database disk image is malformed",
    "unable to open database file",
    "attempt to write a readonly database",
)
# SQLITE_BUSY and SQLITE_LOCKED once the busy timeout has run out.
_BUSY_SQLITE = ("database is locked", "database table is locked")


def database_error(err: SQLAlchemyError, *, url: str | None = None) -> BackendError:
    """Return the error-tree error for a driver exception (raise it ``from err``).

    Args:
        err: What SQLAlchemy raised.
        url: The database URL to name in the message, password hidden.

    Returns:
        :class:`~expunge.errors.DatabaseBusyError` when SQLite stayed locked past the busy timeout,
        :class:`~expunge.errors.InvalidDatabaseError` when a SQLite file is not a usable database
        (garbage, truncated, a folder, read-only), else :class:`~expunge.errors.BackendError`.
    """
    detail = " ".join(str(err.orig if isinstance(err, DBAPIError) else err).split()).rstrip(".")
    where = f"The database {url!r}" if url else "The database"
    lowered = detail.lower()
    if any(s in lowered for s in _BUSY_SQLITE):
        return DatabaseBusyError(
            f"{where} stayed locked by another writer longer than the busy timeout ({detail}); retry shortly."
        )
    if any(s in lowered for s in _UNUSABLE_SQLITE):
        return InvalidDatabaseError(
            f"{where} cannot be used: {detail}. Point EXPUNGE_DATABASE_URL (or EXPUNGE_HOME) at an expunge "
            "SQLite file, or at a path where a new one can be created."
        )
    return BackendError(f"Cannot use {where[0].lower()}{where[1:]}: {detail}.")
