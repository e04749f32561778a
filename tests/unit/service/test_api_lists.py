"""List routes page with a cursor and a total, refuse unknown filters, and the schema declares every error."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import insert

from expunge.bus import _tables as bus_tables
from expunge.db import utcnow
from expunge.requests import STATES, ApiKeys


@pytest.fixture(scope="module")
def paging(api):
    """An admin client of a tenant of its own with 5 requests, 3 holds and 5 dead letters."""
    with api.gov.db.begin() as conn:
        key = ApiKeys().create(conn, "paging", "admin")[1]
        for i in range(5):
            conn.execute(
                insert(bus_tables.dead_letters).values(
                    id=f"dlq_paging{i}",
                    event_id=f"evt_paging{i}",
                    tenant="paging",
                    subscriber="memory",
                    attempts=3,
                    error="boom",
                    dead_at=utcnow(),
                )
            )
    client = api.client(role=None)
    client.headers["Authorization"] = f"Bearer {key}"
    for i in range(5):
        assert client.post("/v1/requests", json={"scope": "erasure", "entity_tags": [f"t:{i}"]}).status_code == 201
    for i in range(3):
        rec = client.post(
            "/v1/records",
            json={
                "source": "crm",
                "content_sha256": hashlib.sha256(f"paging{i}".encode()).hexdigest(),
                "purpose": "support",
                "legal_basis": "contract",
            },
        )
        assert client.post("/v1/holds", json={"target_id": rec.json()["id"], "reason": "x"}).status_code == 201
    yield client
    client.close()


@pytest.mark.parametrize(
    ("path", "key", "total"),
    [("/v1/requests", "requests", 5), ("/v1/holds", "holds", 3), ("/v1/deadletters", "dead_letters", 5)],
)
def test_list_routes_page_with_a_cursor_and_a_total(paging, path, key, total):
    seen, cursor, pages = [], None, 0
    while True:
        r = paging.get(path, params={"limit": 2} | ({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == total and len(body[key]) <= 2
        seen += [item["id"] for item in body[key]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == (total + 1) // 2 and len(seen) == len(set(seen)) == total
    everything = paging.get(path, params={"limit": 1000}).json()
    assert [item["id"] for item in everything[key]] == seen and everything["next_cursor"] is None


@pytest.mark.parametrize("path", ["/v1/requests", "/v1/holds", "/v1/deadletters"])
@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": -5}, {"limit": 1001}, {"limit": "ten"}, {"cursor": "not-a-cursor"}]
)
def test_a_bad_page_is_a_422_in_the_error_shape(paging, path, params):
    r = paging.get(path, params=params)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["status"] == 422 and error["code"] in ("request.validation", "page.invalid")
    assert ("limit" in error["message"] and "1000" in error["message"]) or "cursor" in error["message"]


def test_an_unknown_state_filter_is_a_422_naming_the_states(paging):
    r = paging.get("/v1/requests", params={"state": "bogus"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "request.invalid"
    assert "'bogus'" in r.json()["error"]["message"] and ", ".join(STATES) in r.json()["error"]["message"]
    assert paging.get("/v1/requests", params={"state": "received"}).json()["total"] == 5
    assert paging.get("/v1/requests", params={"state": "completed"}).json() == {
        "requests": [],
        "total": 0,
        "next_cursor": None,
    }


def test_retention_dates_need_an_offset_and_are_kept_in_utc(paging):
    body = {"source": "crm", "purpose": "support", "legal_basis": "contract"}
    naive = paging.post(
        "/v1/records", json=body | {"content_sha256": "a" * 64, "retention_until": "2030-01-01T09:00:00"}
    )
    assert naive.status_code == 422 and "retention_until" in naive.json()["error"]["message"]
    assert "timezone" in naive.json()["error"]["message"]
    aware = paging.post(
        "/v1/records", json=body | {"content_sha256": "b" * 64, "retention_until": "2030-01-01T09:00:00-05:00"}
    )
    assert aware.status_code == 201, aware.text
    assert aware.json()["retention_until"] == "2030-01-01T14:00:00+00:00"
    assert paging.get(f"/v1/records/{aware.json()['id']}").json()["retention_until"] == "2030-01-01T14:00:00+00:00"


def test_the_schema_declares_the_error_responses_of_every_route(api):
    spec = api.client().get("/openapi.json").json()
    error_shape = spec["components"]["schemas"]["ErrorOut"]
    assert error_shape["properties"]["error"]["$ref"].endswith("/ErrorBody")
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            declared = set(op["responses"])
            assert {"401", "422", "503"} <= declared, (method, path, declared)
            if path != "/v1/whoami":
                assert "403" in declared, (method, path)
            if "{" in path:
                assert "404" in declared, (method, path)
            if method == "post" and "requestBody" in op:
                assert "413" in declared, (method, path)
            for status in declared - {"200", "201", "204"}:
                schema = op["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, status)
            assert "Retry-After" in op["responses"]["503"]["headers"]
    for path in ("/v1/requests", "/v1/holds", "/v1/deadletters"):
        names = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        assert names["limit"]["schema"]["minimum"] == 1 and names["limit"]["schema"]["maximum"] == 1000
        assert "cursor" in names
    assert {"409", "404"} <= set(spec["paths"]["/v1/requests"]["post"]["responses"])
