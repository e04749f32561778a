"""Catalog: records and immutable versions, artifacts, lineage edges, holds, tombstones, isolation."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import text

from expunge.catalog import Identifier
from expunge.db import utcnow
from expunge.errors import CatalogError, TombstonedContentError, UnknownAssetError

ANN = Identifier("email", "ann@example.org")


def sha(data: str) -> str:
    return hashlib.sha256(data.encode()).hexdigest()


def record(conn, catalog, tenant="acme", content="doc", **kw):
    kw.setdefault("subjects", [ANN])
    return catalog.records.register(
        conn, tenant, source="crm", content_sha256=sha(content), purpose="support", legal_basis="contract", **kw
    )


def test_versions_are_immutable_and_the_tombstone_names_every_one(db, catalog):
    with db.begin() as conn:
        rec = record(conn, catalog, consent={"training": True})
        v2 = catalog.records.add_version(conn, "acme", rec.id, content_sha256=sha("doc v2"))
        v3 = catalog.records.add_version(conn, "acme", rec.id, consent={"training": False})
        assert (rec.version, v2.version, v3.version) == (1, 2, 3)
        versions = catalog.records.versions(conn, "acme", rec.id)
        assert [v["content_sha256"] for v in versions] == [sha("doc"), sha("doc v2"), sha("doc v2")]
        assert versions[0]["consent"] == {"training": True} and v3.consent == {"training": False}
        tomb, fresh = catalog.erase(conn, "acme", rec.id, case_id=None, event_id="evt_1")
        assert fresh
        assert [v["version"] for v in tomb.versions] == [1, 2, 3]
        assert catalog.records.versions(conn, "acme", rec.id) == []
        assert catalog.records.get(conn, "acme", rec.id).status == "erased"
        again, fresh_again = catalog.erase(conn, "acme", rec.id, case_id=None, event_id="evt_2")
        assert not fresh_again and again.id == tomb.id


def test_erased_content_cannot_come_back(db, catalog):
    with db.begin() as conn:
        rec = record(conn, catalog, content="secret")
        catalog.erase(conn, "acme", rec.id, case_id=None, event_id=None)
        with pytest.raises(TombstonedContentError, match="was erased"):
            record(conn, catalog, content="secret")
        record(conn, catalog, tenant="globex", content="secret")  # another tenant's copy is its own


def test_records_resolve_by_subject_content_and_tag_within_their_tenant(db, catalog):
    with db.begin() as conn:
        a = record(conn, catalog, content="a", tags=["crm:1"])
        b = record(conn, catalog, content="b", subjects=[Identifier("phone", "+44 20 7946 0000")])
        other = record(conn, catalog, tenant="globex", content="a", tags=["crm:1"])
        subjects = catalog.subjects.find(conn, "acme", [Identifier("email", "ANN@example.org")])
        assert catalog.records.by_subjects(conn, "acme", subjects) == [a.id]
        assert catalog.records.by_content(conn, "acme", [sha("a"), sha("b")]) == sorted([a.id, b.id])
        assert catalog.records.by_tags(conn, "acme", ["crm:1"]) == [a.id]
        assert catalog.records.by_tags(conn, "globex", ["crm:1"]) == [other.id]
        with pytest.raises(UnknownAssetError):
            catalog.records.get(conn, "globex", a.id)


def test_a_second_identifier_links_to_the_same_subject(db, catalog):
    with db.begin() as conn:
        first = catalog.subjects.ensure(conn, "acme", [ANN])
        both = catalog.subjects.ensure(conn, "acme", [ANN, Identifier("user_id", "u-42")])
        assert both == first
        assert catalog.subjects.find(conn, "acme", [Identifier("user_id", "u-42")]) == [first]


def test_artifacts_link_to_existing_parents_without_cycles(db, catalog):
    with db.begin() as conn:
        rec = record(conn, catalog)
        chunk = catalog.register_artifact(conn, "acme", kind="chunk", uri="memory://c/1", derived_from=[rec.id])
        emb = catalog.register_artifact(conn, "acme", kind="embedding", uri="memory://e/1", derived_from=[chunk.id])
        with pytest.raises(CatalogError, match="cycle"):
            catalog.link(conn, "acme", chunk.id, [emb.id])
        with pytest.raises(UnknownAssetError, match="register it first"):
            catalog.link(conn, "acme", emb.id, ["art_" + "0" * 32])
        with pytest.raises(CatalogError, match="primary data"):
            catalog.link(conn, "acme", rec.id, [chunk.id])
        with pytest.raises(CatalogError, match="artifact kind must be one of"):
            catalog.register_artifact(conn, "acme", kind="photo", uri="memory://p/1")
        with pytest.raises(CatalogError, match="scheme://location"):
            catalog.register_artifact(conn, "acme", kind="chunk", uri="no scheme")
        catalog.link(conn, "acme", emb.id, [chunk.id])  # idempotent


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("content_sha256", "abc", "64 hexadecimal digits"),
        ("legal_basis", "because", "legal basis must be one of"),
        ("purpose", "Has Spaces", "purpose must be"),
        ("consent", {"training": "yes"}, "must be true or false"),
        ("tags", "crm:1", "list of strings"),
    ],
)
def test_malformed_records_are_refused_and_nothing_is_written(db, catalog, field, value, fragment):
    fields = {
        "source": "crm",
        "content_sha256": sha("x"),
        "purpose": "support",
        "legal_basis": "contract",
        field: value,
    }
    with pytest.raises(CatalogError, match=fragment), db.begin() as conn:
        catalog.records.register(conn, "acme", **fields)
    with db.begin() as conn:
        assert conn.execute(text("select count(*) from catalog_records")).scalar() == 0


def test_bad_tenant_names_are_refused(db, catalog):
    with pytest.raises(CatalogError, match="tenant must be"), db.begin() as conn:
        record(conn, catalog, tenant="Acme Corp")


def test_holds_cover_the_asset_or_its_subject_and_block_erasure_until_lifted(db, catalog):
    with db.begin() as conn:
        rec = record(conn, catalog)
        subject = catalog.subjects.find(conn, "acme", [ANN])[0]
        hold = catalog.holds.place(conn, "acme", subject, reason="matter 7", placed_by="legal")
        assert [h.id for h in catalog.holds.direct(conn, "acme", [rec.id])[rec.id]] == [hold.id]
        with pytest.raises(CatalogError, match="legal hold"):
            catalog.erase(conn, "acme", rec.id, case_id=None, event_id=None)
        assert catalog.restrict(conn, "acme", rec.id)
        assert not catalog.restrict(conn, "acme", rec.id)
        lifted = catalog.holds.lift(conn, "acme", hold.id, lifted_by="legal")
        assert not lifted.active and catalog.holds.direct(conn, "acme", [rec.id]) == {}
        assert catalog.erase(conn, "acme", rec.id, case_id=None, event_id=None)[1]
        with pytest.raises(UnknownAssetError):
            catalog.holds.place(conn, "globex", rec.id, reason="x", placed_by="legal")
        with pytest.raises(CatalogError, match="reason"):
            catalog.holds.place(conn, "acme", subject, reason=" ", placed_by="legal")


def test_expired_records_are_listed(db, catalog):
    now = utcnow()
    with db.begin() as conn:
        old = record(conn, catalog, content="old", retention_until=now - timedelta(days=1))
        record(conn, catalog, content="new", retention_until=now + timedelta(days=1))
        record(conn, catalog, content="forever")
        assert catalog.records.expired(conn, "acme", now=now) == [old.id]


def test_no_raw_identifier_reaches_the_database_file(db, catalog, tmp_path):
    with db.begin() as conn:
        record(conn, catalog, subjects=[Identifier("email", "Zelda.Unique@Example.org"), Identifier("name", "Zelda Q")])
    db.checkpoint()
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("expunge.db"))
    for needle in (b"zelda.unique", b"Zelda.Unique", b"zelda q", b"Zelda"):
        assert needle not in data


def test_secure_delete_leaves_no_erased_bytes_in_the_files(db, catalog, tmp_path):
    marker = "crm:MARKER-7f3a9c"
    with db.begin() as conn:
        rec = record(conn, catalog, tags=[marker])
    db.checkpoint()
    files = [p for p in tmp_path.iterdir() if p.name.startswith("expunge.db")]
    assert marker.encode() in b"".join(p.read_bytes() for p in files)  # the probe can see it
    with db.begin() as conn:
        catalog.erase(conn, "acme", rec.id, case_id=None, event_id=None)
    db.checkpoint()
    assert marker.encode() not in b"".join(
        p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("expunge.db")
    )


def test_the_hard_filter_drops_restricted_erased_and_non_consented_assets(db, catalog):
    with db.begin() as conn:
        ok = record(conn, catalog, content="ok", consent={"training": True})
        no_training = record(conn, catalog, content="nt", consent={"training": False})
        restricted = record(conn, catalog, content="r")
        erased = record(conn, catalog, content="e")
        chunk = catalog.register_artifact(conn, "acme", kind="chunk", uri="memory://c", derived_from=[ok.id])
        catalog.restrict(conn, "acme", restricted.id)
        catalog.erase(conn, "acme", erased.id, case_id=None, event_id=None)
        ids = [ok.id, no_training.id, restricted.id, erased.id, chunk.id, "rec_" + "0" * 32]
        assert catalog.allowed(conn, "acme", ids, use="retrieval") == {ok.id, no_training.id, chunk.id}
        assert catalog.allowed(conn, "acme", ids, use="training") == {ok.id, chunk.id}
        assert catalog.allowed(conn, "globex", ids, use="retrieval") == set()
        with pytest.raises(CatalogError, match="use must be one of"):
            catalog.allowed(conn, "acme", ids, use="marketing")
