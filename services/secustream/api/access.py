"""Who may do what: an account's status and role checks, shared by the dependencies and the events list.

Kept apart from ``deps`` so the events list's reader (``pages``) and the FastAPI dependencies both build
on it without importing each other.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, status

from secustream.api.schemas import ROLE_RANK, Role
from secustream.api.security import TokenClaims


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def active(user: dict[str, Any] | None, claims: TokenClaims) -> dict[str, Any]:
    """The user row if it exists, is enabled and still honours the token's version; 401 otherwise.

    A password reset, role change, disable, logout or admin revocation bumps the account's version, so every
    token issued before it is refused here, on the next request.
    """
    if user is None:
        raise unauthorized("unknown user")
    if not user["is_active"]:
        raise unauthorized("account disabled")
    if user["token_version"] != claims.version:
        raise unauthorized("token revoked: sign in again")
    return user


def check_role(user: dict[str, Any], role: Role) -> dict[str, Any]:
    """The user, if their role ranks at least ``role``; 403 otherwise."""
    if ROLE_RANK.get(user["role"], -1) < ROLE_RANK[role]:  # StrEnum keys match plain strings
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"requires the {role.value} role")
    return user
