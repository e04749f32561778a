"""Reading the audit log back: every entry checked against the latest signed checkpoint."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, bindparam, func, select

from expunge.errors import EmptyLogError, EvidenceInputError, TamperedEvidenceError
from expunge.evidence import _tables as t
from expunge.evidence._checkpoint import Checkpoint, open_checkpoint
from expunge.evidence._merkle import Frontier, MerkleTree, leaf_hash

__all__ = ["LogEntry", "LogSnapshot", "open_head", "read_snapshot"]

# Built once (constructing a statement costs several times what executing a cached one does).
READ_HEAD = select(
    t.chain_head.c.seq,
    t.chain_head.c.entry_hash,
    t.chain_head.c.origin,
    t.chain_head.c.frontier,
    t.chain_head.c.checkpoint,
).where(t.chain_head.c.chain == "global")
ROWS = (
    select(
        t.audit_log.c.seq,
        t.audit_log.c.text,
        t.audit_log.c.entry_hash,
        t.audit_log.c.key_id,
        t.audit_log.c.signature,
        t.audit_log.c.tenant,
        t.audit_log.c.case_id,
        t.audit_log.c.kind,
    )
    .where(t.audit_log.c.seq <= bindparam("size"))
    .order_by(t.audit_log.c.seq)
)
BEYOND = select(func.count()).select_from(t.audit_log).where(t.audit_log.c.seq > bindparam("size"))


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


@dataclass
class LogSnapshot:
    """The log as its latest signed checkpoint commits to it, checked, with what a proof needs.

    Attributes:
        checkpoint: The latest signed checkpoint; every entry below is one of its leaves.
        entries: The entries asked for (all, one case's or one tenant's), in log order.
        leaves: The leaf hash of every entry of the log (leaf ``i`` is seq ``i + 1``).
    """

    checkpoint: Checkpoint
    entries: list[LogEntry]
    leaves: list[bytes] = field(repr=False)
    _tree: MerkleTree | None = field(default=None, repr=False)

    @property
    def tree(self) -> MerkleTree:
        """The Merkle tree over every leaf (built on first use: O(n) hashes)."""
        if self._tree is None:
            self._tree = MerkleTree(self.leaves)
        return self._tree

    def inclusion_proof(self, seq: int) -> list[str]:
        """Return the RFC 9162 inclusion proof (hex digests) of entry ``seq`` in the checkpoint's tree."""
        return [h.hex() for h in self.tree.inclusion_proof(seq - 1)]

    def consistency_proof(self, old_size: int) -> list[str]:
        """Return the RFC 9162 consistency proof (hex digests) from the tree of ``old_size`` entries.

        Raises:
            EvidenceInputError: ``old_size`` is negative.
            TamperedEvidenceError: ``old_size`` is larger than the log: entries were removed.
        """
        if old_size < 0:
            raise EvidenceInputError(f"A tree size is a count of entries, 0 or more. Got {old_size}.")
        if old_size > self.checkpoint.size:
            raise TamperedEvidenceError(
                f"The log has {self.checkpoint.size} entries but an older checkpoint has {old_size}: "
                "entries were removed."
            )
        return [h.hex() for h in self.tree.consistency_proof(old_size)]


def open_head(conn: Connection, head: Any, public_keys: Mapping[str, Ed25519PublicKey]) -> Checkpoint:
    """Return the head row's checkpoint, its signature checked.

    Raises:
        EvidenceInputError: The log of a new install, which never logged anything (not evidence of tampering).
        EmptyLogError: The log has no entry although its head counted some.
        TamperedEvidenceError: The head has no checkpoint while the log has entries, or it does not
            verify, or it is of another log.
        UnknownKeyError: It is signed by a key not in ``public_keys``.
    """
    if head.checkpoint is None:
        if not conn.execute(BEYOND, {"size": 0}).scalar():
            if head.seq == 0:  # a new install: nothing was ever logged (an emptied log keeps its head's count)
                raise EvidenceInputError(
                    "The audit log of this install is empty: nothing was logged yet, so there is nothing to export, "
                    "checkpoint or verify. File a request first."
                )
            raise EmptyLogError("The audit log is empty: there is nothing to export or verify.")
        raise TamperedEvidenceError(
            "The audit log holds entries but no signed checkpoint: its head was reset, or it was migrated "
            "and not yet opened with its signing key."
        )
    checkpoint = open_checkpoint(head.checkpoint, public_keys)
    if checkpoint.origin != head.origin:
        raise TamperedEvidenceError(
            f"The audit log's checkpoint is of log {checkpoint.origin!r}, but this log is {head.origin!r}."
        )
    return checkpoint


def read_snapshot(
    conn: Connection,
    public_keys: Mapping[str, Ed25519PublicKey],
    *,
    case_id: str | None = None,
    tenant: str | None = None,
) -> LogSnapshot:
    """Read every entry the latest checkpoint commits to and check them against it.

    Reads the whole log (O(n) rows and hashes). Each row's ``tenant``, ``case_id`` and ``kind``
    columns are checked against its signed text, so selecting by them is selecting by what was signed.

    Args:
        conn: An open connection.
        public_keys: The keyring that verifies the checkpoint.
        case_id: Keep only this case's entries.
        tenant: Keep only this tenant's entries.

    Raises:
        EmptyLogError: The log has no entry.
        TamperedEvidenceError: An entry is missing, added, reordered, edited or relabelled (the tree's
            size or root is not the checkpoint's), the head row does not describe the entries, or the
            checkpoint's signature does not verify.
        UnknownKeyError: The checkpoint is signed by a key not in the keyring.
    """
    head = conn.execute(READ_HEAD).one()
    checkpoint = open_head(conn, head, public_keys)
    leaves: list[bytes] = []
    kept: list[LogEntry] = []
    frontier = Frontier()
    last_hash = None
    for row in conn.execute(ROWS, {"size": checkpoint.size}):
        if row.seq != len(leaves) + 1:
            raise TamperedEvidenceError(
                f"The audit log jumps from seq {len(leaves)} to {row.seq}: entries were deleted."
            )
        if not _columns_match(row):
            raise TamperedEvidenceError(
                f"The tenant, case or kind column of entry seq {row.seq} differs from its signed text."
            )
        leaf = leaf_hash(row.text.encode())
        leaves.append(leaf)
        frontier.append(leaf)
        last_hash = row.entry_hash
        if (case_id is None or row.case_id == case_id) and (tenant is None or row.tenant == tenant):
            kept.append(
                LogEntry(
                    seq=row.seq, text=row.text, entry_hash=row.entry_hash, key_id=row.key_id, signature=row.signature
                )
            )
    if len(leaves) != checkpoint.size:
        raise TamperedEvidenceError(
            f"The signed checkpoint commits to {checkpoint.size} entries but the log holds {len(leaves)}: "
            "entries were deleted from its end."
        )
    if frontier.root() != checkpoint.root_hash:
        raise TamperedEvidenceError(
            f"The {len(leaves)} entries of the audit log do not hash to the root its signed checkpoint "
            "commits to: an entry was edited, replaced or reordered."
        )
    described = (checkpoint.size, last_hash, json.dumps([h.hex() for h in frontier.hashes]))
    if (head.seq, head.entry_hash, head.frontier) != described:
        # What the next append would build on must be the tree the checkpoint signed.
        raise TamperedEvidenceError("The audit log's head row does not describe the entries its checkpoint signs.")
    # Another writer may have committed since the head was read; a head that still says this size
    # means the rows after it were added without being signed (or the head was rolled back).
    if (
        conn.execute(BEYOND, {"size": checkpoint.size}).scalar()
        and conn.execute(READ_HEAD).one().checkpoint == head.checkpoint
    ):
        raise TamperedEvidenceError(
            f"The audit log holds entries after seq {checkpoint.size}, which no signed checkpoint covers."
        )
    return LogSnapshot(checkpoint=checkpoint, entries=kept, leaves=leaves)


def _columns_match(row: Any) -> bool:
    """Tell whether an entry's index columns say what its canonical text says, without parsing it.

    Canonical JSON sorts keys, so the envelope's ``case_id``, ``kind`` and ``tenant`` come after its
    ``body``, and a quote inside a string is escaped: the last ``"case_id":`` of the text is the
    envelope's own (likewise for the other two).
    """
    text = row.text
    for key, value in (("tenant", row.tenant), ("case_id", row.case_id), ("kind", row.kind)):
        at = text.rfind(f'"{key}":')
        if at < 0 or not text.startswith(f'"{key}":' + json.dumps(value, ensure_ascii=False), at):
            return False
    return True
