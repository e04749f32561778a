"""Subject pseudonyms: HMAC-SHA256 of a normalised identifier under a per-install secret key.

The catalog never stores, logs or publishes a raw identifier: callers hand an :class:`Identifier` to
:class:`Pseudonymizer`, and only the hex digest goes further. The tenant is part of the MAC input, so
the same e-mail address yields unrelated pseudonyms in two tenants.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from expunge.errors import ConfigError, InvalidIdentifierError

__all__ = [
    "IDENTIFIER_KINDS",
    "MAX_IDENTIFIER_CHARS",
    "Identifier",
    "IdentifierKind",
    "Pseudonymizer",
    "load_or_create_secret",
    "normalise_identifier",
]

IdentifierKind = Literal["email", "phone", "user_id", "name"]
IDENTIFIER_KINDS: tuple[str, ...] = get_args(IdentifierKind)
MAX_IDENTIFIER_CHARS = 320
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Identifier:
    """One way of naming a data subject, e.g. ``Identifier("email", "Ann@Example.org")``.

    Attributes:
        kind: One of :data:`IDENTIFIER_KINDS`.
        value: The raw value; it is normalised and MACed, never stored.
    """

    kind: str
    value: str

    def __repr__(self) -> str:
        # The raw value must not reach logs or tracebacks through a repr.
        return f"Identifier(kind={self.kind!r}, value=<{len(self.value)} chars>)"


def normalise_identifier(kind: str, value: str) -> str:
    """Return the canonical form of an identifier so that spellings of one identity agree.

    Args:
        kind: One of :data:`IDENTIFIER_KINDS`.
        value: The raw identifier.

    Raises:
        InvalidIdentifierError: Unknown kind, empty, oversize or malformed value. The message names
            the kind and the length, never the value itself.
    """
    if kind not in IDENTIFIER_KINDS:
        raise InvalidIdentifierError(
            f"Unknown identifier kind {kind!r}. Accepted: {', '.join(sorted(IDENTIFIER_KINDS))}."
        )
    if not isinstance(value, str):
        raise InvalidIdentifierError(f"A {kind} identifier must be a string. Got {type(value).__name__}.")
    if len(value) > MAX_IDENTIFIER_CHARS:
        raise InvalidIdentifierError(
            f"A {kind} identifier must be at most {MAX_IDENTIFIER_CHARS} characters. Got {len(value)}."
        )
    text = unicodedata.normalize("NFKC", value).strip()
    if not text or _CONTROL.search(text):
        raise InvalidIdentifierError(
            f"A {kind} identifier must be non-empty printable text. Got {len(value)} characters that are not."
        )
    if kind == "email":
        text = text.lower()
        if not _EMAIL.match(text):
            raise InvalidIdentifierError(
                f"An email identifier must look like local@domain.tld. Got a {len(text)}-character value that does not."
            )
        return text
    if kind == "phone":
        digits = re.sub(r"[\s().\-/]", "", text)
        plus = digits.startswith("+")
        digits = digits[1:] if plus else digits
        if not digits.isdigit() or not 6 <= len(digits) <= 15:
            raise InvalidIdentifierError(
                "A phone identifier must hold 6 to 15 digits (E.164), optionally after '+', with spaces, "
                f"dots, dashes or brackets. Got a {len(text)}-character value that does not."
            )
        return "+" + digits
    if kind == "name":
        return " ".join(text.casefold().split())
    return text


class Pseudonymizer:
    """Turn identifiers into tenant-scoped pseudonyms with HMAC-SHA256.

    Args:
        key: The per-install secret, at least 32 bytes.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ConfigError(f"The pseudonym key must be at least 32 bytes. Got {len(key)}.")
        self._key = key

    def pseudonym(self, tenant: str, identifier: Identifier) -> str:
        """Return the 64-hex-digit pseudonym of ``identifier`` within ``tenant``.

        Raises:
            InvalidIdentifierError: The identifier is malformed (see :func:`normalise_identifier`).
        """
        canonical = normalise_identifier(identifier.kind, identifier.value)
        message = "\x1f".join((tenant, identifier.kind, canonical)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def load_or_create_secret(path: Path, *, nbytes: int = 32) -> bytes:
    """Read a secret key file, creating it with ``nbytes`` random bytes (mode 0600) if absent.

    Two processes racing to create it agree: the file is created exclusively and the loser reads
    the winner's key.

    Raises:
        ConfigError: The file exists but is shorter than ``nbytes``.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(nbytes))
        # link() is atomic and refuses to overwrite: a reader never sees a half-written key.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink()
    key = path.read_bytes()
    if len(key) < nbytes:
        raise ConfigError(f"The key file {str(path)!r} must hold at least {nbytes} bytes. Got {len(key)}.")
    return key
