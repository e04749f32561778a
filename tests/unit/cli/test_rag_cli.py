"""``expunge rag ingest|query|probe`` and ``expunge bench rag`` end to end, with the DSR commands between them."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from expunge.cli import app
from expunge.config import get_settings
from expunge.rag import demo_corpus

runner = CliRunner()


def said(result) -> str:
    """The output with Rich's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPUNGE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("EXPUNGE_RAG_STORE", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def test_ingest_query_erase_probe(home):
    person = demo_corpus(6, seed=1).people[0]
    result = runner.invoke(app, ["rag", "ingest", "--demo", "6", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "6 document(s): 6 chunk(s) stored" in said(result)
    question = f"What did {person.name} report?"
    result = runner.invoke(app, ["rag", "query", question, "--groups", "support,hr", "--json"])
    answer = json.loads(result.output)
    assert not answer["abstained"] and person.name in answer["text"] and answer["sources"]
    result = runner.invoke(app, ["rag", "probe", "--subject", person.email, "--subject", person.name])
    assert result.exit_code == 1 and "FOUND" in said(result)

    filed = runner.invoke(app, ["dsr", "file", "-t", "default", "--scope", "erasure", "--email", person.email])
    assert filed.exit_code == 0, filed.output
    case_id = re.search(r"dsr_[0-9a-f]+", filed.output).group(0)
    assert runner.invoke(app, ["dsr", "approve", "-t", "default", case_id, "--operator", "ops"]).exit_code == 0
    processed = runner.invoke(app, ["dsr", "process"])
    assert json.loads(processed.output)["dead"] == 0
    assert '"state": "completed"' in runner.invoke(app, ["dsr", "show", "-t", "default", case_id]).output

    result = runner.invoke(app, ["rag", "query", question, "--groups", "support,hr", "--json"])
    assert json.loads(result.output)["abstained"]
    result = runner.invoke(app, ["rag", "probe", "--subject", person.email, "--subject", person.name, "--json"])
    assert result.exit_code == 0, result.output
    probe = json.loads(result.output)
    assert probe["found"] is False and probe["files_scanned"] > 0 and probe["questions"] >= 4


def test_ingest_reads_a_folder_and_refuses_bad_input(home, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Ticket 1. Dora Ruiz (dora@example.org) cannot log in to the VPN client.")
    (docs / "b.md").write_text("Policy: passwords rotate every 90 days.")
    result = runner.invoke(app, ["rag", "ingest", str(docs), "--acl", "support"])
    assert result.exit_code == 0 and "2 chunk(s) stored" in said(result)
    again = runner.invoke(app, ["rag", "ingest", str(docs), "--acl", "support"])
    assert "2 unchanged" in said(again)
    (docs / "empty.txt").write_text("  \n")
    bad = runner.invoke(app, ["rag", "ingest", str(docs / "empty.txt")])
    assert bad.exit_code == 2 and "has no text" in said(bad)
    both = runner.invoke(app, ["rag", "ingest", str(docs), "--demo", "3"])
    assert both.exit_code == 2 and "either a PATH or --demo N" in said(both)
    missing = runner.invoke(app, ["rag", "ingest", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "does not exist" in said(missing)
    small = runner.invoke(app, ["rag", "ingest", str(docs), "--chunk-size", "8"])
    assert small.exit_code == 2 and "--chunk-size" in said(small) and "accepted: 32 to 100000" in said(small)


def test_an_erasure_by_name_reaches_documents_ingested_from_a_path(home, tmp_path):
    """Names are linked at ingest (spaCy, and a subject list for what it misses), so --name erases them."""
    docs = tmp_path / "tickets"
    docs.mkdir()
    problems = ["cannot log in", "was charged twice", "sees a blank screen", "lost her settings", "gets timeouts"]
    for i, problem in enumerate(problems):
        (docs / f"dora-{i}.txt").write_text(f"Support ticket {i}. Dora Ruiz {problem} in the mobile app.")
    (docs / "joerg.txt").write_text("HR note 9. Manager JÖRG WEISS approved the transfer to the Lisbon office.")
    (docs / "other.txt").write_text("Support ticket 40. Eve Tran reports the router drops Wi-Fi every evening.")
    people = tmp_path / "people.txt"
    people.write_text("# subject list\nJörg Weiß; joerg.weiss@example.org\n")
    result = runner.invoke(app, ["rag", "ingest", str(docs), "--acl", "support", "--people", str(people)])
    assert result.exit_code == 0, result.output
    assert "7 chunk(s) stored" in said(result)
    assert "cut-off not calibrated Calibration needs at least 20 chunks" in said(result)  # 7 chunks: it says so
    for name, chunks in (("Dora Ruiz", 5), ("Jörg Weiß", 1)):
        before = runner.invoke(app, ["rag", "probe", "--subject", name.upper(), "--json"])
        assert before.exit_code == 1 and len(json.loads(before.output)["chunk_ids"]) == chunks, before.output
        filed = runner.invoke(
            app, ["dsr", "file", "-t", "default", "--scope", "erasure", "--name", name, "--approved-by", "ops"]
        )
        assert filed.exit_code == 0, filed.output
        assert json.loads(runner.invoke(app, ["dsr", "process"]).output)["dead"] == 0
        after = runner.invoke(app, ["rag", "probe", "--subject", name.upper(), "--json"])
        assert after.exit_code == 0 and not json.loads(after.output)["found"], after.output
    answer = runner.invoke(app, ["rag", "query", "What did Dora Ruiz report?", "--groups", "support", "--json"])
    assert json.loads(answer.output)["abstained"]
    kept = runner.invoke(app, ["rag", "query", "What did Eve Tran report?", "--groups", "support", "--json"])
    assert "router drops Wi-Fi" in json.loads(kept.output)["text"]
    bad = tmp_path / "bad.txt"
    bad.write_text("Ann Lee; ann@example.org; bob@example.org\n")
    refused = runner.invoke(app, ["rag", "ingest", str(docs), "--people", str(bad)])
    assert refused.exit_code == 2 and "line 1: Give at most one email per person" in said(refused)


def test_calibrate_saves_the_cut_offs_that_query_then_uses(home):
    result = runner.invoke(app, ["rag", "ingest", "--demo", "60", "--no-ner", "--no-calibrate"])
    assert result.exit_code == 0 and "cut-off" not in said(result)
    result = runner.invoke(app, ["rag", "calibrate", "--sample", "60", "--json"])
    assert result.exit_code == 0, result.output
    calibration = json.loads(result.output)
    assert calibration["pairs"] >= 20 and 0 < calibration["max_distance"] < calibration["named_max_distance"]
    saved = json.loads((home / "rag" / "calibration-default.json").read_text())
    assert saved == calibration
    from expunge.cli._rag import open_rag_index

    index = open_rag_index(get_settings(), with_catalog=False)  # what `rag query` opens
    assert (index.max_distance, index.named_max_distance) == (
        calibration["max_distance"],
        calibration["named_max_distance"],
    )
    bad = runner.invoke(app, ["rag", "calibrate", "--quantile", "0.2"])
    assert bad.exit_code == 2 and "--quantile" in said(bad) and "0.5" in said(bad)


def test_unknown_store_scheme_lists_the_known_ones(home, monkeypatch):
    monkeypatch.setenv("EXPUNGE_RAG_STORE", "faiss:///tmp/x")
    get_settings.cache_clear()
    result = runner.invoke(app, ["rag", "query", "anything"])
    assert result.exit_code == 2
    assert "Unknown vector store scheme 'faiss'. Available: chroma, lancedb, memory." in said(result)


def test_bench_rag_small_mode_writes_every_key(tmp_path):
    out = tmp_path / "bench"
    result = runner.invoke(
        app,
        [
            "bench",
            "rag",
            "--store",
            "lancedb",
            "--chunks",
            "1200",
            "--subjects",
            "20",
            "--per-subject-purges",
            "3",
            "--queries",
            "20",
            "--replay",
            "300",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text())
    for key in (
        "recoverable_native_pct",
        "recoverable_expunge_pct",
        "exclude_ms_p50",
        "exclude_ms_p95",
        "purge_s_p50",
        "purge_s_p95",
        "recall_at_10_before",
        "recall_at_10_after",
        "query_ms_p50",
        "query_ms_p95",
        "cache_leaks",
    ):
        assert key in data, key
    assert data["recoverable_native_pct"] == 100.0  # a native delete leaves every subject on disk
    assert data["recoverable_expunge_pct"] == 0.0
    assert data["cache_leaks"] == 0 and data["cache_hits"] > 0
    assert data["exclusion_failures"] == 0 and data["storm_1pct_verified"] and data["storm_10pct_verified"]
    assert data["recall_at_10_after"] >= data["recall_at_10_before"] - 0.01
    assert "| recoverable after native delete" in (out / "results.md").read_text()
    bad = runner.invoke(app, ["bench", "rag", "--store", "faiss", "--out", str(out)])
    assert bad.exit_code == 2 and "Available: chroma, lancedb, memory" in said(bad)


def test_bench_answers_small_mode_measures_every_answerer(tmp_path):
    out = tmp_path / "answers"
    result = runner.invoke(
        app,
        [
            "bench",
            "answers",
            "--documents",
            "60",
            "--erase",
            "3",
            "--never",
            "3",
            "--present",
            "8",
            "--sample",
            "60",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text())
    before = data["answerers"]["fixed 0.75, no entity check (before)"]
    after = data["answerers"]["calibrated + entity check (after)"]
    assert before["erased_abstained_pct"] < 100 and before["erased_quoting_email_or_phone"] > 0  # the leak
    assert after["erased_abstained_pct"] == after["never_ingested_abstained_pct"] == 100.0
    assert after["erased_quoting_email_or_phone"] == after["never_ingested_quoting_email_or_phone"] == 0
    assert after["present_accuracy_pct"] >= before["present_accuracy_pct"]
    assert data["erased_people_still_mentioned"] == 0 and data["calibration"]["pairs"] >= 20
    assert "| abstained on erased people (%) |" in (out / "results.md").read_text()
    bad = runner.invoke(app, ["bench", "answers", "--documents", "60", "--present", "100", "--out", str(out)])
    assert bad.exit_code == 2 and "together at most the corpus's 20 people" in said(bad)


def test_every_rag_command_option_and_setting_is_documented():
    from pathlib import Path

    doc = (Path(__file__).parents[3] / "docs" / "rag.md").read_text()
    commands = (
        ["rag", "ingest"],
        ["rag", "calibrate"],
        ["rag", "query"],
        ["rag", "probe"],
        ["bench", "rag"],
        ["bench", "answers"],
    )
    for command in commands:
        assert f"expunge {' '.join(command)}" in doc, command
        help_text = runner.invoke(app, [*command, "--help"], terminal_width=200).output
        for option in set(re.findall(r"--[a-z][a-z-]+", help_text)) - {"--help"}:
            assert f"`{option}" in doc, f"{' '.join(command)} {option} is not documented"
    for setting in ("rag_store", "rag_index", "rag_cache_ttl_seconds", "default_phone_region"):
        assert f"`EXPUNGE_{setting.upper()}`" in doc, setting


def test_the_demo_erases_a_person_from_the_rag_index_and_proves_it(home, tmp_path):
    from expunge.cli._rag import rag_demo
    from expunge.evidence import Signer, verify_case_file

    assert rag_demo(tmp_path / "out") is True
    document = (tmp_path / "out" / "rag-case.json").read_bytes()
    signer = Signer.load_or_create(home / "keys")
    summary = verify_case_file(document, {signer.key_id: signer.public_key})
    assert summary["receipts"] > 3
    assert rag_demo(tmp_path / "again") is True  # a second run: the person stays forgotten


def test_a_worker_started_before_the_first_ingest_serves_the_rag_subscriber(home):
    from expunge.catalog import Identifier
    from expunge.requests import open_governance_from_settings

    worker = open_governance_from_settings(get_settings())  # no RAG store exists yet
    assert not (home / "rag").exists()
    person = demo_corpus(4, seed=2).people[0]
    assert runner.invoke(app, ["rag", "ingest", "--demo", "4", "--seed", "2"]).exit_code == 0
    filed = worker.file_request(
        "default", scope="erasure", filed_by="t", identifiers=[Identifier("email", person.email)], approved_by="ops"
    )
    stats = worker.bus.process()
    # Before: every rag event failed with "Unknown subscriber 'rag'" until the worker was restarted.
    assert stats.dead == 0 and stats.retried == 0
    assert worker.get_case("default", filed.case.id).state == "completed"
    worker.db.dispose()
    result = runner.invoke(app, ["rag", "probe", "--subject", person.email, "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["found"] is False
