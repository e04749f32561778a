"""Requests end to end: intake, verification, plan, bus, receipts, holds, SLA and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dsr_support import SIGNER, seed_subject, sha
from sqlalchemy import select

from expunge.catalog import Identifier
from expunge.errors import (
    CatalogError,
    DuplicateRequestError,
    InvalidIdentifierError,
    InvalidTokenError,
    InvalidTransition,
    RequestError,
    TokenExpiredError,
    UnknownRegulationError,
    UnknownRequestError,
    UnknownScopeError,
)
from expunge.evidence import dump_case_file, verify_case_file
from expunge.requests import _tables as rt
from expunge.requests import build_case_file

ANN = Identifier("email", "Ann@Example.org")
KEYS = {SIGNER.key_id: SIGNER.public_key}


def file_and_verify(gov, *, tenant="acme", scope="erasure", **kw):
    kw.setdefault("identifiers", [ANN])
    filed = gov.file_request(tenant, scope=scope, filed_by="op", **kw)
    return gov.verify_token(filed.token)


def test_erasure_forgets_every_asset_and_the_case_file_proves_it(gov, store, tmp_path):
    records, artifacts = seed_subject(gov, store)
    with gov.db.begin() as conn:
        gov.logstore.add(conn, "acme", prompt="my name is Ann", response="hi", content_sha256=records[0].content_sha256)
        kept = gov.logstore.add(conn, "acme", prompt="unrelated", response="ok")
    case = file_and_verify(gov)
    assert case.state == "executing" and case.verified_by == "token"
    stats = gov.bus.process()
    assert stats.delivered == 7 and stats.dead == 0  # 2 records + 4 artifacts + 1 log sweep
    case = gov.get_case("acme", case.id)
    assert case.state == "completed"
    assert store.items == {} and all(store.effects[("erase", a.id)] == 1 for a in artifacts)
    with gov.db.begin() as conn:
        assert [e["id"] for e in gov.logstore.all(conn, "acme")] == [kept]
        for rec in records:
            assert gov.catalog.records.get(conn, "acme", rec.id).status == "erased"
            assert gov.catalog.tombstones.get(conn, "acme", rec.id).case_id == case.id
        for art in artifacts:
            assert gov.catalog.get_artifact(conn, "acme", art.id).status == "erased"
    document = build_case_file(gov, "acme", case.id, signer=SIGNER)
    summary = verify_case_file(dump_case_file(document), KEYS)
    assert summary["receipts"] == 7
    assert set(document["times_to_forget_seconds"]) == {r.id for r in records} | {a.id for a in artifacts} | {case.id}
    assert document["sla"]["status"] == "met"
    assert [h["to"] for h in document["history"]] == [
        "received",
        "verified",
        "planned",
        "executing",
        "verifying",
        "completed",
    ]
    assert "ann@example.org" not in dump_case_file(document).decode().lower()
    # Nor anywhere in the database: catalog, requests, outbox payloads, audit log (raw identifier or local part).
    gov.db.checkpoint()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("expunge.db")).lower()
    assert raw and b"ann@example.org" not in raw and b"ann@" not in raw


def test_a_legal_hold_turns_erasure_into_restriction_and_the_case_says_so(gov, store):
    records, artifacts = seed_subject(gov, store)
    with gov.db.begin() as conn:
        hold = gov.catalog.holds.place(conn, "acme", records[0].id, reason="litigation 42", placed_by="legal")
    case = file_and_verify(gov)
    gov.bus.process()
    case = gov.get_case("acme", case.id)
    assert case.state == "completed_with_exceptions"
    # The held record and what was derived from it (its chunk and embedding: copies of it) are kept.
    assert len(case.exceptions) == 3
    assert all(hold.id in e and "not erased" in e for e in case.exceptions)
    with gov.db.begin() as conn:
        assert gov.catalog.records.get(conn, "acme", records[0].id).status == "restricted"
        assert gov.catalog.records.versions(conn, "acme", records[0].id)  # kept
        assert gov.catalog.records.get(conn, "acme", records[1].id).status == "erased"
        assert [gov.catalog.get_artifact(conn, "acme", a.id).status for a in artifacts] == [
            "restricted",
            "restricted",
            "erased",
            "erased",
        ]
    assert set(store.items) == {artifacts[0].id, artifacts[1].id} and store.restricted == set(store.items)
    document = build_case_file(gov, "acme", case.id, signer=SIGNER)
    held = [r for r in document["receipts"] if r["asset_id"] == records[0].id]
    assert held[0]["outcome"] == "restricted"


def test_unknown_subject_completes_saying_nothing_was_found(gov, store):
    seed_subject(gov, store, email="bob@example.org")
    case = file_and_verify(gov)
    # The catalog knows nothing of Ann; only the log sweep runs (logs may name people the catalog does not).
    assert [a["asset_kind"] for a in gov.actions("acme", case.id)] == ["sweep"]
    gov.bus.process()
    # Before: a plain "completed", and the sweep's receipt read already_applied: it looked done.
    case = gov.get_case("acme", case.id)
    assert case.state == "completed_with_exceptions"
    assert case.exceptions == ("No asset is linked to the email given; nothing was found under it to act on.",)
    document = build_case_file(gov, "acme", case.id, signer=SIGNER)
    assert [r["outcome"] for r in document["receipts"]] == ["not_found"]
    assert document["exceptions"] == list(case.exceptions)
    assert store.effects == {} and len(store.items) == 4


def test_each_identifier_that_matched_nothing_is_stated_even_when_others_matched(gov, store):
    seed_subject(gov, store)
    filed = gov.file_request(
        "acme",
        scope="erasure",
        filed_by="op",
        approved_by="op",
        identifiers=[ANN, Identifier("name", "Ann Someone"), Identifier("phone", "+44 20 7946 0000")],
    )
    gov.bus.process()
    case = gov.get_case("acme", filed.case.id)
    assert case.state == "completed_with_exceptions" and store.items == {}
    assert sorted(e.split(";")[0] for e in case.exceptions) == [
        "No asset is linked to the name given",
        "No asset is linked to the phone given",
    ]


def test_a_request_that_matches_nothing_and_sweeps_nothing_completes_at_once(gov):
    case = file_and_verify(gov, identifiers=[], entity_tags=["crm:never-seen"])
    assert case.state == "completed"
    assert gov.actions("acme", case.id) == []


def test_another_tenant_neither_sees_the_case_nor_touches_the_data(gov, store):
    seed_subject(gov, store, tenant="acme")
    case = file_and_verify(gov, tenant="globex")
    gov.bus.process()
    assert gov.get_case("globex", case.id).state == "completed_with_exceptions"  # nothing of globex's found
    assert len(store.items) == 4
    with pytest.raises(UnknownRequestError):
        gov.get_case("acme", case.id)


def test_operator_approval_verifies_without_a_token(gov, store):
    seed_subject(gov, store)
    filed = gov.file_request("acme", scope="restriction", filed_by="op", identifiers=[ANN])
    case = gov.approve("acme", filed.case.id, operator="alice")
    assert case.verified_by == "operator:alice"
    gov.bus.process()
    assert gov.get_case("acme", case.id).state == "completed"
    assert len(store.restricted) == 4 and len(store.items) == 4
    with pytest.raises(InvalidTokenError, match="already used or replaced"):
        gov.verify_token(filed.token)  # the case moved on: still refused


def test_filing_with_an_operators_approval_does_what_filing_then_approving_does_in_one_commit(gov, store):
    seed_subject(gov, store)
    seed_subject(gov, store, tenant="globex")
    two_steps = gov.approve(
        "globex",
        gov.file_request("globex", scope="erasure", filed_by="op", identifiers=[ANN]).case.id,
        operator="alice",
    )
    filed = gov.file_request("acme", scope="erasure", filed_by="op", identifiers=[ANN], approved_by="alice")
    case = filed.case
    assert case.state == two_steps.state == "executing"
    assert case.verified_by == "operator:alice"

    def steps(tenant, case_id):
        with gov.db.read() as conn:
            documents = [e.document for e in gov.audit.entries(conn, case_id=case_id, tenant=tenant)]
        # Transitions, and the signed plan between verification and planning.
        return [(d["kind"], d["body"].get("from"), d["body"].get("to"), d["body"].get("actor")) for d in documents]

    assert steps("acme", case.id) == steps("globex", two_steps.id)
    assert len(gov.actions("acme", case.id)) == len(gov.actions("globex", two_steps.id)) > 0
    assert filed.token is None and filed.token_expires_at is None  # the operator decided: nothing to verify
    with gov.db.read() as conn:
        assert conn.execute(select(rt.cases.c.token_sha256).where(rt.cases.c.id == case.id)).scalar() is None
    with pytest.raises(DuplicateRequestError):  # refused before anything is stored, as without approval
        gov.file_request("acme", scope="erasure", filed_by="op", identifiers=[ANN], approved_by="bob")
    gov.bus.process()
    assert gov.get_case("acme", case.id).state == "completed"


def test_tokens_are_one_time_signed_and_expire(gov, clock):
    filed = gov.file_request("acme", scope="erasure", filed_by="op", identifiers=[ANN])
    head, mac = filed.token.split(".")
    with pytest.raises(InvalidTokenError, match="signature"):
        gov.verify_token(f"{head}.{mac[:-2]}AA")
    with pytest.raises(InvalidTokenError, match="malformed"):
        gov.verify_token("garbage")
    with pytest.raises(InvalidTokenError, match="signature"):  # found by fuzzing: was a TypeError (HTTP 500)
        gov.verify_token(f"{head}.{mac[:-1]}é")
    clock.advance(hours=2)
    with pytest.raises(TokenExpiredError, match="expired") as info:
        gov.verify_token(filed.token)
    assert info.value.code == "request.token_expired"
    assert gov.get_case("acme", filed.case.id).state == "received"


def test_a_used_token_cannot_be_replayed(gov):
    filed = gov.file_request("acme", scope="erasure", filed_by="op", identifiers=[ANN])
    gov.verify_token(filed.token)
    with pytest.raises(InvalidTokenError, match="already used"):
        gov.verify_token(filed.token)


def test_duplicates_are_detected_while_open_only(gov, store):
    seed_subject(gov, store)
    first = gov.file_request("acme", scope="erasure", filed_by="op", identifiers=[ANN])
    with pytest.raises(DuplicateRequestError) as info:
        gov.file_request("acme", scope="erasure", filed_by="op", identifiers=[Identifier("email", " ann@EXAMPLE.org")])
    assert info.value.existing_id == first.case.id
    gov.file_request("acme", scope="restriction", filed_by="op", identifiers=[ANN])  # another scope is fine
    gov.verify_token(first.token)
    gov.bus.process()
    gov.file_request("acme", scope="erasure", filed_by="op", identifiers=[ANN])  # the first one closed


@pytest.mark.parametrize(
    ("kw", "error", "fragment"),
    [
        ({"scope": "forget_me"}, UnknownScopeError, "Unknown scope 'forget_me'"),
        ({"regulation": "hipaa"}, UnknownRegulationError, "Unknown regulation 'hipaa'"),
        ({"identifiers": []}, RequestError, "at least one identifier"),
        ({"identifiers": [Identifier("email", "x" * 400)]}, InvalidIdentifierError, "at most 320"),
        ({"content_sha256": ["nothex"]}, CatalogError, "64 hexadecimal"),
        ({"scope": "correction"}, RequestError, "params.corrections"),
        ({"params": {"bogus": 1}}, RequestError, "Unknown request parameter 'bogus'"),
        ({"identifiers": [ANN] * 101}, RequestError, "at most 100"),
        ({"scope": "correction", "params": {"corrections": {"rec_x": "a" * 64}}}, CatalogError, "record ID"),
        ({"scope": "correction", "params": {"corrections": {"rec_" + "0" * 32: "nope"}}}, CatalogError, "64 hex"),
        ({"params": {"consent_off": "training"}}, RequestError, "consent_off must be a list"),
        ({"params": {"consent_off": ["Bad Flag"]}}, CatalogError, "consent flag"),
        ({"params": {"note": "x" * 1001}}, RequestError, "at most 1000"),
    ],
)
def test_bad_requests_are_refused_and_nothing_is_stored(gov, kw, error, fragment):
    fields = {"scope": "erasure", "identifiers": [ANN], **kw}
    with pytest.raises(error, match=fragment):
        gov.file_request("acme", filed_by="op", **fields)
    assert gov.list_cases("acme").items == []


def test_illegal_transitions_are_refused(gov):
    filed = gov.file_request("acme", scope="erasure", filed_by="op", identifiers=[ANN])
    with pytest.raises(InvalidTransition, match="from 'received' to 'planned'"):
        gov.execute("acme", filed.case.id, actor="op")
    gov.reject("acme", filed.case.id, actor="op", reason="requester unverifiable")
    with pytest.raises(InvalidTransition, match="closed"):
        gov.approve("acme", filed.case.id, operator="op")


def test_resolution_by_content_hash_and_entity_tag(gov, store):
    records, _ = seed_subject(gov, store, n_records=3)
    case = file_and_verify(gov, identifiers=[], content_sha256=[records[0].content_sha256], entity_tags=["crm:doc-2"])
    gov.bus.process()
    with gov.db.begin() as conn:
        statuses = [gov.catalog.records.get(conn, "acme", r.id).status for r in records]
    assert statuses == ["erased", "active", "erased"]
    assert gov.get_case("acme", case.id).state == "completed"


def test_opt_out_turns_consent_off_and_quarantines_training_artifacts(gov, store):
    records, _ = seed_subject(gov, store, n_records=1)
    with gov.db.begin() as conn:
        ts = gov.catalog.register_artifact(
            conn, "acme", kind="training_set", uri="memory://ts/1", derived_from=[records[0].id]
        )
    case = file_and_verify(gov, scope="opt_out")
    gov.bus.process()
    assert gov.get_case("acme", case.id).state == "completed"
    with gov.db.begin() as conn:
        rec = gov.catalog.records.get(conn, "acme", records[0].id)
        assert rec.consent == {"sale": False, "sharing": False, "training": False} and rec.version == 2
        assert gov.catalog.get_artifact(conn, "acme", ts.id).status == "restricted"
    assert store.restricted == {ts.id} and len(store.items) == 2


def test_correction_adds_a_version_and_erases_what_was_derived(gov, store):
    records, artifacts = seed_subject(gov, store, n_records=2)
    rec = records[0]
    with gov.db.begin() as conn:
        gov.logstore.add(conn, "acme", prompt="old text", response="r", content_sha256=rec.content_sha256)
        (ann,) = gov.catalog.subjects.pseudonyms("acme", [Identifier("email", "ann@example.org")])
        other = gov.logstore.add(conn, "acme", prompt="Ann's other chat", response="r", pseudonym=ann)
    # Named by Ann's identifier too: her other records, their artifacts and her other logs must stay.
    case = file_and_verify(gov, scope="correction", params={"corrections": {rec.id: sha("fixed")}})
    gov.bus.process()
    assert gov.get_case("acme", case.id).state == "completed"
    with gov.db.begin() as conn:
        now = gov.catalog.records.get(conn, "acme", rec.id)
        assert (now.version, now.content_sha256, now.status) == (2, sha("fixed"), "active")
        assert [e["id"] for e in gov.logstore.all(conn, "acme")] == [other]  # only the old content's log went
        assert gov.catalog.records.get(conn, "acme", records[1].id).version == 1
    assert set(store.items) == {a.id for a in artifacts[2:]}  # the other record's chunk and embedding stay


def test_deadlines_follow_the_regulation_and_report_due_soon_and_overdue(gov, clock):
    gdpr = gov.file_request("acme", scope="erasure", filed_by="op", identifiers=[ANN])
    lgpd = gov.file_request(
        "acme", scope="erasure", filed_by="op", identifiers=[Identifier("user_id", "u1")], regulation="lgpd"
    )
    ccpa = gov.file_request(
        "acme", scope="erasure", filed_by="op", identifiers=[Identifier("user_id", "u2")], regulation="ccpa"
    )
    assert (gdpr.case.due_at - gdpr.case.filed_at).days == 30
    assert (lgpd.case.due_at - lgpd.case.filed_at).days == 15
    assert (ccpa.case.due_at - ccpa.case.filed_at).days == 45
    clock.advance(days=12)
    report = gov.sla_report("acme")
    assert [c["id"] for c in report["due_soon"]] == [lgpd.case.id]
    clock.advance(days=4)
    report = gov.sla_report("acme")
    assert [c["id"] for c in report["overdue"]] == [lgpd.case.id]
    assert [c["id"] for c in report["on_track"]] == [gdpr.case.id, ccpa.case.id]


def test_settlement_walks_through_more_cases_than_one_batch(gov, store):
    for i in range(5):
        seed_subject(gov, store, email=f"user{i}@example.org", n_records=1, content_prefix=f"s{i}")
        filed = gov.file_request(
            "acme", scope="erasure", filed_by="op", identifiers=[Identifier("email", f"user{i}@example.org")]
        )
        gov.approve("acme", filed.case.id, operator="op")
    dispatcher = gov.bus.dispatcher()
    dispatcher.on_batch = None  # deliver without settling in the batch, as a crashed worker would leave it
    dispatcher.drain()
    assert len(gov.bus.settle(limit=2)) == 5
    assert {c.state for c in gov.list_cases("acme").items} == {"completed"}


def test_corrections_of_different_records_are_not_duplicates(gov, store):
    records, _ = seed_subject(gov, store, n_records=2)
    for rec in records:
        gov.file_request("acme", scope="correction", filed_by="op", params={"corrections": {rec.id: sha(rec.id)}})
    with pytest.raises(DuplicateRequestError):
        gov.file_request("acme", scope="correction", filed_by="op", params={"corrections": {records[0].id: sha("x")}})


def test_retention_files_and_runs_erasures_for_expired_records(gov, store, clock):
    with gov.db.begin() as conn:
        old = gov.catalog.records.register(
            conn,
            "acme",
            source="crm",
            content_sha256=sha("old"),
            purpose="support",
            legal_basis="contract",
            retention_until=clock.now - timedelta(days=1),
        )
        kept = gov.catalog.records.register(
            conn,
            "acme",
            source="crm",
            content_sha256=sha("kept"),
            purpose="support",
            legal_basis="contract",
            retention_until=clock.now + timedelta(days=30),
        )
    (case,) = gov.enforce_retention("acme")
    assert case.verified_by == "operator:retention-policy"
    assert gov.enforce_retention("acme") == []  # the open request already covers it
    gov.bus.process()
    assert gov.get_case("acme", case.id).state == "completed"
    with gov.db.begin() as conn:
        assert gov.catalog.records.get(conn, "acme", old.id).status == "erased"
        assert gov.catalog.records.get(conn, "acme", kept.id).status == "active"
    assert gov.enforce_retention("acme") == []


def test_a_hold_placed_after_approval_restricts_at_delivery_every_asset_it_covers(gov, store):
    records, artifacts = seed_subject(gov, store)
    case = file_and_verify(gov)  # planned and published: every action is an erasure
    assert {a["operation"] for a in gov.actions("acme", case.id)} == {"erase"}
    with gov.db.begin() as conn:
        hold = gov.catalog.holds.place(conn, "acme", records[0].id, reason="litigation 42", placed_by="legal")
    gov.bus.process()
    case = gov.get_case("acme", case.id)
    # Before: the record's own event was refused (case failed) while its chunk and embedding were erased.
    assert case.state == "completed_with_exceptions"
    assert len(case.exceptions) == 3 and all(hold.id in e and "not erased" in e for e in case.exceptions)
    with gov.db.begin() as conn:
        assert gov.catalog.records.get(conn, "acme", records[0].id).status == "restricted"
        assert gov.catalog.records.versions(conn, "acme", records[0].id)
        assert gov.catalog.records.get(conn, "acme", records[1].id).status == "erased"
        assert [gov.catalog.get_artifact(conn, "acme", a.id).status for a in artifacts] == [
            "restricted",
            "restricted",
            "erased",
            "erased",
        ]
    assert set(store.items) == {artifacts[0].id, artifacts[1].id} and store.restricted == set(store.items)
    held = {records[0].id, artifacts[0].id, artifacts[1].id}
    actions = {a["asset_id"]: a for a in gov.actions("acme", case.id)}
    assert {i for i, a in actions.items() if a["operation"] == "restrict"} == held
    assert all(actions[i]["hold_ids"] == [hold.id] and actions[i]["exception"] for i in held)
    document = build_case_file(gov, "acme", case.id, signer=SIGNER)
    assert {r["asset_id"] for r in document["receipts"] if r["operation"] == "restrict"} == held
    assert verify_case_file(dump_case_file(document), KEYS)["receipts"] == 7


def test_a_hold_on_the_subject_placed_after_approval_keeps_all_their_data(gov, store):
    records, artifacts = seed_subject(gov, store)
    case = file_and_verify(gov)
    with gov.db.begin() as conn:
        (subject,) = gov.catalog.subjects.find(conn, "acme", [ANN])
        gov.catalog.holds.place(conn, "acme", subject, reason="regulator inquiry", placed_by="legal")
    gov.bus.process()
    case = gov.get_case("acme", case.id)
    assert case.state == "completed_with_exceptions" and len(case.exceptions) == 6
    assert len(store.items) == 4 and store.effects.get(("erase", artifacts[0].id)) is None


def test_lifting_a_hold_reopens_the_erasure_it_blocked_with_a_new_sla_clock(gov, store, clock):
    records, artifacts = seed_subject(gov, store)
    hold = gov.holds.place("acme", records[0].id, reason="litigation 42", placed_by="legal")
    first = file_and_verify(gov)
    gov.bus.process()
    assert gov.get_case("acme", first.id).state == "completed_with_exceptions"
    clock.advance(days=40)  # the matter ends long after the first request's deadline
    lifted, reopened = gov.holds.lift("acme", hold.id, lifted_by="legal")
    # Before: nothing happened; the held data stayed restricted and nothing said the erasure was owed.
    assert not lifted.active and len(reopened) == 1
    (case,) = reopened
    assert case.state == "executing" and case.due_at == clock.now + timedelta(days=30)
    assert [c.id for c in gov.list_cases("acme", state="executing").items] == [case.id]
    assert case.id in {c["id"] for c in gov.sla_report("acme")["on_track"]}
    assert {a["asset_id"] for a in gov.actions("acme", case.id) if a["asset_kind"] != "sweep"} == {
        records[0].id,
        artifacts[0].id,
        artifacts[1].id,
    }
    gov.bus.process()
    assert gov.get_case("acme", case.id).state == "completed"
    assert store.items == {}
    with gov.db.begin() as conn:
        assert gov.catalog.records.get(conn, "acme", records[0].id).status == "erased"
    document = build_case_file(gov, "acme", case.id, signer=SIGNER)
    assert first.id in document["history"][0]["reason"] and hold.id in document["history"][0]["reason"]
    # Lifting it again re-opens nothing.
    assert gov.holds.lift("acme", hold.id, lifted_by="legal")[1] == []


def test_lifting_one_of_two_holds_reopens_only_what_no_hold_keeps(gov, store):
    records, artifacts = seed_subject(gov, store)
    on_record = gov.holds.place("acme", records[0].id, reason="matter A", placed_by="legal")
    on_chunk = gov.holds.place("acme", artifacts[0].id, reason="matter B", placed_by="legal")
    file_and_verify(gov)
    gov.bus.process()
    _, reopened = gov.holds.lift("acme", on_record.id, lifted_by="legal")
    (case,) = reopened
    planned = {a["asset_id"]: a["operation"] for a in gov.actions("acme", case.id) if a["asset_kind"] != "sweep"}
    assert planned == {records[0].id: "erase", artifacts[0].id: "restrict", artifacts[1].id: "restrict"}
    gov.bus.process()
    assert set(store.items) == {artifacts[0].id, artifacts[1].id}  # the chunk and its embedding: still held
    _, reopened = gov.holds.lift("acme", on_chunk.id, lifted_by="legal")
    assert len(reopened) == 1
    gov.bus.process()
    assert store.items == {}


def test_delivered_sweeps_drop_the_pseudonyms_they_matched_by_after_the_retention(gov, store, clock):
    from expunge.bus import _tables as bt

    seed_subject(gov, store)
    gov.bus.payload_retention = timedelta(days=7)
    case = file_and_verify(gov)
    gov.bus.process()

    def carried():
        with gov.db.read() as conn:
            rows = conn.execute(select(bt.outbox.c.payload).where(bt.outbox.c.case_id == case.id)).scalars()
            return sum(bool(p["pseudonyms"] or p["content_sha256"]) for p in rows)

    assert carried() == 1  # the log sweep, kept for the retention
    clock.advance(days=8)
    # Before: delivered outbox rows kept the subject's pseudonyms and content hashes forever.
    assert gov.bus.minimise_payloads() == 1 and carried() == 0
    assert gov.get_case("acme", case.id).state == "completed"
    document = build_case_file(gov, "acme", case.id, signer=SIGNER)
    assert verify_case_file(dump_case_file(document), KEYS)["receipts"] == 7


def test_a_hold_on_a_record_keeps_its_log_entries_restricted_instead_of_failing_the_case(gov, store):
    with gov.db.begin() as conn:
        rec = gov.catalog.records.register(
            conn,
            "acme",
            source="crm",
            content_sha256=sha("log-doc"),
            purpose="support",
            legal_basis="contract",
            subjects=[ANN],
        )
        entry = gov.logstore.add(conn, "acme", prompt="Ann asked", response="ok")
        art = gov.catalog.register_artifact(
            conn, "acme", kind="log_entry", uri=f"logstore://entries/{entry}", derived_from=[rec.id]
        )
    gov.holds.place("acme", rec.id, reason="matter 9", placed_by="legal")
    case = file_and_verify(gov)
    stats = gov.bus.process()
    # Before: the log store refused "restrict", the event dead-lettered and the case failed.
    assert stats.dead == 0 and gov.get_case("acme", case.id).state == "completed_with_exceptions"
    with gov.db.begin() as conn:
        assert [e["id"] for e in gov.logstore.all(conn, "acme")] == [entry]
        assert gov.catalog.get_artifact(conn, "acme", art.id).status == "restricted"


def test_lifting_a_hold_before_its_restrictions_are_delivered_still_reopens_the_erasure(gov, store):
    records, artifacts = seed_subject(gov, store)
    with gov.db.begin() as conn:
        (subject,) = gov.catalog.subjects.find(conn, "acme", [ANN])
    hold = gov.holds.place("acme", subject, reason="matter 3", placed_by="legal")
    file_and_verify(gov)  # planned: every action a restriction, none delivered yet
    _, reopened = gov.holds.lift("acme", hold.id, lifted_by="legal")
    assert len(reopened) == 1
    gov.bus.process()
    assert store.items == {}
    with gov.db.begin() as conn:
        assert {gov.catalog.records.get(conn, "acme", r.id).status for r in records} == {"erased"}
