"""The governance CLI sub-app: the same operations as the service, JSON out, exit codes 0/1/2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from expunge.cli.governance import app
from expunge.config import get_settings


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPUNGE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("EXPUNGE_DATABASE_URL", raising=False)
    monkeypatch.delenv("EXPUNGE_KEYS_DIR", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, code: int = 0):
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, (args, result.output)
        return result

    yield run
    get_settings.cache_clear()


def test_an_operator_files_an_approved_request_from_the_cli(cli):
    filed = json.loads(
        cli("dsr", "file", "-t", "acme", "--scope", "erasure", "--user-id", "u-1", "--approved-by", "ops").stdout
    )
    assert filed["verification_token"] is None
    assert filed["case"]["state"] == "executing" and filed["case"]["verified_by"] == "operator:ops"
    cli("worker", "--once")
    shown = json.loads(cli("dsr", "show", filed["case"]["id"], "-t", "acme").stdout)
    assert shown["state"] == "completed_with_exceptions"  # nobody with that user ID: the case says so
    assert shown["exceptions"] == ["No asset is linked to the user_id given; nothing was found under it to act on."]


def test_keys_are_printed_once_and_bad_roles_exit_2(cli):
    out = json.loads(cli("keys", "create", "--tenant", "acme", "--role", "auditor").stdout)
    assert out["api_key"].startswith(f"exp_{out['key_id']}_") and out["role"] == "auditor"
    bad = cli("keys", "create", "--tenant", "acme", "--role", "god", code=2)
    assert "request.invalid" in bad.output and "admin, operator, auditor" in bad.output


def test_a_request_runs_from_the_cli_and_its_evidence_verifies_offline(cli, tmp_path):
    filed = json.loads(cli("dsr", "file", "-t", "acme", "--scope", "erasure", "--email", "eve@example.org").stdout)
    case_id = filed["case"]["id"]
    verified = json.loads(cli("dsr", "verify", filed["verification_token"]).stdout)
    assert verified["state"] == "executing"  # the log sweep is due
    cli("worker", "--once")
    assert json.loads(cli("dsr", "show", case_id, "-t", "acme").stdout)["state"] == "completed_with_exceptions"
    (tmp_path / "pub.pem").write_text(cli("evidence", "public-key").stdout)
    cli("evidence", "export", case_id, "-t", "acme", "--out", str(tmp_path / "case.json"))
    ok = json.loads(
        cli("evidence", "verify", str(tmp_path / "case.json"), "--public-key", str(tmp_path / "pub.pem")).stdout
    )
    assert ok["verified"] and ok["case_id"] == case_id
    cli("evidence", "export-log", "--out", str(tmp_path / "log.jsonl"))
    assert json.loads(cli("evidence", "verify", str(tmp_path / "log.jsonl")).stdout)["log_entries"] >= 6
    assert json.loads(cli("evidence", "verify", case_id, "-t", "acme").stdout)["verified"]
    data = bytearray((tmp_path / "case.json").read_bytes())
    data[len(data) // 2] ^= 0x01
    (tmp_path / "case.json").write_bytes(bytes(data))
    tampered = cli("evidence", "verify", str(tmp_path / "case.json"), code=1)
    assert '"verified": false' in tampered.output


def test_bad_input_exits_2_naming_the_problem(cli):
    out = cli("dsr", "file", "-t", "acme", "--scope", "forget", "--email", "a@b.org", code=2)
    assert "request.unknown_scope" in out.output
    out = cli("dsr", "verify", "not-a-token", code=2)
    assert "request.invalid_token" in out.output
    out = cli("deadletters", "replay", "dlq_" + "0" * 32, code=2)
    assert "bus.unknown_event" in out.output
    assert json.loads(cli("deadletters", "list").stdout) == {"dead_letters": [], "total": 0, "next_cursor": None}


def test_holds_from_the_cli(cli):
    out = cli("holds", "place", "rec_" + "0" * 32, "-t", "acme", "--reason", "x", code=2)
    assert "catalog.unknown_asset" in out.output
    assert json.loads(cli("holds", "list", "-t", "acme").stdout) == {"holds": [], "total": 0, "next_cursor": None}
