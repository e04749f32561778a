from __future__ import annotations

import json

import pytest
import torch

from expunge.errors import ModelError, UnknownArchitectureError
from expunge.models import (
    ModelSpec,
    TrainConfig,
    build_model,
    load_checkpoint,
    predict_logits,
    save_checkpoint,
    train_model,
)


def _toy_batches(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 8, generator=g)
    y = (x[:, 0] > 0).long()
    from expunge.datasets._base import TensorBatches

    return TensorBatches(x, y, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(seed))


def test_training_is_deterministic_given_seeds():
    spec = ModelSpec("mlp", (8,), 2, hidden=(16,))
    a, b = build_model(spec, seed=1), build_model(spec, seed=1)
    cfg = TrainConfig(epochs=2, lr=0.1)
    train_model(a, _toy_batches(), cfg, progress=False)
    train_model(b, _toy_batches(), cfg, progress=False)
    for (ka, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(va, vb), ka


def test_checkpoint_round_trips_and_detects_changed_weights(tmp_path):
    spec = ModelSpec("cnn", (1, 28, 28), 10, hidden=(4, 8, 16))
    model = build_model(spec, seed=0)
    digest = save_checkpoint(model, spec, tmp_path, note="x")
    loaded = load_checkpoint(tmp_path)
    assert loaded.sha256 == digest and loaded.meta["note"] == "x" and loaded.spec == spec
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(predict_logits(model, x), predict_logits(loaded.model, x))
    raw = bytearray((tmp_path / "model.pt").read_bytes())
    raw[-10] ^= 0xFF
    (tmp_path / "model.pt").write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="the file changed"):
        load_checkpoint(tmp_path)


def test_checkpoint_errors_are_clear(tmp_path):
    with pytest.raises(ModelError, match="model.pt is missing"):
        load_checkpoint(tmp_path)
    spec = ModelSpec("mlp", (8,), 2)
    save_checkpoint(build_model(spec), spec, tmp_path)
    doc = json.loads((tmp_path / "model.json").read_text())
    doc["spec"]["hidden"] = [3]
    doc.pop("sha256")
    (tmp_path / "model.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="does not fit the spec"):
        load_checkpoint(tmp_path)


def test_bad_specs_and_shapes_are_rejected():
    with pytest.raises(UnknownArchitectureError, match="Available: cnn, mlp"):
        build_model(ModelSpec("resnet", (8,), 2))
    with pytest.raises(ModelError, match=r"needs \(channels, height, width\)"):
        build_model(ModelSpec("cnn", (8,), 2))
    model = build_model(ModelSpec("mlp", (8,), 2))
    with pytest.raises(ModelError, match=r"cannot take inputs of shape \(5,\)"):
        predict_logits(model, torch.randn(4, 5))
    with pytest.raises(ModelError, match="'lr' parameter of TrainConfig must be a float > 0. Got -1"):
        TrainConfig(lr=-1)
