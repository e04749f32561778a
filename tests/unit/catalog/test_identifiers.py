"""One identifier normaliser: spellings of one identity agree, in identifiers and in free text."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expunge.catalog import (
    FoldedText,
    Identifier,
    Mention,
    Pseudonymizer,
    check_phone_region,
    fold_text,
    identifiers_in,
    normalise_identifier,
)
from expunge.config import Settings
from expunge.errors import ConfigError, InvalidIdentifierError

KEY = b"s" * 32
ZWSP, ZWNJ, ZWJ, BOM, LRM, RLM, RLO, SHY = "\u200b", "\u200c", "\u200d", "\ufeff", "\u200e", "\u200f", "\u202e", "\xad"


def same(kind: str, a: str, b: str, *, region: str | None = None) -> bool:
    p = Pseudonymizer(KEY, phone_region=region)
    return p.pseudonym("acme", Identifier(kind, a)) == p.pseudonym("acme", Identifier(kind, b))


@pytest.mark.parametrize(
    ("kind", "spelling", "canonical"),
    [
        ("email", f"ann{ZWSP}.lee@example.org", "ann.lee@example.org"),
        ("email", f"{BOM}ann.lee@example.org", "ann.lee@example.org"),
        ("email", f"ann.lee@{RLM}example.org{LRM}", "ann.lee@example.org"),
        ("email", f"ann.lee@exam{SHY}ple.org", "ann.lee@example.org"),
        ("name", f"Jörg{ZWJ} Weiß", "jörg weiss"),
        ("name", f"{RLO}Zoë{ZWNJ} Adams{BOM}", "zoë adams"),
        ("user_id", f"u-{ZWSP}17", "u-17"),
    ],
)
def test_format_characters_are_removed_so_the_spelling_matches(kind, spelling, canonical):
    assert normalise_identifier(kind, spelling) == canonical
    assert same(kind, spelling, canonical)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Zoe\u0308 Adams", "Zoë Adams"),  # NFD and NFC
        ("JÖRG WEISS", "Jörg Weiß"),  # full case folding: ß is ss
        ("O’Brien", "O'Brien"),  # apostrophe look-alike
        ("Anne\u2010Marie Roy", "Anne-Marie Roy"),  # hyphen look-alike
        ("Ann\u00a0 Lee", "ann lee"),  # no-break space and runs of spaces
    ],
)
def test_names_in_any_spelling_share_a_pseudonym(a, b):
    assert same("name", a, b)


@pytest.mark.parametrize(
    ("spelling", "region"),
    [
        ("+1 (555) 010-9999", None),
        ("+1.555.010.9999", None),
        ("001 555 010 9999", None),  # 00 is the international prefix even without a region
        ("(555) 010-9999", "US"),
        ("555-010-9999", "US"),
        ("1-555-010-9999", "US"),
        ("011 1 555 010 9999", "US"),
        ("＋１ ５５５ ０１０ ９９９９", None),  # fullwidth
        ("tel:+1-555-010-9999", None),
    ],
)
def test_written_forms_of_a_phone_number_are_one_identifier(spelling, region):
    assert normalise_identifier("phone", spelling, region=region) == "+15550109999"
    assert same("phone", spelling, "+15550109999", region=region)


def test_digits_of_every_script_fold_to_ascii():
    assert normalise_identifier("phone", "٠٣٠ ١٢٣٤٥٦٧", region="DE") == "+49301234567"  # Arabic-Indic
    assert normalise_identifier("phone", "۰۳۰ ۱۲۳۴۵۶۷", region="DE") == "+49301234567"  # Extended Arabic-Indic
    assert normalise_identifier("phone", "+49 (0)30 1234567") == "+49301234567"  # trunk prefix in brackets
    assert normalise_identifier("user_id", "A-١٢٣") == "A-123"  # user IDs keep their case, digits fold
    assert normalise_identifier("email", "ann٧@example.org") == "ann7@example.org"


def test_already_normal_identifiers_keep_their_pseudonyms():
    """Existing installs: the HMAC input of a clean identifier is unchanged, so stored pseudonyms still match."""
    for kind, value in [
        ("email", "ann.lee@example.org"),
        ("phone", "+15550109999"),
        ("name", "ann lee"),
        ("user_id", "User-17"),
        ("phone", "+36305550199"),
    ]:
        expected = hmac.new(KEY, f"acme\x1f{kind}\x1f{value}".encode(), hashlib.sha256).hexdigest()
        assert Pseudonymizer(KEY).pseudonym("acme", Identifier(kind, value)) == expected


@pytest.mark.parametrize(
    ("value", "region", "fragment"),
    [
        ("030 1234567", None, "needs a default region"),
        ("+12", None, "possible telephone number"),
        ("call me", "DE", "possible telephone number"),
        (f"{ZWSP}{BOM}", None, "non-empty"),
    ],
)
def test_bad_phone_numbers_are_refused_without_echoing_them(value, region, fragment):
    with pytest.raises(InvalidIdentifierError, match=fragment) as info:
        normalise_identifier("phone", value, region=region)
    assert value.strip() not in str(info.value) or not value.strip()


def test_the_default_region_is_checked_where_it_is_set():
    assert check_phone_region("de") == "DE" and check_phone_region(None) is None
    with pytest.raises(ConfigError, match="ISO 3166-1 alpha-2"):
        Pseudonymizer(KEY, phone_region="XX")
    assert Settings(default_phone_region="fr").default_phone_region == "FR"
    with pytest.raises(ValueError, match="ISO 3166-1 alpha-2"):
        Settings(default_phone_region="Atlantis")


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [
        ("name", "Zoë Adams", "Ticket 4. Zoe\u0308 Adams wrote in."),
        ("name", "Jörg Weiß", "HR note. Employee JÖRG WEISS asked for leave."),
        ("name", "Jörg Weiß", f"Manager Jörg{ZWSP}\nWeiss agreed."),
        ("email", "ann.lee@example.org", f"Write to ANN{ZWSP}.Lee@Example.org{BOM} today."),
        ("phone", "+15550109999", "Call (555) 010 9999 after six."),
        ("phone", "+15550109999", "Call +1-555-010-9999."),
        ("phone", "+15550109999", "Call ００１ ５５５ ０１０ ９９９９."),
        ("phone", "+36305550199", "Hívja: 06 30 555 0199"),  # Hungarian trunk prefix 06
        ("phone", "+49301234567", "Tel. +49 (0)30 123 45 67"),
    ],
)
def test_a_mention_is_found_in_text_in_any_spelling(kind, value, text):
    assert Mention.of(kind, value).found_in(FoldedText.of(text))


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [
        ("name", "Ann Lee", "Joann Leeds called."),  # not inside longer words
        ("email", "ann@example.org", "Write to joann@example.org."),
        ("email", "ann@example.org", "Write to ann@example.org.uk."),
        ("phone", "+15550109999", "Order 155501099990 shipped."),  # not inside a longer number
    ],
)
def test_a_mention_is_not_found_inside_something_longer(kind, value, text):
    assert not Mention.of(kind, value).found_in(FoldedText.of(text))


def test_identifiers_in_text_come_normalised_and_national_numbers_need_a_valid_region_number():
    text = "Ann (ANN@Example.org) called +1 555-010-9999 and 030 1234567 on 2024-01-05 about ticket #10001."
    assert identifiers_in(text) == [("email", "ann@example.org"), ("phone", "+15550109999")]
    found = identifiers_in(text, region="DE")
    assert ("phone", "+49301234567") in found
    assert all(value not in ("+4920240105", "+4910001") for _, value in found)  # dates and ticket numbers


# --- property: every spelling intake treats as the same is found where the text writes another ---------------

_SEPARATORS = ["", " ", "-", ".", " ", "\u200b"]
_LETTERS = st.sampled_from(list("abcdefghijklmnopqrstuvwxyzäöüéèçñßøåœ"))
_WORD = st.lists(_LETTERS, min_size=2, max_size=8).map("".join)


def _spell(text: str, data: st.DataObject) -> str:
    """A spelling intake treats as the same: case, NFC/NFD, format characters, fullwidth digits."""
    if data.draw(st.booleans(), label="upper"):
        text = text.upper() if data.draw(st.booleans(), label="all caps") else text.title()
    text = unicodedata.normalize(data.draw(st.sampled_from(["NFC", "NFD"]), label="form"), text)
    if data.draw(st.booleans(), label="fullwidth digits"):
        text = "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isdigit() else c for c in text)
    chars = list(text)
    for _ in range(data.draw(st.integers(0, 3), label="format characters")):
        at = data.draw(st.integers(0, len(chars)), label="where")
        chars.insert(at, data.draw(st.sampled_from([ZWSP, ZWNJ, ZWJ, BOM, LRM, RLM, SHY]), label="which"))
    return "".join(chars)


def _phone_forms(national: str, code: str, data: st.DataObject) -> str:
    groups = [national[:3], national[3:6], national[6:]]
    sep = data.draw(st.sampled_from(_SEPARATORS[:5]), label="separator")
    body = sep.join(groups)
    return data.draw(
        st.sampled_from(
            [
                f"+{code} {body}",
                f"00{code} {body}",
                f"+{code}{body}",
                f"+{code} ({groups[0]}) {sep.join(groups[1:])}",
                f"({groups[0]}) {sep.join(groups[1:])}",
            ]
        ),
        label="phone form",
    )


@settings(max_examples=150, deadline=None)
@given(first=_WORD, last=_WORD, local=_WORD, data=st.data())
def test_spellings_of_a_name_and_an_email_agree_and_are_found(first, last, local, data):
    name = f"{first} {last}"
    email = f"{local}.{first}@example.org"
    for kind, value in (("name", name), ("email", email)):
        asked, written = _spell(value, data), _spell(value, data)
        assert normalise_identifier(kind, asked) == normalise_identifier(kind, value)
        assert same(kind, asked, value)
        text = f"Ticket 7. Customer {written} reports a broken router."
        assert Mention.of(kind, asked).found_in(FoldedText.of(text)), (asked, written)


@settings(max_examples=150, deadline=None)
@given(national=st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True), data=st.data())
def test_written_forms_of_a_phone_number_agree_and_are_found(national, data):
    asked = _spell(_phone_forms(national, "1", data), data)
    written = _spell(_phone_forms(national, "1", data), data)
    canonical = normalise_identifier("phone", asked, region="US")
    assert canonical == f"+1{national}"
    assert same("phone", asked, canonical, region="US")
    assert Mention.of("phone", asked, region="US").found_in(FoldedText.of(f"Call {written} after six."))


def test_folding_is_a_fixed_point():
    for text in ("Zoe\u0308 JÖRG Weiß ǰ İstanbul ﬁle ２０", "ann\u200b@example.org"):
        assert fold_text(fold_text(text)) == fold_text(text)
    for kind, value in (("name", "ǰane İpek"), ("email", "STRAẞE@example.org"), ("phone", "+1 555 010 9999")):
        canonical = normalise_identifier(kind, value)
        assert normalise_identifier(kind, canonical) == canonical
