"""Requests: data-subject requests — intake, verification, scope, plan, SLA clock, case file, API keys.

Owns the ``requests_*`` tables and the lifecycle of a request as an explicit transition table
(:data:`TRANSITIONS`). :class:`Governance` is the one façade the CLI and the service call: it resolves
a request through the catalog, plans one action per asset (legal holds turn erasure into restriction),
publishes the events through the bus outbox in the same transaction, settles the case when every
receipt is in, and builds the sealed case file. Its parts group the rest of what callers do
(``gov.holds``, ``gov.bus``, ``gov.keys``, ``gov.records``, ``gov.evidence``); every case move goes
through one :class:`CaseJournal`.

Must not touch: HTTP or the command line (it sits below ``service`` and ``cli``), and never a raw
subject identifier beyond the call that pseudonymises it.
"""

from expunge.requests._access import PERMISSIONS, ROLES, ApiKeys, Principal
from expunge.requests._case import MAX_SELECTORS, Case, FiledRequest
from expunge.requests._casefile import build_case_file
from expunge.requests._governance import Governance
from expunge.requests._holds import LegalHolds
from expunge.requests._journal import CaseJournal
from expunge.requests._open import open_governance, open_governance_from_settings
from expunge.requests._plan import Action, Plan, build_plan
from expunge.requests._policy import DEFAULT_SLA_DAYS, DeadlinePolicy, TokenIssuer
from expunge.requests._settle import Settlement
from expunge.requests._states import (
    OPEN_STATES,
    SCOPES,
    STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    check_transition,
)

__all__ = [
    "DEFAULT_SLA_DAYS",
    "MAX_SELECTORS",
    "OPEN_STATES",
    "PERMISSIONS",
    "ROLES",
    "SCOPES",
    "STATES",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "Action",
    "ApiKeys",
    "Case",
    "CaseJournal",
    "DeadlinePolicy",
    "FiledRequest",
    "Governance",
    "LegalHolds",
    "Plan",
    "Principal",
    "Settlement",
    "TokenIssuer",
    "build_case_file",
    "build_plan",
    "check_transition",
    "open_governance",
    "open_governance_from_settings",
]
