"""The ``expunge bench lm`` driver in --small mode: rows, resumption, the table, refusals."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
import torch

from expunge.bench._lm import ROW_KEYS, run_lm_bench
from expunge.errors import InvalidParameterError, UnknownMethodError
from expunge.lm import knowledge_level

torch.set_num_threads(1)  # the lm tests are timed at one thread (2 shared cores)

CALLS: list[str] = []


def fake_evaluate(model, tokenizer, split):
    """A stand-in for the evaluation side: teacher-forced log-probabilities of the forget and retained answers."""
    CALLS.append(split.name)
    return SimpleNamespace(
        n=len(split.forget),
        forget=knowledge_level(model, tokenizer, split.forget, statistic="logprob"),
        utility=math.exp(knowledge_level(model, tokenizer, split.retain[:16], statistic="logprob")),
    )


def fake_figures(evaluation, oracle):
    """The row figures of a method's evaluation against the oracle's, shaped like ``expunge.lm.bench_figures``."""
    gap = abs(evaluation.forget - oracle.forget)
    return {
        "forget_quality": math.exp(-gap),
        "ks_stat": min(1.0, gap),
        "n_forget_questions": evaluation.n,
        "model_utility": evaluation.utility,
        "oracle_model_utility": oracle.utility,
        "privleak": 100 * (evaluation.forget - oracle.forget),
        "relearn_facts": 0,
        "oracle_relearn_facts": 0,
    }


def _run(out, **kw):
    torch.set_num_threads(1)
    args = {
        "out": out,
        "splits": ("forget10",),
        "seeds": 1,
        "methods": "grad_ascent,adapter_retrain,sisa",
        "people": 20,
        "questions_per_attribute": 1,
        "attributes": 2,
        "small": True,
        "evaluate": fake_evaluate,
        "figures": fake_figures,
        "params": {"grad_ascent": {"epochs": 2, "batch_size": 4}},
        "shards": 2,
    }
    return run_lm_bench(**{**args, **kw})


def test_small_bench_writes_every_row_and_resumes_without_measuring_again(tmp_path):
    CALLS.clear()
    doc = _run(tmp_path)
    rows = doc["rows"]
    assert [r["method"] for r in rows] == ["oracle", "original", "grad_ascent", "adapter_retrain", "sisa"]
    for row in rows:
        assert set(ROW_KEYS) <= set(row), set(ROW_KEYS) - set(row)
        assert row["split"] == "forget10" and row["seed"] == 0
        assert row["n_forget_questions"] == 6  # 2 people × (2 facts + 1 canary)
    by = {r["method"]: r for r in rows}
    assert by["adapter_retrain"]["forget_quality"] == pytest.approx(1.0)  # exact: the oracle's weights
    assert by["sisa"]["shards_retrained"] and by["sisa"]["work_fraction"] < 1.0
    assert by["grad_ascent"]["steps"] > 0 and by["grad_ascent"]["load_avg"] >= 0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["rows"] == rows and saved["config"]["people"] == 20
    table = (tmp_path / "results.md").read_text()
    assert "## forget10" in table and "| grad_ascent | 1 |" in table and "| sisa | 1 |" in table
    evaluations = len(CALLS)
    again = _run(tmp_path)
    assert len(CALLS) == evaluations  # nothing measured twice
    assert again["rows"] == rows


def test_bench_refuses_other_settings_in_the_same_folder_and_bad_names(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"config": {"people": 999}, "rows": []}))
    with pytest.raises(InvalidParameterError, match="holds rows measured with other settings"):
        _run(tmp_path)
    with pytest.raises(UnknownMethodError, match="Unknown LM forgetting method 'nope'"):
        _run(tmp_path / "x", methods="npo,nope")
    with pytest.raises(InvalidParameterError, match="Every split must be one of"):
        _run(tmp_path / "y", splits=("forget50",))
    with pytest.raises(InvalidParameterError, match="The 'lr' parameter of NPO must be"):
        _run(tmp_path / "z", params={"npo": {"lr": -1.0}})
