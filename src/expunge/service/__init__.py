"""Service: the FastAPI app over the governance half — auth, tenants, routes, one JSON error shape.

Owns HTTP: API-key authentication (every route), tenant isolation (a key sees only its tenant),
request size limits, the mapping of error codes to HTTP statuses, and the OpenAPI document.
One router per resource (``routers/``: keys, records, holds, requests, evidence, bus), each route
declaring its pydantic response model and its error responses.
Must not touch: storage or business rules — every route calls :class:`expunge.requests.Governance`
or the parts it exposes (``keys``, ``records``, ``holds``, ``bus``, ``evidence``), and nothing else.
"""

from expunge.service._app import create_app
from expunge.service._errors import STATUS_BY_ERROR, error_body, status_for
from expunge.service._factory import app_from_settings

__all__ = ["STATUS_BY_ERROR", "app_from_settings", "create_app", "error_body", "status_for"]
