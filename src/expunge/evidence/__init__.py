"""Evidence: signed receipts, the audit log as a Merkle tree with signed checkpoints, sealed case files.

Owns the ``evidence_*`` tables, the Ed25519 signing keys of the install (the current one and the
keyring of every public key it used), RFC 8785 canonical JSON, the RFC 9162 Merkle tree with its
inclusion and consistency proofs, C2SP checkpoints, and offline verification that needs only
public keys. Every receipt a subscriber returns ends up here.

Must not touch: the catalog, requests or the bus (it sits below them). It signs what it is given and
never decides what happened; it never deletes or rewrites an entry.
"""

from expunge.evidence._casefile import (
    CASE_FILE_FORMAT,
    case_file_document,
    dump_case_file,
    seal_case_file,
    verify_case_file,
)
from expunge.evidence._caseview import CaseView, case_sla, case_view, sla_status
from expunge.evidence._checkpoint import Checkpoint, check_consistency, open_checkpoint, read_checkpoint_file
from expunge.evidence._keys import Keyring, Signer, key_id_of, load_public_key, public_key_pem, rotate_signing_key
from expunge.evidence._log import AuditLog
from expunge.evidence._merkle import Frontier, MerkleTree, leaf_hash, node_hash, verify_consistency, verify_inclusion
from expunge.evidence._offline import export_entries, parse_export, verify_entries, verify_log
from expunge.evidence._receipt import OPERATIONS, OUTCOMES, Receipt, StateDigest, canonical, sha256_hex
from expunge.evidence._snapshot import LogEntry, LogSnapshot

__all__ = [
    "CASE_FILE_FORMAT",
    "OPERATIONS",
    "OUTCOMES",
    "AuditLog",
    "CaseView",
    "Checkpoint",
    "Frontier",
    "Keyring",
    "LogEntry",
    "LogSnapshot",
    "MerkleTree",
    "Receipt",
    "Signer",
    "StateDigest",
    "canonical",
    "case_file_document",
    "case_sla",
    "case_view",
    "check_consistency",
    "dump_case_file",
    "export_entries",
    "key_id_of",
    "leaf_hash",
    "load_public_key",
    "node_hash",
    "open_checkpoint",
    "parse_export",
    "public_key_pem",
    "read_checkpoint_file",
    "rotate_signing_key",
    "seal_case_file",
    "sha256_hex",
    "sla_status",
    "verify_case_file",
    "verify_consistency",
    "verify_entries",
    "verify_inclusion",
    "verify_log",
]
