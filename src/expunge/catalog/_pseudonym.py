"""Subject pseudonyms: HMAC-SHA256 of a normalised identifier under a per-install secret key.

The catalog never stores, logs or publishes a raw identifier: callers hand an :class:`Identifier` to
:class:`Pseudonymizer`, and only the hex digest goes further. The tenant is part of the MAC input, so
the same e-mail address yields unrelated pseudonyms in two tenants.

:func:`normalise_identifier` is the one place where spellings of an identifier are made equal; intake,
pseudonyms, ingest linking, probes and answers all go through it (and through :func:`fold_text`, the
same folding applied to free text). The rules, in order:

1. format characters (Unicode category Cf: zero-width space and joiners, BOM, soft hyphen, bidi marks
   and isolates, tag characters) are **removed**, never refused: they are invisible, carry no identity,
   and a document cannot be refused for holding them, so text and identifiers must fold alike;
2. every decimal digit (Nd: Arabic-Indic, Devanagari, fullwidth, …) becomes its ASCII digit, and
   apostrophe and hyphen look-alikes become ``'`` and ``-``;
3. Unicode NFKC (UAX #15), then full case folding (Unicode §3.13, ``str.casefold``: ``ß`` → ``ss``) for
   names and e-mail addresses, then NFKC again (case folding can un-compose, e.g. ``ǰ``);
4. per kind: a name's whitespace runs become one space; an e-mail address must look like
   ``local@domain.tld`` (no sub-address or provider-specific folding: ``ann+x@`` stays a mailbox of its
   own); a phone number is parsed with ``phonenumbers`` (libphonenumber's metadata) and written in
   E.164, a number without its country code taking the default region; a user ID keeps its case.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import os
import re
import secrets
import sys
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
    "check_phone_region",
    "fold_text",
    "load_or_create_secret",
    "normalise_identifier",
]

IdentifierKind = Literal["email", "phone", "user_id", "name"]
IDENTIFIER_KINDS: tuple[str, ...] = get_args(IdentifierKind)
MAX_IDENTIFIER_CHARS = 320
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Look-alikes of the apostrophe (left/right single quotes, modifier letter apostrophe, prime, acute,
# grave) and of the hyphen (hyphen, non-breaking hyphen, figure dash, en and em dash, bar, minus sign).
_LOOKALIKES = {
    **dict.fromkeys((0x2018, 0x2019, 0x02BC, 0x2032, 0x00B4, 0x0060), "'"),
    **dict.fromkeys((0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212), "-"),
}


@functools.cache
def _table() -> dict[int, str | None]:
    """The translation of step 1-2: Cf removed, Nd to ASCII, look-alikes to ASCII (built once, ~0.2 s)."""
    table: dict[int, str | None] = dict(_LOOKALIKES)
    for cp in range(0x80, sys.maxunicode + 1):
        category = unicodedata.category(chr(cp))
        if category == "Cf":
            table[cp] = None
        elif category == "Nd":
            table[cp] = str(unicodedata.decimal(chr(cp)))
    return table


def _fold(text: str, *, case: bool) -> str:
    text = unicodedata.normalize("NFKC", text.translate(_table()))
    if case:
        text = unicodedata.normalize("NFKC", text.casefold())
    return text


def fold_text(text: str) -> str:
    """Fold free text the way :func:`normalise_identifier` folds a name or an e-mail address.

    Format characters removed, digits and apostrophe/hyphen look-alikes made ASCII, NFKC, full case
    folding. Whitespace is kept as it is (NFKC already made odd spaces plain), so a name's normalised
    form is found in the folded text with its spaces matched by ``\\s+``.
    """
    return _fold(text, case=True)


def check_phone_region(region: str | None) -> str | None:
    """Return ``region`` upper-cased if libphonenumber knows it as an ISO 3166-1 alpha-2 code (None stays None).

    Raises:
        ConfigError: An unknown region code.
    """
    if region is None:
        return None
    import phonenumbers

    code = str(region).strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(
            f"The default phone region must be an ISO 3166-1 alpha-2 code that has a telephone numbering plan, "
            f"such as DE, FR or US. Got {region!r}."
        )
    return code


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


def normalise_identifier(kind: str, value: str, *, region: str | None = None) -> str:
    """Return the canonical form of an identifier so that spellings of one identity agree.

    See the module docstring for the rules. The result is a fixed point:
    ``normalise_identifier(kind, normalise_identifier(kind, v, region=r), region=r)`` is the same string.

    Args:
        kind: One of :data:`IDENTIFIER_KINDS`.
        value: The raw identifier.
        region: ISO 3166-1 alpha-2 code of the country a phone number without its country code belongs
            to (``EXPUNGE_DEFAULT_PHONE_REGION``); None: such a number is refused.

    Raises:
        InvalidIdentifierError: Unknown kind, empty, oversize or malformed value, or a phone number
            without country code and no region. The message names the kind and the length, never the
            value itself.
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
    text = _fold(value, case=kind in ("email", "name")).strip()
    if not text or _CONTROL.search(text):
        raise InvalidIdentifierError(
            f"A {kind} identifier must be non-empty printable text. Got {len(value)} characters that are not."
        )
    if kind == "email":
        text = text.removeprefix("mailto:")
        if not _EMAIL.match(text):
            raise InvalidIdentifierError(
                f"An email identifier must look like local@domain.tld. Got a {len(text)}-character value that does not."
            )
        return text
    if kind == "phone":
        return _e164(text, region)
    if kind == "name":
        return " ".join(text.split())
    return text


def _e164(text: str, region: str | None) -> str:
    import phonenumbers

    # 00 is the international prefix the ITU recommends: understood without a region, and where the region's
    # own prefix differs (011 in North America) a number written 00… is still read as international.
    candidates = ["+" + text[2:]] if text.startswith("00") else []
    if region is not None:
        candidates.insert(0, text)
    elif not candidates and not text.lstrip("(").startswith(("+", "tel:+")):
        raise InvalidIdentifierError(
            f"A phone identifier without its country code (+CC …) needs a default region: give the number as "
            f"+CC … or set EXPUNGE_DEFAULT_PHONE_REGION (an ISO 3166 code such as DE). Got {len(text)} characters."
        )
    else:
        candidates = candidates or [text]
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidIdentifierError(
        "A phone identifier must be a possible telephone number (E.164: a country code and up to 15 digits, "
        f"with spaces, dots, dashes or brackets). Got a {len(text)}-character value that is not."
    )


class Pseudonymizer:
    """Turn identifiers into tenant-scoped pseudonyms with HMAC-SHA256.

    Args:
        key: The per-install secret, at least 32 bytes.
        phone_region: ISO 3166-1 alpha-2 code of the country of phone numbers given without their
            country code (``EXPUNGE_DEFAULT_PHONE_REGION``); None: such numbers are refused.

    Raises:
        ConfigError: A key shorter than 32 bytes or an unknown region.
    """

    def __init__(self, key: bytes, *, phone_region: str | None = None) -> None:
        if len(key) < 32:
            raise ConfigError(f"The pseudonym key must be at least 32 bytes. Got {len(key)}.")
        self._key = key
        self.phone_region = check_phone_region(phone_region)

    def normalise(self, identifier: Identifier) -> str:
        """The canonical form of ``identifier`` under this install's region (see :func:`normalise_identifier`)."""
        return normalise_identifier(identifier.kind, identifier.value, region=self.phone_region)

    def derive(self, label: str) -> bytes:
        """Return a 32-byte key derived from the install's secret for another use (HMAC-SHA256 of ``label``).

        Every process of an install derives the same key; destroying the secret destroys it too.
        """
        return hmac.new(self._key, b"expunge/derive/" + label.encode(), hashlib.sha256).digest()

    def pseudonym(self, tenant: str, identifier: Identifier) -> str:
        """Return the 64-hex-digit pseudonym of ``identifier`` within ``tenant``.

        Raises:
            InvalidIdentifierError: The identifier is malformed (see :func:`normalise_identifier`).
        """
        canonical = self.normalise(identifier)
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
