"""What a third party runs with public keys alone: parse a log export, verify entries and a whole log.

A log export is JSON Lines: one canonical JSON object per entry (``seq``, ``text``, ``entry_hash``,
``key_id``, ``signature``) in log order, then one last line ``{"checkpoint": "<signed note>"}``.
Without that line an export proves nothing about its length, so it is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from expunge.errors import EmptyLogError, TamperedEvidenceError, UnknownKeyError
from expunge.evidence._checkpoint import Checkpoint, check_consistency, open_checkpoint
from expunge.evidence._keys import verify_signature
from expunge.evidence._merkle import Frontier, leaf_hash
from expunge.evidence._receipt import canonical, sha256_hex

if TYPE_CHECKING:
    from expunge.evidence._log import LogEntry

__all__ = ["export_entries", "parse_export", "verify_entries", "verify_log"]

GENESIS = "0" * 64


def verify_entries(
    entries: Sequence[Mapping[str, Any]], public_keys: Mapping[str, Ed25519PublicKey], *, chain: str
) -> int:
    """Check signatures, hashes and links of exported entries with public keys alone.

    This checks the entries given, not that none is missing at the end: :func:`verify_log` (a whole
    log against its checkpoint) and inclusion proofs (a case file) do that.

    Args:
        entries: Entries as exported by :meth:`LogEntry.to_dict`, in log order.
        public_keys: ``{key_id: Ed25519PublicKey}``: every key the entries may be signed by.
        chain: ``"global"`` (a full log from seq 1: every ``prev_hash`` links) or ``"case"`` (one
            case's extract from its first entry: every ``case_prev_hash`` links and all entries name
            the same case).

    Returns:
        How many entries verified.

    Raises:
        EmptyLogError: ``entries`` is empty.
        TamperedEvidenceError: A hash, a signature or a link does not verify; the message says which entry.
        UnknownKeyError: An entry is signed by a key not in ``public_keys``.
    """
    if not entries:
        raise EmptyLogError("There are no log entries to verify: an emptied log looks the same as a new one.")
    prev: str | None = GENESIS if chain == "global" else None
    case_id: object = ...
    for i, raw in enumerate(entries):
        where = f"entry {i} (seq {raw.get('seq')!r})" if isinstance(raw, Mapping) else f"entry {i}"
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


def verify_log(
    entries: Sequence[Mapping[str, Any]],
    checkpoint: str,
    public_keys: Mapping[str, Ed25519PublicKey],
    *,
    older: str | None = None,
) -> dict[str, Any]:
    """Verify a whole log against its signed checkpoint, and optionally against an older checkpoint.

    Checks every entry (:func:`verify_entries`, global chain), that there are exactly as many
    entries as the checkpoint's size and that they hash to its root (so none was cut off the end),
    and with ``older``, that the first ``older.size`` entries hash to the older root (the log only
    grew since).

    Args:
        entries: The entries, in log order from seq 1.
        checkpoint: The signed checkpoint note exported with them.
        public_keys: ``{key_id: Ed25519PublicKey}``.
        older: A checkpoint note of the same log signed earlier, kept by the verifier.

    Returns:
        ``log_entries``, ``checkpoint`` (its fields), ``key_ids`` and, with ``older``, ``consistent_from``.

    Raises:
        EmptyLogError: No entries.
        TamperedEvidenceError: Anything does not verify; the message says what.
        UnknownKeyError: An entry or a checkpoint is signed by a key not in ``public_keys``.
        EvidenceInputError: ``older`` is a checkpoint of another log.
    """
    if not entries:
        raise EmptyLogError("The log export holds no entries: an emptied log looks the same as a new one.")
    head = open_checkpoint(checkpoint, public_keys)
    old = open_checkpoint(older, public_keys) if older is not None else None
    count = verify_entries(entries, public_keys, chain="global")
    if count != head.size:
        raise TamperedEvidenceError(
            f"The log holds {count} entries but its signed checkpoint commits to {head.size}: "
            + ("entries were cut from its end." if count < head.size else "entries were added after it.")
        )
    frontier, old_root = Frontier(), None
    for raw in entries:
        if old is not None and frontier.size == old.size:
            old_root = frontier.root()
        frontier.append(leaf_hash(str(raw["text"]).encode()))
    if frontier.root() != head.root_hash:
        raise TamperedEvidenceError("The log's entries do not hash to the root its signed checkpoint commits to.")
    summary: dict[str, Any] = {
        "log_entries": count,
        "checkpoint": _fields(head),
        "key_ids": sorted({str(e["key_id"]) for e in entries} | {head.key_id}),
    }
    if old is not None:
        if old.origin != head.origin or old.size > head.size:
            check_consistency(old, head, [])  # raises: another log, or a log that shrank
        # With every entry at hand no consistency proof is needed: the older root is recomputed.
        if (frontier.root() if old.size == head.size else old_root) != old.root_hash:
            raise TamperedEvidenceError(
                f"The first {old.size} entries of the log do not hash to the older checkpoint's root: "
                "entries were removed or rewritten since it was signed."
            )
        summary["consistent_from"] = old.size
    return summary


def _fields(checkpoint: Checkpoint) -> dict[str, Any]:
    return {k: v for k, v in checkpoint.to_dict().items() if k != "checkpoint"}


def export_entries(entries: Sequence[LogEntry], checkpoint: Checkpoint) -> bytes:
    """Return a log export: entries as JSON Lines, then the checkpoint line (see the module docstring)."""
    lines = [canonical(e.to_dict()) + b"\n" for e in entries]
    return b"".join(lines) + canonical({"checkpoint": checkpoint.note}) + b"\n"


def parse_export(data: bytes) -> tuple[list[dict[str, Any]], str]:
    """Parse a log export into its entries and its checkpoint note, refusing any non-canonical line.

    Raises:
        TamperedEvidenceError: A line is not valid UTF-8 or JSON, or not in canonical form, or the
            export does not end with its checkpoint line.
    """
    out = []
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the empty remainder after the final newline
    for number, line in enumerate(lines, start=1):
        try:
            item = json.loads(line.decode("utf-8"))
        except (UnicodeError, ValueError) as err:
            raise TamperedEvidenceError(f"Line {number} of the log export is not JSON: {err}.") from err
        if not isinstance(item, dict) or canonical(item) != line:
            raise TamperedEvidenceError(f"Line {number} of the log export is not the canonical JSON it was written as.")
        out.append(item)
    if not out or set(out[-1]) != {"checkpoint"} or not isinstance(out[-1]["checkpoint"], str):
        raise TamperedEvidenceError(
            "The log export does not end with its checkpoint line: it was cut short (or written before "
            "checkpoints existed), so its completeness cannot be shown."
        )
    if any("checkpoint" in item for item in out[:-1]):
        raise TamperedEvidenceError("The log export has a checkpoint line before its end.")
    return out[:-1], out[-1]["checkpoint"]
