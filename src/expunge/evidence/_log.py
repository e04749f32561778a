"""The append-only audit log: every entry signed and chained to the previous one, twice.

An entry links to the previous entry of the whole log (``prev_hash``) and to the previous entry of
the same case (``case_prev_hash``), so the whole log and one case's extract both verify offline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from expunge.db import utcnow
from expunge.errors import TamperedEvidenceError, UnknownKeyError
from expunge.evidence import _tables as t
from expunge.evidence._keys import Signer, verify_signature
from expunge.evidence._receipt import Receipt, canonical, sha256_hex

__all__ = ["AuditLog", "LogEntry", "export_entries", "parse_export", "verify_entries"]

# Built once (constructing a statement costs several times what executing a cached one does).
_HEAD = select(t.chain_head.c.seq, t.chain_head.c.entry_hash).where(t.chain_head.c.chain == "global").with_for_update()
_MOVE_HEAD = update(t.chain_head).where(t.chain_head.c.chain == "global")
_INSERT = insert(t.audit_log)
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


@dataclass(frozen=True)
class LogEntry:
    """One stored entry: the exact signed text, its hash, and who signed it."""

    seq: int
    text: str
    entry_hash: str
    key_id: str
    signature: str

    @property
    def document(self) -> dict[str, Any]:
        """The parsed entry (``seq``, ``prev_hash``, ``case_prev_hash``, ``kind``, ``body``…)."""
        return json.loads(self.text)

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as stored, for export."""
        return {
            "seq": self.seq,
            "text": self.text,
            "entry_hash": self.entry_hash,
            "key_id": self.key_id,
            "signature": self.signature,
        }


class AuditLog:
    """Append signed entries to the hash-chained log inside the caller's transaction.

    Args:
        signer: The install's Ed25519 signer.
    """

    def __init__(self, signer: Signer) -> None:
        self.signer = signer

    def append(
        self, conn: Connection, *, tenant: str, case_id: str | None, kind: str, body: Mapping[str, Any]
    ) -> LogEntry:
        """Sign ``body`` and append it; the head row lock serialises concurrent appenders."""
        return self.append_many(conn, [(tenant, case_id, kind, body)])[0]

    def append_many(
        self, conn: Connection, items: Sequence[tuple[str, str | None, str, Mapping[str, Any]]]
    ) -> list[LogEntry]:
        """Sign and append ``(tenant, case_id, kind, body)`` items in order, under one head lock."""
        if not items:
            return []
        head = conn.execute(_HEAD).one()
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
        conn.execute(_INSERT, rows)
        conn.execute(_MOVE_HEAD, {"seq": seq, "entry_hash": prev})
        return entries

    def append_receipt(self, conn: Connection, receipt: Receipt) -> LogEntry:
        """Append a subscriber's receipt as a signed ``receipt`` entry."""
        return self.append_receipts(conn, [receipt])[0]

    def append_receipts(self, conn: Connection, receipts: Sequence[Receipt]) -> list[LogEntry]:
        """Append receipts as signed ``receipt`` entries, in order, under one head lock."""
        return self.append_many(conn, [(r.tenant, r.case_id, "receipt", r.to_dict()) for r in receipts])

    def entries(self, conn: Connection, *, case_id: str | None = None, tenant: str | None = None) -> list[LogEntry]:
        """Return stored entries in order, optionally of one case and/or one tenant."""
        query = select(t.audit_log).order_by(t.audit_log.c.seq)
        if case_id is not None:
            query = query.where(t.audit_log.c.case_id == case_id)
        if tenant is not None:
            query = query.where(t.audit_log.c.tenant == tenant)
        return [
            LogEntry(seq=r.seq, text=r.text, entry_hash=r.entry_hash, key_id=r.key_id, signature=r.signature)
            for r in conn.execute(query)
        ]


def verify_entries(entries: Sequence[Mapping[str, Any]], public_keys: Mapping[str, Any], *, chain: str) -> int:
    """Check signatures, hashes and links of exported entries with public keys alone.

    Args:
        entries: Entries as exported by :meth:`LogEntry.to_dict`, in log order.
        public_keys: ``{key_id: Ed25519PublicKey}``.
        chain: ``"global"`` (a full log from seq 1: every ``prev_hash`` links) or ``"case"`` (one
            case's extract: every ``case_prev_hash`` links and all entries name the same case).

    Returns:
        How many entries verified.

    Raises:
        TamperedEvidenceError: A hash, a signature or a link does not verify; the message says which entry.
        UnknownKeyError: An entry is signed by a key not in ``public_keys``.
    """
    prev: str | None = "0" * 64 if chain == "global" else None
    case_id: object = ...
    for i, raw in enumerate(entries):
        where = f"entry {i} (seq {raw.get('seq')!r})"
        try:
            text = str(raw["text"])
            data = text.encode()
            document = json.loads(text)
        except (KeyError, TypeError, ValueError, UnicodeError) as err:
            raise TamperedEvidenceError(f"{where} is not a readable log entry: {err}.") from err
        if not isinstance(document, dict) or canonical(document) != data:
            raise TamperedEvidenceError(f"{where}: its text is not the canonical JSON that was signed.")
        if sha256_hex(data) != raw.get("entry_hash"):
            raise TamperedEvidenceError(f"{where}: its hash does not match its text.")
        key_id = raw.get("key_id")
        if key_id != document.get("key_id"):
            raise TamperedEvidenceError(f"{where}: the key ID outside the entry differs from the one inside.")
        if key_id not in public_keys:
            raise UnknownKeyError(
                f"{where} is signed by key {key_id!r}; the verifier has {sorted(public_keys) or 'no keys'}."
            )
        if not verify_signature(public_keys[key_id], str(raw.get("signature")), data):
            raise TamperedEvidenceError(f"{where}: the Ed25519 signature does not verify.")
        if document.get("seq") != raw.get("seq"):
            raise TamperedEvidenceError(f"{where}: the sequence number outside the entry differs from inside.")
        link = document.get("prev_hash" if chain == "global" else "case_prev_hash")
        if chain == "global" and document.get("seq") != i + 1:
            raise TamperedEvidenceError(f"{where}: expected seq {i + 1}; an entry is missing or reordered.")
        if link != prev:
            raise TamperedEvidenceError(f"{where}: it does not link to the entry before it; the chain is broken.")
        if chain == "case":
            if case_id is not ... and document.get("case_id") != case_id:
                raise TamperedEvidenceError(f"{where} belongs to another case ({document.get('case_id')!r}).")
            case_id = document.get("case_id")
        prev = raw["entry_hash"]
    return len(entries)


def export_entries(entries: Sequence[LogEntry]) -> bytes:
    """Return entries as JSON Lines (one canonical JSON object per line), the log's export format."""
    return b"".join(canonical(e.to_dict()) + b"\n" for e in entries)


def parse_export(data: bytes) -> list[dict[str, Any]]:
    """Parse a JSON Lines export, refusing any line that is not exactly canonical JSON.

    Raises:
        TamperedEvidenceError: A line is not valid UTF-8 or JSON, or not in canonical form.
    """
    out = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line and number == data.count(b"\n") + 1:
            break  # the empty remainder after the final newline
        try:
            item = json.loads(line.decode("utf-8"))
        except (UnicodeError, ValueError) as err:
            raise TamperedEvidenceError(f"Line {number} of the log export is not JSON: {err}.") from err
        if not isinstance(item, dict) or canonical(item) != line:
            raise TamperedEvidenceError(f"Line {number} of the log export is not the canonical JSON it was written as.")
        out.append(item)
    return out
