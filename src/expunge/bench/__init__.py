"""Benchmark drivers: clients of the areas that measure them, never imported by them.

Owns: the drivers behind ``expunge bench …`` — ``dsr`` and ``crash`` (the governance path end to end, and crash
safety under SIGKILL), ``rag`` (what a native delete leaves on disk against expunge's purge), ``answers``
(abstention and leaks of the answerers), ``classifiers`` (every unlearning method beside retraining) and
``audit`` (attack strength at low FPR and the gate), ``lm`` (every language-model forgetting method beside an
oracle adapter) — and the shape of their result files (JSON rows plus a
markdown table). ``bench/*.sh`` re-run the committed figures through the CLI.

Must not touch: any area's private modules. A driver imports the areas' public names like any user would
(it reads the governance tables with plain SQL to count, as an operator would); no area imports
``expunge.bench``.
"""

from expunge.bench._answers import AnswersBenchConfig, answers_markdown, run_answers_bench, write_answers_bench
from expunge.bench._audit import run_audit_bench
from expunge.bench._classifiers import NOISE_FLOOR_ROW, resolve_methods, run_classifier_bench
from expunge.bench._governance import bench_crash, bench_dsr
from expunge.bench._lm import run_lm_bench, small_recipe
from expunge.bench._rag import RagBenchConfig, rag_markdown, run_rag_bench, write_rag_bench

__all__ = [
    "NOISE_FLOOR_ROW",
    "AnswersBenchConfig",
    "RagBenchConfig",
    "answers_markdown",
    "bench_crash",
    "bench_dsr",
    "rag_markdown",
    "resolve_methods",
    "small_recipe",
    "run_answers_bench",
    "run_audit_bench",
    "run_classifier_bench",
    "run_lm_bench",
    "run_rag_bench",
    "write_answers_bench",
    "write_rag_bench",
]
