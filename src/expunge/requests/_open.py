"""Build a :class:`Governance` from a database URL and a keys folder."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from expunge.bus import RetryPolicy, Subscriber, WebhookSubscriber
from expunge.catalog import Catalog, Pseudonymizer, load_or_create_secret
from expunge.db import Database, open_database
from expunge.evidence import AuditLog, Signer
from expunge.requests._governance import Governance
from expunge.requests._policy import DEFAULT_SLA_DAYS, DeadlinePolicy, TokenIssuer

__all__ = ["open_governance"]


def open_governance(
    database: str | Database,
    *,
    keys_dir: Path,
    schema: str | None = None,
    sla_days: Mapping[str, int] | None = None,
    due_soon_days: int = 5,
    token_ttl_seconds: int = 86_400,
    retry: RetryPolicy | None = None,
    subscribers: Mapping[str, Subscriber] | None = None,
    webhook_endpoints: Mapping[str, str] | None = None,
    phone_region: str | None = None,
) -> Governance:
    """Open (and migrate) the database and load, or create, the install's keys under ``keys_dir``.

    Args:
        database: A SQLAlchemy URL or an already open :class:`~expunge.db.Database`.
        keys_dir: Folder of ``pseudonym.key``, ``token.key`` and the Ed25519 signing key.
        schema: PostgreSQL schema to use (see :func:`~expunge.db.open_database`).
        sla_days: Days to answer per regulation; default GDPR 30, CCPA 45, LGPD 15.
        due_soon_days: Days before a deadline a case counts as due soon.
        token_ttl_seconds: Lifetime of verification tokens.
        retry: The bus retry policy.
        subscribers: Extra subscribers by name.
        webhook_endpoints: External processors by name → URL; enables the ``webhook`` subscriber.
        phone_region: Country (ISO 3166-1 alpha-2) of phone numbers given without their country code.
    """
    db = database if isinstance(database, Database) else open_database(database, schema=schema)
    keys_dir = Path(keys_dir)
    catalog = Catalog(Pseudonymizer(load_or_create_secret(keys_dir / "pseudonym.key"), phone_region=phone_region))
    signer = Signer.load_or_create(keys_dir)
    extra = dict(subscribers or {})
    if webhook_endpoints:
        extra.setdefault("webhook", WebhookSubscriber(webhook_endpoints, signer=signer))
    return Governance(
        db,
        catalog=catalog,
        audit=AuditLog(signer),
        tokens=TokenIssuer(load_or_create_secret(keys_dir / "token.key"), ttl=timedelta(seconds=token_ttl_seconds)),
        policy=DeadlinePolicy(days=dict(sla_days or DEFAULT_SLA_DAYS), due_soon_days=due_soon_days),
        retry=retry,
        subscribers=extra,
    )
