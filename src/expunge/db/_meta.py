"""The one MetaData every governance table is declared on, with a stable naming convention."""

from __future__ import annotations

from sqlalchemy import MetaData

# A naming convention makes constraint names deterministic, so migrations name the same objects on
# SQLite and PostgreSQL and a later migration can drop them by name.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
