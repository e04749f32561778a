"""Deadlines per regulation, SLA status, and signed one-time verification tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from expunge.config import DEFAULT_DUE_SOON_DAYS, DEFAULT_SLA_DAYS
from expunge.errors import ConfigError, InvalidTokenError, TokenExpiredError, UnknownRegulationError
from expunge.evidence import sla_status

__all__ = ["DEFAULT_SLA_DAYS", "DeadlinePolicy", "TokenIssuer"]


@dataclass(frozen=True)
class DeadlinePolicy:
    """How long each regulation allows to answer a request, and when to call one due soon.

    Attributes:
        days: Days to answer, by lowercase regulation name (GDPR Art. 12(3): one month; CCPA
            §1798.130: 45 days; LGPD Art. 19: 15 days).
        due_soon_days: An open request this close to its deadline is reported as due soon.
    """

    days: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SLA_DAYS))
    due_soon_days: int = DEFAULT_DUE_SOON_DAYS

    def __post_init__(self) -> None:
        for name, n in self.days.items():
            if not isinstance(n, int) or not 1 <= n <= 3650:
                raise ConfigError(f"The SLA of {name!r} must be 1-3650 days. Got {n!r} instead.")

    def due_at(self, regulation: str, filed_at: datetime) -> datetime:
        """Return the deadline of a request filed at ``filed_at`` under ``regulation``.

        Raises:
            UnknownRegulationError: No policy for ``regulation``.
        """
        if regulation not in self.days:
            raise UnknownRegulationError(
                f"Unknown regulation {regulation!r}. Configured: {', '.join(sorted(self.days))} "
                "(set EXPUNGE_SLA_DAYS to add one)."
            )
        return filed_at + timedelta(days=self.days[regulation])

    def status(self, *, due_at: datetime, now: datetime, closed_at: datetime | None) -> str:
        """Return ``met`` / ``missed`` for a closed request, else ``on_track``, ``due_soon`` or ``overdue``.

        The rule is the one a case file's verifier applies (:func:`expunge.evidence.sla_status`).
        """
        return sla_status(due_at=due_at, as_of=now, closed_at=closed_at, due_soon_days=self.due_soon_days)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    """Issue and check HMAC-signed verification tokens that name one case and expire.

    A token is ``<payload>.<mac>``; one-time use is enforced by the caller, who stores the token's
    sha256 on the case and clears it when it is used.

    Args:
        key: A secret of at least 32 bytes, distinct from the pseudonym key.
        ttl: How long a token stays valid.
    """

    def __init__(self, key: bytes, *, ttl: timedelta = timedelta(days=1)) -> None:
        if len(key) < 32:
            raise ConfigError(f"The token key must be at least 32 bytes. Got {len(key)}.")
        self._key = key
        self.ttl = ttl

    def issue(self, case_id: str, *, now: datetime) -> tuple[str, datetime]:
        """Return a new token for ``case_id`` and its expiry time."""
        expires = now + self.ttl
        payload = _b64(
            json.dumps(
                {"case": case_id, "exp": int(expires.timestamp()), "nonce": secrets.token_hex(16)},
                separators=(",", ":"),
            ).encode()
        )
        return f"{payload}.{self._mac(payload)}", expires

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def read(self, token: str, *, now: datetime) -> str:
        """Check a token's MAC and expiry and return the case ID it names.

        Raises:
            InvalidTokenError: Malformed or forged.
            TokenExpiredError: Past its expiry.
        """
        if not isinstance(token, str) or len(token) > 512 or token.count(".") != 1:
            raise InvalidTokenError("The verification token is malformed: expected <payload>.<signature>.")
        payload, mac = token.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac(payload).encode()):  # bytes: any text compares
            raise InvalidTokenError("The verification token's signature does not verify; it was not issued here.")
        try:
            data = json.loads(_unb64(payload))
            case_id, exp = str(data["case"]), int(data["exp"])
        except (ValueError, KeyError, TypeError) as err:
            raise InvalidTokenError("The verification token's payload is unreadable.") from err
        if now.timestamp() > exp:
            raise TokenExpiredError(
                f"The verification token of request {case_id} expired at "
                f"{datetime.fromtimestamp(exp, tz=now.tzinfo).isoformat()}; ask for a new one."
            )
        return case_id

    @staticmethod
    def fingerprint(token: str) -> str:
        """Return the sha256 stored on the case in place of the token itself."""
        return hashlib.sha256(token.encode()).hexdigest()
