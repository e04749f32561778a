"""docs/governance.md documents every governance command, route and setting."""

from __future__ import annotations

from pathlib import Path

import httpx
import typer

from expunge.cli.governance import app
from expunge.config import Settings

DOC = (Path(__file__).parents[3] / "docs" / "governance.md").read_text()
GOVERNANCE_SETTINGS = [
    "keys_dir", "sla_days", "due_soon_days", "token_ttl_seconds", "bus_max_attempts",
    "bus_backoff_seconds", "bus_backoff_max_seconds", "serve_worker", "max_body_bytes", "webhook_endpoints",
]  # fmt: skip


def commands(group: typer.Typer, prefix: str = "") -> list[str]:
    names = [f"{prefix}{c.name or c.callback.__name__}".strip() for c in group.registered_commands]
    for sub in group.registered_groups:
        names += commands(sub.typer_instance, f"{prefix}{sub.name} ")
    return names


def test_every_command_is_documented():
    found = commands(app)
    assert len(found) >= 20
    for name in found:
        assert f"`{name}" in DOC or f"/ `{name}" in DOC, name


def test_every_governance_setting_is_documented_and_exists():
    for name in GOVERNANCE_SETTINGS:
        assert name in Settings.model_fields
        assert f"`EXPUNGE_{name.upper()}`" in DOC, name


def test_every_route_is_documented(api):
    spec = httpx.get(f"{api.base_url}/openapi.json").json()
    for path in spec["paths"]:
        head = path.split("{")[0].rstrip("/")
        assert head in DOC, path
