"""Lineage closure: property-tested against naive reachability on random DAGs."""

from __future__ import annotations

import hashlib
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expunge.catalog import closure, descendants, openlineage_events
from expunge.db import utcnow

_tenants = itertools.count()


@st.composite
def dags(draw):
    """A DAG over records (first n_rec nodes) and artifacts; an artifact's parents come before it."""
    n_rec = draw(st.integers(1, 4))
    n_art = draw(st.integers(0, 12))
    parents = []
    for i in range(n_art):
        node = n_rec + i
        parents.append(draw(st.sets(st.integers(0, node - 1), min_size=1, max_size=3)))
    start = draw(st.sets(st.integers(0, n_rec - 1), min_size=1))
    return n_rec, parents, start


def reachable(n_rec, parents, start):
    children = {}
    for i, ps in enumerate(parents):
        for p in ps:
            children.setdefault(p, set()).add(n_rec + i)
    seen, todo = set(start), list(start)
    while todo:
        for c in children.get(todo.pop(), ()):
            if c not in seen:
                seen.add(c)
                todo.append(c)
    return seen


def test_closure_equals_naive_reachability(db, catalog):
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(dags())
    def check(dag):
        n_rec, parents, start = dag
        tenant = f"t{next(_tenants)}"
        with db.begin() as conn:
            ids = []
            for i in range(n_rec):
                digest = hashlib.sha256(f"{tenant}-{i}".encode()).hexdigest()
                ids.append(
                    catalog.records.register(
                        conn, tenant, source="s", content_sha256=digest, purpose="p", legal_basis="consent"
                    ).id
                )
            for i, ps in enumerate(parents):
                art = catalog.register_artifact(
                    conn, tenant, kind="chunk", uri=f"memory://{i}", derived_from=[ids[p] for p in sorted(ps)]
                )
                ids.append(art.id)
            got = closure(conn, tenant, [ids[s] for s in start])
            expected = {ids[n] for n in reachable(n_rec, parents, start)}
            assert {a.id for a in got} == expected
            assert len(got) == len(expected)  # each asset once
            by_id = {a.id: a for a in got}
            start_ids = {ids[s] for s in start}
            for a in got:
                if a.id in start_ids:
                    assert a.depth == 0
                    continue
                node = ids.index(a.id)
                # every parent edge inside the closure is reported, and depth is the shortest distance
                assert set(a.parents) == {ids[p] for p in parents[node - n_rec] if ids[p] in expected}
                assert a.depth == 1 + min(by_id[p].depth for p in a.parents)
            assert descendants(conn, tenant, [ids[s] for s in start]) == expected - {ids[s] for s in start}
            # another tenant sees nothing of this graph
            assert closure(conn, "nobody", [ids[s] for s in start]) == []

    check()


def test_openlineage_export_names_inputs_outputs_and_pseudonyms_only(db, catalog):
    with db.begin() as conn:
        rec = catalog.records.register(
            conn, "acme", source="s", content_sha256="a" * 64, purpose="p", legal_basis="consent"
        )
        chunk = catalog.register_artifact(conn, "acme", kind="chunk", uri="memory://c", derived_from=[rec.id])
        events = openlineage_events(
            closure(conn, "acme", [rec.id]), namespace="acme", subject_pseudonyms=["f" * 64], event_time=utcnow()
        )
    assert len(events) == 1
    event = events[0]
    assert event["eventType"] == "COMPLETE"
    assert event["inputs"] == [{"namespace": "acme", "name": rec.id}]
    assert event["outputs"][0]["name"] == chunk.id
    assert event["outputs"][0]["facets"]["subjectLineage"]["subjectPseudonyms"] == ["f" * 64]
