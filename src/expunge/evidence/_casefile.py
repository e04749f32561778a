"""Case files: one sealed JSON document per request that a third party verifies offline.

A case file (``expunge.case_file/2``) is canonical JSON with these members:

- ``case``, ``history``, ``plan``, ``receipts``, ``exceptions``, ``times_to_forget_seconds``: derived
  from the signed entries only (:func:`~expunge.evidence._caseview.case_view`);
- ``sla``: the signed deadline and its status at ``as_of``;
- ``entries``: every log entry of the case, from its first, each with its ``inclusion_proof`` (hex
  digests, RFC 9162 §2.1.3) in the tree of ``checkpoint``;
- ``checkpoint``: the log's latest signed checkpoint note when the file was made;
- ``consistency`` (optional): ``{"from_size": m, "proof": [...]}``, the RFC 9162 §2.1.4 proof that
  the checkpoint's tree extends the tree of ``m`` entries an auditor holds a checkpoint of;
- ``seal``: an Ed25519 signature over all of the above.

The verifier recomputes every derived member from the entries, so an edited field is caught even in
a file re-sealed with the install's key, and each entry's proof ties it to the signed checkpoint.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from expunge.errors import EvidenceInputError, TamperedEvidenceError, UnknownKeyError
from expunge.evidence._caseview import CaseView, case_sla, case_view
from expunge.evidence._checkpoint import check_consistency, open_checkpoint
from expunge.evidence._keys import Signer, verify_signature
from expunge.evidence._merkle import leaf_hash, verify_inclusion
from expunge.evidence._offline import verify_entries
from expunge.evidence._receipt import canonical
from expunge.evidence._snapshot import LogSnapshot

__all__ = ["CASE_FILE_FORMAT", "case_file_document", "dump_case_file", "seal_case_file", "verify_case_file"]

CASE_FILE_FORMAT = "expunge.case_file/2"
_MEMBERS = frozenset(
    {
        "format",
        "case",
        "history",
        "plan",
        "receipts",
        "exceptions",
        "times_to_forget_seconds",
        "sla",
        "entries",
        "checkpoint",
        "consistency",
        "seal",
    }
)


def case_file_document(
    snapshot: LogSnapshot, view: CaseView, *, as_of: str, due_soon_days: int, since: int | None = None
) -> dict[str, Any]:
    """Return the unsealed case file of the case whose entries ``snapshot`` holds.

    Args:
        snapshot: The checked log, its entries those of one case (``AuditLog.snapshot(case_id=…)``).
        view: ``case_view`` of those entries.
        as_of: ISO 8601 time the SLA status is given at (now).
        due_soon_days: Days before the deadline an open case counts as due soon.
        since: Tree size of a checkpoint an auditor holds: adds the consistency proof from it.

    Raises:
        TamperedEvidenceError: ``since`` is larger than the log (it shrank).
    """
    document: dict[str, Any] = {
        **view.shown(),
        "sla": case_sla(view, as_of=as_of, due_soon_days=due_soon_days),
        "entries": [{**e.to_dict(), "inclusion_proof": snapshot.inclusion_proof(e.seq)} for e in snapshot.entries],
        "checkpoint": snapshot.checkpoint.note,
    }
    if since is not None:
        document["consistency"] = {"from_size": since, "proof": snapshot.consistency_proof(since)}
    return document


def seal_case_file(document: Mapping[str, Any], signer: Signer) -> dict[str, Any]:
    """Return ``document`` with a ``seal``: an Ed25519 signature over its canonical JSON.

    The document must carry ``entries`` (the case's log extract with proofs), ``checkpoint`` and the
    derived members; the seal covers every byte of it.
    """
    doc = {k: copy.deepcopy(v) for k, v in document.items() if k != "seal"}
    doc["format"] = CASE_FILE_FORMAT
    doc["seal"] = {"key_id": signer.key_id, "signature": signer.sign(canonical(doc))}
    return doc


def dump_case_file(document: Mapping[str, Any]) -> bytes:
    """Return the bytes a case file is written as: its canonical JSON and one newline."""
    return canonical(dict(document)) + b"\n"


def verify_case_file(
    document: Mapping[str, Any] | str | bytes,
    public_keys: Mapping[str, Ed25519PublicKey],
    *,
    older: str | None = None,
) -> dict[str, Any]:
    """Verify a case file with public keys alone.

    Checks the seal; every entry's signature, hash and case chain (from the case's first entry);
    the checkpoint's signature; each entry's inclusion proof against the checkpoint's root; that
    every shown member is what the entries say; and with ``older``, the consistency proof from it.

    Args:
        document: The case file, parsed or as its raw JSON text.
        public_keys: ``{key_id: Ed25519PublicKey}``: every key that may have signed (a keyring).
        older: A checkpoint note of the same log signed earlier, kept by the verifier.

    Returns:
        A summary: ``case_id``, ``entries``, ``receipts``, ``key_ids``, ``checkpoint`` (size, root…),
        and with ``older``, ``consistent_from``.

    Raises:
        TamperedEvidenceError: Anything does not verify; the message says what.
        UnknownKeyError: The file is signed by a key the verifier was not given.
        EvidenceInputError: Not a case file of this format, or ``older`` cannot be checked against it
            (another log, or the file carries no consistency proof from its size).
    """
    raw: bytes | None = None
    if isinstance(document, str | bytes):
        raw = document.encode() if isinstance(document, str) else document
        try:
            document = json.loads(raw)
        except (ValueError, UnicodeError) as err:
            raise TamperedEvidenceError(f"The case file is not valid JSON: {err}.") from err
    if not isinstance(document, Mapping) or document.get("format") != CASE_FILE_FORMAT:
        found = document.get("format") if isinstance(document, Mapping) else None
        if found == "expunge.case_file/1":
            raise EvidenceInputError(
                "This is an expunge.case_file/1 file, which carries no checkpoint or proofs; export the case again."
            )
        raise TamperedEvidenceError(f"The document is not an {CASE_FILE_FORMAT} case file.")
    _check_seal(document, public_keys, raw)
    unknown = sorted(set(document) - _MEMBERS)
    if unknown:
        raise TamperedEvidenceError(f"The case file has members no verifier checks: {', '.join(unknown)}.")
    entries = document.get("entries")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, Mapping) for e in entries):
        raise TamperedEvidenceError("The case file has no list of log entries.")
    verify_entries(entries, public_keys, chain="case")
    checkpoint = open_checkpoint(document.get("checkpoint"), public_keys)
    for entry in entries:
        _check_inclusion(entry, checkpoint.size, checkpoint.root_hash)
    view = case_view([json.loads(e["text"]) for e in entries])
    for member, value in view.shown().items():
        if document.get(member) != value:
            raise TamperedEvidenceError(f"The case file's {member!r} differs from what its signed entries say.")
    sla = document.get("sla")
    as_of, soon = (sla.get("as_of"), sla.get("due_soon_days")) if isinstance(sla, Mapping) else (None, None)
    if not isinstance(as_of, str) or not isinstance(soon, int) or isinstance(soon, bool):
        raise TamperedEvidenceError("The case file's 'sla' has no as_of time or due_soon_days.")
    try:
        expected_sla = case_sla(view, as_of=as_of, due_soon_days=soon)
    except (TypeError, ValueError) as err:
        raise TamperedEvidenceError(f"The case file's 'sla' is unreadable: {err}.") from err
    if sla != expected_sla:
        raise TamperedEvidenceError("The case file's 'sla' differs from the signed deadline and closing time.")
    summary: dict[str, Any] = {
        "case_id": view.case["id"],
        "entries": len(entries),
        "receipts": len(view.receipts),
        "key_ids": sorted({str(e["key_id"]) for e in entries} | {document["seal"]["key_id"], checkpoint.key_id}),
        "checkpoint": {k: v for k, v in checkpoint.to_dict().items() if k != "checkpoint"},
    }
    if older is not None:
        summary["consistent_from"] = _check_older(document, checkpoint, older, public_keys)
    return summary


def _check_seal(document: Mapping[str, Any], public_keys: Mapping[str, Ed25519PublicKey], raw: bytes | None) -> None:
    seal = document.get("seal")
    if not isinstance(seal, Mapping):
        raise TamperedEvidenceError("The case file has no seal.")
    key_id = seal.get("key_id")
    if key_id not in public_keys:
        raise UnknownKeyError(f"The case file is sealed by key {key_id!r}; the verifier has {sorted(public_keys)}.")
    body = {k: v for k, v in document.items() if k != "seal"}
    try:
        data = canonical(body)
    except (TypeError, ValueError) as err:  # rfc8785 refuses values JSON cannot carry exactly
        raise TamperedEvidenceError(f"The case file cannot be canonicalised: {err}.") from err
    if not verify_signature(public_keys[key_id], str(seal.get("signature")), data):
        raise TamperedEvidenceError("The case file's seal does not verify: the file was altered after sealing.")
    if raw is not None and raw.removesuffix(b"\n") != canonical(dict(document)):
        # Case files are written as canonical JSON, so even a byte JSON would ignore is caught.
        raise TamperedEvidenceError("The case file's bytes are not the canonical JSON it was written as.")


def _check_inclusion(entry: Mapping[str, Any], size: int, root: bytes) -> None:
    seq, proof = entry.get("seq"), entry.get("inclusion_proof")
    where = f"entry seq {seq!r}"
    if not isinstance(seq, int) or not isinstance(proof, list) or not all(isinstance(p, str) for p in proof):
        raise TamperedEvidenceError(f"The case file's {where} has no inclusion proof.")
    try:
        path = [bytes.fromhex(p) for p in proof]
    except ValueError as err:
        raise TamperedEvidenceError(f"The inclusion proof of {where} is not hex.") from err
    if not verify_inclusion(seq - 1, size, leaf_hash(str(entry["text"]).encode()), path, root):
        raise TamperedEvidenceError(
            f"The case file's {where} is not in the log its checkpoint commits to (size {size}): "
            "its inclusion proof does not verify."
        )


def _check_older(
    document: Mapping[str, Any], checkpoint: Any, older: str, public_keys: Mapping[str, Ed25519PublicKey]
) -> int:
    old = open_checkpoint(older, public_keys)
    if old.origin != checkpoint.origin or old.size > checkpoint.size:
        check_consistency(old, checkpoint, [])  # raises: another log, or a log that shrank
    proof: list[bytes] = []
    if old.size not in (0, checkpoint.size):
        consistency = document.get("consistency")
        if not isinstance(consistency, Mapping) or consistency.get("from_size") != old.size:
            raise EvidenceInputError(
                f"The case file carries no consistency proof from the older checkpoint's size ({old.size}); "
                "export it with `expunge evidence export --since OLD_CHECKPOINT`."
            )
        try:
            proof = [bytes.fromhex(str(p)) for p in consistency.get("proof") or []]
        except ValueError as err:
            raise TamperedEvidenceError("The case file's consistency proof is not hex.") from err
    check_consistency(old, checkpoint, proof)
    return old.size
