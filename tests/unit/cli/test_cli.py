"""The CLI end to end on a small MNIST subset, and its exit codes (test_docs_name_the_code.py checks its docs)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from expunge.cli import app
from expunge.config import get_settings

runner = CliRunner()
REPORT_KEYS = {
    "method",
    "params",
    "seed",
    "seconds",
    "forget_acc",
    "retain_acc",
    "test_acc",
    "unlearning_score",
    "gap_to_retrain",
    "mia_auc",
    "relearn_acc",
    "head_reset_acc",
    "probe_acc",
    "kl_anchor",
    "peak_rss_mb",
    "suppression_suspected",
}


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPUNGE_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_unlearn_writes_report_model_and_ids(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "unlearn",
            "--dataset",
            "mnist",
            "--arch",
            "mlp",
            "--forget",
            "class:7",
            "--method",
            "label_flip",
            "--tune",
            "2",
            "--max-train",
            "1500",
            "--seed",
            "0",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    for name in ("report.json", "report.md", "model.pt", "model.json", "forget_ids.txt", "tuning.json"):
        assert (out / name).is_file(), name
    report = json.loads((out / "report.json").read_text())
    assert set(report) >= REPORT_KEYS
    assert report["method"] == "label_flip" and report["reference"] is not None
    ids = (out / "forget_ids.txt").read_text().split()
    assert len(ids) == report["n_forget"] and all(i.startswith("mnist:train:") for i in ids)
    assert json.loads((out / "model.json").read_text())["sha256"] == report["model_sha256"]


def test_bench_small_mode_writes_results_and_table(tmp_path):
    out = tmp_path / "bench"
    result = runner.invoke(
        app,
        [
            "bench",
            "classifiers",
            "--dataset",
            "mnist",
            "--arch",
            "mlp",
            "--scenario",
            "random:0.01",
            "--methods",
            "finetune,eu_k",
            "--seeds",
            "1",
            "--max-train",
            "1200",
            "--noise-floor",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "results.json").read_text())
    assert [r["method"] for r in doc["rows"]] == ["retrain", "retrain_other_seed", "finetune", "eu_k"]
    for row in doc["rows"]:
        assert set(row) >= REPORT_KEYS
    reference, floor = doc["rows"][:2]
    # another exact retrain: same data, other weights, measured on the reference's samples
    assert floor["n_forget"] == reference["n_forget"] and floor["n_retain"] == reference["n_retain"]
    assert floor["gap_to_retrain"] > 0 and floor["reference"] == {k: reference[k] for k in floor["reference"]}
    table = (out / "results.md").read_text()
    assert "| eu_k |" in table and "| retrain_other_seed |" in table and "two exact retrains" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["unlearn", "--method", "nope"], "Unknown unlearning method 'nope'. Available:"),
        (["unlearn", "--dataset", "cifar"], "Unknown data set 'cifar'"),
        (
            ["unlearn", "--dataset", "blobs", "--params", '{"lr": -1}', "--method", "finetune"],
            "The 'lr' parameter of Finetune must be a float",
        ),
        (["unlearn", "--dataset", "blobs", "--forget", "class:12"], "must be an integer in [0, 3]"),
        (["unlearn", "--dataset", "blobs", "--params", "lr=1"], "--params must be a JSON object"),
        (
            ["bench", "classifiers", "--methods", "label_flip,nope", "--dataset", "blobs", "--scenario", "class:1"],
            "Unknown unlearning method",
        ),
    ],
)
def test_bad_input_exits_2_with_one_sentence(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
