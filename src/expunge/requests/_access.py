"""API keys bound to a tenant and a role, and what each role may do."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from expunge.catalog import check_tenant
from expunge.db import utcnow
from expunge.errors import AuthError, ForbiddenError, RequestError, UnknownRequestError
from expunge.requests import _tables as t

__all__ = ["PERMISSIONS", "ROLES", "ApiKeys", "Principal"]

ROLES: tuple[str, ...] = ("admin", "operator", "auditor")
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {"read", "catalog:write", "dsr:file", "dsr:decide", "hold:write", "deadletters:replay", "keys:write"}
    ),
    "operator": frozenset({"read", "catalog:write", "dsr:file", "dsr:decide", "deadletters:replay"}),
    "auditor": frozenset({"read"}),
}
_KEY = re.compile(r"^exp_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant and role an API key is bound to."""

    key_id: str
    tenant: str
    role: str

    def to_dict(self) -> dict[str, str]:
        """Return the JSON-ready fields the CLI prints and the API answers."""
        return {"key_id": self.key_id, "tenant": self.tenant, "role": self.role}

    @property
    def actor(self) -> str:
        """How the caller is named in transitions and evidence."""
        return f"key:{self.key_id}"

    def require(self, permission: str) -> None:
        """Raise unless the role grants ``permission``.

        Raises:
            ForbiddenError: The role does not allow it; the message names the roles that do.
        """
        if permission not in PERMISSIONS.get(self.role, frozenset()):
            allowed = sorted(r for r, perms in PERMISSIONS.items() if permission in perms)
            raise ForbiddenError(f"Role {self.role!r} may not {permission!r}. Roles that may: {', '.join(allowed)}.")


class ApiKeys:
    """Create, check and revoke API keys; only a sha256 of each secret is stored."""

    def create(self, conn: Connection, tenant: str, role: str, *, label: str = "") -> tuple[Principal, str]:
        """Create a key and return its principal and the full key string (shown once, never stored).

        Raises:
            RequestError: Unknown role or malformed tenant.
        """
        check_tenant(tenant)
        if role not in ROLES:
            raise RequestError(f"Unknown role {role!r}. Accepted: {', '.join(ROLES)}.")
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        conn.execute(
            insert(t.api_keys).values(
                id=key_id,
                tenant=tenant,
                role=role,
                secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
                label=label[:128],
                created_at=utcnow(),
            )
        )
        return Principal(key_id=key_id, tenant=tenant, role=role), f"exp_{key_id}_{secret}"

    def authenticate(self, conn: Connection, presented: str | None) -> Principal:
        """Return the principal of a presented key.

        Raises:
            AuthError: No key, a malformed key, or an unknown, wrong or revoked one (one message for all,
                so a caller learns nothing about which keys exist).
        """
        match = _KEY.match(presented or "")
        if match is None:
            raise AuthError("A valid API key is required: send 'Authorization: Bearer exp_<id>_<secret>'.")
        key_id, secret = match.groups()
        row = conn.execute(select(t.api_keys).where(t.api_keys.c.id == key_id)).first()
        digest = hashlib.sha256(secret.encode()).hexdigest()
        if row is None or row.revoked_at is not None or not hmac.compare_digest(row.secret_sha256, digest):
            raise AuthError("The API key is unknown or revoked.")
        return Principal(key_id=row.id, tenant=row.tenant, role=row.role)

    def revoke(self, conn: Connection, key_id: str, *, tenant: str | None = None) -> bool:
        """Revoke a key (only within ``tenant`` when given); return whether it was active.

        Raises:
            UnknownRequestError: No such key (in that tenant).
        """
        query = select(t.api_keys.c.id).where(t.api_keys.c.id == key_id)
        if tenant is not None:
            query = query.where(t.api_keys.c.tenant == tenant)
        if conn.execute(query).first() is None:
            raise UnknownRequestError(f"No API key {key_id!r}{f' in tenant {tenant!r}' if tenant else ''}.")
        result = conn.execute(
            update(t.api_keys)
            .where(t.api_keys.c.id == key_id, t.api_keys.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return result.rowcount == 1
