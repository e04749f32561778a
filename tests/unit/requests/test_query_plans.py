"""Query plans: no statement on a DSR's path reads a whole tenant or table, however large the catalog grows.

Without statistics SQLite takes an index on ``tenant`` alone over an ID's own index as soon as an IN
list holds a few IDs; every batch then costs time in proportion to the catalog. This test asks SQLite
for the plan of every statement a DSR runs, from intake to settlement, with its real parameters.
"""

from __future__ import annotations

import re
import sqlite3

from dsr_support import seed_subject
from sqlalchemy import event

from expunge.catalog import Identifier

# A table read in full (a derived table of the IDs asked for is fine), or searched by an index on its tenant alone.
_WHOLE = re.compile(r"^SCAN (?!CONSTANT|anon_)|USING (COVERING )?INDEX \S+ \(tenant=\?\)$")


def test_no_statement_of_a_dsr_reads_a_whole_tenant(gov, store, tmp_path):
    seed_subject(gov, store, email="bob@example.org", n_records=6, content_prefix="bob")
    seed_subject(gov, store, n_records=6)
    with gov.db.begin() as conn:
        gov.logstore.add(conn, "acme", prompt="p", response="r", pseudonym=None)
    statements: list[tuple[str, tuple]] = []

    @event.listens_for(gov.db.engine, "before_cursor_execute")
    def capture(conn, cursor, statement, params, context, executemany):
        if not executemany and statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            statements.append((statement, tuple(params)))

    filed = gov.file_request(
        "acme", scope="erasure", filed_by="op", identifiers=[Identifier("email", "ann@example.org")]
    )
    gov.approve("acme", filed.case.id, operator="op")
    gov.bus.process()
    assert gov.get_case("acme", filed.case.id).state == "completed"
    event.remove(gov.db.engine, "before_cursor_execute", capture)

    raw = sqlite3.connect(tmp_path / "expunge.db")
    whole = {}
    for statement, params in statements:
        plan = [row[-1] for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", params)]
        if bad := [line for line in plan if _WHOLE.search(line)]:
            whole[" ".join(statement.split())[:120]] = bad
    raw.close()
    assert len(statements) > 20
    assert whole == {}
