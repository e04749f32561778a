"""Evidence: signed, chained entries; offline verification that catches any flipped byte."""

from __future__ import annotations

import threading

import pytest
from evidence_support import KEYS, SIGNER, append_case, case_file, filled_log, receipt
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from expunge.errors import EvidenceError, TamperedEvidenceError, UnknownKeyError
from expunge.evidence import (
    AuditLog,
    Signer,
    export_entries,
    load_public_key,
    parse_export,
    public_key_pem,
    verify_case_file,
    verify_entries,
    verify_log,
)


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
    log, _ = filled_log(db, n=2)
    with db.read() as conn:
        snapshot = log.snapshot(conn)
    data = export_entries(snapshot.entries, snapshot.checkpoint)
    assert verify_log(*parse_export(data), KEYS)["log_entries"] == 2
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0x01
        with pytest.raises((TamperedEvidenceError, UnknownKeyError)):
            verify_log(*parse_export(bytes(flipped)), KEYS)


def test_tampering_with_a_stored_row_is_detected(db):
    log, _ = filled_log(db, n=3)
    with db.begin() as conn:
        conn.execute(text("update evidence_log set text = replace(text, 'applied', 'not_found') where seq = 2"))
        rows = conn.execute(text("select seq, text, entry_hash, key_id, signature from evidence_log order by seq"))
        exported = [dict(r._mapping) for r in rows]
    with pytest.raises(TamperedEvidenceError, match=r"seq 2"):
        verify_entries(exported, KEYS, chain="global")
    with db.read() as conn, pytest.raises(TamperedEvidenceError, match="root its signed checkpoint"):
        log.entries(conn)  # every read checks the entries against the signed checkpoint


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
    log = AuditLog(SIGNER)
    append_case(log, db, "dsr_1", receipts=2)
    append_case(log, db, "dsr_2", receipts=1)
    return case_file(log, db, "dsr_1")


def test_a_sealed_case_file_verifies_offline_with_the_public_key_alone(db):
    raw = sealed_case(db)
    public = load_public_key(public_key_pem(SIGNER.public_key))
    summary = verify_case_file(raw, {SIGNER.key_id: public})
    checkpoint = summary.pop("checkpoint")
    assert summary == {"case_id": "dsr_1", "entries": 9, "receipts": 2, "key_ids": [SIGNER.key_id]}
    assert checkpoint["size"] == 17 and checkpoint["key_id"] == SIGNER.key_id  # both cases' entries


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
    assert (tmp_path / "keys" / "signing" / f"{first.key_id}.pub.pem").read_bytes() == public_key_pem(pub)
    with pytest.raises(EvidenceError, match="not a PEM public key"):
        load_public_key(b"nope")
