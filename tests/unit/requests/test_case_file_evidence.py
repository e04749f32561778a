"""Case files show only what the log signs: edits of the tables they show are caught, re-sealing does not help."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from dsr_support import SIGNER, seed_subject
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, delete, insert, select, text, update

from expunge.catalog import Identifier
from expunge.catalog import _tables as ct
from expunge.errors import EmptyLogError, TamperedEvidenceError, UnknownKeyError, UnknownRequestError
from expunge.evidence import (
    AuditLog,
    Keyring,
    Signer,
    dump_case_file,
    open_checkpoint,
    public_key_pem,
    seal_case_file,
    verify_case_file,
)
from expunge.evidence import _tables as et
from expunge.requests import _tables as rt
from expunge.requests import build_case_file

ANN = Identifier("email", "ann@example.org")
KEYS = {SIGNER.key_id: SIGNER.public_key}
DETECTED = (TamperedEvidenceError, UnknownKeyError, EmptyLogError)


def finished_case(gov, store, *, hold: bool = True):
    """An erasure of Ann's two records (one held), run to its end: receipts, tombstones, exceptions."""
    records, _ = seed_subject(gov, store)
    if hold:
        with gov.db.begin() as conn:
            gov.catalog.holds.place(conn, "acme", records[0].id, reason="litigation 42", placed_by="legal")
    filed = gov.file_request("acme", scope="erasure", filed_by="op", identifiers=[ANN])
    case = gov.verify_token(filed.token)
    gov.bus.process()
    return gov.get_case("acme", case.id)


def verified(gov, case_id, **kw):
    return verify_case_file(dump_case_file(build_case_file(gov, "acme", case_id, signer=SIGNER, **kw)), KEYS)


def test_the_case_file_is_derived_from_signed_entries_and_matches_the_tables(gov, store):
    case = finished_case(gov, store)
    assert case.state == "completed_with_exceptions"
    document = build_case_file(gov, "acme", case.id, signer=SIGNER)
    assert document["case"] == case.to_dict()  # the signed view and the row agree
    assert [a["event_id"] for a in document["plan"]] == [a["event_id"] for a in gov.actions("acme", case.id)]
    assert document["exceptions"] == list(case.exceptions) and len(case.exceptions) == 3
    assert document["sla"]["status"] == "met"
    summary = verify_case_file(dump_case_file(document), KEYS)
    assert summary["receipts"] == 7 and summary["entries"] == len(document["entries"])
    assert all(e["inclusion_proof"] for e in document["entries"])


# --- issue 11's four examples: edits of the unsigned tables a case file shows ----------------------


def test_changing_a_cases_state_is_detected(gov, store):
    case = finished_case(gov, store)
    with gov.db.begin() as conn:
        conn.execute(update(rt.cases).where(rt.cases.c.id == case.id).values(state="rejected"))
    with pytest.raises(TamperedEvidenceError, match="requests_cases says state = 'rejected'"):
        verified(gov, case.id)


def test_rewriting_the_actor_and_reason_of_its_transitions_is_detected(gov, store):
    case = finished_case(gov, store)
    with gov.db.begin() as conn:
        conn.execute(
            update(rt.transitions)
            .where(rt.transitions.c.case_id == case.id, rt.transitions.c.to_state == "verified")
            .values(actor="mallory", reason="approved by the DPO")
        )
    with pytest.raises(TamperedEvidenceError, match="requests_transitions"):
        verified(gov, case.id)


def test_deleting_its_planned_actions_is_detected(gov, store):
    case = finished_case(gov, store)
    with gov.db.begin() as conn:
        conn.execute(delete(rt.actions).where(rt.actions.c.case_id == case.id))
    with pytest.raises(TamperedEvidenceError, match="requests_actions holds 0 rows"):
        verified(gov, case.id)


def test_deleting_its_tombstones_is_detected(gov, store):
    case = finished_case(gov, store)
    with gov.db.begin() as conn:
        ids = [r.id for r in conn.execute(select(ct.tombstones.c.id).where(ct.tombstones.c.case_id == case.id))]
        assert ids
        conn.execute(delete(ct.tombstoned_content).where(ct.tombstoned_content.c.tombstone_id.in_(ids)))
        conn.execute(delete(ct.tombstones).where(ct.tombstones.c.id.in_(ids)))
    with pytest.raises(TamperedEvidenceError, match="holds no tombstone"):
        verified(gov, case.id)


@pytest.mark.parametrize(
    ("member", "edit"),
    [
        ("case", lambda d: d["case"].update(state="completed")),
        ("history", lambda d: d["history"][1].update(actor="mallory")),
        ("plan", lambda d: d["plan"].pop()),
        ("receipts", lambda d: d["receipts"].pop()),
        ("exceptions", lambda d: d["exceptions"].clear()),
        ("times_to_forget_seconds", lambda d: d["times_to_forget_seconds"].popitem()),
        ("sla", lambda d: d["sla"].update(status="met", due_at="2099-01-01T00:00:00+00:00")),
        ("entries", lambda d: d["entries"].pop()),
    ],
)
def test_a_case_file_edited_and_resealed_with_the_install_key_is_refused(gov, store, member, edit):
    case = finished_case(gov, store)
    document = build_case_file(gov, "acme", case.id, signer=SIGNER)
    edit(document)
    resealed = seal_case_file(document, SIGNER)  # the seal alone proves nothing to whoever holds the key
    with pytest.raises(TamperedEvidenceError):
        verify_case_file(dump_case_file(resealed), KEYS)


def test_a_deleted_case_row_with_signed_entries_is_tampering_not_an_unknown_case(gov, store):
    case = finished_case(gov, store, hold=False)
    with pytest.raises(UnknownRequestError):
        build_case_file(gov, "acme", "dsr_" + "0" * 32, signer=SIGNER)
    with pytest.raises(UnknownRequestError):  # another tenant's case stays invisible
        build_case_file(gov, "globex", case.id, signer=SIGNER)
    with gov.db.begin() as conn:
        conn.execute(delete(rt.cases).where(rt.cases.c.id == case.id))
    with pytest.raises(TamperedEvidenceError, match="missing from requests_cases"):
        build_case_file(gov, "acme", case.id, signer=SIGNER)


# --- offline: a third party with the public keys and an old checkpoint --------------------------


def test_a_third_party_verifies_a_case_with_rotated_keys_and_an_old_checkpoint_offline(gov, store, tmp_path):
    first = finished_case(gov, store, hold=False)
    with gov.db.read() as conn:
        older = gov.audit.snapshot(conn).checkpoint.note  # what the auditor kept after the first case
    # The install rotates its key; the second case is signed with the new one.
    rotated = Signer.generate()
    gov.audit = AuditLog(rotated, public_keys=Keyring([SIGNER.public_key, rotated.public_key]))
    filed = gov.file_request("acme", scope="erasure", filed_by="op", identifiers=[Identifier("email", "b@x.org")])
    seed_subject(gov, store, email="b@x.org", content_prefix="b")
    gov.verify_token(filed.token)
    gov.bus.process()
    since = open_checkpoint(older, KEYS).size
    raw = dump_case_file(build_case_file(gov, "acme", first.id, signer=rotated, since=since))
    # Offline: the bytes, the two public keys (as PEM files) and the old checkpoint; no database.
    pems = tmp_path / "keys"
    pems.mkdir()
    for signer in (SIGNER, rotated):
        (pems / f"{signer.key_id}.pub.pem").write_bytes(public_key_pem(signer.public_key))
    ring = Keyring.from_paths([pems])
    summary = verify_case_file(raw, ring, older=older)
    assert summary["consistent_from"] == since < summary["checkpoint"]["size"]
    assert summary["key_ids"] == sorted([SIGNER.key_id, rotated.key_id])  # old entries, new seal and checkpoint
    assert summary["receipts"] == 7
    with pytest.raises(UnknownKeyError):  # the current key alone cannot verify the older entries
        verify_case_file(raw, {rotated.key_id: rotated.public_key})


# --- property: every edit of every table a case file shows is detected ------------------------------

# The columns each table shows in a case file (or that decide what it shows).
SHOWN = {
    rt.cases: [
        "tenant",
        "state",
        "scope",
        "regulation",
        "filed_by",
        "filed_at",
        "due_at",
        "closed_at",
        "verified_by",
        "pseudonyms",
        "exceptions",
    ],
    rt.transitions: ["case_id", "from_state", "to_state", "actor", "reason", "at"],
    rt.actions: [
        "case_id",
        "asset_id",
        "asset_kind",
        "uri",
        "operation",
        "subscriber",
        "event_id",
        "hold_ids",
        "exception",
    ],
    ct.tombstones: ["tenant", "asset_id", "asset_kind"],
    et.audit_log: ["text", "entry_hash", "key_id", "signature", "tenant", "case_id", "kind"],
    et.chain_head: ["seq", "entry_hash", "origin", "frontier", "checkpoint"],
}
OPS = st.one_of(
    st.tuples(st.just("edit"), st.sampled_from(list(SHOWN)), st.integers(0, 10**6), st.integers(0, 10**6)),
    st.tuples(st.just("delete"), st.sampled_from(list(SHOWN)[:5]), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("insert"), st.sampled_from([rt.transitions, rt.actions]), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("truncate"), st.just(et.audit_log), st.integers(1, 20), st.just(0)),
)


def changed(value, n):
    """A value that differs from ``value``, of the same kind."""
    if value is None:
        return "x"
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1 + n % 5
    if isinstance(value, datetime):
        return value + timedelta(seconds=1 + n % 1000)
    if isinstance(value, list):
        return [*value, f"x{n}"] if n % 2 or not value else value[:-1]
    i = n % len(value) if value else 0
    return value[:i] + chr(ord(value[i]) ^ 1) + value[i + 1 :] if value else "x"


def rows_of(conn, table: Table, case_id: str):
    """The rows of ``table`` that the case file of ``case_id`` stands on."""
    if table is rt.cases:
        return conn.execute(select(table).where(table.c.id == case_id)).all()
    if table in (rt.transitions, rt.actions, ct.tombstones):
        return conn.execute(select(table).where(table.c.case_id == case_id)).all()
    return conn.execute(select(table)).all()  # the whole log and its head back every case file


def key_of(table: Table, row):
    return [c == row._mapping[c.name] for c in table.primary_key.columns]


def tamper(conn, op, case_id) -> bool:
    kind, table, n, m = op
    if kind == "truncate":
        size = conn.execute(text("select max(seq) from evidence_log")).scalar()
        return conn.execute(delete(table).where(table.c.seq > size - n)).rowcount > 0
    rows = rows_of(conn, table, case_id)
    if not rows:
        return False
    row = rows[n % len(rows)]
    if kind == "delete":
        if table is ct.tombstones:
            conn.execute(delete(ct.tombstoned_content).where(ct.tombstoned_content.c.tombstone_id == row.id))
        conn.execute(delete(table).where(*key_of(table, row)))
        return True
    if kind == "insert":
        values = {k: v for k, v in row._mapping.items() if k != "id"}
        if table is rt.actions:
            values.update(seq=values["seq"] + 1000, event_id=f"evt_{n}")
        conn.execute(insert(table).values(**values))
        return True
    column = SHOWN[table][m % len(SHOWN[table])]
    conn.execute(update(table).where(*key_of(table, row)).values({column: changed(row._mapping[column], n)}))
    return True


def test_every_edit_of_every_table_a_case_file_shows_is_detected(gov, store):
    case = finished_case(gov, store)
    assert verified(gov, case.id)["receipts"] == 7
    seen = {"tried": 0, "detected": 0}

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(OPS)
    def check(op):
        with gov.db.engine.connect() as conn:
            tx = conn.begin()
            try:
                if not tamper(conn, op, case.id):
                    return
                seen["tried"] += 1
                seen.setdefault((op[0], op[1].name), 0)
                seen[(op[0], op[1].name)] += 1
                with pytest.raises(DETECTED):
                    document = build_case_file(gov, "acme", case.id, signer=SIGNER, conn=conn)
                    verify_case_file(dump_case_file(document), KEYS)
                seen["detected"] += 1
            finally:
                tx.rollback()

    check()
    assert seen["tried"] > 150 and seen["detected"] == seen["tried"]  # 100 %


def test_a_case_file_lists_each_signed_entry_of_its_case_and_no_other(gov, store):
    case = finished_case(gov, store, hold=False)
    other = gov.file_request("acme", scope="restriction", filed_by="op", entity_tags=["crm:other"])
    document = build_case_file(gov, "acme", case.id, signer=SIGNER)
    texts = [json.loads(e["text"]) for e in document["entries"]]
    assert {t["case_id"] for t in texts} == {case.id} and other.case.id not in json.dumps(document)
    assert [t["kind"] for t in texts].count("plan") == 1
