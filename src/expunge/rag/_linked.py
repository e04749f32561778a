"""What the catalog knows about the people a question or a probe names: their chunks, and their names.

Both go through pseudonyms (the catalog's one normaliser, then HMAC), so a name written in any spelling intake
treats as the same finds the same subject.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from expunge.catalog import Catalog, Identifier, Mention, closure, fold_text
from expunge.db import Database

__all__ = ["catalog_names", "subject_chunks"]

# Words of a question (apostrophes and hyphens belong to names).
_WORDS = re.compile(r"[^\W_][\w'-]*")


def subject_chunks(
    catalog: Catalog,
    db: Database,
    index: str,
    tenant: str,
    identifiers: Sequence[Identifier],
    *,
    limit: int | None = None,
) -> list[str]:
    """IDs of the chunks of index ``index`` the catalog derives from records linked to any of ``identifiers``,
    sorted, the first ``limit`` of them (all when None).

    Raises:
        InvalidIdentifierError: An identifier is malformed.
    """
    if not identifiers:
        return []
    prefix = f"rag://{index}/chunk/"
    with db.read() as conn:  # deferred: answers and probes do not queue behind writers
        pseudonyms = catalog.subjects.pseudonyms(tenant, identifiers)
        subjects = catalog.subjects.by_pseudonyms(conn, tenant, pseudonyms)
        records = catalog.records.by_subjects(conn, tenant, subjects) if subjects else []
        assets = closure(conn, tenant, records) if records else []
    return sorted(a.uri.removeprefix(prefix) for a in assets if a.uri.startswith(prefix))[:limit]


def catalog_names(catalog: Catalog, db: Database, tenant: str, question: str) -> tuple[Mention, ...]:
    """Names of subjects the catalog knows among the question's runs of two to four words.

    The fallback when the name finder tags nothing: spaCy's small model misses about one name in twelve in
    "What did NAME report?", and a name it misses must not turn the question into one about nobody.
    """
    words = _WORDS.findall(fold_text(question))
    runs = sorted({" ".join(words[i : i + n]) for n in (2, 3, 4) for i in range(len(words) - n + 1)})
    if not runs:
        return ()
    pseudonyms = catalog.subjects.pseudonyms(tenant, [Identifier("name", run) for run in runs])
    found = []
    with db.read() as conn:  # deferred: answers and probes do not queue behind writers
        for run, pseudonym in zip(runs, pseudonyms, strict=True):
            if catalog.subjects.by_pseudonyms(conn, tenant, [pseudonym]):
                found.append(Mention.of("name", run))
    return tuple(found)
