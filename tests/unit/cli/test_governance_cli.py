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


def said(result) -> str:
    """The output as one line (the error console wraps long sentences)."""
    return " ".join(result.output.split())


def run_erasure(cli, email: str) -> str:
    filed = json.loads(cli("dsr", "file", "-t", "acme", "--scope", "erasure", "--email", email).stdout)
    cli("dsr", "verify", filed["verification_token"])
    cli("worker", "--once")
    return filed["case"]["id"]


def test_after_a_key_rotation_the_cli_verifies_mixed_logs_with_the_keyring(cli, tmp_path):
    run_erasure(cli, "eve@example.org")
    (tmp_path / "old.pem").write_text(cli("evidence", "public-key").stdout)
    rotated = json.loads(cli("evidence", "rotate-key").stdout)
    assert rotated["previous_key_id"] != rotated["key_id"] and len(rotated["keyring"]) == 2
    case_id = run_erasure(cli, "bob@example.org")
    (tmp_path / "new.pem").write_text(cli("evidence", "public-key").stdout)
    (tmp_path / "all.pem").write_text(cli("evidence", "public-key", "--all").stdout)
    cli("evidence", "export-log", "--out", str(tmp_path / "log.jsonl"))
    log = str(tmp_path / "log.jsonl")
    ok = json.loads(cli("evidence", "verify", log).stdout)  # the install's keyring by default
    assert ok["verified"] and ok["key_ids"] == sorted([rotated["previous_key_id"], rotated["key_id"]])
    refused = cli("evidence", "verify", log, "--public-key", str(tmp_path / "new.pem"), code=1)
    assert "evidence.unknown_key" in refused.output
    both = ["--public-key", str(tmp_path / "old.pem"), "--public-key", str(tmp_path / "new.pem")]
    assert json.loads(cli("evidence", "verify", log, *both).stdout)["verified"]
    assert json.loads(cli("evidence", "verify", log, "--public-key", str(tmp_path / "all.pem")).stdout)["verified"]
    keyring = tmp_path / "home" / "keys" / "signing"
    assert json.loads(cli("evidence", "verify", case_id, "-t", "acme", "--public-key", str(keyring)).stdout)["verified"]


def test_a_missing_or_mismatched_key_file_is_bad_input_in_one_sentence(cli, tmp_path):
    run_erasure(cli, "eve@example.org")
    cli("evidence", "export-log", "--out", str(tmp_path / "log.jsonl"))
    out = cli("evidence", "verify", str(tmp_path / "log.jsonl"), "--public-key", str(tmp_path / "no.pem"), code=2)
    assert "--public-key" in said(out) and "does not exist" in said(out)
    assert "Traceback" not in said(out)
    out = cli("evidence", "verify", str(tmp_path / "missing.json"), code=2)
    assert "does not exist" in said(out)
    pub = tmp_path / "home" / "keys" / "signing_ed25519.pub.pem"
    pub.write_bytes(pub.read_bytes().replace(b"MCow", b"MCoX"))  # another (or broken) key
    out = cli("dsr", "list", "-t", "acme", code=2)
    assert "evidence.key_mismatch" in said(out) and "Traceback" not in said(out)
    cli("evidence", "rotate-key")  # the way out
    assert json.loads(cli("dsr", "list", "-t", "acme").stdout)


def test_a_third_party_checks_a_case_file_and_the_log_against_an_older_checkpoint(cli, tmp_path):
    first = run_erasure(cli, "eve@example.org")
    old = json.loads(cli("evidence", "checkpoint", "--out", str(tmp_path / "old.json")).stdout)
    run_erasure(cli, "bob@example.org")
    case_file = str(tmp_path / "case.json")
    exported = json.loads(
        cli("evidence", "export", first, "-t", "acme", "--out", case_file, "--since", str(tmp_path / "old.json")).stdout
    )
    assert exported["consistency_from"] == old["size"]
    older = ["--checkpoint", str(tmp_path / "old.json")]
    result = json.loads(cli("evidence", "verify", case_file, *older).stdout)
    assert result["consistent_from"] == old["size"] < result["checkpoint"]["size"]
    cli("evidence", "export-log", "--out", str(tmp_path / "log.jsonl"))
    assert json.loads(cli("evidence", "verify", str(tmp_path / "log.jsonl"), *older).stdout)["consistent_from"]
    assert json.loads(cli("evidence", "verify", first, "-t", "acme", *older).stdout)["consistent_from"]
    # An export cut short at the end, with or without its checkpoint line, and an empty one: exit 1.
    lines = (tmp_path / "log.jsonl").read_bytes().splitlines(keepends=True)
    for cut in (lines[:-1], lines[:-3] + lines[-1:], [lines[-1]], []):
        (tmp_path / "cut.jsonl").write_bytes(b"".join(cut))
        out = cli("evidence", "verify", str(tmp_path / "cut.jsonl"), code=1)
        assert '"verified": false' in said(out)


def test_an_edited_table_fails_verification_by_case_id_and_blocks_its_export(cli, tmp_path):
    import sqlite3

    case_id = run_erasure(cli, "eve@example.org")
    with sqlite3.connect(tmp_path / "home" / "expunge.db") as db:
        db.execute("update requests_transitions set actor = 'mallory' where case_id = ?", (case_id,))
    out = cli("evidence", "verify", case_id, "-t", "acme", code=1)
    assert "evidence.tampered" in said(out) and "requests_transitions" in said(out)
    out = cli("evidence", "export", case_id, "-t", "acme", "--out", str(tmp_path / "case.json"), code=1)
    assert "evidence.tampered" in said(out) and not (tmp_path / "case.json").exists()


def test_the_cli_prints_the_fields_the_api_answers(cli):
    from expunge.service._responses import CaseWithActionsOut, FiledOut, KeyOut

    key = json.loads(cli("keys", "create", "-t", "acme", "--role", "auditor").stdout)
    assert set(key) == set(KeyOut.model_fields)
    filed = json.loads(cli("dsr", "file", "-t", "acme", "--scope", "erasure", "--email", "eve@example.org").stdout)
    assert set(filed) == set(FiledOut.model_fields)  # token_expires_at, as the API names it
    assert filed["token_expires_at"].endswith("+00:00")
    cli("dsr", "verify", filed["verification_token"])
    shown = json.loads(cli("dsr", "show", filed["case"]["id"], "-t", "acme").stdout)
    assert set(shown) == set(CaseWithActionsOut.model_fields)
    assert CaseWithActionsOut.model_validate(shown).actions[0].asset_kind == "sweep"
