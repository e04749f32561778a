"""The HTTP API over a real uvicorn server on loopback: auth, roles, tenants, errors, a DSR end to end."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from expunge.evidence import load_public_key, open_checkpoint, verify_case_file

ROUTES = [
    ("GET", "/v1/whoami"),
    ("POST", "/v1/keys"),
    ("DELETE", "/v1/keys/key_0"),
    ("POST", "/v1/records"),
    ("GET", "/v1/records/rec_0"),
    ("GET", "/v1/records/rec_0/lineage"),
    ("POST", "/v1/artifacts"),
    ("POST", "/v1/filter"),
    ("POST", "/v1/lineage"),
    ("POST", "/v1/holds"),
    ("GET", "/v1/holds"),
    ("DELETE", "/v1/holds/hld_0"),
    ("POST", "/v1/requests"),
    ("POST", "/v1/requests/verify"),
    ("POST", "/v1/requests/dsr_0/approve"),
    ("POST", "/v1/requests/dsr_0/reject"),
    ("GET", "/v1/requests"),
    ("GET", "/v1/requests/dsr_0"),
    ("GET", "/v1/requests/dsr_0/case-file"),
    ("GET", "/v1/evidence/public-key"),
    ("GET", "/v1/evidence/checkpoint"),
    ("GET", "/v1/sla"),
    ("GET", "/v1/deadletters"),
    ("POST", "/v1/deadletters/dlq_0/replay"),
]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_every_route_is_listed_here_and_requires_a_key(api):
    with api.client() as c:
        spec = c.get("/openapi.json").json()
    published = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    listed = {(m, p.replace("rec_0", "{record_id}").replace("dsr_0", "{case_id}")) for m, p in ROUTES}
    listed = {(m, p.replace("hld_0", "{hold_id}").replace("dlq_0", "{dead_letter_id}")) for m, p in listed}
    listed = {(m, p.replace("key_0", "{key_id}")) for m, p in listed}
    assert published == listed
    with api.client(role=None) as anonymous:
        for method, path in ROUTES:
            r = anonymous.request(method, path, json={})
            assert r.status_code == 401, (method, path)
            assert r.json()["error"]["code"] == "auth.unauthenticated"
        r = anonymous.get("/v1/whoami", headers={"Authorization": "Bearer exp_0000000000000000_" + "x" * 43})
        assert r.status_code == 401 and "unknown or revoked" in r.json()["error"]["message"]


def test_roles_limit_what_a_key_may_do(api):
    with api.client(role="auditor") as auditor:
        assert auditor.get("/v1/whoami").json()["role"] == "auditor"
        r = auditor.post("/v1/requests", json={"scope": "erasure", "identifiers": [{"kind": "user_id", "value": "x"}]})
        assert r.status_code == 403 and r.json()["error"]["code"] == "auth.forbidden"
        assert "admin, operator" in r.json()["error"]["message"]
    with api.client(role="operator") as operator:
        r = operator.post("/v1/holds", json={"target_id": "rec_" + "0" * 32, "reason": "x"})
        assert r.status_code == 403


def test_an_operator_files_an_approved_request_in_one_call(api):
    with api.client(role="operator") as operator:
        body = {"scope": "erasure", "identifiers": [{"kind": "user_id", "value": "approved-at-filing"}]}
        r = operator.post("/v1/requests", json=body | {"approve": True})
        assert r.status_code == 201, r.text
        assert r.json()["verification_token"] is None and r.json()["token_expires_at"] is None
        case = r.json()["case"]
        assert case["state"] == "executing" and case["verified_by"].startswith("operator:")
        plain = operator.post("/v1/requests", json=body | {"identifiers": [{"kind": "user_id", "value": "other"}]})
        assert plain.json()["case"]["state"] == "received" and plain.json()["verification_token"]


def test_a_request_is_forgotten_end_to_end_and_the_case_file_verifies(api):
    tenant_prefix = "e2e"
    with api.client() as admin:
        rec = admin.post(
            "/v1/records",
            json={
                "source": "crm",
                "content_sha256": sha(tenant_prefix),
                "purpose": "support",
                "legal_basis": "contract",
                "subjects": [{"kind": "email", "value": "dora@example.org"}],
            },
        )
        assert rec.status_code == 201, rec.text
        rec_id = rec.json()["id"]
        art = admin.post("/v1/artifacts", json={"kind": "chunk", "uri": "memory://e2e/1", "derived_from": [rec_id]})
        assert art.status_code == 201
        api.store.put(art.json()["id"], b"chunk")
        lineage = admin.get(f"/v1/records/{rec_id}/lineage").json()["assets"]
        assert [a["id"] for a in lineage] == [rec_id, art.json()["id"]]
        events = admin.get(f"/v1/records/{rec_id}/lineage", params={"format": "openlineage"}).json()["events"]
        assert events[0]["outputs"][0]["name"] == art.json()["id"] and events[0]["inputs"][0]["name"] == rec_id
        both = [rec_id, art.json()["id"]]
        assert admin.post("/v1/filter", json={"asset_ids": both, "use": "retrieval"}).json()["allowed"] == sorted(both)
        filed = admin.post(
            "/v1/requests", json={"scope": "erasure", "identifiers": [{"kind": "email", "value": "DORA@example.org"}]}
        )
        assert filed.status_code == 201
        case_id = filed.json()["case"]["id"]
        assert "dora" not in filed.text.lower()
        verified = admin.post("/v1/requests/verify", json={"token": filed.json()["verification_token"]})
        assert verified.status_code == 200 and verified.json()["state"] in ("executing", "completed")
        for _ in range(200):
            state = admin.get(f"/v1/requests/{case_id}").json()["state"]
            if state == "completed":
                break
            time.sleep(0.02)
        assert state == "completed"
        assert admin.get(f"/v1/records/{rec_id}").json()["status"] == "erased"
        assert admin.post("/v1/filter", json={"asset_ids": both, "use": "training"}).json()["allowed"] == []
        assert art.json()["id"] not in api.store.items
        document = admin.get(f"/v1/requests/{case_id}/case-file").json()
        key = admin.get("/v1/evidence/public-key").json()
        checkpoint = admin.get("/v1/evidence/checkpoint").json()
        since = admin.get(f"/v1/requests/{case_id}/case-file", params={"since": 1}).json()
        negative = admin.get(f"/v1/requests/{case_id}/case-file", params={"since": -1})
    public = load_public_key(key["pem"].encode())
    summary = verify_case_file(document, {key["key_id"]: public})
    assert summary["case_id"] == case_id and summary["receipts"] == 3  # record, chunk, log sweep
    assert "dora" not in json.dumps(document).lower()
    keyring = {k["key_id"]: load_public_key(k["pem"].encode()) for k in key["keys"]}
    assert [k["key_id"] for k in key["keys"] if k["current"]] == [key["key_id"]]
    opened = open_checkpoint(checkpoint["checkpoint"], keyring)
    assert opened.size == checkpoint["size"] >= summary["checkpoint"]["size"]
    assert since["consistency"]["from_size"] == 1 and since["checkpoint"] == checkpoint["checkpoint"]
    assert negative.status_code == 422


def test_tenants_never_see_each_other(api):
    with api.client("acme") as acme, api.client("globex") as globex:
        filed = acme.post("/v1/requests", json={"scope": "restriction", "entity_tags": ["crm:tenant-test"]})
        case_id = filed.json()["case"]["id"]
        r = globex.get(f"/v1/requests/{case_id}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "request.unknown"
        assert case_id not in globex.get("/v1/requests").text
        r = globex.post("/v1/requests/verify", json={"token": filed.json()["verification_token"]})
        assert r.status_code == 400 and r.json()["error"]["code"] == "request.invalid_token"
        assert acme.get(f"/v1/requests/{case_id}").json()["state"] == "received"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"scope": "obliterate", "entity_tags": ["t"]}, 422, "request.unknown_scope"),
        ({"scope": "erasure"}, 422, "request.invalid"),
        ({"scope": "erasure", "identifiers": [{"kind": "email", "value": "nope"}]}, 422, "catalog.invalid_identifier"),
        ({"scope": "erasure", "identifiers": [{"kind": "email", "value": "a" * 400}]}, 422, "request.validation"),
        ({"scope": "erasure", "entity_tags": ["t"], "regulation": "hipaa"}, 404, "request.unknown_regulation"),
        ({"scope": "erasure", "entity_tags": ["t"], "extra": 1}, 422, "request.validation"),
    ],
)
def test_bad_requests_get_one_error_shape_and_store_nothing(api, body, status, code):
    with api.client("globex") as c:
        before = c.get("/v1/requests").json()["total"]
        r = c.post("/v1/requests", json=body)
        assert r.status_code == status, r.text
        assert set(r.json()) == {"error"} and r.json()["error"]["code"] == code
        assert r.json()["error"]["status"] == status and r.json()["error"]["message"]
        assert c.get("/v1/requests").json()["total"] == before


def test_duplicates_illegal_transitions_and_replays_are_conflicts(api):
    with api.client("globex") as c:
        body = {"scope": "erasure", "entity_tags": ["crm:dup-test"]}
        first = c.post("/v1/requests", json=body).json()
        dup = c.post("/v1/requests", json=body)
        assert dup.status_code == 409 and dup.json()["error"]["existing_id"] == first["case"]["id"]
        case_id = first["case"]["id"]
        assert c.post(f"/v1/requests/{case_id}/reject", json={"reason": "unverifiable"}).status_code == 200
        r = c.post(f"/v1/requests/{case_id}/approve")
        assert r.status_code == 409 and r.json()["error"]["code"] == "request.invalid_transition"
        r = c.post("/v1/deadletters/dlq_" + "0" * 32 + "/replay")
        assert r.status_code == 404 and r.json()["error"]["code"] == "bus.unknown_event"


def test_oversize_bodies_are_refused_before_parsing(api):
    with api.client() as c:
        r = c.post("/v1/requests", content=b"{" + b" " * 5000 + b"}", headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "service.payload_too_large"

        def chunks():
            for _ in range(10):
                yield b" " * 1000

        r = c.post("/v1/requests", content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413


def test_holds_turn_erasure_into_restriction_over_http(api):
    with api.client() as admin:
        rec = admin.post(
            "/v1/records",
            json={
                "source": "hr",
                "content_sha256": sha("held"),
                "purpose": "hr",
                "legal_basis": "legal_obligation",
                "tags": ["hr:held-1"],
            },
        ).json()
        hold = admin.post("/v1/holds", json={"target_id": rec["id"], "reason": "case 9"})
        assert hold.status_code == 201
        assert hold.json()["id"] in admin.get("/v1/holds").text
        filed = admin.post("/v1/requests", json={"scope": "erasure", "entity_tags": ["hr:held-1"]}).json()
        case_id = filed["case"]["id"]
        admin.post(f"/v1/requests/{case_id}/approve")
        for _ in range(200):
            case = admin.get(f"/v1/requests/{case_id}").json()
            if case["state"] == "completed_with_exceptions":
                break
            time.sleep(0.02)
        assert case["state"] == "completed_with_exceptions" and "case 9" in case["exceptions"][0]
        assert admin.get(f"/v1/records/{rec['id']}").json()["status"] == "restricted"
        lifted = admin.delete(f"/v1/holds/{hold.json()['id']}")
        assert lifted.status_code == 200 and lifted.json()["active"] is False


def test_unknown_routes_use_the_same_error_shape(api):
    with api.client() as c:
        r = c.get("/v1/nothing-here")
        assert r.status_code == 404 and r.json()["error"]["code"] == "http.not_found"


def test_admins_manage_keys_of_their_own_tenant_only(api):
    with api.client("globex", "admin") as admin, api.client("acme", "admin") as other:
        created = admin.post("/v1/keys", json={"role": "auditor", "label": "ci"})
        assert created.status_code == 201
        key = created.json()
        with api.client(role=None) as anon:
            headers = {"Authorization": f"Bearer {key['api_key']}"}
            assert anon.get("/v1/whoami", headers=headers).json() == {
                "tenant": "globex",
                "role": "auditor",
                "key_id": key["key_id"],
            }
            assert other.delete(f"/v1/keys/{key['key_id']}").status_code == 404
            assert admin.delete(f"/v1/keys/{key['key_id']}").json()["revoked"] is True
            assert anon.get("/v1/whoami", headers=headers).status_code == 401
    with api.client("globex", "operator") as operator:
        assert operator.post("/v1/keys", json={"role": "admin"}).status_code == 403
