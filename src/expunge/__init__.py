"""expunge: make AI systems forget a person, a document or a class of data on demand, and prove it.

The map (one package folder per area; arrows point down, ``lint-imports`` keeps them so)::

    cli/  service/     the Typer CLI and the FastAPI service: thin doors over the same functions
    bench/             benchmark drivers: clients of the areas below, never imported by them
    requests/          data-subject requests: intake, verification, scope, plan, SLA clock, case file, API keys
    lm/                language models: any HF causal LM, LoRA adapters, LM forgetting methods and probes
    unlearn/  rag/     model forgetting (one file per method) | chunks, embeddings, vector stores, caches
    audit/    bus/     measuring forgetting (attacks, gate) | the deletion bus: outbox, dispatcher, subscribers
    catalog/  evidence/  datasets/  models/
                       identity, lineage, holds, tombstones | signed receipts, Merkle log, case files |
                       offline data sets, forget sets, canaries | reference architectures and training
    db/                SQLAlchemy engine (SQLite or PostgreSQL), migrations, keyset pages
    config.py  registry.py
                       the one settings table (EXPUNGE_* variables) | the one Registry type of pluggable parts
    errors.py          the error tree, drawn in its docstring, with stable codes

The engine half (``unlearn``, ``audit``, ``datasets``, ``models``, ``lm``) is usable alone on any PyTorch model
and never imports the governance half (``catalog``, ``requests``, ``bus``, ``evidence``, ``service``). Each
area's ``__init__`` says what it owns and must not touch; the README's architecture paragraph names the same
areas, and ``docs/`` tells how each is used.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("expunge")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
