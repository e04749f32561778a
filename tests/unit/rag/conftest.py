"""A bag-of-words embedder for RAG tests that must not load the real model, and an index over a catalog."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import pytest

from expunge.catalog import Catalog, Pseudonymizer
from expunge.db import open_database
from expunge.rag import MemoryCache, RagIndex
from expunge.rag.stores import open_store


class WordEmbedder:
    """Hashes lower-cased words into 256 signed buckets and normalises: texts sharing words are near."""

    model_id = "test-words-256"
    dim = 256

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.sha256(word.encode()).digest()
                out[i, digest[0]] += 1.0 if digest[1] % 2 else -1.0
            out[i] /= max(float(np.linalg.norm(out[i])), 1e-6)
        return out


@pytest.fixture
def words():
    """The bag-of-words embedder."""
    return WordEmbedder()


@pytest.fixture
def catalog_db(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield Catalog(Pseudonymizer(b"k" * 32)), db
    db.dispose()


@pytest.fixture
def index(catalog_db):
    catalog, db = catalog_db
    return RagIndex(open_store("memory://t"), WordEmbedder(), cache=MemoryCache(), catalog=catalog, db=db)
