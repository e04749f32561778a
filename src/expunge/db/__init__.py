"""Storage: the SQLAlchemy engine, the shared table metadata and the Alembic migrations.

Owns: opening a database from a URL (SQLite file with WAL and ``secure_delete`` by default,
PostgreSQL through ``postgresql+psycopg://``), applying the migrations shipped inside the package on
open, the one :data:`metadata` every governance table is declared on, keyset pagination of list
queries (:class:`Page`), and the translation of driver exceptions into the error tree
(:func:`database_error`).

Must not touch: the meaning of any table. Areas (``catalog``, ``bus``, ``evidence``, ``requests``)
declare their own tables on :data:`metadata` and own their reads and writes; this package never
imports them.
"""

from expunge.db._engine import Database, is_postgres, open_database, utcnow
from expunge.db._errors import database_error
from expunge.db._meta import metadata
from expunge.db._page import MAX_PAGE_SIZE, Page, check_page_size, keyset_page

__all__ = [
    "MAX_PAGE_SIZE",
    "Database",
    "Page",
    "check_page_size",
    "database_error",
    "is_postgres",
    "keyset_page",
    "metadata",
    "open_database",
    "utcnow",
]
