"""Service: the FastAPI app over the governance half — auth, tenants, routes, one JSON error shape.

Owns HTTP: API-key authentication, the mapping of error codes to HTTP statuses, request size limits
and the OpenAPI document. Must not touch: storage or business rules — every route calls
:class:`expunge.requests.Governance` and nothing below it.
"""

__all__: list[str] = []
