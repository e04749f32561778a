"""The parts of a Governance the CLI and the service call besides requests: API keys, records, evidence.

Each part opens its own transaction, so a caller above (``cli``, ``service``) never holds a connection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from expunge.catalog import ArtifactInfo, Asset, Catalog, Identifier, RecordInfo, closure, openlineage_events
from expunge.db import Database
from expunge.evidence import AuditLog, LogSnapshot, public_key_pem
from expunge.requests._access import ApiKeys, Principal
from expunge.requests._casefile import build_case_file

if TYPE_CHECKING:
    from expunge.requests._governance import Governance

__all__ = ["EvidencePart", "KeysPart", "RecordsPart"]


class KeysPart:
    """API keys bound to a tenant and a role (``gov.keys``); only a sha256 of each secret is stored.

    Args:
        db: The database holding the keys.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._keys = ApiKeys()

    def create(self, tenant: str, role: str, *, label: str = "") -> tuple[Principal, str]:
        """Create a key; return its principal and the full key string (shown once, never stored).

        Raises:
            RequestError: Unknown role or malformed tenant.
        """
        with self._db.begin() as conn:
            return self._keys.create(conn, tenant, role, label=label)

    def revoke(self, key_id: str, *, tenant: str | None = None) -> bool:
        """Revoke a key (only within ``tenant`` when given); return whether it was active.

        Raises:
            UnknownRequestError: No such key (in that tenant).
        """
        with self._db.begin() as conn:
            return self._keys.revoke(conn, key_id, tenant=tenant)

    def authenticate(self, presented: str | None) -> Principal:
        """Return the principal of a presented key.

        Raises:
            AuthError: No key, a malformed key, or an unknown, wrong or revoked one.
        """
        with self._db.read() as conn:
            return self._keys.authenticate(conn, presented)


class RecordsPart:
    """Records, artifacts and lineage as callers register and read them (``gov.records``).

    Args:
        db: The database the catalog lives in.
        catalog: The catalog.
        clock: Returns "now" (the event time of OpenLineage events).
    """

    def __init__(self, db: Database, catalog: Catalog, *, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._catalog = catalog
        self._clock = clock

    def register(
        self,
        tenant: str,
        *,
        source: str,
        content_sha256: str,
        purpose: str,
        legal_basis: str,
        subjects: Sequence[Identifier] = (),
        consent: dict[str, bool] | None = None,
        retention_until: datetime | None = None,
        tags: Sequence[str] = (),
    ) -> RecordInfo:
        """Register a record at version 1 (see :meth:`expunge.catalog.Records.register`).

        Raises:
            CatalogError: A field is malformed, or ``retention_until`` is naive.
            TombstonedContentError: The same content was erased before in this tenant.
            SuppressedSubjectError: A subject's erasure was accepted; they are not registered again.
        """
        with self._db.begin() as conn:
            return self._catalog.records.register(
                conn,
                tenant,
                source=source,
                content_sha256=content_sha256,
                purpose=purpose,
                legal_basis=legal_basis,
                subjects=subjects,
                consent=consent,
                retention_until=retention_until,
                tags=tags,
            )

    def get(self, tenant: str, record_id: str) -> RecordInfo:
        """Return a record with its current version.

        Raises:
            UnknownAssetError: No such record in this tenant.
        """
        with self._db.read() as conn:
            return self._catalog.records.get(conn, tenant, record_id)

    def lineage(self, tenant: str, record_id: str) -> list[Asset]:
        """Return the lineage closure of a record: itself and everything derived from it.

        Raises:
            UnknownAssetError: No such record in this tenant.
        """
        with self._db.read() as conn:
            self._catalog.records.get(conn, tenant, record_id)
            return closure(conn, tenant, [record_id])

    def openlineage(self, tenant: str, record_id: str) -> list[dict[str, Any]]:
        """Return the lineage closure of a record as OpenLineage run events (namespace: the tenant).

        Raises:
            UnknownAssetError: No such record in this tenant.
        """
        return openlineage_events(self.lineage(tenant, record_id), namespace=tenant, event_time=self._clock())

    def allowed(self, tenant: str, asset_ids: Sequence[str], *, use: str) -> set[str]:
        """Return which assets may be used for ``use`` (retrieval or training) now: the hard filter.

        Raises:
            CatalogError: ``use`` is not retrieval or training.
        """
        with self._db.read() as conn:
            return self._catalog.allowed(conn, tenant, asset_ids, use=use)

    def register_artifact(self, tenant: str, *, kind: str, uri: str, derived_from: Sequence[str] = ()) -> ArtifactInfo:
        """Register a derived artifact held at ``uri`` and its ``derived_from`` parents.

        Raises:
            CatalogError: Unknown kind or malformed URI.
            UnknownAssetError: A parent is not a record or artifact of this tenant.
        """
        with self._db.begin() as conn:
            return self._catalog.register_artifact(conn, tenant, kind=kind, uri=uri, derived_from=derived_from)

    def link(self, tenant: str, child_id: str, parent_ids: Sequence[str]) -> None:
        """Record that ``child_id`` is derived from each of ``parent_ids`` (idempotent).

        Raises:
            UnknownAssetError: The child or a parent is not an asset of this tenant.
            CatalogError: The child is a record, or an edge would make a cycle.
        """
        with self._db.begin() as conn:
            self._catalog.link(conn, tenant, child_id, parent_ids)


class EvidencePart:
    """The signed audit log as callers read it (``gov.evidence``): keys, checkpoint, export, case files.

    Args:
        gov: The governance whose database and log hold the evidence (case files check its tables).
    """

    def __init__(self, gov: Governance) -> None:
        self._gov = gov
        self._audit: AuditLog = gov.audit

    @property
    def keyring(self) -> Mapping[str, Any]:
        """Every public key the log was signed with (checks an older checkpoint an auditor holds)."""
        return self._audit.public_keys

    def public_keys(self) -> dict[str, Any]:
        """Return the current Ed25519 public key and every key of the keyring, as PEM.

        Returns:
            ``{"key_id", "pem", "keys": [{"key_id", "pem", "current"}]}``, the keys sorted by ID.
        """
        signer = self._audit.signer
        keys = dict(self._audit.public_keys.items())
        keys[signer.key_id] = signer.public_key
        return {
            "key_id": signer.key_id,
            "pem": public_key_pem(signer.public_key).decode(),
            "keys": [
                {"key_id": key_id, "pem": public_key_pem(key).decode(), "current": key_id == signer.key_id}
                for key_id, key in sorted(keys.items())
            ],
        }

    def snapshot(self) -> LogSnapshot:
        """Read the whole log, checked against its latest signed checkpoint.

        Raises:
            EmptyLogError, TamperedEvidenceError, UnknownKeyError: As :meth:`AuditLog.snapshot`.
        """
        with self._gov.db.read() as conn:
            return self._audit.snapshot(conn)

    def checkpoint(self) -> dict[str, Any]:
        """Return the log's latest signed checkpoint, after checking every entry against it."""
        return self.snapshot().checkpoint.to_dict()

    def case_file(self, tenant: str, case_id: str, *, since: int | None = None) -> dict[str, Any]:
        """Return the sealed case file of a case (see :func:`~expunge.requests.build_case_file`).

        Raises:
            UnknownRequestError: No such case in this tenant.
            TamperedEvidenceError: The log or a table disagrees with the signed entries.
        """
        return build_case_file(self._gov, tenant, case_id, signer=self._audit.signer, since=since)
