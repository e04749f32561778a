"""Schemathesis fuzzes every operation of the running server from its own OpenAPI: never a server error.

The operations are driven through schemathesis's Hypothesis strategies directly (its pytest plugin does not
load under this pytest), so each operation gets its own generated cases, with and without a valid key.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def test_no_operation_answers_with_a_server_error(api):
    schema = schemathesis.openapi.from_url(f"{api.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    key = {"Authorization": f"Bearer {api.keys[('acme', 'admin')]}"}
    seen: set[str] = set()
    statuses: list[int] = []
    for operation in operations:

        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy(), authorised=st.booleans())
        def check(case, authorised):
            response = case.call(headers=key if authorised else {}, timeout=10)
            assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
            if response.status_code >= 400:
                assert "error" in response.json(), response.text[:300]
            seen.add(f"{case.method} {case.path}")
            statuses.append(response.status_code)

        check()
    assert len(seen) == len(operations)
    assert any(s < 300 for s in statuses) and any(s in (401, 403) for s in statuses)  # both paths were taken
