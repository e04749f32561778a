"""`expunge lm …` and `expunge bench lm` through the CLI: a tiny model folder end to end, and bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from expunge.cli import app
from expunge.config import get_settings
from expunge.lm import make_people_benchmark, tiny_causal_lm

ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()
torch.set_num_threads(1)  # the lm tests are timed at one thread (2 shared cores)
SMALL = ["--people", "20", "--attributes", "2", "--questions-per-attribute", "1"]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPUNGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EXPUNGE_THREADS", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _save_tiny(folder: Path, seed: int = 0) -> Path:
    split = make_people_benchmark(20, attributes=2, questions_per_attribute=1).split("forget10")
    lm = tiny_causal_lm([f"{q.question} {q.answer}" for q in split.train + split.world], seed=seed)
    lm.model.save_pretrained(str(folder))
    lm.tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    torch.set_num_threads(1)
    return _save_tiny(tmp_path_factory.mktemp("tiny"))


def test_finetune_unlearn_generate_on_a_tiny_model(tmp_path, tiny_dir):
    adapter, forgotten = tmp_path / "adapter", tmp_path / "forgotten"
    result = runner.invoke(
        app,
        [
            "lm",
            "finetune",
            "--model",
            str(tiny_dir),
            *SMALL,
            "--epochs",
            "2",
            "--rank",
            "4",
            "--adapter-id",
            "hr-2023q4",
            "--department",
            "HR",
            "--out",
            str(adapter),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "plain 'Question: …\\nAnswer:' format" in result.output  # said once, not a traceback
    manifest = json.loads((adapter / "manifest.json").read_text())
    assert manifest["adapter_id"] == "hr-2023q4" and manifest["department"] == "HR" and manifest["version"] == 1
    assert len(manifest["sample_ids"]) == 20 * 2 + 2  # two attributes each, plus the canaries of forget10's people
    result = runner.invoke(
        app,
        [
            "lm",
            "unlearn",
            "--model",
            str(tiny_dir),
            *SMALL,
            "--adapter",
            str(adapter),
            "--forget",
            "split:forget05",
            "--method",
            "grad_diff",
            "--params",
            '{"epochs": 1, "stop": false}',
            "--out",
            str(forgotten),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((forgotten / "report.json").read_text())
    new = json.loads((forgotten / "manifest.json").read_text())
    assert report["method"] == "grad_diff" and report["steps"] >= 1 and new["version"] == 2
    assert new["parent"] == "hr-2023q4@1" and len(new["sample_ids"]) == len(manifest["sample_ids"]) - report["n_forget"]
    result = runner.invoke(
        app,
        [
            "lm",
            "generate",
            "--model",
            str(tiny_dir),
            "--adapter",
            str(forgotten),
            "--question",
            "Where does Ada live?",
            "--max-new-tokens",
            "4",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Q: Where does Ada live?" in result.output and "A:" in result.output


def _not_causal(tmp_path: Path) -> Path:
    folder = tmp_path / "vit"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "vit", "hidden_size": 8}))
    return folder


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lm", "generate", "--question", "q?", "--model", "{tmp}/nowhere"], "does not exist"),
        (["lm", "generate", "--question", "q?", "--model", "{vit}"], "which is not a causal language model"),
        (["lm", "generate", "--question", "q?", "--model", "{tmp}"], "has no config.json"),
        (
            [
                "lm",
                "unlearn",
                "--adapter",
                "{tmp}",
                "--out",
                "{tmp}/o",
                "--forget",
                "split:forget05",
                "--method",
                "nope",
            ],
            "Unknown LM forgetting method 'nope'. Available: adapter_drop",
        ),
        (
            [
                "lm",
                "unlearn",
                "--adapter",
                "{tmp}",
                "--out",
                "{tmp}/o",
                "--forget",
                "split:forget05",
                "--params",
                '{"lr": 7}',
            ],
            "The 'lr' parameter of NPO must be a float in (0, 0.1]. Got 7 instead.",
        ),
        (
            ["lm", "unlearn", "--adapter", "{tmp}", "--out", "{tmp}/o", "--forget", "split:forget05"],
            "is not an expunge adapter folder: it has no manifest.json",
        ),
        (
            [
                "lm",
                "unlearn",
                "--adapter",
                "{tmp}",
                "--out",
                "{tmp}/o",
                "--forget",
                "split:forget05",
                "--params",
                "lr=1",
            ],
            "--params must be a JSON object",
        ),
        (["bench", "lm", "--methods", "npo,nope", "--small", "--out", "{tmp}/b"], "Unknown LM forgetting method"),
        (
            ["bench", "lm", "--params", '{"npo": {"beta": 0}}', "--out", "{tmp}/b"],
            "The 'beta' parameter of NPO must be a float in (0, 10]",
        ),
    ],
)
def test_bad_input_exits_2_with_one_sentence(tmp_path, args, message):
    vit = _not_causal(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)).replace("{vit}", str(vit)) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_adapter_on_another_base_and_unlearnt_samples_are_refused(tmp_path, tiny_dir):
    adapter = tmp_path / "adapter"
    result = runner.invoke(
        app, ["lm", "finetune", "--model", str(tiny_dir), *SMALL, "--epochs", "1", "--rank", "2", "--out", str(adapter)]
    )
    assert result.exit_code == 0, result.output
    other = _save_tiny(tmp_path / "other", seed=1)
    result = runner.invoke(
        app, ["lm", "generate", "--model", str(other), "--adapter", str(adapter), "--question", "q?"]
    )
    assert result.exit_code == 2 and "was trained on base weights" in " ".join(result.output.split())
    ids = tmp_path / "ids.txt"
    ids.write_text("p0001.city.0\np9999.job.0\n")
    result = runner.invoke(
        app,
        [
            "lm",
            "unlearn",
            "--model",
            str(tiny_dir),
            *SMALL,
            "--adapter",
            str(adapter),
            "--forget",
            str(ids),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "1 of the 2 samples to forget are not in the training data (e.g. 'p9999.job.0')" in " ".join(
        result.output.split()
    )
    assert not (tmp_path / "o" / "manifest.json").exists()  # nothing half written


def test_every_lm_command_and_option_is_documented():
    from expunge.lm import available_lm_methods

    docs = (ROOT / "docs" / "language-models.md").read_text(encoding="utf-8")
    for name in available_lm_methods():
        assert f"`{name}`" in docs, f"method {name} is not documented"
    for command in (
        ["lm", "finetune"],
        ["lm", "unlearn"],
        ["lm", "generate"],
        ["lm", "probe"],
        ["lm", "audit"],
        ["bench", "lm"],
    ):
        assert f"expunge {' '.join(command)}" in docs, command
        help_text = runner.invoke(app, [*command, "--help"], terminal_width=200).output
        for option in set(re.findall(r"--[a-z][a-z-]+", help_text)) - {"--help"}:
            assert f"`{option}" in docs, f"{' '.join(command)} {option} is not documented"


def test_oracle_probe_and_audit_on_a_tiny_model(tmp_path, tiny_dir):
    small = [*SMALL, "--model", str(tiny_dir)]
    target, oracle = tmp_path / "target", tmp_path / "oracle"
    for folder, extra in ((target, []), (oracle, ["--without", "split:forget10"])):
        result = runner.invoke(
            app, ["lm", "finetune", *small, "--epochs", "1", "--rank", "2", *extra, "--out", str(folder)]
        )
        assert result.exit_code == 0, result.output
    learnt = {d: len(json.loads((d / "manifest.json").read_text())["sample_ids"]) for d in (target, oracle)}
    assert learnt[oracle] == learnt[target] - 2 * 3  # forget10 = 2 people × (2 facts + 1 canary)
    result = runner.invoke(
        app,
        [
            "lm",
            "probe",
            *small,
            "--adapter",
            str(target),
            "--split",
            "forget10",
            "--probes",
            "none",
            "--out",
            str(tmp_path / "probe"),
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "probe" / "evaluation.json").read_text())
    assert doc["split"] == "forget10" and doc["n_forget_questions"] == 6 and doc["canary_exposure"]
    result = runner.invoke(
        app,
        [
            "lm",
            "audit",
            *small,
            "--adapter",
            str(target),
            "--oracle",
            str(oracle),
            "--split",
            "forget10",
            "--probes",
            "none",
            "--out",
            str(tmp_path / "audit"),
        ],
    )
    assert result.exit_code in (0, 1), result.output  # the verdict is the gate's; either way the report is written
    assert "LM audit gate:" in result.output
    assert (tmp_path / "audit" / "lm-audit.html").is_file()
    report = json.loads((tmp_path / "audit" / "lm-audit.json").read_text())
    assert report["gate"]["passed"] == (result.exit_code == 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lm", "probe", "--adapter", "{tmp}", "--out", "{tmp}/o", "--split", "forget50"], "--split must be one of"),
        (["lm", "probe", "--adapter", "{tmp}", "--out", "{tmp}/o", "--probes", "vibes"], "--probes takes"),
        (
            [
                "lm",
                "audit",
                "--adapter",
                "{tmp}",
                "--oracle",
                "{tmp}",
                "--out",
                "{tmp}/o",
                "--policy",
                "{tmp}/none.toml",
            ],
            "Cannot read the LM policy file",
        ),
    ],
)
def test_probe_and_audit_bad_input_exits_2(tmp_path, args, message):
    result = runner.invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
