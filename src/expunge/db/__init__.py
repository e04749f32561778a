"""Storage: the SQLAlchemy engine, the shared table metadata and the Alembic migrations.

Owns: opening a database from a URL (SQLite file with WAL and ``secure_delete`` by default,
PostgreSQL through ``postgresql+psycopg://``), applying the migrations shipped inside the package on
open, and the one :data:`metadata` every governance table is declared on.

Must not touch: the meaning of any table. Areas (``catalog``, ``bus``, ``evidence``, ``requests``)
declare their own tables on :data:`metadata` and own their reads and writes; this package never
imports them.
"""

from expunge.db._engine import Database, is_postgres, open_database, utcnow
from expunge.db._meta import metadata

__all__ = ["Database", "is_postgres", "metadata", "open_database", "utcnow"]
