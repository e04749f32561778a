"""Documents → chunks with global IDs, versions, content fingerprints and the subjects they mention."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from expunge.catalog import (
    FoldedText,
    Identifier,
    Mention,
    check_tenant,
    identifiers_in,
    new_id,
    normalise_identifier,
)
from expunge.errors import EmptyDocumentError, RagError
from expunge.rag._rows import sha256_text

__all__ = [
    "Chunk",
    "ChunkConfig",
    "Document",
    "Person",
    "chunk_document",
    "find_people",
    "mentions",
    "sha256_text",
]


@dataclass(frozen=True)
class Person:
    """Someone a corpus may mention, known by any of these identifiers (as written; compared normalised)."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None

    def identifiers(self) -> list[Identifier]:
        """The person's identifiers, as the catalog takes them."""
        pairs = (("name", self.name), ("email", self.email), ("phone", self.phone))
        return [Identifier(kind, value) for kind, value in pairs if value]

    def needles(self) -> list[str]:
        """The raw strings that mark a mention of this person in text."""
        return [v for v in (self.name, self.email, self.phone) if v]

    def mentions(self, *, region: str | None = None) -> tuple[Mention, ...]:
        """How each identifier is found in text, in any spelling the catalog's normaliser treats as the same.

        Raises:
            InvalidIdentifierError: An identifier is malformed (e.g. a phone number without country code and
                no region).
        """
        return _mentions_of(self, region)

    def mentioned_in(self, text: FoldedText, *, region: str | None = None) -> bool:
        """True when the folded ``text`` mentions this person by any of their identifiers."""
        return any(m.found_in(text) for m in self.mentions(region=region))

    @classmethod
    def from_values(cls, values: Iterable[str]) -> Person:
        """A person from identifiers of unstated kind: an e-mail address holds ``@``, a phone number at least
        seven digits, anything else is a name.

        Raises:
            RagError: Two values of one kind, or none at all.
        """
        fields: dict[str, str] = {}
        for raw in values:
            value = raw.strip()
            if not value:
                continue
            kind = "email" if "@" in value else "phone" if sum(c.isdigit() for c in value) >= 7 else "name"
            if kind in fields:
                raise RagError(f"Give at most one {kind} per person; got {fields[kind]!r} and {value!r}.")
            fields[kind] = value
        if not fields:
            raise RagError("A person needs a name, an e-mail address or a phone number. Got none.")
        return cls(**fields)


@functools.lru_cache(maxsize=65_536)
def _mentions_of(person: Person, region: str | None) -> tuple[Mention, ...]:
    pairs = (("name", person.name), ("email", person.email), ("phone", person.phone))
    return tuple(Mention.of(kind, value, region=region) for kind, value in pairs if value)


@dataclass(frozen=True)
class Document:
    """A document to ingest.

    Attributes:
        text: The content (must not be blank).
        source: Where it came from (a path or a URI).
        tenant: Who owns it.
        acl: The access group allowed to retrieve it.
        doc_id: A stable global ID; default: derived from tenant and source, so re-ingesting the same source
            makes a new version of the same document.
    """

    text: str
    source: str
    tenant: str = "default"
    acl: str = "public"
    doc_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise EmptyDocumentError(f"Document {self.source!r} has no text; give it some content or leave it out.")
        check_tenant(self.tenant)
        if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", self.acl):
            raise RagError(f"An ACL group is 1-64 letters, digits, '_', '.', ':' or '-'. Got {self.acl!r}.")

    @property
    def id(self) -> str:
        """The document's global ID."""
        return self.doc_id or "doc_" + sha256_text(f"{self.tenant}\x00{self.source}")[:24]


@dataclass(frozen=True)
class ChunkConfig:
    """How documents are cut: windows of ``size`` characters overlapping by ``overlap``, split at whitespace."""

    size: int = 400
    overlap: int = 80

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or self.size < 32:
            raise RagError(f"The chunk size must be an integer of at least 32 characters. Got {self.size!r}.")
        if not isinstance(self.overlap, int) or not 0 <= self.overlap < self.size // 2:
            raise RagError(
                f"The chunk overlap must be an integer from 0 to less than half the size ({self.size // 2}). "
                f"Got {self.overlap!r}."
            )


@dataclass(frozen=True)
class Chunk:
    """A piece of a document version, with its global ID and the people it mentions."""

    chunk_id: str
    doc_id: str
    version: int
    position: int
    text: str
    content_sha256: str
    people: tuple[int, ...] = field(default=())


def chunk_document(
    doc: Document, version: int, config: ChunkConfig, people: Sequence[Person] = (), *, region: str | None = None
) -> list[Chunk]:
    """Cut ``doc`` into overlapping chunks; each records which of ``people`` it mentions (by index).

    ``region`` reads phone numbers without country code (see :func:`expunge.catalog.normalise_identifier`).
    """
    text = " ".join(doc.text.split())
    chunks = []
    start = 0
    while start < len(text):
        end = min(len(text), start + config.size)
        if end < len(text):  # end at a word boundary when one is near
            space = text.rfind(" ", start + config.size // 2, end)
            end = space if space > 0 else end
        piece = text[start:end].strip()
        if piece:
            digest = sha256_text(piece)
            # Random, not derived from the content: a chunk ID appears in receipts and case files, and anyone holding
            # one and a candidate text must not be able to confirm what was erased.
            chunk_id = new_id("chk")
            folded = FoldedText.of(piece) if people else None
            mentioned = tuple(i for i, p in enumerate(people) if folded and p.mentioned_in(folded, region=region))
            chunks.append(Chunk(chunk_id, doc.id, version, len(chunks), piece, digest, mentioned))
        if end >= len(text):
            break
        start = max(end - config.overlap, start + 1)
    return chunks


def find_people(
    text: str, known: Sequence[Person] = (), *, names: Sequence[str] = (), region: str | None = None
) -> list[Person]:
    """The people ``text`` mentions, each once, as separate subjects.

    - every ``known`` person mentioned by name, e-mail or phone, in any spelling the catalog's normaliser
      treats as the same (NFD/NFC, case, format characters, any written form of the number);
    - each e-mail address and phone number of nobody known, as a person of their own (phone numbers as
      :func:`expunge.catalog.identifiers_in` finds them: international ones always, national ones when valid in
      ``region``);
    - each of ``names`` (e.g. what a named-entity recogniser found) that is no known person's name, as a person
      of their own.
    """
    folded = FoldedText.of(text)
    found = [p for p in known if p.mentioned_in(folded, region=region)]
    taken = {(m.kind, m.canonical) for p in found for m in p.mentions(region=region)}
    for kind, canonical in identifiers_in(text, region=region):
        if (kind, canonical) not in taken:
            taken.add((kind, canonical))
            found.append(Person(**{kind: canonical}))
    for name in names:
        canonical = normalise_identifier("name", name)
        if ("name", canonical) not in taken:
            taken.add(("name", canonical))
            found.append(Person(name=name))
    return found


def mentions(text: str, person: Person, *, region: str | None = None) -> bool:
    """Tell whether ``text`` names ``person`` by name, e-mail address or phone number, in any spelling the
    identifier normaliser folds together (``region``: the country of phone numbers written without one)."""
    return person.mentioned_in(FoldedText.of(text), region=region)
