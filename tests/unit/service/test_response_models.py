"""Each response model declares exactly the fields its object's ``to_dict()`` gives (what the CLI prints)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from expunge.bus import DeadLetter
from expunge.catalog import ArtifactInfo, Asset, Hold, RecordInfo
from expunge.requests import Case, FiledRequest, Principal
from expunge.service._responses import (
    ArtifactOut,
    AssetOut,
    CaseOut,
    DeadLetterOut,
    FiledOut,
    HoldOut,
    PrincipalOut,
    RecordOut,
)

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
CASE = Case(
    id="dsr_1",
    tenant="acme",
    scope="erasure",
    regulation="gdpr",
    state="received",
    filed_by="cli",
    filed_at=NOW,
    due_at=NOW,
    closed_at=None,
    verified_by=None,
    pseudonym_count=1,
    exceptions=(),
)
OBJECTS = [
    (RecordInfo("rec_1", "acme", "s", "active", 1, "a" * 64, "p", "consent", {"x": True}, NOW, ("t",)), RecordOut),
    (ArtifactInfo("art_1", "acme", "chunk", "rag://default/chunk/1", "active"), ArtifactOut),
    (Asset("rec_1", "record", "catalog://records/rec_1", "active", 0), AssetOut),
    (Hold("hld_1", "acme", "rec_1", "matter", "legal", NOW, NOW, "legal"), HoldOut),
    (DeadLetter("dl_1", "ev_1", "acme", "memory", 3, "boom", NOW, None, None), DeadLetterOut),
    (CASE, CaseOut),
    (FiledRequest(CASE, "tok", NOW), FiledOut),
    (Principal("k1", "acme", "admin"), PrincipalOut),
]


@pytest.mark.parametrize(("obj", "model"), OBJECTS, ids=[m.__name__ for _, m in OBJECTS])
def test_a_response_model_has_the_fields_of_its_object(obj, model):
    data = obj.to_dict()
    assert set(data) == set(model.model_fields)
    assert model.model_validate(data).model_dump(mode="json") == data  # and keeps every value as given
