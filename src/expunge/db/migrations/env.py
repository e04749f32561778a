"""Alembic environment: runs on the connection :func:`expunge.db.open_database` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from expunge.db._meta import metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the plain `alembic` command line, with sqlalchemy.url set in its ini file
    engine = engine_from_config(
        context.config.get_section(context.config.config_ini_section, {}), poolclass=pool.NullPool
    )
    with engine.connect() as conn:
        _run(conn)
