"""``expunge bench rag``: what a deletion leaves on disk, how fast a subject is forgotten, and what it costs.

Synthetic data at scale: 384-d vectors drawn around 64 cluster centres (unit length, as MiniLM's are) and
short texts, so 100k chunks load in seconds; the byte probe, the purge and the search do not depend on what
the vectors mean. Each subject owns a few chunks carrying their name, e-mail and canary.

Phases, on one store:
1. recall@10 and query latency of held-out queries, against exact (NumPy) search over the same filter;
2. a replay of cached queries while most subjects are excluded one by one (native delete + cache eviction):
   time to exclusion, and how many answers came from a cache entry influenced by an excluded chunk;
3. the byte probe over those subjects after the native delete (what a plain ``delete()`` leaves), then one
   purge and the probe again;
4. the remaining subjects forgotten one at a time with a purge and verification each (time to forget);
5. a 1 % delete storm, purged and verified;
6. a 10 % delete storm and purge, then recall@10 and latency again.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from expunge.errors import RagError
from expunge.rag import ChunkRow, Fingerprint, RagIndex, SqliteCache, sha256_text
from expunge.rag.stores import open_store

__all__ = ["RagBenchConfig", "rag_markdown", "run_rag_bench", "write_rag_bench"]

MODEL = "synthetic-384"
_WHERE = {"tenant": "bench", "status": "active", "latest": True, "embedding_model": MODEL}
_WORDS = [
    "invoice",
    "router",
    "refund",
    "login",
    "password",
    "shipment",
    "delay",
    "warranty",
    "screen",
    "battery",
    "upgrade",
    "contract",
    "payroll",
    "leave",
    "schedule",
    "office",
    "manager",
    "ticket",
    "escalation",
    "reset",
    "billing",
    "address",
    "account",
    "device",
    "network",
    "timeout",
    "export",
    "report",
    "settings",
    "update",
]


@dataclass(frozen=True)
class RagBenchConfig:
    """Sizes of one run (see the module docstring for the phases)."""

    store: str = "lancedb"
    chunks: int = 100_000
    subjects: int = 200
    chunks_per_subject: int = 5
    per_subject_purges: int = 20
    queries: int = 200
    replay: int = 10_000
    dim: int = 384
    seed: int = 0

    def __post_init__(self) -> None:
        if self.store not in ("lancedb", "chroma", "memory"):
            raise RagError(f"Unknown store {self.store!r} for the benchmark. Available: chroma, lancedb, memory.")
        if self.subjects < 1 or self.chunks_per_subject < 1:
            raise RagError("The benchmark needs at least one subject with at least one chunk.")
        if self.subjects * self.chunks_per_subject * 2 > self.chunks:
            raise RagError(
                f"--chunks {self.chunks} is too small for {self.subjects} subjects × {self.chunks_per_subject} "
                f"chunks: give at least {self.subjects * self.chunks_per_subject * 2}."
            )
        if not 0 <= self.per_subject_purges <= self.subjects:
            raise RagError(f"--per-subject-purges must be from 0 to --subjects ({self.subjects}).")


class _TableEmbedder:
    """Maps the benchmark's query strings to their precomputed vectors."""

    model_id = MODEL

    def __init__(self, table: dict[str, np.ndarray], dim: int) -> None:
        self.table = table
        self.dim = dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.table[t] for t in texts])


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _corpus(cfg: RagBenchConfig, rng: np.random.Generator) -> tuple[list[ChunkRow], list[list[int]]]:
    centres = rng.normal(size=(64, cfg.dim))
    labels = rng.integers(0, 64, size=cfg.chunks)
    vectors = _unit(centres[labels] + rng.normal(scale=0.6, size=(cfg.chunks, cfg.dim)))
    owned = rng.permutation(cfg.chunks)[: cfg.subjects * cfg.chunks_per_subject]
    subjects = [owned[s :: cfg.subjects].tolist() for s in range(cfg.subjects)]
    owner = {i: s for s, idx in enumerate(subjects) for i in idx}
    rows = []
    for i in range(cfg.chunks):
        words = " ".join(_WORDS[j] for j in rng.integers(0, len(_WORDS), size=12))
        if i in owner:
            s = owner[i]
            text = f"Ticket {i}: subject{s:04d} Person (person{s:04d}@example.test) canary-{s:04d}-{i:06d} {words}"
        else:
            text = f"Ticket {i}: {words} #{int(rng.integers(1_000_000_000))}"
        rows.append(
            ChunkRow(
                chunk_id=f"chk_{i:07d}",
                doc_id=f"doc_{i // 4:06d}",
                tenant="bench",
                acl="public",
                version=1,
                latest=True,
                status="active",
                embedding_model=MODEL,
                content_sha256=sha256_text(text),
                text=text,
                vector=vectors[i],
            )
        )
    return rows, subjects


def _pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def _recall(store, queries: np.ndarray, live: dict[str, np.ndarray], k: int = 10) -> tuple[float, list[float]]:
    ids = list(live)
    matrix = np.stack([live[i] for i in ids])
    recalls, latencies = [], []
    for q in queries:
        exact = {ids[j] for j in np.argsort(-(matrix @ q), kind="stable")[:k]}
        start = time.perf_counter()
        got = store.search(q, k, _WHERE)
        latencies.append((time.perf_counter() - start) * 1000)
        recalls.append(len(exact & {h.row.chunk_id for h in got}) / k)
    return float(np.mean(recalls)), latencies


def run_rag_bench(
    cfg: RagBenchConfig, *, workdir: Path | None = None, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Run every phase on a fresh store under ``workdir`` (a temporary folder if None) and return the figures."""
    say = progress or (lambda _msg: None)
    rng = np.random.default_rng(cfg.seed)
    tmp = Path(tempfile.mkdtemp(prefix="expunge-bench-rag-", dir=workdir))
    try:
        return _run(cfg, rng, tmp, say)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(cfg: RagBenchConfig, rng: np.random.Generator, tmp: Path, say: Callable[[str], None]) -> dict[str, Any]:
    say(f"generating {cfg.chunks} chunks")
    rows, subjects = _corpus(cfg, rng)
    by_id = {r.chunk_id: r for r in rows}
    url = "memory://bench" if cfg.store == "memory" else f"{cfg.store}://{tmp / 'store'}"
    store = open_store(url)
    start = time.perf_counter()
    for i in range(0, len(rows), 10_000):
        say(f"loading {min(i + 10_000, len(rows))}/{len(rows)}")
        store.upsert(rows[i : i + 10_000])
    ingest_s = time.perf_counter() - start
    live = {r.chunk_id: r.vector for r in rows}
    subject_ids = {r.chunk_id for idx in subjects for r in (rows[i] for i in idx)}
    plain = [r for r in rows if r.chunk_id not in subject_ids]
    picks = rng.choice(len(plain), size=cfg.queries, replace=False)
    queries = _unit(np.stack([plain[i].vector for i in picks]) + rng.normal(scale=0.02, size=(cfg.queries, cfg.dim)))
    say("recall and latency before deletions")
    recall_before, latency_before = _recall(store, queries, live)

    # Phase 2: cached answers replayed while subjects are excluded one by one.
    pool = {
        f"q{j}": _unit(rows[int(rng.integers(len(rows)))].vector + rng.normal(scale=0.05, size=cfg.dim))
        for j in range(500)
    }
    for s, idx in enumerate(subjects):  # questions aimed at each subject's chunks, so answers quote them
        pool[f"s{s}"] = rows[idx[0]].vector
    index = RagIndex(
        store,
        _TableEmbedder(pool, cfg.dim),
        cache=SqliteCache(tmp / "cache.sqlite"),
        name="bench",
        max_distance=2.0,
        check_entities=False,  # the queries are table keys, not questions about anyone
    )
    excluded_subjects = list(range(cfg.per_subject_purges, cfg.subjects))
    every = max(1, cfg.replay // max(1, len(excluded_subjects)))
    names = list(pool)
    deleted: set[str] = set()
    exclude_ms, leaks, hits, failures = [], 0, 0, 0

    def exclude(subject: int) -> list[str]:
        ids = [rows[i].chunk_id for i in subjects[subject]]
        t0 = time.perf_counter()
        index.exclude(ids)
        exclude_ms.append((time.perf_counter() - t0) * 1000)
        deleted.update(ids)
        return ids

    say(f"replaying {cfg.replay} cached queries while {len(excluded_subjects)} subjects are excluded")
    for step in range(cfg.replay):
        if step % every == 0 and excluded_subjects:
            ids = exclude(excluded_subjects.pop(0))
            if any(h.row.chunk_id in ids for h in store.search(by_id[ids[0]].vector, 10, _WHERE)):
                failures += 1
        name = names[int(rng.integers(len(names)))]
        key = index.generation_key(name, tenant="bench", groups=["public"], k=5)
        was_cached = index.cache.get("generation", key) is not None
        answer = index.answer(name, tenant="bench", k=5)
        hits += was_cached
        if set(answer.sources) & deleted:
            leaks += 1
    for s in excluded_subjects:  # replay shorter than the subject list
        exclude(s)
    for cid in deleted:
        live.pop(cid, None)

    # Phase 3: what the native delete left on disk, then one purge.
    batch = list(range(cfg.per_subject_purges, cfg.subjects))
    fps = [Fingerprint(rows[i].chunk_id, rows[i].vector, rows[i].text) for s in batch for i in subjects[s]]
    owner = {rows[i].chunk_id: s for s in batch for i in subjects[s]}
    say("probing the files after the native delete")
    native = store.verify_absent([f.chunk_id for f in fps], fps)
    native_subjects = {owner[c] for c in native.recoverable}
    say("purging")
    t0 = time.perf_counter()
    batch_purge = store.purge()
    after = store.verify_absent([f.chunk_id for f in fps], fps)
    batch_purge_s = time.perf_counter() - t0
    expunge_subjects = {owner[c] for c in after.recoverable}

    # Phase 4: one subject at a time, purged and verified.
    purge_s, forget_total_s = [], []
    for s in range(cfg.per_subject_purges):
        say(f"forgetting subject {s + 1}/{cfg.per_subject_purges} with a purge")
        ids = [rows[i].chunk_id for i in subjects[s]]
        t0 = time.perf_counter()
        done = index.forget(ids)
        total = time.perf_counter() - t0
        forget_total_s.append(total)
        exclude_ms.append(done.exclude_ms)
        purge_s.append(total - done.exclude_ms / 1000)
        if not done.verified:
            expunge_subjects.add(s)
        for cid in ids:
            live.pop(cid, None)

    def storm(fraction: float) -> tuple[int, float, bool]:
        remaining = sorted(live)
        doomed = [
            remaining[i] for i in rng.choice(len(remaining), size=max(1, int(len(rows) * fraction)), replace=False)
        ]
        say(f"{fraction:.0%} storm: forgetting {len(doomed)} chunks")
        t0 = time.perf_counter()
        done = index.forget(doomed)
        seconds = time.perf_counter() - t0
        for cid in doomed:
            live.pop(cid, None)
        return len(doomed), seconds, done.verified

    storm_n, storm_s, storm_ok = storm(0.01)  # phase 5
    big_n, big_s, big_ok = storm(0.10)  # phase 6, then recall again
    say("recall and latency after the storms")
    recall_after, latency_after = _recall(store, queries, live)
    store.close()
    return {
        "store": cfg.store,
        "chunks": cfg.chunks,
        "subjects": cfg.subjects,
        "chunks_per_subject": cfg.chunks_per_subject,
        "dim": cfg.dim,
        "embedding": f"{MODEL} (unit vectors around 64 centres)",
        "ingest_s": round(ingest_s, 2),
        "recoverable_native_pct": round(100 * len(native_subjects) / max(1, len(batch)), 2),
        "recoverable_expunge_pct": round(100 * len(expunge_subjects) / cfg.subjects, 2),
        "native_probe_subjects": len(batch),
        "batch_purge_s": round(batch_purge_s, 3),
        "batch_purge_detail": {k: v for k, v in batch_purge.detail.items() if not isinstance(v, list)},
        "exclude_ms_p50": round(_pct(exclude_ms, 50), 2),
        "exclude_ms_p95": round(_pct(exclude_ms, 95), 2),
        "exclusion_failures": failures,
        "purge_s_p50": round(_pct(purge_s, 50), 3),
        "purge_s_p95": round(_pct(purge_s, 95), 3),
        "forget_s_p50": round(_pct(forget_total_s, 50), 3),
        "storm_1pct_chunks": storm_n,
        "storm_1pct_s": round(storm_s, 3),
        "storm_1pct_verified": storm_ok,
        "storm_10pct_chunks": big_n,
        "storm_10pct_s": round(big_s, 3),
        "storm_10pct_verified": big_ok,
        "recall_at_10_before": round(recall_before, 4),
        "recall_at_10_after": round(recall_after, 4),
        "query_ms_p50": round(_pct(latency_before, 50), 2),
        "query_ms_p95": round(_pct(latency_before, 95), 2),
        "query_ms_p50_after": round(_pct(latency_after, 50), 2),
        "query_ms_p95_after": round(_pct(latency_after, 95), 2),
        "cache_replay_queries": cfg.replay,
        "cache_hits": hits,
        "cache_leaks": leaks,
    }


_TABLE = [
    ("recoverable after native delete (% of subjects)", "recoverable_native_pct"),
    ("recoverable after expunge purge (% of subjects)", "recoverable_expunge_pct"),
    ("exclusion p50 / p95 (ms)", ("exclude_ms_p50", "exclude_ms_p95")),
    ("purge + verify, one subject, p50 / p95 (s)", ("purge_s_p50", "purge_s_p95")),
    ("1 % storm forgotten and verified (s)", "storm_1pct_s"),
    ("10 % storm forgotten and verified (s)", "storm_10pct_s"),
    ("recall@10 before / after", ("recall_at_10_before", "recall_at_10_after")),
    ("query p50 / p95 before (ms)", ("query_ms_p50", "query_ms_p95")),
    ("query p50 / p95 after (ms)", ("query_ms_p50_after", "query_ms_p95_after")),
    ("cache: replayed / hits / leaks", ("cache_replay_queries", "cache_hits", "cache_leaks")),
]


def rag_markdown(results: Sequence[dict[str, Any]]) -> str:
    """A table with one column per run."""
    head = "| figure | " + " | ".join(f"{r['store']} ({r['chunks']:,} chunks)" for r in results) + " |"
    lines = [head, "| --- |" + " --- |" * len(results)]
    for label, keys in _TABLE:
        keys = (keys,) if isinstance(keys, str) else keys
        lines.append(f"| {label} | " + " | ".join(" / ".join(str(r[k]) for k in keys) for r in results) + " |")
    return "\n".join(lines) + "\n"


def write_rag_bench(results: dict[str, Any], out: Path) -> None:
    """Write ``out/results.json`` and ``out/results.md`` (merging runs of other stores already there)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    runs = json.loads(path.read_text()).get("runs", []) if path.exists() else []
    runs = [r for r in runs if (r["store"], r["chunks"]) != (results["store"], results["chunks"])] + [results]
    path.write_text(json.dumps({**results, "runs": runs}, indent=2) + "\n")
    (out / "results.md").write_text(rag_markdown(runs))
