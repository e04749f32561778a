"""Alembic migrations of the expunge schema, applied by :func:`expunge.db.open_database`."""
