"""What a case file shows, derived from the case's signed log entries alone.

Builder and verifier run the same function, so a case file can show nothing its entries do not
sign. The entry kinds read here (bodies as :mod:`expunge.requests` writes them):

- ``transition``: ``{"from", "to", "actor", "reason", "at"}``; the first (``to = "received"``) also
  carries ``"case": {"scope", "regulation", "due_at", "pseudonym_count"}``, the one into
  ``verified`` carries ``"verified_by"``, and one that closes the case ``"closed": true``.
- ``plan``: ``{"actions": [...], "exceptions": [...], "records": n}``, one per case, signed in the
  transaction that planned it.
- ``amendment``: ``{"changes": [{"event_id", "operation", "hold_ids", "exception"}], "exceptions": [...]}``:
  what a delivery did other than planned (a legal hold placed after approval turned an erasure into a
  restriction), signed when the case is settled; the planned action of each ``event_id`` takes the new
  operation, holds and exception, and the exceptions are added to the case's.
- ``receipt``: a :class:`~expunge.evidence.Receipt` as a dict.

A case filed before these facts were signed (database revision 0003) has no ``case`` facts and no
``plan`` entry: its case file shows ``None`` for what was never signed and an empty plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from expunge.errors import TamperedEvidenceError

__all__ = ["CaseView", "case_view", "sla_status"]

# The columns of the plan a case file shows (the signed plan entry also carries each action's URI).
PLAN_FIELDS = ("asset_id", "asset_kind", "operation", "subscriber", "event_id", "hold_ids", "exception")
_FACTS = ("scope", "regulation", "due_at", "pseudonym_count")


@dataclass(frozen=True)
class CaseView:
    """A case as its signed entries tell it.

    Attributes:
        case: ``id, tenant, scope, regulation, state, filed_by, filed_at, due_at, closed_at,
            verified_by, pseudonym_count, exceptions``.
        history: Every transition ``{from, to, actor, reason, at}``, in order.
        plan: The planned actions, :data:`PLAN_FIELDS` of each.
        actions: The planned actions as signed (with their URIs): what the actions table must hold.
        receipts: Every receipt, in order.
        exceptions: Why some assets were not erased (legal holds…).
        times_to_forget_seconds: Seconds from filing to each asset's last receipt.
        legacy: The case predates signed facts and plans (see the module docstring).
    """

    case: dict[str, Any]
    history: list[dict[str, Any]]
    plan: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    receipts: list[dict[str, Any]]
    exceptions: list[str]
    times_to_forget_seconds: dict[str, float]
    legacy: bool

    def shown(self) -> dict[str, Any]:
        """Return the members of a case file this view decides."""
        return {
            "case": self.case,
            "history": self.history,
            "plan": self.plan,
            "receipts": self.receipts,
            "exceptions": self.exceptions,
            "times_to_forget_seconds": self.times_to_forget_seconds,
        }


def case_view(documents: Sequence[Mapping[str, Any]]) -> CaseView:
    """Derive what a case file shows from the parsed entries of one case, in log order.

    Args:
        documents: The entries' signed documents (``LogEntry.document``), all of one case.

    Raises:
        TamperedEvidenceError: The entries do not tell a case: none, no ``received`` transition
            first, several plans, or a body of the wrong shape.
    """
    if not documents:
        raise TamperedEvidenceError("A case file needs the case's signed entries; there are none.")
    try:
        return _derive(documents)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise TamperedEvidenceError(f"The case's signed entries do not have the shape of a case: {err!r}.") from err


def _derive(documents: Sequence[Mapping[str, Any]]) -> CaseView:
    transitions = [d["body"] for d in documents if d["kind"] == "transition"]
    plans = [d["body"] for d in documents if d["kind"] == "plan"]
    receipts = [dict(d["body"]) for d in documents if d["kind"] == "receipt"]
    if not transitions or transitions[0]["to"] != "received" or transitions[0]["from"] is not None:
        raise TamperedEvidenceError("The case's first signed transition is not its filing (to 'received').")
    if len(plans) > 1:
        raise TamperedEvidenceError(f"The case has {len(plans)} signed plans; a case is planned once.")
    filing = transitions[0]
    facts = filing.get("case")
    legacy = facts is None
    facts = dict.fromkeys(_FACTS) if facts is None else facts
    verified_by = next((b["verified_by"] for b in transitions if "verified_by" in b), None)
    closed = [b["at"] for b in transitions if b.get("closed")]
    plan = plans[0] if plans else {"actions": [], "exceptions": []}
    actions = [dict(a) for a in plan["actions"]]
    exceptions = [str(e) for e in plan["exceptions"]]
    by_event = {a["event_id"]: a for a in actions}
    for amendment in (d["body"] for d in documents if d["kind"] == "amendment"):
        for change in amendment["changes"]:
            if change["event_id"] not in by_event:
                raise TamperedEvidenceError(f"An amendment names event {change['event_id']!r}, which no plan holds.")
            by_event[change["event_id"]].update(
                operation=change["operation"], hold_ids=list(change["hold_ids"]), exception=change["exception"]
            )
        exceptions = list(dict.fromkeys([*exceptions, *(str(e) for e in amendment["exceptions"])]))
    filed_at = datetime.fromisoformat(filing["at"])
    case = {
        "id": documents[0]["case_id"],
        "tenant": documents[0]["tenant"],
        "scope": facts["scope"],
        "regulation": facts["regulation"],
        "state": transitions[-1]["to"],
        "filed_by": filing["actor"],
        "filed_at": filing["at"],
        "due_at": facts["due_at"],
        "closed_at": closed[-1] if closed else None,
        "verified_by": verified_by,
        "pseudonym_count": facts["pseudonym_count"],
        "exceptions": exceptions,
    }
    return CaseView(
        case=case,
        history=[{k: b[k] for k in ("from", "to", "actor", "reason", "at")} for b in transitions],
        plan=[{k: a[k] for k in PLAN_FIELDS} for a in actions],
        actions=actions,
        receipts=receipts,
        exceptions=exceptions,
        times_to_forget_seconds={
            r["asset_id"]: round((datetime.fromisoformat(r["finished_at"]) - filed_at).total_seconds(), 3)
            for r in receipts
        },
        legacy=legacy,
    )


def sla_status(*, due_at: datetime, as_of: datetime, closed_at: datetime | None, due_soon_days: int) -> str:
    """Return ``met`` / ``missed`` for a closed request, else ``on_track``, ``due_soon`` or ``overdue`` at ``as_of``."""
    if closed_at is not None:
        return "met" if closed_at <= due_at else "missed"
    if as_of > due_at:
        return "overdue"
    if as_of >= due_at - timedelta(days=due_soon_days):
        return "due_soon"
    return "on_track"


def case_sla(view: CaseView, *, as_of: str, due_soon_days: int) -> dict[str, Any]:
    """Return the ``sla`` member of a case file: the signed deadline and its status at ``as_of``.

    ``status`` is ``None`` for a case whose deadline was never signed (a legacy case).
    """
    due_at, closed_at = view.case["due_at"], view.case["closed_at"]
    status = None
    if due_at is not None:
        status = sla_status(
            due_at=datetime.fromisoformat(due_at),
            as_of=datetime.fromisoformat(as_of),
            closed_at=datetime.fromisoformat(closed_at) if closed_at else None,
            due_soon_days=due_soon_days,
        )
    return {
        "due_at": due_at,
        "status": status,
        "regulation": view.case["regulation"],
        "as_of": as_of,
        "due_soon_days": due_soon_days,
    }
