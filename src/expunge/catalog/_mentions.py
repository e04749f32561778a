"""Identifiers in free text: is a person mentioned, and which e-mail addresses and phone numbers does it hold?

Both sides go through the one normaliser: the text is folded with :func:`fold_text` and the identifier
with :func:`normalise_identifier`, so a document holding ``JÖRG WEISS``, ``Zoe\u0308`` (NFD), an
address with a zero-width space in it or ``(555) 010-9999`` mentions the person an erasure request names
as ``Jörg Weiß``, ``Zoë``, the clean address or ``+1 555 010 9999``. Ingest linking, the subject probe
(store files, caches, kNN hits) and the answerer's entity check all use :class:`Mention`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from expunge.catalog._pseudonym import fold_text, normalise_identifier
from expunge.errors import InvalidIdentifierError

__all__ = ["FoldedText", "Mention", "identifiers_in"]

# What may stand between the digits of a written phone number: spaces, dots, dashes, slashes, brackets.
_SEP = r"[\s().\-/]{0,4}"
# An e-mail address in folded text (Unicode letters allowed; the TLD is letters only, so a sentence's
# final dot is left out).
_EMAIL_IN_TEXT = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")


@dataclass(frozen=True)
class FoldedText:
    """A text folded once for many :class:`Mention` checks.

    Attributes:
        text: :func:`fold_text` of the raw text.
        digits: Only the ASCII digits of ``text`` (a cheap pre-filter for phone numbers).
    """

    text: str
    digits: str = field(repr=False)

    @classmethod
    def of(cls, raw: str) -> FoldedText:
        """Fold ``raw``."""
        text = fold_text(raw)
        return cls(text, re.sub(r"\D", "", text, flags=re.ASCII))


@dataclass(frozen=True)
class Mention:
    """A normalised identifier and a pattern that finds any written form of it in folded text.

    - name: its words in order, separated by any whitespace, not inside a longer word;
    - email: the address, not inside a longer address;
    - phone: the national significant number's digits in order, with up to four separators between
      them, optionally after the country code (``+``, ``00`` or ``011`` first) or the national trunk
      prefix (``0``, ``(0)``, ``06``…), never inside a longer run of digits. So every written form
      matches, whatever the region; a number with the same national digits in another country matches
      too (a probe errs towards finding).

    Attributes:
        kind: The identifier kind.
        canonical: Its normalised form.
        pattern: The compiled pattern over :attr:`FoldedText.text`.
        hint: A string every match contains (in ``text``, or in ``digits`` for a phone number).
    """

    kind: str
    canonical: str = field(repr=False)  # a raw-enough identifier must not reach logs through a repr
    pattern: re.Pattern[str] = field(repr=False, compare=False)
    hint: str = field(repr=False, compare=False)

    @classmethod
    def of(cls, kind: str, value: str, *, region: str | None = None) -> Mention:
        """The mention of an identifier given in any spelling.

        Raises:
            InvalidIdentifierError: The value is malformed (see :func:`normalise_identifier`); ``user_id``
                is refused too, since an account ID is not looked for in text.
        """
        canonical = normalise_identifier(kind, value, region=region)
        if kind == "name":
            words = canonical.split()
            body = r"\s+".join(re.escape(w) for w in words)
            return cls(kind, canonical, re.compile(rf"(?<!\w){body}(?!\w)"), max(words, key=len))
        if kind == "email":
            return cls(kind, canonical, re.compile(rf"(?<![\w.%+-]){re.escape(canonical)}(?![\w-]|\.\w)"), canonical)
        if kind == "phone":
            pattern, national = _phone_pattern(canonical)
            return cls(kind, canonical, pattern, national)
        raise InvalidIdentifierError(
            f"Only names, e-mail addresses and phone numbers are looked for in text. Got {kind!r}."
        )

    def found_in(self, text: FoldedText) -> bool:
        """True when ``text`` mentions this identifier."""
        if self.kind == "phone":
            if self.hint not in text.digits:
                return False
        elif self.hint not in text.text:
            return False
        return self.pattern.search(text.text) is not None


def _phone_pattern(canonical: str) -> tuple[re.Pattern[str], str]:
    import phonenumbers

    number = phonenumbers.parse(canonical, None)
    national = phonenumbers.national_significant_number(number)
    code = str(number.country_code)
    region = phonenumbers.region_code_for_country_code(number.country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    trunk = (metadata.national_prefix if metadata is not None else None) or "0"

    def spaced(digits: str) -> str:
        return _SEP.join(digits)

    international = rf"(?:(?:\+|00|011){_SEP})?{spaced(code)}{_SEP}"
    national_prefix = rf"\(?{spaced(trunk)}\)?{_SEP}"
    pattern = re.compile(rf"(?<!\d)(?:{international})?(?:{national_prefix})?{spaced(national)}(?!\d)")
    return pattern, national


def identifiers_in(text: str, *, region: str | None = None) -> list[tuple[str, str]]:
    """The e-mail addresses and phone numbers ``text`` holds, normalised, in order of appearance.

    Phone numbers are found by libphonenumber's matcher (``PhoneNumberMatcher``) over the folded text: a
    number written with ``+`` and its country code counts when it is *possible* (its length fits the plan:
    fictional and new ranges included); a number written without, read in ``region``, only under the
    matcher's ``VALID`` leniency (a valid number of the region, written with the national prefix where the
    region requires one), since dates and ticket numbers are often possible numbers. Without a region only
    international numbers are found.

    Returns:
        ``(kind, canonical)`` pairs, each once.
    """
    import phonenumbers

    folded = fold_text(text)
    found: dict[tuple[str, str], int] = {}
    for match in _EMAIL_IN_TEXT.finditer(folded):
        try:
            found.setdefault(("email", normalise_identifier("email", match.group(0))), match.start())
        except InvalidIdentifierError:
            continue
    taken: list[tuple[int, int]] = []
    for leniency in (phonenumbers.Leniency.POSSIBLE, phonenumbers.Leniency.VALID):
        if leniency == phonenumbers.Leniency.VALID and region is None:
            break  # national numbers need a region
        for match in phonenumbers.PhoneNumberMatcher(folded, region, leniency=leniency):
            international = match.raw_string.lstrip("(").startswith("+")
            if international != (leniency == phonenumbers.Leniency.POSSIBLE):
                continue
            if any(match.start < end and start < match.end for start, end in taken):
                continue
            taken.append((match.start, match.end))
            canonical = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            found.setdefault(("phone", canonical), match.start)
    return sorted(found, key=found.__getitem__)
