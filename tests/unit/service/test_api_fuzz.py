"""Random bodies against every POST route of the running server: never a server error, always one shape.

A light stand-in for schemathesis: field names are drawn from the published OpenAPI schemas, values
from any JSON, so the validators, the areas' own checks and the error mapping are all exercised.
"""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def test_random_bodies_never_cause_a_server_error(api):
    spec = httpx.get(f"{api.base_url}/openapi.json").json()
    schemas = spec["components"]["schemas"]
    posts = []
    for path, ops in spec["paths"].items():
        if "post" in ops:
            ref = ops["post"].get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            fields = sorted(schemas.get(ref.get("$ref", "").rsplit("/", 1)[-1], {}).get("properties", {}))
            posts.append((path.replace("{case_id}", "dsr_" + "0" * 32).replace("{dead_letter_id}", "dlq_x"), fields))
    assert len(posts) >= 9
    client = api.client("globex", "admin")

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(posts), st.data())
    def check(route, data):
        path, fields = route
        body = data.draw(
            st.one_of(
                json_values,
                st.fixed_dictionaries({}, optional={f: json_values for f in fields}),
            )
        )
        r = client.post(path, json=body)
        assert r.status_code < 500, (path, body, r.text)
        if r.status_code >= 400:
            error = r.json()["error"]
            assert error["status"] == r.status_code and error["code"] and error["message"]

    try:
        check()
    finally:
        client.close()
