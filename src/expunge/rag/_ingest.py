"""Documents → chunks with global IDs, versions, content fingerprints and the subjects they mention."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from expunge.catalog import Identifier, check_tenant, new_id
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

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d ().-]{6,}\d(?!\w)")


@dataclass(frozen=True)
class Person:
    """Someone a corpus may mention, known by any of these identifiers."""

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


def chunk_document(doc: Document, version: int, config: ChunkConfig, people: Sequence[Person] = ()) -> list[Chunk]:
    """Cut ``doc`` into overlapping chunks; each records which of ``people`` it mentions (by index)."""
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
            mentioned = tuple(i for i, p in enumerate(people) if _mentions(piece, p))
            chunks.append(Chunk(chunk_id, doc.id, version, len(chunks), piece, digest, mentioned))
        if end >= len(text):
            break
        start = max(end - config.overlap, start + 1)
    return chunks


def find_people(text: str, known: Sequence[Person] = ()) -> list[Person]:
    """The people ``text`` mentions: every known person named by name, e-mail or phone, plus each e-mail
    address and phone number of nobody known (as a person of their own)."""
    found = [p for p in known if _mentions(text, p)]
    known_emails = {p.email.lower() for p in known if p.email}
    known_phones = {_digits(p.phone) for p in known if p.phone}
    for email in dict.fromkeys(m.lower() for m in _EMAIL.findall(text)):
        if email not in known_emails:
            found.append(Person(email=email))
    for phone in dict.fromkeys(m.strip() for m in _PHONE.findall(text)):
        if 7 <= len(_digits(phone)) <= 15 and _digits(phone) not in known_phones:
            found.append(Person(phone=phone))
    return found


def mentions(text: str, person: Person) -> bool:
    """Tell whether ``text`` names ``person`` by name, e-mail address or phone number."""
    return _mentions(text, person)


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _mentions(text: str, person: Person) -> bool:
    lowered = text.lower()
    if person.email and person.email.lower() in lowered:
        return True
    if person.phone and (
        person.phone in text or any(_digits(person.phone) == _digits(m) for m in _PHONE.findall(text))
    ):
        return True
    return bool(person.name and re.search(r"\b" + re.escape(person.name.lower()) + r"\b", lowered))
