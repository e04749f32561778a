"""Evidence: signed receipts, the hash-chained audit log, and sealed case files.

Owns the ``evidence_*`` tables, the Ed25519 signing key of the install, RFC 8785 canonical JSON, and
offline verification that needs only public keys. Every receipt a subscriber returns ends up here.

Must not touch: the catalog, requests or the bus (it sits below them). It signs what it is given and
never decides what happened; it never deletes or rewrites an entry.
"""

from expunge.evidence._casefile import CASE_FILE_FORMAT, dump_case_file, seal_case_file, verify_case_file
from expunge.evidence._keys import Signer, key_id_of, load_public_key, public_key_pem
from expunge.evidence._log import AuditLog, LogEntry, export_entries, parse_export, verify_entries
from expunge.evidence._receipt import OPERATIONS, OUTCOMES, Receipt, canonical, sha256_hex

__all__ = [
    "CASE_FILE_FORMAT",
    "OPERATIONS",
    "OUTCOMES",
    "AuditLog",
    "LogEntry",
    "Receipt",
    "Signer",
    "canonical",
    "dump_case_file",
    "export_entries",
    "key_id_of",
    "load_public_key",
    "parse_export",
    "public_key_pem",
    "seal_case_file",
    "sha256_hex",
    "verify_case_file",
    "verify_entries",
]
