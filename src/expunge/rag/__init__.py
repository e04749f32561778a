"""RAG erasure: chunking with identity, embeddings, vector stores that really forget, tagged caches, retrieval.

Owns the retrieval side of an AI system: documents cut into chunks with global IDs, their embeddings and vector
rows, the caches that remember what they were built from, and the probes that prove a deleted chunk is gone
from search, from caches and from every byte on disk. Its subscriber (``rag``) receives deletion events from
the bus for the ``rag://INDEX/{chunk,embedding,vector_row}/ID`` artifacts its ingest registered in the catalog.
Answers name their sources and never come from a chunk that does not mention the person a question names; the
distance cut-off is calibrated on the corpus. Identifiers are compared only through ``expunge.catalog``'s
normaliser; spaCy (names) loads only for ingest and answers, never on a deletion path.

Must not touch: requests or the service (it sits below them); it learns what to delete only from bus events.
"""

from expunge.rag._answer import ABSTAIN, Answer, EntityCheck, ExtractiveAnswerer, Generator
from expunge.rag._cache import NAMESPACES, MemoryCache, SqliteCache, TaggedCache
from expunge.rag._calibrate import CALIBRATION_TEMPLATES, Calibration, calibrate
from expunge.rag._demo import DemoCorpus, demo_corpus
from expunge.rag._embed import MINILM_ID, Embedder, MiniLMEmbedder
from expunge.rag._index import (
    DEFAULT_MAX_DISTANCE,
    ENTITY_POOL,
    Forgotten,
    IngestReport,
    RagIndex,
    Retrieval,
    chunk_uri,
    content_tag,
    open_index,
)
from expunge.rag._ingest import Chunk, ChunkConfig, Document, Person, chunk_document, find_people, sha256_text
from expunge.rag._names import NAME_LABELS, NameFinder, SpacyNameFinder
from expunge.rag._probe import scan_files
from expunge.rag._rows import FILTER_FIELDS, ChunkRow, Filter, Fingerprint, Hit
from expunge.rag._subject import SubjectProbe, probe_subject, questions_about
from expunge.rag._subscriber import RagSubscriber

__all__ = [
    "ABSTAIN",
    "CALIBRATION_TEMPLATES",
    "DEFAULT_MAX_DISTANCE",
    "ENTITY_POOL",
    "FILTER_FIELDS",
    "MINILM_ID",
    "NAMESPACES",
    "NAME_LABELS",
    "Answer",
    "Calibration",
    "Chunk",
    "ChunkConfig",
    "ChunkRow",
    "DemoCorpus",
    "Document",
    "Embedder",
    "EntityCheck",
    "ExtractiveAnswerer",
    "Filter",
    "Fingerprint",
    "Forgotten",
    "Generator",
    "Hit",
    "IngestReport",
    "MemoryCache",
    "MiniLMEmbedder",
    "NameFinder",
    "Person",
    "RagIndex",
    "RagSubscriber",
    "Retrieval",
    "SpacyNameFinder",
    "SqliteCache",
    "SubjectProbe",
    "TaggedCache",
    "calibrate",
    "chunk_document",
    "chunk_uri",
    "content_tag",
    "demo_corpus",
    "find_people",
    "open_index",
    "probe_subject",
    "questions_about",
    "scan_files",
    "sha256_text",
]
