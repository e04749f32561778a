"""A SQLite file locked past the busy timeout: the real app answers 503 with Retry-After, in the error shape."""

from __future__ import annotations

import sqlite3

import httpx

from expunge.bus import MemoryStore, MemorySubscriber
from expunge.db import open_database
from expunge.requests import ApiKeys, open_governance
from expunge.service import create_app
from live_server import serve


def test_a_write_blocked_past_the_busy_timeout_is_a_503_with_retry_after(tmp_path):
    path = tmp_path / "expunge.db"
    db = open_database(f"sqlite:///{path}", busy_timeout_ms=150)
    gov = open_governance(db, keys_dir=tmp_path / "keys", subscribers={"memory": MemorySubscriber(MemoryStore())})
    with gov.db.begin() as conn:
        key = ApiKeys().create(conn, "acme", "admin")[1]
    other_process = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        with serve(create_app(gov)) as base_url:
            client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10)
            other_process.execute("BEGIN EXCLUSIVE")  # another writer holds the file
            body = {"scope": "erasure", "entity_tags": ["crm:locked"]}
            r = client.post("/v1/requests", json=body)
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == "application/json"
            assert int(r.headers["retry-after"]) > 0
            error = r.json()["error"]
            assert error["code"] == "backend.busy" and error["status"] == 503
            assert "locked" in error["message"] and "retry" in error["message"]
            assert "Traceback" not in r.text
            assert client.get("/v1/whoami").status_code == 200  # readers are not blocked (WAL)
            other_process.execute("ROLLBACK")
            r = client.post("/v1/requests", json=body)
            assert r.status_code == 201, r.text  # nothing half-applied by the refused attempt
            assert client.get("/v1/requests").json()["total"] == 1
            client.close()
    finally:
        other_process.close()
        gov.db.dispose()


def test_an_unexpected_error_is_a_json_500_without_a_traceback(api, monkeypatch):
    def broken(*_args, **_kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(api.gov, "sla_report", broken)
    with api.client() as c:
        r = c.get("/v1/sla")
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert r.json()["error"]["code"] == "internal.error" and r.json()["error"]["status"] == 500
    assert "boom" not in r.text and "Traceback" not in r.text
