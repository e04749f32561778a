"""Checkpoints: a ``state_dict`` file plus a JSON spec, identified by the sha256 of the weights' bytes."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from expunge.errors import ModelError
from expunge.models._arch import ModelSpec, build_model

__all__ = ["Checkpoint", "load_checkpoint", "save_checkpoint"]

WEIGHTS = "model.pt"
SPEC = "model.json"


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        model: The rebuilt model, in eval mode.
        spec: Its architecture spec.
        sha256: sha256 of ``model.pt``'s bytes: the model's identity in reports and evidence.
        meta: Everything else ``model.json`` holds.
    """

    model: nn.Module
    spec: ModelSpec
    sha256: str
    meta: dict[str, Any]


def _state_bytes(model: nn.Module) -> bytes:
    buffer = io.BytesIO()
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    torch.save(state, buffer)
    return buffer.getvalue()


def save_checkpoint(model: nn.Module, spec: ModelSpec, folder: Path | str, **meta: Any) -> str:
    """Write ``folder/model.pt`` and ``folder/model.json``; return the weights' sha256.

    Args:
        model: The model whose ``state_dict`` is saved.
        spec: How to rebuild it.
        folder: Created if missing.
        **meta: JSON-able metadata stored beside the spec.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = _state_bytes(model)
    digest = hashlib.sha256(data).hexdigest()
    (folder / WEIGHTS).write_bytes(data)
    doc = {"spec": spec.to_json(), "sha256": digest, **meta}
    (folder / SPEC).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return digest


def load_checkpoint(folder: Path | str) -> Checkpoint:
    """Rebuild a model saved by :func:`save_checkpoint` and check its sha256.

    Raises:
        ModelError: Files are missing, the weights do not match the recorded sha256, or do not fit the spec.
    """
    folder = Path(folder)
    weights, spec_file = folder / WEIGHTS, folder / SPEC
    for path in (weights, spec_file):
        if not path.is_file():
            raise ModelError(f"{folder} is not a checkpoint: {path.name} is missing (expected model.pt + model.json).")
    try:
        doc = json.loads(spec_file.read_text(encoding="utf-8"))
    except (UnicodeError, ValueError) as err:
        raise ModelError(f"{spec_file} is not the JSON `expunge unlearn` writes: {err}.") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("spec", {}), dict):
        raise ModelError(f"{spec_file} is not the JSON `expunge unlearn` writes: it holds no model spec.")
    data = weights.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if doc.get("sha256") not in (None, digest):
        raise ModelError(f"{weights} has sha256 {digest} but model.json records {doc['sha256']}: the file changed.")
    spec = ModelSpec.from_json(doc.get("spec", {}))
    model = build_model(spec)
    if not data.startswith(b"PK\x03\x04"):  # torch.save writes a zip archive
        raise ModelError(f"{weights} is not a PyTorch state dict (not the zip archive torch.save writes).")
    try:
        state = torch.load(io.BytesIO(data), weights_only=True)
    except Exception as err:  # the third-party boundary: torch raises any type on a damaged archive
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise ModelError(f"{weights} is not a PyTorch state dict: {first}") from err
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as err:
        raise ModelError(f"{weights} does not fit the spec in model.json: {str(err).splitlines()[0]}") from err
    model.eval()
    meta = {k: v for k, v in doc.items() if k not in ("spec", "sha256")}
    return Checkpoint(model=model, spec=spec, sha256=digest, meta=meta)
