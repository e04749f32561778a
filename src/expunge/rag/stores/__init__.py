"""Vector stores behind one protocol, built from a URL: ``lancedb://``, ``chroma://``, ``memory://``.

Importing this package registers the three backends; LanceDB and Chroma import their libraries only when a
store is opened.
"""

from expunge.rag.stores import _chroma, _lancedb, _memory  # noqa: F401 - registers the backends
from expunge.rag.stores._chroma import ChromaStore
from expunge.rag.stores._lancedb import LanceStore
from expunge.rag.stores._memory import MemoryStore
from expunge.rag.stores._protocol import Absence, PurgeStats, VectorStore, available_stores, open_store, register_store

__all__ = [
    "Absence",
    "ChromaStore",
    "LanceStore",
    "MemoryStore",
    "PurgeStats",
    "VectorStore",
    "available_stores",
    "open_store",
    "register_store",
]
