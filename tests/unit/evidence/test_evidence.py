"""Evidence: signed, chained entries; offline verification that catches any flipped byte."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from expunge.db import utcnow
from expunge.errors import EvidenceError, TamperedEvidenceError, UnknownKeyError
from expunge.evidence import (
    AuditLog,
    Receipt,
    Signer,
    dump_case_file,
    export_entries,
    load_public_key,
    parse_export,
    public_key_pem,
    seal_case_file,
    verify_case_file,
    verify_entries,
)

SIGNER = Signer.generate()
KEYS = {SIGNER.key_id: SIGNER.public_key}


def receipt(i: int, case_id: str = "dsr_1") -> Receipt:
    now = utcnow()
    return Receipt(
        event_id=f"evt_{i}",
        case_id=case_id,
        tenant="acme",
        subscriber="memory",
        asset_id=f"art_{i}",
        asset_kind="chunk",
        operation="erase",
        outcome="applied",
        started_at=now,
        finished_at=now,
        before_sha256="a" * 64,
        artifact_ids=(f"row-{i}",),
    )


def filled_log(db, n=3, cases=("dsr_1",)):
    log = AuditLog(SIGNER)
    with db.begin() as conn:
        for i in range(n):
            log.append_receipt(conn, receipt(i, cases[i % len(cases)]))
    with db.begin() as conn:
        return log, log.entries(conn)


def test_entries_chain_globally_and_per_case(db):
    log, entries = filled_log(db, n=6, cases=("dsr_1", "dsr_2"))
    exported = [e.to_dict() for e in entries]
    assert verify_entries(exported, KEYS, chain="global") == 6
    with db.begin() as conn:
        case = [e.to_dict() for e in log.entries(conn, case_id="dsr_2")]
    assert verify_entries(case, KEYS, chain="case") == 3
    assert [e.document["seq"] for e in entries] == [1, 2, 3, 4, 5, 6]


def test_a_dropped_or_reordered_entry_breaks_the_chain(db):
    _, entries = filled_log(db, n=4)
    exported = [e.to_dict() for e in entries]
    with pytest.raises(TamperedEvidenceError, match="missing or reordered"):
        verify_entries(exported[:1] + exported[2:], KEYS, chain="global")
    with pytest.raises(TamperedEvidenceError, match="chain is broken"):
        verify_entries(exported[1:], KEYS, chain="case")
    with pytest.raises(TamperedEvidenceError):
        verify_entries([exported[1], exported[0]] + exported[2:], KEYS, chain="global")


def test_every_flipped_byte_of_a_log_export_is_detected(db):
    _, entries = filled_log(db, n=2)
    data = export_entries(entries)
    assert verify_entries(parse_export(data), KEYS, chain="global") == 2
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0x01
        with pytest.raises((TamperedEvidenceError, UnknownKeyError)):
            verify_entries(parse_export(bytes(flipped)), KEYS, chain="global")


def test_tampering_with_a_stored_row_is_detected(db):
    log, _ = filled_log(db, n=3)
    with db.begin() as conn:
        conn.execute(text("update evidence_log set text = replace(text, 'applied', 'not_found') where seq = 2"))
    with db.begin() as conn:
        exported = [e.to_dict() for e in log.entries(conn)]
    with pytest.raises(TamperedEvidenceError, match=r"seq 2"):
        verify_entries(exported, KEYS, chain="global")


def test_another_key_is_refused(db):
    _, entries = filled_log(db, n=1)
    other = Signer.generate()
    with pytest.raises(UnknownKeyError, match="signed by key"):
        verify_entries([e.to_dict() for e in entries], {other.key_id: other.public_key}, chain="global")
    forged = dict(entries[0].to_dict(), key_id=other.key_id)
    with pytest.raises(TamperedEvidenceError):
        verify_entries([forged], {other.key_id: other.public_key, **KEYS}, chain="global")


def test_concurrent_appenders_keep_one_unbroken_chain(db):
    log = AuditLog(SIGNER)

    def work(k):
        for i in range(10):
            with db.begin() as conn:
                log.append_receipt(conn, receipt(100 * k + i, case_id=f"dsr_{k}"))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    with db.begin() as conn:
        assert verify_entries([e.to_dict() for e in log.entries(conn)], KEYS, chain="global") == 30
        for k in range(3):
            case = [e.to_dict() for e in log.entries(conn, case_id=f"dsr_{k}")]
            assert verify_entries(case, KEYS, chain="case") == 10


def sealed_case(db):
    log, _ = filled_log(db, n=2)
    with db.begin() as conn:
        entries = log.entries(conn, case_id="dsr_1")
    document = {
        "case": {"id": "dsr_1", "state": "completed"},
        "receipts": [e.document["body"] for e in entries],
        "entries": [e.to_dict() for e in entries],
    }
    return dump_case_file(seal_case_file(document, SIGNER))


def test_a_sealed_case_file_verifies_offline_with_the_public_key_alone(db):
    raw = sealed_case(db)
    public = load_public_key(public_key_pem(SIGNER.public_key))
    summary = verify_case_file(raw, {SIGNER.key_id: public})
    assert summary == {"case_id": "dsr_1", "entries": 2, "receipts": 2, "key_ids": [SIGNER.key_id]}


def test_an_edited_summary_breaks_the_seal(db):
    raw = sealed_case(db)
    edited = raw.replace(b'"completed"', b'"completes"')
    with pytest.raises(TamperedEvidenceError, match="seal does not verify"):
        verify_case_file(edited, KEYS)


def test_flipping_any_byte_of_a_case_file_is_detected(db):
    raw = sealed_case(db)

    @settings(max_examples=300, deadline=None)
    @given(st.integers(0, len(raw) - 1), st.integers(1, 255))
    def check(pos, mask):
        flipped = bytearray(raw)
        flipped[pos] ^= mask
        with pytest.raises((TamperedEvidenceError, UnknownKeyError)):
            verify_case_file(bytes(flipped), KEYS)

    check()


def test_signing_key_is_created_once_and_reloaded(tmp_path):
    first = Signer.load_or_create(tmp_path / "keys")
    again = Signer.load_or_create(tmp_path / "keys")
    assert first.key_id == again.key_id
    assert (tmp_path / "keys" / "signing_ed25519.pem").stat().st_mode & 0o777 == 0o600
    pub = load_public_key((tmp_path / "keys" / "signing_ed25519.pub.pem").read_bytes())
    assert pub.public_bytes_raw() == first.public_key.public_bytes_raw()
    with pytest.raises(EvidenceError, match="not a PEM public key"):
        load_public_key(b"nope")
