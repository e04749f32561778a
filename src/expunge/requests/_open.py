"""Build a :class:`Governance` from a database URL and a keys folder, or from the settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path

from expunge.bus import RetryPolicy, Subscriber
from expunge.catalog import Catalog, Pseudonymizer, load_or_create_secret
from expunge.config import DEFAULT_DUE_SOON_DAYS, DEFAULT_SLA_DAYS, Settings
from expunge.db import Database, open_database
from expunge.evidence import AuditLog, Keyring, Signer
from expunge.requests._governance import Governance
from expunge.requests._policy import DeadlinePolicy, TokenIssuer

__all__ = ["open_governance", "open_governance_from_settings"]


def open_governance(
    database: str | Database,
    *,
    keys_dir: Path,
    schema: str | None = None,
    sla_days: Mapping[str, int] | None = None,
    due_soon_days: int = DEFAULT_DUE_SOON_DAYS,
    token_ttl_seconds: int = 86_400,
    retry: RetryPolicy | None = None,
    subscribers: Mapping[str, Subscriber] | None = None,
    subscriber_factories: Mapping[str, Callable[[], Subscriber]] | None = None,
    webhook_endpoints: Mapping[str, str] | None = None,
    payload_retention: timedelta = timedelta(0),
    phone_region: str | None = None,
    rag_settings: Settings | None = None,
) -> Governance:
    """Open (and migrate) the database and load, or create, the install's keys under ``keys_dir``.

    A log migrated from before checkpoints gets its first signed checkpoint here, once its entries
    verify (:meth:`~expunge.evidence.AuditLog.adopt`).

    Raises:
        KeyMismatchError: The signing key's public-key file does not match the private key.
        TamperedEvidenceError: A migrated log's entries do not verify, so no checkpoint is signed.

    Args:
        database: A SQLAlchemy URL or an already open :class:`~expunge.db.Database`.
        keys_dir: Folder of ``pseudonym.key``, ``token.key``, the Ed25519 signing key and the keyring of
            every public key the install signed with (``signing/``).
        schema: PostgreSQL schema to use (see :func:`~expunge.db.open_database`).
        sla_days: Days to answer per regulation; default GDPR 30, CCPA 45, LGPD 15.
        due_soon_days: Days before a deadline a case counts as due soon.
        token_ttl_seconds: Lifetime of verification tokens.
        retry: The bus retry policy.
        subscribers: Extra subscribers by name.
        subscriber_factories: Subscribers built when their first event arrives (see :class:`LazySubscribers`).
        webhook_endpoints: External processors by name → URL; enables the ``webhook`` subscriber.
        payload_retention: How long delivered events keep the pseudonyms and content hashes they matched by.
        phone_region: Country (ISO 3166-1 alpha-2) of phone numbers given without their country code.
        rag_settings: Build the ``rag`` subscriber from these settings when its first event arrives.
    """
    db = database if isinstance(database, Database) else open_database(database, schema=schema)
    keys_dir = Path(keys_dir)
    catalog = Catalog(Pseudonymizer(load_or_create_secret(keys_dir / "pseudonym.key"), phone_region=phone_region))
    signer = Signer.load_or_create(keys_dir)
    audit = AuditLog(signer, public_keys=Keyring.of_install(keys_dir))
    with db.read() as conn:
        unsigned = audit.needs_adoption(conn)
    if unsigned:
        with db.begin() as conn:
            audit.adopt(conn)
    return Governance(
        db,
        catalog=catalog,
        audit=audit,
        tokens=TokenIssuer(load_or_create_secret(keys_dir / "token.key"), ttl=timedelta(seconds=token_ttl_seconds)),
        policy=DeadlinePolicy(days=dict(sla_days or DEFAULT_SLA_DAYS), due_soon_days=due_soon_days),
        retry=retry,
        subscribers=subscribers,
        subscriber_factories=subscriber_factories,
        webhook_endpoints=webhook_endpoints,
        rag_settings=rag_settings,
        payload_retention=payload_retention,
    )


def open_governance_from_settings(settings: Settings, *, with_rag: bool = True) -> Governance:
    """Return the governance the settings name: the one way the CLI, the service and workers build it.

    With ``with_rag``, the RAG index's subscriber is built when the first event for it arrives, so a
    worker started before anything was ingested still serves erasures of chunks ingested later.
    """
    return open_governance(
        settings.resolved_database_url,
        keys_dir=settings.resolved_keys_dir,
        sla_days=settings.sla_days,
        due_soon_days=settings.due_soon_days,
        token_ttl_seconds=settings.token_ttl_seconds,
        webhook_endpoints=settings.webhook_endpoints,
        retry=RetryPolicy(
            max_attempts=settings.bus_max_attempts,
            base_seconds=settings.bus_backoff_seconds,
            max_seconds=settings.bus_backoff_max_seconds,
        ),
        payload_retention=timedelta(days=settings.outbox_payload_retention_days),
        phone_region=settings.default_phone_region,
        rag_settings=settings if with_rag else None,
    )
