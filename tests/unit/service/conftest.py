"""Fixtures: the app served by a real uvicorn on a loopback port, with keys for two tenants."""

from __future__ import annotations

import httpx
import pytest

from expunge.bus import MemoryStore, MemorySubscriber
from expunge.requests import ApiKeys, open_governance
from expunge.service import create_app
from live_server import serve


class Api:
    """A running server: its base URL, the governance it serves, and one key per (tenant, role)."""

    def __init__(self, base_url, gov, keys, store):
        self.base_url = base_url
        self.gov = gov
        self.keys = keys
        self.store = store

    def client(self, tenant="acme", role="admin") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[(tenant, role)]}"} if role else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10)


@pytest.fixture(scope="session")
def api(tmp_path_factory):
    home = tmp_path_factory.mktemp("service")
    store = MemoryStore()
    gov = open_governance(
        f"sqlite:///{home / 'expunge.db'}", keys_dir=home / "keys", subscribers={"memory": MemorySubscriber(store)}
    )
    keys = {}
    with gov.db.begin() as conn:
        for tenant in ("acme", "globex"):
            for role in ("admin", "operator", "auditor"):
                keys[(tenant, role)] = ApiKeys().create(conn, tenant, role)[1]
    app = create_app(gov, max_body_bytes=4096, worker=True, worker_idle_seconds=0.02)
    with serve(app) as base_url:
        yield Api(base_url, gov, keys, store)
    gov.db.dispose()
