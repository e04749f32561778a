"""End to end over HTTP: a document is ingested, retrieved and quoted; an erasure filed through the service makes
the answer abstain, leaves no byte of the chunk in the LanceDB files or the cache, and comes back as signed
receipts in the case file."""

from __future__ import annotations

import time

import httpx

from expunge.evidence import load_public_key, verify_case_file
from expunge.rag import Document, MiniLMEmbedder, Person, RagIndex, RagSubscriber, SqliteCache, probe_subject
from expunge.rag.stores import open_store
from expunge.requests import ApiKeys, open_governance
from expunge.service import create_app
from live_server import serve

ELENA = Person(name="Elena Varga", email="elena.varga@example.org", phone="+36 30 555 0199")
TICKET = (
    "Support ticket 881. Elena Varga (elena.varga@example.org, phone +36 30 555 0199) says the smart thermostat "
    "switches the heating off every night at 3 am. She lives at 12 Kossuth street. Replacement unit approved."
)
OTHER = "Support ticket 882. A customer reports that the router drops Wi-Fi every evening; firmware 2.1 fixed it."


def test_an_erasure_filed_over_http_reaches_the_vector_store_and_proves_it(tmp_path):
    gov = open_governance(f"sqlite:///{tmp_path / 'expunge.db'}", keys_dir=tmp_path / "keys")
    index = RagIndex(
        open_store(f"lancedb://{tmp_path / 'rag'}"),
        MiniLMEmbedder(),
        cache=SqliteCache(tmp_path / "cache.sqlite"),
        catalog=gov.catalog,
        db=gov.db,
    )
    gov.subscribers["rag"] = RagSubscriber(index)
    with gov.db.begin() as conn:
        key = ApiKeys().create(conn, "default", "admin")[1]
    report = index.ingest(
        [Document(TICKET, "tickets/881.txt", acl="support"), Document(OTHER, "tickets/882.txt", acl="support")],
        people=[ELENA],
    )
    question = "Why does the thermostat switch the heating off at night?"
    before = index.answer(question, groups=["support"])
    assert not before.abstained and "3 am" in before.text and before.sources == (report.chunk_ids[0],)

    app = create_app(gov, worker=True, worker_idle_seconds=0.02)
    with serve(app) as base_url, httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}) as api:
        filed = api.post(
            "/v1/requests", json={"scope": "erasure", "identifiers": [{"kind": "email", "value": ELENA.email}]}
        )
        assert filed.status_code == 201, filed.text
        case_id = filed.json()["case"]["id"]
        assert api.post("/v1/requests/verify", json={"token": filed.json()["verification_token"]}).status_code == 200
        deadline = time.monotonic() + 60
        while (state := api.get(f"/v1/requests/{case_id}").json()["state"]) != "completed":
            assert state in ("verified", "planned", "executing", "verifying") and time.monotonic() < deadline, state
            time.sleep(0.05)
        document = api.get(f"/v1/requests/{case_id}/case-file").json()
        public = api.get("/v1/evidence/public-key").json()

    after = index.answer(question, groups=["support"])
    assert after.abstained and after.sources == ()
    assert index.answer("Which router firmware fixed the Wi-Fi?", groups=["support"]).sources == (report.chunk_ids[1],)
    probe = probe_subject(index, ELENA)
    assert not probe.found, probe
    assert probe.files_scanned > 0

    summary = verify_case_file(document, {public["key_id"]: load_public_key(public["pem"].encode())})
    rag = [r for r in document["receipts"] if r["subscriber"] == "rag"]
    assert sorted(r["asset_kind"] for r in rag) == ["chunk", "embedding", "vector_row"]
    assert all(r["outcome"] == "applied" and "found nothing" in r["detail"] for r in rag)
    assert summary["receipts"] == len(document["receipts"])
    assert "elena" not in str(document).lower()
    gov.db.dispose()
