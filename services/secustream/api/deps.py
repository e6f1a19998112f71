"""Per-app context and request dependencies (connection, current user, role checks).

Why a context object on ``app.state``: tests and `secustream up` build several apps in one process, so
nothing (engine, signing key, throttle, live hub) may live in module globals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from prometheus_client import CollectorRegistry
from sqlalchemy import Connection, Engine

from secustream.api.live import LiveHub
from secustream.api.schemas import ROLE_RANK, Role
from secustream.api.security import PasswordHasher, TokenCodec, TokenError
from secustream.api.throttle import LoginThrottle
from secustream.config import Settings
from secustream.state import StateStore
from secustream.storage import queries


@dataclass
class ApiContext:
    settings: Settings
    engine: Engine
    state: StateStore
    registry: CollectorRegistry
    kafka_ready: Callable[[], bool] | None
    tokens: TokenCodec
    hasher: PasswordHasher
    throttle: LoginThrottle
    hub: LiveHub


def get_ctx(request: Request) -> ApiContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


Ctx = Annotated[ApiContext, Depends(get_ctx)]


def get_conn(ctx: Ctx) -> Iterator[Connection]:
    """One transaction per request, committed when the handler returns without error."""
    with ctx.engine.begin() as conn:
        yield conn


Conn = Annotated[Connection, Depends(get_conn)]

# tokenUrl is relative to the OpenAPI document's server; the real path is set in create_app's docs.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="auth/token", auto_error=False)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def current_user(ctx: Ctx, token: Annotated[str | None, Depends(oauth2_scheme)]) -> dict[str, Any]:
    """The active user named by a valid bearer token; 401 otherwise (disabled users included)."""
    if not token:
        raise _unauthorized("not authenticated: send 'Authorization: Bearer <token>' from POST /auth/token")
    try:
        username = ctx.tokens.subject(token)
    except TokenError as exc:
        raise _unauthorized(str(exc)) from None
    with ctx.engine.connect() as conn:
        user = queries.get_user_by_name(conn, username)
    if user is None:
        raise _unauthorized("unknown user")
    if not user["is_active"]:
        raise _unauthorized("account disabled")
    return user


CurrentUser = Annotated[dict[str, Any], Depends(current_user)]


def require(role: Role) -> Callable[..., dict[str, Any]]:
    """Dependency factory: the current user, if their role ranks at least ``role``; 403 otherwise."""

    def check(user: CurrentUser) -> dict[str, Any]:
        if ROLE_RANK.get(user["role"], -1) < ROLE_RANK[role]:  # StrEnum keys match plain strings
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"requires the {role.value} role")
        return user

    return check


Viewer = Annotated[dict[str, Any], Depends(require(Role.VIEWER))]
Analyst = Annotated[dict[str, Any], Depends(require(Role.ANALYST))]
Admin = Annotated[dict[str, Any], Depends(require(Role.ADMIN))]

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, invalid or expired token, or a disabled account"},
    403: {"description": "The user's role does not allow this"},
}
