"""Resolve a request to assets and plan one action per asset, holds turning erasure into restriction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from expunge.bus import route
from expunge.catalog import Asset, Catalog, closure, hold_exception, new_id

__all__ = ["Action", "Plan", "build_plan"]

# Opting out of training quarantines the artifacts training reads or produces; retrieval keeps working.
TRAINING_KINDS = frozenset({"training_set", "model", "adapter", "shard"})


@dataclass(frozen=True)
class Action:
    """One planned action on one asset, with the event that will carry it."""

    asset_id: str
    asset_kind: str
    uri: str
    operation: str
    subscriber: str
    event_id: str
    hold_ids: tuple[str, ...] = ()
    exception: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """What a request resolved to and what will be done."""

    record_ids: tuple[str, ...]
    subject_ids: tuple[str, ...]
    pseudonyms: tuple[str, ...]
    content_sha256: tuple[str, ...]
    actions: tuple[Action, ...]
    unmatched: tuple[str, ...] = ()

    @property
    def exceptions(self) -> list[str]:
        """The stated exceptions, one sentence each: identifiers that matched nothing, then legal holds."""
        return [*self.unmatched, *(a.exception for a in self.actions if a.exception)]


def build_plan(
    conn: Connection,
    catalog: Catalog,
    *,
    case_id: str,
    tenant: str,
    scope: str,
    pseudonyms: Sequence[str],
    content_sha256: Sequence[str],
    entity_tags: Sequence[str],
    params: Mapping[str, Any],
    sweepers: Sequence[str],
    identifier_kinds: Mapping[str, str] | None = None,
) -> Plan:
    """Resolve the request's selectors to records, walk their lineage, and plan one action per asset.

    Erased assets are left out (nothing remains to act on). A held asset is restricted, never
    erased, and its action states the exception. Every identifier that names no subject with a
    record is stated as an exception too ("no asset linked to the name given"): a request that finds
    nothing must not look done. ``identifier_kinds`` maps each pseudonym to its identifier's kind.
    """
    subject_ids = catalog.subjects.by_pseudonyms(conn, tenant, pseudonyms) if pseudonyms else []
    record_ids = set(catalog.records.by_subjects(conn, tenant, subject_ids)) if subject_ids else set()
    if content_sha256:
        record_ids |= set(catalog.records.by_content(conn, tenant, content_sha256))
    if entity_tags:
        record_ids |= set(catalog.records.by_tags(conn, tenant, entity_tags))
    if params.get("record_ids"):  # named directly (e.g. by the retention policy), if they are this tenant's
        named = list(params["record_ids"])
        record_ids |= {i for i, kind in catalog.asset_kinds(conn, tenant, named).items() if kind == "record"}
    corrections: Mapping[str, str] = params.get("corrections", {}) if scope == "correction" else {}
    if scope == "correction":  # exactly the records named for correction, whatever else the selectors match
        record_ids = {i for i, kind in catalog.asset_kinds(conn, tenant, corrections).items() if kind == "record"}
    named_assets: set[str] = set()
    if params.get("asset_ids"):  # records or artifacts named directly (an erasure re-opened after a hold was lifted)
        kinds = catalog.asset_kinds(conn, tenant, list(params["asset_ids"]))
        record_ids |= {i for i, kind in kinds.items() if kind == "record"}
        named_assets = {i for i, kind in kinds.items() if kind != "record"}
    assets = [
        a for a in closure(conn, tenant, sorted(record_ids), artifact_ids=sorted(named_assets)) if a.status != "erased"
    ]
    holds = catalog.holds.direct(conn, tenant, [a.id for a in assets])
    for asset in assets:  # nearest first: what is derived from a held asset is a copy of it, so held too
        inherited = {h.id: h for p in asset.parents for h in holds.get(p, [])}
        if inherited:
            holds[asset.id] = list(({h.id: h for h in holds.get(asset.id, [])} | inherited).values())
    all_pseudonyms = sorted(set(pseudonyms) | set(catalog.subjects.pseudonyms_of(conn, tenant, subject_ids)))
    if scope == "correction":  # a correction sweeps what came from the old content, not all of the subject's logs
        all_pseudonyms = []
    digests = sorted(set(content_sha256) | set(catalog.records.content_hashes(conn, tenant, sorted(record_ids))))
    actions = []
    for asset in assets:
        action = _action_for(asset, scope, holds.get(asset.id, []), corrections, params)
        if action is not None:
            actions.append(action)
    if scope in ("erasure", "correction") and (all_pseudonyms or digests):
        for name in sweepers:
            actions.append(
                Action(
                    asset_id=case_id,
                    asset_kind="sweep",
                    uri=f"{name}://sweep/{case_id}",
                    operation="erase",
                    subscriber=name,
                    event_id=new_id("evt"),
                )
            )
    return Plan(
        unmatched=_unmatched(catalog.subjects.linked(conn, tenant, pseudonyms), pseudonyms, identifier_kinds or {}),
        record_ids=tuple(sorted(record_ids)),
        subject_ids=tuple(subject_ids),
        pseudonyms=tuple(all_pseudonyms),
        content_sha256=tuple(digests),
        actions=tuple(actions),
    )


def _unmatched(linked: set[str], pseudonyms: Sequence[str], kinds: Mapping[str, str]) -> tuple[str, ...]:
    """One sentence per kind of identifier of which some matched no subject with a record (never the value)."""
    given: dict[str, int] = {}
    missed: dict[str, int] = {}
    for p in pseudonyms:
        kind = kinds.get(p, "identifier")
        given[kind] = given.get(kind, 0) + 1
        if p not in linked:
            missed[kind] = missed.get(kind, 0) + 1
    return tuple(
        f"No asset is linked to the {kind} given; nothing was found under it to act on."
        if given[kind] == 1
        else f"No asset is linked to {n} of the {given[kind]} {kind} identifiers given; nothing was found under "
        "them to act on."
        for kind, n in sorted(missed.items())
    )


def _action_for(asset: Asset, scope: str, holds, corrections: Mapping[str, str], params) -> Action | None:
    hold_ids = tuple(sorted(h.id for h in holds))
    exception = None
    extra: dict[str, Any] = {}
    if scope == "restriction":
        operation = "restrict"
    elif scope == "opt_out":
        if asset.kind == "record":
            operation = "opt_out"
            extra["consent_off"] = list(params.get("consent_off", ("training", "sale", "sharing")))
        elif asset.kind in TRAINING_KINDS:
            operation = "restrict"
        else:
            return None
    elif scope == "correction" and asset.kind == "record":
        if asset.id not in corrections:
            return None
        operation = "correct"
        extra["content_sha256"] = corrections[asset.id]
    else:  # erasure, or an artifact derived from a corrected record (rebuilt from the new version)
        operation = "erase"
    if operation in ("erase", "correct") and hold_ids:
        operation = "restrict"
        exception = hold_exception(asset.kind, asset.id, holds)
        extra = {"hold_ids": list(hold_ids)}
    return Action(
        asset_id=asset.id,
        asset_kind=asset.kind,
        uri=asset.uri,
        operation=operation,
        subscriber=route(asset.kind, asset.uri),
        event_id=new_id("evt"),
        hold_ids=hold_ids,
        exception=exception,
        params=extra,
    )
