"""One router per resource; :func:`~expunge.service.create_app` includes them in this order."""

from expunge.service.routers import bus, evidence, holds, keys, records, requests

ROUTERS = [keys.router, records.router, holds.router, requests.router, evidence.router, bus.router]

__all__ = ["ROUTERS"]
