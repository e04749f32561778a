"""The bad inputs of issue 11 §5, one test each: one sentence on stderr, exit 2 — never a traceback, never exit 1.

Exit 1 means "a check failed / evidence altered", so an input mistake that ends in a Python traceback
(which exits 1) tells an auditor the evidence was tampered with. The root command turns anything
unexpected into one line and exit 3 instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import expunge.cli
from expunge.cli import app
from expunge.config import get_settings
from expunge.db import open_database

runner = CliRunner()
SRC = Path(expunge.cli.__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPUNGE_HOME", str(tmp_path / "home"))
    for name in ("EXPUNGE_DATABASE_URL", "EXPUNGE_KEYS_DIR", "EXPUNGE_RAG_STORE", "EXPUNGE_SLA_DAYS"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def refused(args: list[str], *, code: int = 2, env: dict[str, str] | None = None) -> str:
    """Run the CLI; check the exit code and that stderr is one line and stdout empty; return that line."""
    if env:
        get_settings.cache_clear()
    result = runner.invoke(app, args, env=env)
    get_settings.cache_clear()
    assert result.exit_code == code, (args, result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error (") and lines[0].endswith("."), result.stderr
    assert result.stdout == ""
    return lines[0]


def test_a_missing_public_key_file(home, tmp_path):
    (tmp_path / "case.json").write_text("{}")
    line = refused(["evidence", "verify", str(tmp_path / "case.json"), "--public-key", str(tmp_path / "nope.pem")])
    assert "--public-key" in line and "does not exist" in line


def test_a_garbage_public_key_file_is_bad_input_not_altered_evidence(home, tmp_path):
    (tmp_path / "case.json").write_text("{}")
    (tmp_path / "key.pem").write_bytes(b"\x00\xff garbage")
    line = refused(["evidence", "verify", str(tmp_path / "case.json"), "--public-key", str(tmp_path / "key.pem")])
    assert "--public-key" in line and "not a PEM public key" in line


def test_no_public_key_in_this_install(home, tmp_path):
    (tmp_path / "case.json").write_text("{}")
    line = refused(["evidence", "verify", str(tmp_path / "case.json")])
    assert "no signing public key" in line.lower() and "--public-key" in line


@pytest.mark.parametrize("where", ["folder", "under_a_file", "proc"])
def test_an_out_that_is_a_folder_or_cannot_be_written(home, tmp_path, where):
    (tmp_path / "a-file").write_text("x")
    out = {"folder": tmp_path, "under_a_file": tmp_path / "a-file" / "log.jsonl", "proc": Path("/proc/no/log")}[where]
    filed = runner.invoke(app, ["dsr", "file", "-t", "acme", "--scope", "erasure", "--email", "a@example.org"])
    assert filed.exit_code == 0, filed.output  # a log with entries: only the --out is wrong
    line = refused(["evidence", "export-log", "--out", str(out)])
    assert "--out" in line and str(out) in line
    if where == "folder":
        assert "is a folder; give the path of a file" in line


@pytest.mark.parametrize("damage", ["garbage", "truncated", "folder"])
def test_a_garbage_or_truncated_database_file(home, tmp_path, damage):
    path = tmp_path / "expunge.db"
    if damage == "garbage":
        path.write_bytes(os.urandom(8192))
    elif damage == "folder":
        path.mkdir()
    else:
        open_database(f"sqlite:///{path}").dispose()
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    line = refused(["dsr", "list", "-t", "acme"], env={"EXPUNGE_DATABASE_URL": f"sqlite:///{path}"})
    assert "backend.invalid_database" in line and str(path) in line and "EXPUNGE_DATABASE_URL" in line


def test_expunge_home_pointing_at_a_file(home, tmp_path):
    (tmp_path / "not-a-folder").write_text("x")
    line = refused(["dsr", "list", "-t", "acme"], env={"EXPUNGE_HOME": str(tmp_path / "not-a-folder")})
    assert "EXPUNGE_HOME" in line and "is a file; give a folder" in line


@pytest.mark.parametrize("url", ["postgresql+nope://db/x", "sqlite+pysqlcipher:///x.db", "mysql://db/x", "x"])
def test_an_unsupported_driver_in_the_database_url(home, url):
    line = refused(["dsr", "list", "-t", "acme"], env={"EXPUNGE_DATABASE_URL": url})
    assert "config.invalid" in line and "Accepted: sqlite:///path.db or postgresql+psycopg://" in line


@pytest.mark.parametrize(
    ("value", "says"),
    [("notjson", "must be a JSON object like"), ('{"gdpr": -3}', "greater than or equal to 1"), ("[30]", "dictionary")],
)
def test_sla_days_that_are_not_a_json_object_of_positive_days(home, value, says):
    line = refused(["dsr", "sla", "-t", "acme"], env={"EXPUNGE_SLA_DAYS": value})
    assert "EXPUNGE_SLA_DAYS" in line and says in line


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--host", "http://localhost:8000"], "without a scheme or a port"),
        (["--host", "no-such-host.invalid"], "not an address or a host name"),
        (["--port", "70000"], "accepted: 1 to 65535"),
        (["--port", "0"], "accepted: 1 to 65535"),
    ],
)
def test_a_bad_serve_address_is_refused_before_serving(home, monkeypatch, args, says):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("the server started"))
    assert says in refused(["serve", *args])


def test_serve_refuses_a_bad_database_before_starting(home, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("the server started"))
    assert "Unsupported database" in refused(["serve"], env={"EXPUNGE_DATABASE_URL": "mysql://db/x"})


@pytest.mark.parametrize(
    "args",
    [
        ["worker", "--once", "--limit", "-5"],
        ["worker", "--once", "--limit", "0"],
        ["worker", "--once", "--idle", "-1"],
        ["dsr", "list", "-t", "acme", "--limit", "100000"],
        ["holds", "list", "-t", "acme", "--limit", "0"],
        ["deadletters", "list", "--limit", "ten"],
    ],
)
def test_an_out_of_range_count(home, args):
    option = next(a for a in args if a in ("--limit", "--idle"))
    line = refused(args)
    assert f"'{option}'" in line and "accepted:" in line


def test_lists_page_from_the_command_line(home):
    for i in range(3):
        runner.invoke(app, ["dsr", "file", "-t", "acme", "--scope", "erasure", "--user-id", f"u{i}"])
    first = json.loads(runner.invoke(app, ["dsr", "list", "-t", "acme", "--limit", "2"]).stdout)
    assert first["total"] == 3 and len(first["requests"]) == 2 and first["next_cursor"]
    args = ["dsr", "list", "-t", "acme", "--limit", "2", "--cursor", first["next_cursor"]]
    second = json.loads(runner.invoke(app, args).stdout)
    assert len(second["requests"]) == 1 and second["next_cursor"] is None
    assert {c["id"] for c in first["requests"] + second["requests"]} == {
        c["id"] for c in json.loads(runner.invoke(app, ["dsr", "list", "-t", "acme"]).stdout)["requests"]
    }
    assert "page.invalid" in refused(["dsr", "list", "-t", "acme", "--cursor", "nonsense"])
    assert "Accepted: received" in refused(["dsr", "list", "-t", "acme", "--state", "bogus"])


@pytest.mark.parametrize(
    "args",
    [["dsr", "list", "-t", ""], ["holds", "list", "-t", "Acme Corp"], ["deadletters", "list", "-t", "x" * 65]],
)
def test_a_bad_tenant_is_refused_before_the_database_opens(home, args):
    assert "The tenant must be 1-64 lowercase letters" in refused(args)
    assert not home.exists()


def test_retention_refuses_an_unknown_regulation_even_when_nothing_expired(home):
    assert "request.unknown_regulation" in refused(["dsr", "retention", "-t", "acme", "--regulation", "hipaa"])


def test_an_unexpected_error_is_one_line_and_exit_3(home, monkeypatch):
    from expunge.requests import Governance

    def broken(*_args, **_kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(Governance, "sla_report", broken)
    line = refused(["dsr", "sla", "-t", "acme"], code=3)
    assert "error (internal): Unexpected KeyError: 'boom'" in line and "--traceback" in line
    shown = runner.invoke(app, ["--traceback", "dsr", "sla", "-t", "acme"])
    assert shown.exit_code == 3 and "Traceback" in shown.stderr and "in broken" in shown.stderr


def test_bench_audit_refuses_odd_shadows_and_unknown_methods_before_training(home, monkeypatch, tmp_path):
    import expunge.bench._audit as audit_bench

    monkeypatch.setattr(audit_bench, "train_original", lambda *a, **k: pytest.fail("training started"))
    base = ["bench", "audit", "--dataset", "blobs", "--class-scenario", "class:1", "--out", str(tmp_path / "b")]
    assert "even number" in refused([*base, "--shadows", "3"])
    assert "Unknown unlearning method 'nope'" in refused([*base, "--methods", "nope"])
    assert "--forget-size must be from 2" in refused([*base, "--forget-size", "9999999"])


def test_a_garbage_checkpoint_is_bad_input(home, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json").write_text("{not json")
    (model / "model.pt").write_bytes(b"\x80garbage")
    (tmp_path / "ids.txt").write_text("blobs:train:1\n")
    line = refused(["audit", "--model", str(model), "--forget", str(tmp_path / "ids.txt")])
    assert "model.invalid" in line and "not the JSON `expunge unlearn` writes" in line
    (model / "model.json").write_text(json.dumps({"spec": {"arch": "mlp", "input_shape": [2], "num_classes": 2}}))
    line = refused(["audit", "--model", str(model), "--forget", str(tmp_path / "ids.txt")])
    assert "is not a PyTorch state dict" in line


# --- output into a pipe or a file is never wrapped mid-line ----------------------------------------


def test_messages_and_tables_are_not_wrapped_for_a_test_runner(home):
    result = runner.invoke(
        app, ["dsr", "file", "-t", "acme", "--scope", "obliterate", "--email", "a@b.org"], env={"COLUMNS": "40"}
    )
    (line,) = result.stderr.splitlines()
    assert len(line) > 80 and "request.unknown_scope" in line and line.endswith(".")
    table = runner.invoke(app, ["methods"], env={"COLUMNS": "40"}).stdout
    row = next(line for line in table.splitlines() if "label_flip" in line)
    assert "Graves et al." in row or "§" in row  # the paper sits on the method's own line


def cli_process(*args: str, home: Path, columns: str = "40") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC), "EXPUNGE_HOME": str(home), "COLUMNS": columns}
    env.pop("EXPUNGE_DATABASE_URL", None)
    code = "from expunge.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)


def test_output_into_a_pipe_is_not_wrapped_mid_line(tmp_path):
    bad = cli_process("dsr", "file", "-t", "acme", "--scope", "obliterate", "--email", "a@b.org", home=tmp_path)
    assert bad.returncode == 2 and bad.stdout == ""
    (line,) = bad.stderr.splitlines()
    assert "request.unknown_scope" in line and "erasure" in line and len(line) > 80
    usage = cli_process("worker", "--once", "--limit", "-5", home=tmp_path)
    assert usage.returncode == 2 and len(usage.stderr.splitlines()) == 1 and "accepted: 1 to 1000" in usage.stderr
    listed = cli_process("dsr", "list", "-t", "acme", home=tmp_path)
    assert listed.returncode == 0 and json.loads(listed.stdout) == {"requests": [], "total": 0, "next_cursor": None}
    methods = cli_process("methods", home=tmp_path)
    row = next(line for line in methods.stdout.splitlines() if "label_flip" in line)
    assert len(row) > 120 and "│" in row
