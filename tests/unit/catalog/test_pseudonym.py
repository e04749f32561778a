"""Pseudonyms: normalisation, tenant scoping, and no raw identifier anywhere."""

from __future__ import annotations

import pytest

from expunge.catalog import MAX_IDENTIFIER_CHARS, Identifier, Pseudonymizer, load_or_create_secret, normalise_identifier
from expunge.errors import ConfigError, InvalidIdentifierError


@pytest.mark.parametrize(
    ("kind", "a", "b"),
    [
        ("email", "Ann@Example.ORG", "  ann@example.org "),
        ("phone", "+1 (555) 010-9999", "+15550109999"),
        ("name", "Ann   LEE", "ann lee"),
        ("email", "ａnn@example.org", "ann@example.org"),  # full-width letter folds under NFKC
    ],
)
def test_spellings_of_one_identity_share_a_pseudonym(kind, a, b):
    p = Pseudonymizer(b"s" * 32)
    assert p.pseudonym("acme", Identifier(kind, a)) == p.pseudonym("acme", Identifier(kind, b))


def test_pseudonym_depends_on_tenant_kind_and_key():
    ident = Identifier("email", "ann@example.org")
    p = Pseudonymizer(b"s" * 32)
    base = p.pseudonym("acme", ident)
    assert len(base) == 64 and all(c in "0123456789abcdef" for c in base)
    assert base != p.pseudonym("globex", ident)
    assert base != p.pseudonym("acme", Identifier("user_id", "ann@example.org"))
    assert base != Pseudonymizer(b"t" * 32).pseudonym("acme", ident)


@pytest.mark.parametrize(
    ("kind", "value", "fragment"),
    [
        ("email", "not-an-email", "local@domain.tld"),
        ("phone", "+12", "possible telephone number"),
        ("phone", "030 1234567", "needs a default region"),
        ("fax", "123", "Unknown identifier kind 'fax'"),
        ("user_id", "   ", "non-empty"),
        ("user_id", "a\x00b", "non-empty printable"),
        ("email", "a" * (MAX_IDENTIFIER_CHARS + 1), f"at most {MAX_IDENTIFIER_CHARS}"),
    ],
)
def test_malformed_identifiers_are_refused_without_echoing_the_value(kind, value, fragment):
    with pytest.raises(InvalidIdentifierError, match=fragment) as info:
        normalise_identifier(kind, value)
    assert info.value.code == "catalog.invalid_identifier"
    if len(value.strip()) > 3:
        assert value not in str(info.value)


def test_identifier_repr_hides_the_value():
    assert "secret@example.org" not in repr(Identifier("email", "secret@example.org"))


def test_short_key_is_refused():
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        Pseudonymizer(b"short")


def test_secret_file_is_created_once_private_and_reused(tmp_path):
    path = tmp_path / "keys" / "pseudonym.key"
    first = load_or_create_secret(path)
    assert len(first) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret(path) == first
    path.write_bytes(b"x")
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        load_or_create_secret(path)
