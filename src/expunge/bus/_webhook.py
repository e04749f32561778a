"""A signed outgoing webhook: ask an external processor to delete, and wait for its attestation.

For data a vendor holds (CCPA §1798.105(c): service providers must be told). Artifacts held there
have URIs ``webhook://<processor>/<their-id>``. Each event is POSTed as canonical JSON signed with the
install's Ed25519 key (header ``X-Expunge-Signature: <key_id>:<hex>``), so the vendor verifies it
with the public key alone. The vendor answers:

- ``200`` with ``{"event_id": …, "status": "deleted" | "not_found", …}``: its attestation; the
  receipt records its sha256 and the delivery is done;
- ``202``: accepted, not done yet; the bus retries with backoff (re-POSTing the same event ID,
  which the vendor must treat idempotently) until it attests or the event is dead-lettered;
- anything else: a failure, retried the same way.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from expunge.bus.protocol import Event, receipt_for, register_subscriber
from expunge.db import utcnow
from expunge.errors import BusError, SubscriberFailedError
from expunge.evidence import Receipt, Signer, canonical, sha256_hex

if TYPE_CHECKING:
    from expunge.bus._build import SubscriberParts

__all__ = ["SIGNATURE_HEADER", "WebhookSubscriber"]

SIGNATURE_HEADER = "X-Expunge-Signature"


@register_subscriber("webhook")
class WebhookSubscriber:
    """POST signed deletion requests to external processors and record their attestations.

    Args:
        endpoints: Processor name (the URI host) → the HTTPS URL that receives its events.
        signer: Signs each request body.
        timeout: Seconds to wait for a processor's answer.
    """

    name = "webhook"

    @classmethod
    def from_parts(cls, parts: SubscriberParts) -> WebhookSubscriber | None:
        """Build the webhook subscriber, or ``None`` when the install names no endpoint (or has no signer)."""
        if not parts.webhook_endpoints or parts.signer is None:
            return None
        return cls(parts.webhook_endpoints, signer=parts.signer)

    def __init__(self, endpoints: Mapping[str, str], *, signer: Signer, timeout: float = 10.0) -> None:
        for processor, url in endpoints.items():
            if not url.startswith(("https://", "http://")):
                raise BusError(f"The webhook URL of {processor!r} must be http(s)://…. Got {url!r}.")
        self.endpoints = dict(endpoints)
        self.signer = signer
        self.timeout = timeout

    def handle(self, event: Event, *, tx: Connection) -> Receipt:
        """Send the event to its processor; return a receipt once the processor attests."""
        processor = event.uri.split("://", 1)[-1].split("/", 1)[0]
        url = self.endpoints.get(processor)
        if url is None:
            known = ", ".join(sorted(self.endpoints)) or "none"
            raise SubscriberFailedError(f"No webhook endpoint for processor {processor!r}. Known: {known}.")
        started = utcnow()
        body = canonical({"event_id": event.id, "tenant": event.tenant, "case_id": event.case_id, **event.payload()})
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: f"{self.signer.key_id}:{self.signer.sign(body)}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # http(s) only
                status, answer = response.status, response.read(65_536)
        except urllib.error.HTTPError as err:
            raise SubscriberFailedError(
                f"Processor {processor!r} answered HTTP {err.code} for event {event.id}."
            ) from err
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            raise SubscriberFailedError(f"Processor {processor!r} is unreachable: {err}.") from err
        if status == 202:
            raise SubscriberFailedError(f"Processor {processor!r} accepted event {event.id}; awaiting its attestation.")
        if status != 200:
            raise SubscriberFailedError(f"Processor {processor!r} answered HTTP {status} for event {event.id}.")
        try:
            attestation = json.loads(answer)
        except ValueError as err:
            raise SubscriberFailedError(f"Processor {processor!r} sent an attestation that is not JSON.") from err
        if not isinstance(attestation, dict) or attestation.get("event_id") != event.id:
            raise SubscriberFailedError(f"Processor {processor!r} attested another event than {event.id}.")
        if attestation.get("status") not in ("deleted", "not_found", "restricted"):
            raise SubscriberFailedError(
                f"Processor {processor!r} attested status {attestation.get('status')!r}; "
                "expected deleted, not_found or restricted."
            )
        return receipt_for(
            event,
            subscriber=self.name,
            outcome="attested",
            started_at=started,
            before_sha256=sha256_hex(body),
            after_sha256=sha256_hex(answer),
            artifact_ids=(event.uri,),
            detail=f"{processor} attested {attestation['status']}",
        )
