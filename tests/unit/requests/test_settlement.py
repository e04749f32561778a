"""Settlement: a case completes only when every action has its receipt and its effect shows in the catalog."""

from __future__ import annotations

from dsr_support import seed_subject
from sqlalchemy import text

from expunge.catalog import Identifier

ANN = Identifier("email", "ann@example.org")


def _file(gov, scope):
    filed = gov.file_request("acme", scope=scope, filed_by="op", identifiers=[ANN])
    return gov.approve("acme", filed.case.id, operator="op")


def _failure(gov, case_id):
    with gov.db.read() as conn:
        return conn.execute(
            text("select reason from requests_transitions where case_id = :c and to_state = 'failed'"), {"c": case_id}
        ).scalar_one()


def test_an_erasure_whose_effects_do_not_show_fails_and_says_which_asset(gov, store):
    records, artifacts = seed_subject(gov, store)
    case = _file(gov, "erasure")
    dispatcher = gov.bus.dispatcher()
    dispatcher.on_batch = None  # settle below, after the tampering
    assert dispatcher.drain().delivered == 7
    with gov.db.begin() as conn:  # what a broken store or a manual edit would leave behind
        conn.execute(text("delete from catalog_tombstones where asset_id = :a"), {"a": artifacts[0].id})
        conn.execute(
            text("update bus_outbox set receipt_seq = null where payload like :a"), {"a": f'%"{artifacts[1].id}"%'}
        )
    assert gov.bus.settle() == [case.id]
    assert gov.get_case("acme", case.id).state == "failed"
    reason = _failure(gov, case.id)
    assert reason == f"{artifacts[0].id} has no tombstone; no receipt for {artifacts[1].id}"


def test_a_restriction_whose_asset_is_still_active_fails(gov, store):
    records, _ = seed_subject(gov, store, n_records=1)
    case = _file(gov, "restriction")
    dispatcher = gov.bus.dispatcher()
    dispatcher.on_batch = None
    dispatcher.drain()
    with gov.db.begin() as conn:
        conn.execute(text("update catalog_records set status = 'active' where id = :r"), {"r": records[0].id})
    gov.bus.settle()
    assert gov.get_case("acme", case.id).state == "failed"
    assert _failure(gov, case.id) == f"{records[0].id} is still active"


def test_settling_only_the_cases_named_leaves_the_others_for_a_sweep(gov, store):
    seed_subject(gov, store, n_records=1)
    seed_subject(gov, store, email="bob@example.org", n_records=1, content_prefix="bob")
    ann = _file(gov, "erasure")
    filed = gov.file_request(
        "acme", scope="erasure", filed_by="op", identifiers=[Identifier("email", "bob@example.org")]
    )
    bob = gov.approve("acme", filed.case.id, operator="op")
    dispatcher = gov.bus.dispatcher()
    dispatcher.on_batch = None
    stats = dispatcher.drain()
    assert stats.case_ids == {ann.id, bob.id}
    assert gov.bus.settle(case_ids=[bob.id]) == [bob.id]
    assert gov.get_case("acme", ann.id).state == "executing"
    assert gov.bus.settle() == [ann.id]
    assert gov.get_case("acme", ann.id).state == "completed"


def test_a_delivery_batch_settles_the_cases_it_finished_in_its_own_transaction(gov, store):
    seed_subject(gov, store, n_records=1)
    case = _file(gov, "erasure")
    stats = gov.bus.dispatcher().run_once(limit=100)
    assert stats.case_ids == {case.id}
    assert gov.get_case("acme", case.id).state == "completed"


def test_a_failing_settlement_leaves_the_deliveries_committed_for_a_later_sweep(gov, store, monkeypatch):
    seed_subject(gov, store, n_records=1)
    case = _file(gov, "erasure")

    def broken(conn, rows):
        raise RuntimeError("settlement bug")

    monkeypatch.setattr(gov.bus, "_settle_rows", broken)
    stats = gov.bus.dispatcher().run_once(limit=100)
    assert stats.delivered == 4 and gov.get_case("acme", case.id).state == "executing"
    monkeypatch.undo()
    assert gov.bus.settle() == [case.id]
    assert gov.get_case("acme", case.id).state == "completed"


def test_an_idle_worker_polls_without_taking_the_writer_slot(gov, monkeypatch):
    dispatcher = gov.bus.dispatcher()
    begun = []
    original = type(gov.db).begin

    def counting(self):
        begun.append(1)
        return original(self)

    monkeypatch.setattr(type(gov.db), "begin", counting)
    assert dispatcher.run_once(limit=100).handled == 0
    assert begun == []


def test_a_lingering_worker_takes_what_was_published_meanwhile_in_the_same_batch(gov, store):
    seed_subject(gov, store, n_records=1)
    seed_subject(gov, store, email="bob@example.org", n_records=1, content_prefix="bob")
    ann = _file(gov, "erasure")
    dispatcher = gov.bus.dispatcher()
    published = []

    def due(*, limit):  # the first look sees ann's events; bob's are filed while the worker lingers
        if not published:
            filed = gov.file_request(
                "acme", scope="erasure", filed_by="op", identifiers=[Identifier("email", "bob@example.org")]
            )
            published.append(gov.approve("acme", filed.case.id, operator="op"))
            return 4
        return type(dispatcher).due(dispatcher, limit=limit)

    dispatcher.due = due
    stats = dispatcher.run_once(limit=100, linger=0.05)
    assert stats.case_ids == {ann.id, published[0].id}
    assert gov.get_case("acme", ann.id).state == gov.get_case("acme", published[0].id).state == "completed"
