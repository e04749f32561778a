"""RAG erasure: chunking with identity, embeddings, vector stores that really forget, tagged caches, retrieval.

Owns the retrieval side of an AI system: documents cut into chunks with global IDs, their embeddings and vector
rows, the caches that remember what they were built from, and the probes that prove a deleted chunk is gone
from search, from caches and from every byte on disk. Its subscriber receives deletion events from the bus.

Must not touch: requests or the service (it sits below them); it learns what to delete only from bus events
and registers what it ingests in the catalog.
"""

from expunge.rag._rows import FILTER_FIELDS, ChunkRow, Filter, Fingerprint, Hit

__all__ = ["FILTER_FIELDS", "ChunkRow", "Filter", "Fingerprint", "Hit"]
