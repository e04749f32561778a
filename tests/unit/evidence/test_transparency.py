"""The log as a transparency log: signed checkpoints, truncation, inclusion and consistency, offline."""

from __future__ import annotations

import base64
import json

import pytest
from evidence_support import KEYS, SIGNER, append_case, case_file, filled_log, receipt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from expunge.errors import EmptyLogError, EvidenceInputError, TamperedEvidenceError, UnknownKeyError
from expunge.evidence import (
    AuditLog,
    Frontier,
    Signer,
    check_consistency,
    export_entries,
    leaf_hash,
    open_checkpoint,
    parse_export,
    read_checkpoint_file,
    verify_case_file,
    verify_consistency,
    verify_entries,
    verify_inclusion,
    verify_log,
)
from expunge.evidence._checkpoint import note_key_hash

DETECTED = (TamperedEvidenceError, UnknownKeyError)


def export(log, db) -> bytes:
    with db.read() as conn:
        snapshot = log.snapshot(conn)
    return export_entries(snapshot.entries, snapshot.checkpoint)


def head(db):
    with db.read() as conn:
        return conn.execute(text("select seq, origin, frontier, checkpoint from evidence_head")).one()


# --- tail truncation: issue 11's examples --------------------------------------------------------


@pytest.mark.parametrize("cut", range(1, 7))
def test_deleting_the_last_rows_of_the_log_is_detected(db, cut):
    log, entries = filled_log(db, n=6)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    with db.begin() as conn:
        conn.execute(text("delete from evidence_log where seq > :n"), {"n": 6 - cut})
    with db.read() as conn, pytest.raises(TamperedEvidenceError, match="deleted from its end"):
        log.entries(conn)


@pytest.mark.parametrize("cut", range(1, 8))
def test_cutting_the_last_lines_of_an_exported_log_is_detected(db, cut):
    log, _ = filled_log(db, n=6)
    lines = export(log, db).splitlines(keepends=True)
    assert len(lines) == 7  # six entries and the checkpoint
    with pytest.raises(TamperedEvidenceError, match="checkpoint line"):
        parse_export(b"".join(lines[:-cut]))
    # Cutting entries but keeping the checkpoint line is caught by the checkpoint's size.
    if cut < 7:
        kept = b"".join(lines[: 6 - cut] + lines[-1:])
        with pytest.raises(DETECTED):
            verify_log(*parse_export(kept), KEYS)


def test_an_empty_log_is_refused(db):
    log = AuditLog(SIGNER)
    # A new install's log (its head never counted an entry): refused as nothing to read, not as tampering.
    with db.read() as conn, pytest.raises(EvidenceInputError, match="nothing was logged yet"):
        log.entries(conn)
    with pytest.raises(EmptyLogError):
        verify_entries([], KEYS, chain="global")
    with pytest.raises(EmptyLogError):
        verify_entries([], KEYS, chain="case")
    with pytest.raises(TamperedEvidenceError):
        parse_export(b"")
    _, entries = filled_log(db, n=1, log=log)
    note = export(log, db).splitlines()[-1]
    with pytest.raises(EmptyLogError):
        verify_log([], json.loads(note)["checkpoint"], KEYS)
    with db.begin() as conn:  # emptied behind the checkpoint's back
        conn.execute(text("delete from evidence_log"))
    with db.read() as conn, pytest.raises(TamperedEvidenceError, match="commits to 1 entries"):
        log.entries(conn)


def test_the_head_row_and_the_log_are_compared(db):
    log, _ = filled_log(db, n=6)
    # The head (and its checkpoint) say 6 while the log ends at 3.
    with db.begin() as conn:
        conn.execute(text("delete from evidence_log where seq > 3"))
    with db.read() as conn, pytest.raises(TamperedEvidenceError, match="commits to 6 entries but the log holds 3"):
        log.entries(conn)
    # An append builds on the signed frontier, which still commits to the deleted entries: the gap shows.
    with db.begin() as conn:
        log.append_receipt(conn, receipt(9))
    with db.read() as conn, pytest.raises(TamperedEvidenceError, match="jumps from seq 3 to 7"):
        log.entries(conn)


def test_a_head_row_edited_to_match_a_truncated_log_is_refused(db):
    log = AuditLog(SIGNER)
    append_case(log, db, "dsr_1")
    append_case(log, db, "dsr_2")
    with db.begin() as conn:  # cut the log to dsr_1 and make the head describe exactly that
        rows = conn.execute(text("select text, entry_hash from evidence_log where seq <= 9 order by seq")).all()
        frontier = Frontier()
        frontier.extend(leaf_hash(r.text.encode()) for r in rows)
        conn.execute(text("delete from evidence_log where seq > 9"))
        conn.execute(
            text("update evidence_head set seq = 9, entry_hash = :h, frontier = :f"),
            {"h": rows[-1].entry_hash, "f": json.dumps([h.hex() for h in frontier.hashes])},
        )
    for writer in (log, AuditLog(SIGNER)):  # this process, or another one
        with db.begin() as conn, pytest.raises(TamperedEvidenceError, match="does not match its signed checkpoint"):
            writer.append_receipt(conn, receipt(9))
    with db.read() as conn, pytest.raises(TamperedEvidenceError, match="deleted from its end"):
        log.entries(conn)
    with db.begin() as conn:  # removing the checkpoint does not help: the log was written under one
        conn.execute(text("update evidence_head set checkpoint = null"))
    with db.read() as conn, pytest.raises(TamperedEvidenceError, match="no signed checkpoint"):
        log.entries(conn)
    with db.begin() as conn, pytest.raises(TamperedEvidenceError, match="lost its signed checkpoint"):
        AuditLog(SIGNER).append_receipt(conn, receipt(9))


def test_rows_after_the_signed_checkpoint_are_refused(db):
    log, entries = filled_log(db, n=2)
    row = dict(entries[-1].to_dict(), seq=3)
    with db.begin() as conn:
        conn.execute(
            text(
                "insert into evidence_log (seq, tenant, case_id, kind, text, entry_hash, key_id, signature, created_at)"
                " values (:seq, 'acme', 'dsr_1', 'receipt', :text, :entry_hash, :key_id, :signature, '2026-01-01')"
            ),
            row,
        )
    with db.read() as conn, pytest.raises(TamperedEvidenceError, match="after seq 2"):
        log.entries(conn)


@pytest.mark.parametrize(
    "edit",
    ["case_id = 'dsr_2'", "case_id = null", "tenant = 'other'", "kind = 'transition'"],
)
def test_relabelling_an_entrys_unsigned_columns_is_detected(db, edit):
    # Hiding an entry of dsr_1 from `where case_id = 'dsr_1'` by editing the column the query uses.
    log, _ = filled_log(db, n=4, cases=("dsr_1", "dsr_2"))
    with db.read() as conn:
        assert [e.seq for e in log.entries(conn, case_id="dsr_1")] == [1, 3]
    with db.begin() as conn:
        conn.execute(text(f"update evidence_log set {edit} where seq = 3"))
    with db.read() as conn, pytest.raises(TamperedEvidenceError, match="column of entry seq 3"):
        log.entries(conn, case_id="dsr_1")


# --- checkpoints ----------------------------------------------------------------------------------


def test_the_checkpoint_is_a_c2sp_signed_note(db):
    log, _ = filled_log(db, n=3)
    note = head(db).checkpoint
    body, signature_line = note.split("\n\n")
    origin, size, root, stamp = body.split("\n")
    assert origin == head(db).origin and origin.startswith("expunge/") and size == "3"
    assert stamp.startswith("timestamp ")
    dash, name, encoded = signature_line.rstrip("\n").split(" ")
    assert dash == "\u2014" and name == origin
    raw = base64.b64decode(encoded)
    assert raw[:4] == note_key_hash(origin, SIGNER.public_key)
    SIGNER.public_key.verify(raw[4:], (body + "\n").encode())  # plain Ed25519 over the note text
    opened = open_checkpoint(note, KEYS)
    assert (opened.size, opened.key_id, base64.b64encode(opened.root_hash).decode()) == (3, SIGNER.key_id, root)


def test_every_flipped_byte_of_a_checkpoint_is_detected(db):
    filled_log(db, n=2)
    note = head(db).checkpoint.encode()
    for i in range(len(note)):
        flipped = bytearray(note)
        flipped[i] ^= 0x01
        try:
            text_ = bytes(flipped).decode()
        except UnicodeError:
            continue  # not text at all: nobody can pass it as a note
        with pytest.raises(DETECTED):
            open_checkpoint(text_, KEYS)
    other = Signer.generate()
    with pytest.raises(UnknownKeyError, match="signed by no key"):
        open_checkpoint(note.decode(), {other.key_id: other.public_key})


def test_one_checkpoint_is_signed_per_append_batch(db):
    log = AuditLog(SIGNER)
    with db.begin() as conn:
        log.append_many(conn, [("acme", "dsr_1", "receipt", {"i": i}) for i in range(5)])
    first = head(db).checkpoint
    assert open_checkpoint(first, KEYS).size == 5
    with db.begin() as conn:
        log.append_many(conn, [("acme", "dsr_1", "receipt", {"i": 5})])
    assert open_checkpoint(head(db).checkpoint, KEYS).size == 6 and head(db).checkpoint != first


def test_read_checkpoint_file_takes_a_note_a_json_checkpoint_a_case_file_or_a_log_export(db):
    log = AuditLog(SIGNER)
    append_case(log, db)
    note = head(db).checkpoint
    data = export(log, db)
    assert read_checkpoint_file(note.encode()) == note
    assert read_checkpoint_file(json.dumps({"checkpoint": note}).encode()) == note
    assert read_checkpoint_file(case_file(log, db)) == note
    assert read_checkpoint_file(data) == note
    with pytest.raises(EvidenceInputError, match="holds no checkpoint"):
        read_checkpoint_file(b'{"seq": 1}')


# --- inclusion and consistency --------------------------------------------------------------------


def test_a_third_party_checks_consistency_with_an_older_checkpoint_offline(db):
    log = AuditLog(SIGNER)
    append_case(log, db, "dsr_1")
    older = head(db).checkpoint
    old_size = open_checkpoint(older, KEYS).size
    append_case(log, db, "dsr_2")
    data = export(log, db)
    summary = verify_log(*parse_export(data), KEYS, older=older)
    assert summary["consistent_from"] == old_size and summary["log_entries"] == 2 * old_size
    raw = case_file(log, db, "dsr_2", since=old_size)
    assert verify_case_file(raw, KEYS, older=older)["consistent_from"] == old_size
    # Without the proof from that size the case file cannot show consistency: bad input, not tampering.
    with pytest.raises(EvidenceInputError, match="no consistency proof"):
        verify_case_file(case_file(log, db, "dsr_2"), KEYS, older=older)


def test_a_rewritten_history_is_inconsistent_with_an_older_checkpoint(db, db_template, tmp_path):
    # The operator, holding the signing key, rebuilds the log without dsr_1 and signs a fresh head.
    log = AuditLog(SIGNER)
    append_case(log, db, "dsr_1")
    older = head(db).checkpoint
    append_case(log, db, "dsr_2")
    with db.begin() as conn:
        conn.execute(text("delete from evidence_log"))
        conn.execute(
            text("update evidence_head set seq = 0, entry_hash = :g, frontier = '[]', checkpoint = null"),
            {"g": "0" * 64},
        )
    append_case(AuditLog(SIGNER), db, "dsr_2")
    data = export(log, db)
    assert verify_log(*parse_export(data), KEYS)["log_entries"] == 9  # self-consistent on its own
    with pytest.raises(TamperedEvidenceError, match="older checkpoint"):
        verify_log(*parse_export(data), KEYS, older=older)
    old_size = open_checkpoint(older, KEYS).size
    raw = case_file(log, db, "dsr_2", since=old_size)
    with pytest.raises(TamperedEvidenceError, match="not consistent with the older checkpoint"):
        verify_case_file(raw, KEYS, older=older)


def test_a_shorter_log_than_an_older_checkpoint_is_refused(db):
    log = AuditLog(SIGNER)
    append_case(log, db, "dsr_1")
    with db.read() as conn:
        new = log.snapshot(conn).checkpoint
    old = open_checkpoint(head(db).checkpoint, KEYS)
    bigger = type(old)(old.origin, old.size + 1, old.root_hash, old.timestamp)
    with pytest.raises(TamperedEvidenceError, match="entries were removed"):
        check_consistency(bigger, new, [])
    with db.read() as conn, pytest.raises(TamperedEvidenceError, match="entries were removed"):
        log.snapshot(conn).consistency_proof(old.size + 1)
    elsewhere = type(old)("expunge/elsewhere", old.size, old.root_hash, old.timestamp)
    with pytest.raises(EvidenceInputError, match="another log|of log"):
        check_consistency(elsewhere, new, [])


def test_every_entry_of_a_case_file_carries_an_inclusion_proof_that_verifies(db):
    log = AuditLog(SIGNER)
    for case_id in ("dsr_1", "dsr_2", "dsr_3"):
        append_case(log, db, case_id, receipts=3)
    document = json.loads(case_file(log, db, "dsr_2"))
    checkpoint = open_checkpoint(document["checkpoint"], KEYS)
    for entry in document["entries"]:
        proof = [bytes.fromhex(p) for p in entry["inclusion_proof"]]
        leaf = leaf_hash(entry["text"].encode())
        assert verify_inclusion(entry["seq"] - 1, checkpoint.size, leaf, proof, checkpoint.root_hash)
    with db.read() as conn:
        snapshot = log.snapshot(conn)
    for m in range(checkpoint.size + 1):
        proof = [bytes.fromhex(p) for p in snapshot.consistency_proof(m)]
        assert verify_consistency(m, checkpoint.size, snapshot.tree.root(m), checkpoint.root_hash, proof)


# --- a migrated log gets its first checkpoint once, after its old entries verify -------------------


def test_a_log_from_before_checkpoints_is_adopted_once_its_entries_verify(db):
    log, _ = filled_log(db, n=3)
    with db.begin() as conn:  # as migration 0004 leaves a log of revision 0003: frontier, no checkpoint
        conn.execute(text("update evidence_head set checkpoint = null"))
    fresh = AuditLog(SIGNER)
    with db.read() as conn:
        assert fresh.needs_adoption(conn)
        with pytest.raises(TamperedEvidenceError, match="no signed checkpoint"):
            fresh.entries(conn)
    with db.begin() as conn:
        assert fresh.adopt(conn) is True
        assert fresh.adopt(conn) is False
    with db.read() as conn:
        assert len(fresh.entries(conn)) == 3
    with db.begin() as conn:  # an old log whose entries do not verify gets no checkpoint
        conn.execute(text("update evidence_head set checkpoint = null"))
        conn.execute(text("update evidence_log set text = replace(text, 'applied', 'not_found') where seq = 2"))
    with db.begin() as conn, pytest.raises(TamperedEvidenceError):
        fresh.adopt(conn)


# --- property: every truncation, deletion or edit of the stored log is detected -----------------

TAMPERS = st.one_of(
    st.tuples(st.just("truncate"), st.integers(1, 12)),
    st.tuples(st.just("delete"), st.integers(1, 12)),
    st.tuples(
        st.sampled_from(["text", "entry_hash", "signature", "key_id", "tenant", "case_id", "kind"]),
        st.integers(1, 12),
        st.integers(0, 9999),
    ),
    st.tuples(st.just("swap"), st.integers(1, 12), st.integers(1, 12)),
    st.tuples(
        st.just("head"),
        st.sampled_from(["seq", "entry_hash", "frontier", "checkpoint", "origin"]),
        st.integers(0, 9999),
    ),
)


def tamper(conn, how) -> bool:
    """Apply one tampering; return False when it changed nothing (such examples are skipped)."""
    kind = how[0]
    if kind == "truncate":
        return conn.execute(text("delete from evidence_log where seq > 12 - :k"), {"k": how[1]}).rowcount > 0
    if kind == "delete":
        return conn.execute(text("delete from evidence_log where seq = :s"), {"s": how[1]}).rowcount > 0
    if kind == "swap":
        if how[1] == how[2]:
            return False
        conn.execute(text("update evidence_log set seq = -1 where seq = :a"), {"a": how[1]})
        conn.execute(text("update evidence_log set seq = :a where seq = :b"), {"a": how[1], "b": how[2]})
        conn.execute(text("update evidence_log set seq = :b where seq = -1"), {"b": how[2]})
        return True
    if kind == "head":
        column, n = how[1], how[2]
        value = conn.execute(text(f"select {column} from evidence_head")).scalar()
        new = {"seq": n % 12, "origin": f"expunge/{n}"}.get(column)
        if new is None:  # flip one character of the text column
            i = n % len(value)
            new = value[:i] + chr(ord(value[i]) ^ 1) + value[i + 1 :]
        if new == value:
            return False
        conn.execute(text(f"update evidence_head set {column} = :v"), {"v": new})
        return True
    column, seq, n = how
    value = conn.execute(text(f"select {column} from evidence_log where seq = :s"), {"s": seq}).scalar()
    i = n % len(value)
    new = value[:i] + chr(ord(value[i]) ^ 1) + value[i + 1 :]
    conn.execute(text(f"update evidence_log set {column} = :v where seq = :s"), {"v": new, "s": seq})
    return True


def read_and_verify(log, conn) -> None:
    """What every export does: read the log against its checkpoint, then verify the export offline."""
    snapshot = log.snapshot(conn)
    verify_log(*parse_export(export_entries(snapshot.entries, snapshot.checkpoint)), KEYS)


def test_every_truncation_deletion_or_edit_of_the_stored_log_is_detected(db):
    log, _ = filled_log(db, n=12, cases=("dsr_1", "dsr_2", "dsr_3"))
    with db.read() as conn:
        read_and_verify(log, conn)
    seen = {"tried": 0, "detected": 0}

    @settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(TAMPERS)
    def check(how):
        with db.engine.connect() as conn:
            tx = conn.begin()
            try:
                if not tamper(conn, how):
                    return
                seen["tried"] += 1
                with pytest.raises((*DETECTED, EmptyLogError)):
                    read_and_verify(log, conn)
                seen["detected"] += 1
            finally:
                tx.rollback()

    check()
    assert seen["tried"] > 100 and seen["detected"] == seen["tried"]  # 100 %
