"""Catalog: identity and lineage of personal data — subjects, records, artifacts, edges, holds, tombstones.

Owns the ``catalog_*`` tables: subjects (stored only as HMAC pseudonyms), records with immutable
versions, typed artifacts with the URI of their backend, ``derived_from`` edges, legal holds and the
tombstones erasure leaves. Answers "where did this person's data land?" with a lineage closure. Owns the
one identifier normaliser (``normalise_identifier``, ``fold_text``) and the matching of identifiers in free
text (``Mention``, ``identifiers_in``) that every other area uses.

Must not touch: requests, the bus or evidence (it sits below them) and never any raw identifier — an
:class:`Identifier` is MACed by :class:`Pseudonymizer` and dropped.
"""

from expunge.catalog._actions import statuses as asset_statuses
from expunge.catalog._catalog import Catalog
from expunge.catalog._holds import Holds, hold_exception
from expunge.catalog._lineage import ancestors, closure, descendants, openlineage_events
from expunge.catalog._mentions import FoldedText, Mention, identifiers_in
from expunge.catalog._model import (
    ARTIFACT_KINDS,
    ASSET_STATUSES,
    LEGAL_BASES,
    ArtifactInfo,
    Asset,
    Hold,
    RecordInfo,
    Tombstone,
    check_id,
    check_sha256,
    check_tenant,
    check_token,
    new_id,
)
from expunge.catalog._pseudonym import (
    IDENTIFIER_KINDS,
    MAX_IDENTIFIER_CHARS,
    Identifier,
    Pseudonymizer,
    check_phone_region,
    fold_text,
    load_or_create_secret,
    normalise_identifier,
)
from expunge.catalog._records import Records
from expunge.catalog._subjects import Subjects
from expunge.catalog._tombstones import Tombstones

__all__ = [
    "ARTIFACT_KINDS",
    "ASSET_STATUSES",
    "IDENTIFIER_KINDS",
    "LEGAL_BASES",
    "MAX_IDENTIFIER_CHARS",
    "ArtifactInfo",
    "Asset",
    "Catalog",
    "FoldedText",
    "Hold",
    "Holds",
    "Identifier",
    "Mention",
    "Pseudonymizer",
    "RecordInfo",
    "Records",
    "Subjects",
    "Tombstone",
    "Tombstones",
    "ancestors",
    "asset_statuses",
    "check_id",
    "check_phone_region",
    "check_sha256",
    "check_tenant",
    "check_token",
    "closure",
    "descendants",
    "fold_text",
    "hold_exception",
    "identifiers_in",
    "load_or_create_secret",
    "new_id",
    "normalise_identifier",
    "openlineage_events",
]
