"""Crash safety: SIGKILL a worker process at random moments; nothing is lost, nothing applied twice.

The effects are checked in the stores themselves (tombstones in the catalog, rows of the log store)
and in the signed log (one receipt per event), not in the bus's own bookkeeping.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import text

from expunge.catalog import Identifier
from expunge.evidence import verify_entries
from expunge.requests import open_governance

pytestmark = pytest.mark.slow

WORKER = """
import sys, threading
from pathlib import Path
from expunge.requests import open_governance
gov = open_governance(sys.argv[1], keys_dir=Path(sys.argv[2]))
gov.bus.work(threading.Event(), idle_seconds=0.01, limit=5, once=True)
"""


def test_killed_workers_lose_nothing_and_apply_nothing_twice(tmp_path):
    url, keys = f"sqlite:///{tmp_path / 'e.db'}", tmp_path / "keys"
    gov = open_governance(url, keys_dir=keys)
    n_cases, n_records = 40, 3
    records = []
    with gov.db.begin() as conn:
        for s in range(n_cases):
            for r in range(n_records):
                rec = gov.catalog.records.register(
                    conn,
                    "acme",
                    source="crm",
                    content_sha256=hashlib.sha256(f"{s}/{r}".encode()).hexdigest(),
                    purpose="support",
                    legal_basis="contract",
                    subjects=[Identifier("user_id", f"u{s}")],
                )
                entry = gov.logstore.add(conn, "acme", prompt=f"u{s} wrote", response="ok")
                gov.catalog.register_artifact(
                    conn, "acme", kind="log_entry", uri=f"logstore://entries/{entry}", derived_from=[rec.id]
                )
                records.append(rec.id)
    cases = []
    for s in range(n_cases):
        filed = gov.file_request("acme", scope="erasure", filed_by="it", identifiers=[Identifier("user_id", f"u{s}")])
        cases.append(gov.approve("acme", filed.case.id, operator="it").id)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    rng = random.Random(7)
    kills = 0

    def done() -> int:
        with gov.db.read() as conn:
            return conn.execute(text("select count(*) from bus_outbox where status = 'done'")).scalar_one()

    for life in range(200):
        before = done()
        proc = subprocess.Popen([sys.executable, "-c", WORKER, url, str(keys)], env=env)
        if life < 15 or life % 4 != 3:  # killed mid-work (after progress, at a random moment), mostly
            while proc.poll() is None and done() == before:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.03))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
        proc.wait()
        assert proc.returncode in (0, -signal.SIGKILL)
        if all(gov.get_case("acme", c).state == "completed" for c in cases):
            break
    states = Counter(gov.get_case("acme", c).state for c in cases)
    assert states == {"completed": n_cases}, (states, kills)
    assert kills >= 1  # the harness must actually have interrupted a worker
    with gov.db.read() as conn:
        tombstones = Counter(r[0] for r in conn.execute(text("select asset_id from catalog_tombstones")))
        entries = gov.audit.entries(conn)
        assert gov.logstore.all(conn, "acme") == []
        outbox = conn.execute(text("select count(*), sum(status = 'done') from bus_outbox")).one()
    assert set(records) <= set(tombstones) and set(tombstones.values()) == {1}
    receipts = Counter(
        json.loads(e.text)["body"]["event_id"] for e in entries if json.loads(e.text)["kind"] == "receipt"
    )
    assert len(receipts) == outbox[0] == outbox[1] == n_cases * (2 * n_records + 1)
    assert set(receipts.values()) == {1}
    keys_map = {gov.audit.signer.key_id: gov.audit.signer.public_key}
    assert verify_entries([e.to_dict() for e in entries], keys_map, chain="global") == len(entries)
    print(f"crash harness: {n_cases} cases, {kills} kills, 0 lost, 0 duplicated")
    gov.db.dispose()
