"""RAG erasure: chunking with identity, embeddings, vector stores that really forget, tagged caches, retrieval.

Owns the retrieval side of an AI system: documents cut into chunks with global IDs, their embeddings and vector
rows, the caches that remember what they were built from, and the probes that prove a deleted chunk is gone
from search, from caches and from every byte on disk. Its subscriber (``rag``) receives deletion events from
the bus for the ``rag://INDEX/{chunk,embedding,vector_row}/ID`` artifacts its ingest registered in the catalog.

Must not touch: requests or the service (it sits below them); it learns what to delete only from bus events.
"""

from expunge.rag._answer import ABSTAIN, Answer, ExtractiveAnswerer, Generator
from expunge.rag._cache import NAMESPACES, MemoryCache, SqliteCache, TaggedCache
from expunge.rag._demo import DemoCorpus, demo_corpus
from expunge.rag._embed import MINILM_ID, Embedder, MiniLMEmbedder
from expunge.rag._index import Forgotten, IngestReport, RagIndex, Retrieval, chunk_uri, content_tag, open_index
from expunge.rag._ingest import Chunk, ChunkConfig, Document, Person, chunk_document, find_people, sha256_text
from expunge.rag._probe import scan_files
from expunge.rag._rows import FILTER_FIELDS, ChunkRow, Filter, Fingerprint, Hit
from expunge.rag._subject import SubjectProbe, probe_subject, questions_about
from expunge.rag._subscriber import RagSubscriber

__all__ = [
    "ABSTAIN",
    "FILTER_FIELDS",
    "MINILM_ID",
    "NAMESPACES",
    "Answer",
    "Chunk",
    "ChunkConfig",
    "ChunkRow",
    "DemoCorpus",
    "Document",
    "Embedder",
    "ExtractiveAnswerer",
    "Filter",
    "Fingerprint",
    "Forgotten",
    "Generator",
    "Hit",
    "IngestReport",
    "MemoryCache",
    "MiniLMEmbedder",
    "Person",
    "RagIndex",
    "RagSubscriber",
    "Retrieval",
    "SqliteCache",
    "SubjectProbe",
    "TaggedCache",
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
