"""Signed checkpoints of the audit log: C2SP tlog-checkpoint notes signed with Ed25519 (signed-note).

A checkpoint commits to the whole log at one size: its origin (which log), its size (entries), its
RFC 9162 root hash, and a timestamp, as the text of a C2SP signed note::

    expunge/4f1c0d2a9b7e6f10                      origin: the log's ID, fixed when the database is made
    600                                           tree size, decimal
    0D7rN4m1...base64 root hash...=               RFC 9162 MTH of the 600 entries, standard base64
    timestamp 2026-05-11T09:14:03.120000+00:00    extension line: when it was signed (UTC)
                                                  (blank line)
    — expunge/4f1c0d2a9b7e6f10 <base64(key hash || Ed25519 signature)>

The signature line's key name is the origin and its 4-byte key hash is
``SHA-256(origin || 0x0A || 0x01 || 32-byte public key)[:4]`` (c2sp.org/signed-note); the signature
covers the note text, from the origin through the newline of the last text line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from expunge.errors import EvidenceInputError, TamperedEvidenceError, UnknownKeyError
from expunge.evidence._keys import Signer, verify_raw
from expunge.evidence._merkle import verify_consistency

__all__ = ["Checkpoint", "check_consistency", "note_key_hash", "open_checkpoint", "read_checkpoint_file"]

_DASH = "\u2014 "
_SIZE = re.compile(r"^(0|[1-9][0-9]{0,18})$")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def note_key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    """Return the 4-byte signed-note key hash of an Ed25519 key: ``SHA-256(name || 0x0A || 0x01 || key)[:4]``."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(name.encode() + b"\n\x01" + raw).digest()[:4]


@dataclass(frozen=True)
class Checkpoint:
    """One signed tree head of the audit log.

    Attributes:
        origin: The log's ID (``expunge/<16 hex>``), unique per database.
        size: Entries in the log (the tree size).
        root_hash: The 32-byte RFC 9162 Merkle tree hash of those entries.
        timestamp: When it was signed, ISO 8601 UTC.
        key_id: The expunge key ID that signed it (set by :meth:`sign` and :func:`open_checkpoint`).
        note: The whole signed note, as it is stored and exported.
    """

    origin: str
    size: int
    root_hash: bytes
    timestamp: str
    key_id: str = ""
    note: str = ""

    def text(self) -> str:
        """Return the note text that is signed (four lines, each ending in a newline)."""
        root = base64.b64encode(self.root_hash).decode()
        return f"{self.origin}\n{self.size}\n{root}\ntimestamp {self.timestamp}\n"

    def sign(self, signer: Signer) -> Checkpoint:
        """Return this checkpoint signed by ``signer``, its signed note in :attr:`note`."""
        text = self.text()
        signature = note_key_hash(self.origin, signer.public_key) + signer.sign_raw(text.encode())
        note = f"{text}\n{_DASH}{self.origin} {base64.b64encode(signature).decode()}\n"
        return replace(self, key_id=signer.key_id, note=note)

    def to_dict(self) -> dict[str, Any]:
        """Return the signed note with its fields spelled out (the note alone is authoritative)."""
        return {
            "checkpoint": self.note,
            "origin": self.origin,
            "size": self.size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp,
            "key_id": self.key_id,
        }


def _parse_text(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
        raise TamperedEvidenceError("The checkpoint's text is not three or more non-empty lines.")
    origin, size, root = lines[0], lines[1], lines[2]
    if not _SIZE.match(size):
        raise TamperedEvidenceError(f"The checkpoint's tree size {size[:40]!r} is not a decimal number.")
    try:
        root_hash = base64.b64decode(root, validate=True)
    except (binascii.Error, ValueError) as err:
        raise TamperedEvidenceError("The checkpoint's root hash is not base64.") from err
    if len(root_hash) != 32 or base64.b64encode(root_hash).decode() != root:
        raise TamperedEvidenceError("The checkpoint's root hash is not 32 bytes in standard base64.")
    stamps = [line[len("timestamp ") :] for line in lines[3:-1] if line.startswith("timestamp ")]
    return Checkpoint(origin=origin, size=int(size), root_hash=root_hash, timestamp=stamps[0] if stamps else "")


def open_checkpoint(note: object, public_keys: Mapping[str, Ed25519PublicKey]) -> Checkpoint:
    """Parse a signed checkpoint note and verify its signature with the keyring.

    Signature lines of other names or unknown keys are ignored, as c2sp.org/signed-note says; at
    least one must be a known key's, and every known key's signature must verify.

    Args:
        note: The signed note text.
        public_keys: ``{key_id: Ed25519PublicKey}`` (a :class:`~expunge.evidence.Keyring` reloads on a miss).

    Returns:
        The checkpoint, with the ID of the key that signed it and the note.

    Raises:
        TamperedEvidenceError: The note is malformed or a known key's signature does not verify.
        UnknownKeyError: No signature is by a key of ``public_keys``.
    """
    if not isinstance(note, str) or _CONTROL.search(note) or not note.endswith("\n"):
        raise TamperedEvidenceError("The checkpoint is not a signed note (text ending in a newline, no control bytes).")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise TamperedEvidenceError("The checkpoint has no signature block.")
    text, block = note[: cut + 1], note[cut + 2 :]
    checkpoint = _parse_text(text)
    signatures = []
    for line in block[:-1].split("\n"):
        if not line.startswith(_DASH) or line.count(" ") != 2:
            raise TamperedEvidenceError("A signature line of the checkpoint is malformed.")
        name, encoded = line[len(_DASH) :].split(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as err:
            raise TamperedEvidenceError("A signature of the checkpoint is not base64.") from err
        if len(raw) < 5 or base64.b64encode(raw).decode() != encoded:  # one spelling only: no malleable bits
            raise TamperedEvidenceError("A signature of the checkpoint is too short or not canonical base64.")
        signatures.append((name, raw[:4], raw[4:]))
    for attempt in range(2):
        known = {note_key_hash(checkpoint.origin, key): (key_id, key) for key_id, key in public_keys.items()}
        matched = [(known[h], sig) for name, h, sig in signatures if name == checkpoint.origin and h in known]
        if matched or attempt or not hasattr(public_keys, "reload"):
            break
        public_keys.reload()  # a key another process rotated to
    if not matched:
        raise UnknownKeyError(
            f"The checkpoint of {checkpoint.origin!r} is signed by no key the verifier has "
            f"({', '.join(sorted(public_keys)) or 'no keys'})."
        )
    for (key_id, key), signature in matched:
        if not verify_raw(key, signature, text.encode()):
            raise TamperedEvidenceError(f"The checkpoint's signature by key {key_id} does not verify.")
    return replace(checkpoint, key_id=matched[0][0][0], note=note)


def check_consistency(old: Checkpoint, new: Checkpoint, proof: Sequence[bytes]) -> None:
    """Check that ``new`` extends ``old``: same log, no fewer entries, and a valid RFC 9162 proof.

    Raises:
        EvidenceInputError: The checkpoints are of different logs.
        TamperedEvidenceError: The log shrank or the proof does not verify: entries were removed or
            rewritten after ``old`` was signed.
    """
    if old.origin != new.origin:
        raise EvidenceInputError(f"The older checkpoint is of log {old.origin!r}, not of {new.origin!r}.")
    if old.size > new.size:
        raise TamperedEvidenceError(
            f"The log has {new.size} entries but an older checkpoint has {old.size}: entries were removed."
        )
    if not verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof):
        raise TamperedEvidenceError(
            f"The log of {new.size} entries is not consistent with the older checkpoint of {old.size}: "
            "entries were removed or rewritten."
        )


def read_checkpoint_file(data: bytes) -> str:
    """Return the signed checkpoint note a file holds.

    Accepted: a note itself; a JSON object with a ``checkpoint`` member (``expunge evidence
    checkpoint`` output, a case file); a log export (JSON Lines ending in a checkpoint line).

    Raises:
        EvidenceInputError: The file holds no checkpoint.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeError as err:
        raise EvidenceInputError("The checkpoint file is not UTF-8 text.") from err
    stripped = text.strip()
    candidates = [stripped, *reversed(stripped.splitlines()[-1:])] if stripped.startswith("{") else []
    for candidate in candidates:
        try:
            item = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(item, dict) and isinstance(item.get("checkpoint"), str):
            return item["checkpoint"]
    if text and not stripped.startswith("{") and "\n\n" in text:
        return text
    raise EvidenceInputError(
        "The checkpoint file holds no checkpoint. Accepted: a signed note, `expunge evidence checkpoint` "
        "output, a case file, or a log export."
    )
