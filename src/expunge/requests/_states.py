"""The request lifecycle as an explicit transition table — the only place states are linked."""

from __future__ import annotations

from types import MappingProxyType
from typing import Literal, get_args

from expunge.errors import InvalidTransition

__all__ = ["OPEN_STATES", "SCOPES", "STATES", "TERMINAL_STATES", "TRANSITIONS", "Scope", "State", "check_transition"]

State = Literal[
    "received",
    "verified",
    "planned",
    "executing",
    "verifying",
    "completed",
    "completed_with_exceptions",
    "rejected",
    "failed",
]
STATES: tuple[str, ...] = get_args(State)
Scope = Literal["erasure", "restriction", "opt_out", "correction"]
SCOPES: tuple[str, ...] = get_args(Scope)

TRANSITIONS: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        "received": frozenset({"verified", "rejected"}),
        "verified": frozenset({"planned", "rejected"}),
        "planned": frozenset({"executing", "failed"}),
        "executing": frozenset({"verifying", "failed"}),
        "verifying": frozenset({"completed", "completed_with_exceptions", "failed"}),
        # A failed case goes back to executing when its dead letters are replayed.
        "failed": frozenset({"executing"}),
        "completed": frozenset(),
        "completed_with_exceptions": frozenset(),
        "rejected": frozenset(),
    }
)
TERMINAL_STATES = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
OPEN_STATES = frozenset(STATES) - TERMINAL_STATES


def check_transition(case_id: str, current: str, target: str) -> None:
    """Raise unless the transition table links ``current`` to ``target``.

    Raises:
        InvalidTransition: The move is not in :data:`TRANSITIONS`; the message lists the allowed moves.
    """
    if target not in TRANSITIONS:
        raise InvalidTransition(f"Unknown request state {target!r}. States: {', '.join(STATES)}.")
    allowed = TRANSITIONS.get(current, frozenset())
    if target not in allowed:
        choices = ", ".join(sorted(allowed)) or "none: the request is closed"
        raise InvalidTransition(
            f"Request {case_id} cannot move from {current!r} to {target!r}. Allowed from {current!r}: {choices}."
        )
