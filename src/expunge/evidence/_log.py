"""The append-only audit log: a Merkle tree of signed, doubly chained entries under a signed checkpoint.

An entry links to the previous entry of the whole log (``prev_hash``) and to the previous entry of
the same case (``case_prev_hash``), and is a leaf of an RFC 9162 Merkle tree whose root the log
signs after every append (a checkpoint, see :mod:`expunge.evidence._checkpoint`). Every read checks
the stored entries against that checkpoint, so a deleted, truncated or edited entry cannot go
unnoticed, and a third party holding an older checkpoint can check that the log only grew.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, bindparam, func, insert, select, update

from expunge.db import utcnow
from expunge.errors import TamperedEvidenceError
from expunge.evidence import _tables as t
from expunge.evidence._checkpoint import Checkpoint, open_checkpoint
from expunge.evidence._keys import Keyring, Signer
from expunge.evidence._merkle import Frontier, leaf_hash
from expunge.evidence._offline import verify_entries
from expunge.evidence._receipt import Receipt, canonical, sha256_hex
from expunge.evidence._snapshot import BEYOND, READ_HEAD, ROWS, LogEntry, LogSnapshot, open_head, read_snapshot

__all__ = ["AuditLog"]

# Built once (constructing a statement costs several times what executing a cached one does).
_HEAD = READ_HEAD.with_for_update()
_MOVE_HEAD = update(t.chain_head).where(t.chain_head.c.chain == "global")
_INSERT = insert(t.audit_log)
_MENTIONS = select(t.audit_log.c.seq).where(t.audit_log.c.case_id == bindparam("case_id")).limit(1)
# The newest entry of each case: its (case_id, seq) index answers both the MAX and the join.
_last = (
    select(t.audit_log.c.case_id, func.max(t.audit_log.c.seq).label("seq"))
    .where(t.audit_log.c.case_id.in_(bindparam("case_ids", expanding=True)))
    .group_by(t.audit_log.c.case_id)
    .subquery()
)
_CASE_HEADS = select(t.audit_log.c.case_id, t.audit_log.c.entry_hash).join(
    _last, (t.audit_log.c.case_id == _last.c.case_id) & (t.audit_log.c.seq == _last.c.seq)
)


class AuditLog:
    """Append signed entries to the log inside the caller's transaction, and read them back checked.

    Each append batch costs the statements it always did (one head read under lock, one lookup of
    the cases' last entries, one multi-row insert, one head update): the frontier and the new
    checkpoint ride in the head row. On top: one leaf hash per entry, about one node hash per
    entry, and one Ed25519 signature per batch.

    Args:
        signer: The install's Ed25519 signer.
        public_keys: The keyring that verifies checkpoints (default: the signer's key alone); pass
            the install's :class:`~expunge.evidence.Keyring` so checkpoints of older keys verify.
    """

    def __init__(self, signer: Signer, *, public_keys: Mapping[str, Ed25519PublicKey] | None = None) -> None:
        self.signer = signer
        self.public_keys = public_keys if public_keys is not None else Keyring([signer.public_key])
        self._signed: Checkpoint | None = None  # the last checkpoint this instance signed

    def append(
        self, conn: Connection, *, tenant: str, case_id: str | None, kind: str, body: Mapping[str, Any]
    ) -> LogEntry:
        """Sign ``body`` and append it; the head row lock serialises concurrent appenders."""
        return self.append_many(conn, [(tenant, case_id, kind, body)])[0]

    def append_many(
        self, conn: Connection, items: Sequence[tuple[str, str | None, str, Mapping[str, Any]]]
    ) -> list[LogEntry]:
        """Sign and append ``(tenant, case_id, kind, body)`` items in order, under one head lock.

        The new tree head is signed once for the whole batch.

        Raises:
            TamperedEvidenceError: The head row does not match the latest signed checkpoint (it was
                edited, or entries were deleted): nothing is appended over it.
        """
        if not items:
            return []
        head = conn.execute(_HEAD).one()
        frontier = self._frontier(conn, head)
        case_ids = sorted({case_id for _, case_id, _, _ in items if case_id is not None})
        case_prev: dict[str, str | None] = dict.fromkeys(case_ids)
        for i in range(0, len(case_ids), 500):  # one statement for the last entry of every case
            for case_id, entry_hash in conn.execute(_CASE_HEADS, {"case_ids": case_ids[i : i + 500]}):
                case_prev[case_id] = entry_hash
        seq, prev = head.seq, head.entry_hash
        now = utcnow()
        entries, rows = [], []
        for tenant, case_id, kind, body in items:
            seq += 1
            document = {
                "seq": seq,
                "prev_hash": prev,
                "case_prev_hash": case_prev.get(case_id) if case_id is not None else None,
                "tenant": tenant,
                "case_id": case_id,
                "kind": kind,
                "key_id": self.signer.key_id,
                "body": dict(body),
            }
            data = canonical(document)
            frontier.append(leaf_hash(data))
            entry = LogEntry(
                seq=seq,
                text=data.decode(),
                entry_hash=sha256_hex(data),
                key_id=self.signer.key_id,
                signature=self.signer.sign(data),
            )
            entries.append(entry)
            rows.append(
                {
                    "seq": seq,
                    "tenant": tenant,
                    "case_id": case_id,
                    "kind": kind,
                    "text": entry.text,
                    "entry_hash": entry.entry_hash,
                    "key_id": entry.key_id,
                    "signature": entry.signature,
                    "created_at": now,
                }
            )
            prev = entry.entry_hash
            if case_id is not None:
                case_prev[case_id] = entry.entry_hash
        checkpoint = Checkpoint(
            origin=head.origin, size=seq, root_hash=frontier.root(), timestamp=now.isoformat()
        ).sign(self.signer)
        conn.execute(_INSERT, rows)
        conn.execute(
            _MOVE_HEAD,
            {
                "seq": seq,
                "entry_hash": prev,
                "frontier": json.dumps([h.hex() for h in frontier.hashes]),
                "checkpoint": checkpoint.note,
            },
        )
        self._signed = checkpoint
        return entries

    def _frontier(self, conn: Connection, head: Any) -> Frontier:
        """Return the head's frontier once it is shown to be the tree the latest checkpoint signed."""
        frontier = self._frontier_of(head)
        if head.checkpoint is None:
            if head.seq == 0 and not conn.execute(BEYOND, {"size": 0}).scalar():
                return frontier  # a new, empty log
            return self._adopt(conn, head, frontier)
        signed = self._signed
        checkpoint = signed if signed is not None and signed.note == head.checkpoint else None
        if checkpoint is None:
            checkpoint = open_checkpoint(head.checkpoint, self.public_keys)
        if checkpoint.origin != head.origin or checkpoint.size != head.seq or checkpoint.root_hash != frontier.root():
            raise TamperedEvidenceError(
                f"The audit log's head (seq {head.seq}) does not match its signed checkpoint (size "
                f"{checkpoint.size}): the head row was edited. Nothing is appended over it."
            )
        return frontier

    def _adopt(self, conn: Connection, head: Any, frontier: Frontier) -> Frontier:
        """Check a log that predates checkpoints (revision 0003) before its first checkpoint is signed.

        Trust on first use: the entries' signatures and both hash chains are checked, and the frontier
        the migration computed must be theirs; a log cut short before this moment cannot be told
        from one that was always this long (keep exported logs to compare). A log holding entries
        only checkpoint-aware code writes (a signed plan, a filing with its terms) had a checkpoint:
        if it is gone, the head was reset, and nothing is signed over it.
        """
        stored = [
            LogEntry(seq=r.seq, text=r.text, entry_hash=r.entry_hash, key_id=r.key_id, signature=r.signature)
            for r in conn.execute(ROWS, {"size": 2**62})
        ]
        if not stored:
            raise TamperedEvidenceError("The audit log's head says it has entries, but the log is empty.")
        verify_entries([e.to_dict() for e in stored], self.public_keys, chain="global")
        for entry in stored:
            document = entry.document
            if document["kind"] == "plan" or (document["kind"] == "transition" and "case" in document["body"]):
                raise TamperedEvidenceError(
                    f"The audit log lost its signed checkpoint: entry {entry.seq} was written under one. "
                    "Its head was reset; nothing is signed over it."
                )
        check = Frontier()
        check.extend(leaf_hash(e.text.encode()) for e in stored)
        if check.size != head.seq or check.root() != frontier.root() or stored[-1].entry_hash != head.entry_hash:
            raise TamperedEvidenceError(
                f"The audit log's head (seq {head.seq}) does not describe its {len(stored)} entries; "
                "no checkpoint is signed over it."
            )
        return frontier

    def adopt(self, conn: Connection) -> bool:
        """Sign the first checkpoint of a log migrated from before checkpoints, if it has none.

        Returns:
            Whether a checkpoint was signed (``False`` when the log has one or is empty).

        Raises:
            TamperedEvidenceError: The old entries do not verify; nothing is signed over them.
        """
        head = conn.execute(_HEAD).one()
        if head.checkpoint is not None or head.seq == 0:
            return False
        frontier = self._adopt(conn, head, self._frontier_of(head))
        checkpoint = Checkpoint(
            origin=head.origin, size=head.seq, root_hash=frontier.root(), timestamp=utcnow().isoformat()
        ).sign(self.signer)
        conn.execute(
            _MOVE_HEAD,
            {"seq": head.seq, "entry_hash": head.entry_hash, "frontier": head.frontier, "checkpoint": checkpoint.note},
        )
        self._signed = checkpoint
        return True

    @staticmethod
    def _frontier_of(head: Any) -> Frontier:
        try:
            return Frontier(head.seq, [bytes.fromhex(h) for h in json.loads(head.frontier)])
        except (TypeError, ValueError) as err:
            raise TamperedEvidenceError(f"The audit log's head row is unreadable: {err}.") from err

    def needs_adoption(self, conn: Connection) -> bool:
        """Tell whether the log holds entries but no checkpoint yet (see :meth:`adopt`)."""
        head = conn.execute(READ_HEAD).one()
        return head.checkpoint is None and head.seq > 0

    def append_receipt(self, conn: Connection, receipt: Receipt) -> LogEntry:
        """Append a subscriber's receipt as a signed ``receipt`` entry."""
        return self.append_receipts(conn, [receipt])[0]

    def append_receipts(self, conn: Connection, receipts: Sequence[Receipt]) -> list[LogEntry]:
        """Append receipts as signed ``receipt`` entries, in order, under one head lock."""
        return self.append_many(conn, [(r.tenant, r.case_id, "receipt", r.to_dict()) for r in receipts])

    def checkpoint(self, conn: Connection) -> Checkpoint:
        """Return the latest signed checkpoint, its signature checked (not the entries: see :meth:`snapshot`).

        Raises:
            EmptyLogError: The log has no entry and so no checkpoint.
            TamperedEvidenceError, UnknownKeyError: The checkpoint is missing or does not verify.
        """
        return open_head(conn, conn.execute(READ_HEAD).one(), self.public_keys)

    def snapshot(self, conn: Connection, *, case_id: str | None = None, tenant: str | None = None) -> LogSnapshot:
        """Read every entry the latest checkpoint commits to, checked against it (see :func:`read_snapshot`).

        Raises:
            EmptyLogError, TamperedEvidenceError, UnknownKeyError: As :func:`read_snapshot`.
        """
        return read_snapshot(conn, self.public_keys, case_id=case_id, tenant=tenant)

    def mentions(self, conn: Connection, case_id: str) -> bool:
        """Tell whether an entry's (unsigned) case column names ``case_id``: a cheap index lookup, a hint only."""
        return conn.execute(_MENTIONS, {"case_id": case_id}).first() is not None

    def entries(self, conn: Connection, *, case_id: str | None = None, tenant: str | None = None) -> list[LogEntry]:
        """Return stored entries in order, optionally of one case and/or one tenant, checked (see :meth:`snapshot`).

        Raises:
            EmptyLogError, TamperedEvidenceError, UnknownKeyError: As :meth:`snapshot`.
        """
        return self.snapshot(conn, case_id=case_id, tenant=tenant).entries
