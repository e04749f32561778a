"""Case files: one sealed JSON document per request that a third party verifies offline."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from expunge.errors import TamperedEvidenceError, UnknownKeyError
from expunge.evidence._keys import Signer, verify_signature
from expunge.evidence._log import verify_entries
from expunge.evidence._receipt import canonical

__all__ = ["CASE_FILE_FORMAT", "dump_case_file", "seal_case_file", "verify_case_file"]

CASE_FILE_FORMAT = "expunge.case_file/1"


def seal_case_file(document: Mapping[str, Any], signer: Signer) -> dict[str, Any]:
    """Return ``document`` with a ``seal``: an Ed25519 signature over its canonical JSON.

    The document must carry ``entries`` (the case's log extract) and ``format``; the seal covers every
    byte of it, so an edited summary is caught even where the entries still verify.
    """
    doc = {k: copy.deepcopy(v) for k, v in document.items() if k != "seal"}
    doc["format"] = CASE_FILE_FORMAT
    doc["seal"] = {"key_id": signer.key_id, "signature": signer.sign(canonical(doc))}
    return doc


def dump_case_file(document: Mapping[str, Any]) -> bytes:
    """Return the bytes a case file is written as: its canonical JSON and one newline."""
    return canonical(dict(document)) + b"\n"


def verify_case_file(document: Mapping[str, Any] | str | bytes, public_keys: Mapping[str, Any]) -> dict[str, Any]:
    """Verify a case file with public keys alone: the seal, every entry signature and the case chain.

    Args:
        document: The case file, parsed or as its raw JSON text.
        public_keys: ``{key_id: Ed25519PublicKey}``.

    Returns:
        A summary: case ID, entries and receipts checked, key IDs used.

    Raises:
        TamperedEvidenceError: Anything does not verify; the message says what.
        UnknownKeyError: The file is signed by a key the verifier was not given.
    """
    raw: bytes | None = None
    if isinstance(document, str | bytes):
        raw = document.encode() if isinstance(document, str) else document
        try:
            document = json.loads(raw)
        except (ValueError, UnicodeError) as err:
            raise TamperedEvidenceError(f"The case file is not valid JSON: {err}.") from err
    if not isinstance(document, Mapping) or document.get("format") != CASE_FILE_FORMAT:
        raise TamperedEvidenceError(f"The document is not an {CASE_FILE_FORMAT} case file.")
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
    entries = document.get("entries")
    if not isinstance(entries, list):
        raise TamperedEvidenceError("The case file has no list of log entries.")
    verify_entries(entries, public_keys, chain="case")
    case_id = (document.get("case") or {}).get("id")
    bodies = [json.loads(e["text"]) for e in entries]
    if any(b.get("case_id") != case_id for b in bodies):
        raise TamperedEvidenceError(f"An entry of the case file does not belong to case {case_id!r}.")
    logged = [b["body"] for b in bodies if b.get("kind") == "receipt"]
    if document.get("receipts") != logged:
        raise TamperedEvidenceError("The receipts listed differ from the receipts in the signed log entries.")
    return {
        "case_id": case_id,
        "entries": len(entries),
        "receipts": len(logged),
        "key_ids": sorted({e["key_id"] for e in entries} | {key_id}),
    }
