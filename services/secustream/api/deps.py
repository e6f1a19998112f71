"""Per-app context and request dependencies (connection, current user, role checks).

Why a context object on ``app.state``: tests and `secustream up` build several apps in one process, so
nothing (engine, signing key, throttle, live hub) may live in module globals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import Connection, Engine

from secustream.api.access import active, check_role, unauthorized
from secustream.api.live_hub import LiveHub
from secustream.api.rule_catalog import RuleCatalog
from secustream.api.schemas import Role
from secustream.api.security import PasswordHasher, TokenClaims, TokenCodec, TokenError, VerifiedTokens
from secustream.api.throttle import LoginThrottle
from secustream.config import Settings
from secustream.state import StateStore
from secustream.storage import users as user_store

if TYPE_CHECKING:  # pages.py builds on this module's auth checks
    from secustream.api.pages import PageReader


@dataclass
class ApiContext:
    settings: Settings
    engine: Engine
    state: StateStore
    registry: CollectorRegistry
    kafka_ready: Callable[[], bool] | None
    tokens: TokenCodec
    verified: VerifiedTokens  # bearer checks: tokens' verified signatures (security.py)
    hasher: PasswordHasher
    throttle: LoginThrottle
    login_lockouts: Counter  # secustream_login_lockouts_total{scope}: budgets spent (api/throttle.py)
    hub: LiveHub
    pages: PageReader  # the events list's hot path (api/pages.py)
    rules: RuleCatalog  # native + Sigma rules, compiled once per change of the files


async def get_ctx(request: Request) -> ApiContext:
    """Async on purpose: a sync dependency costs a threadpool round trip per request."""
    return request.app.state.ctx  # type: ignore[no-any-return]


Ctx = Annotated[ApiContext, Depends(get_ctx)]


def get_conn(ctx: Ctx) -> Iterator[Connection]:
    """One transaction per request, committed when the handler returns without error.

    Scoped to the handler (``scope="function"``): the commit runs before the response is sent, so a
    write is visible to the client's very next request, and a failed commit answers 503 (the database
    error handler) with the whole transaction rolled back, never a 200 for something not stored.
    """
    with ctx.engine.begin() as conn:
        yield conn


Conn = Annotated[Connection, Depends(get_conn, scope="function")]

# tokenUrl is relative to the OpenAPI document's server; the real path is set in create_app's docs.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="auth/token", auto_error=False)


async def bearer_claims(ctx: Ctx, token: Annotated[str | None, Depends(oauth2_scheme)]) -> TokenClaims:
    """The verified claims of the bearer token (signature, algorithm, expiry); 401 otherwise. No database."""
    if not token:
        raise unauthorized("not authenticated: send 'Authorization: Bearer <token>' from POST /auth/token")
    try:
        return ctx.verified.claims(token)
    except TokenError as exc:
        raise unauthorized(str(exc)) from None


Claims = Annotated[TokenClaims, Depends(bearer_claims)]


def current_user(ctx: Ctx, claims: Claims) -> dict[str, Any]:
    """The active user a valid, unrevoked bearer token names; 401 otherwise (disabled users included)."""
    with ctx.engine.connect() as conn:
        return active(user_store.get_user(conn, claims.user_id), claims)


CurrentUser = Annotated[dict[str, Any], Depends(current_user)]


def require(role: Role) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Dependency factory: the current user, if their role ranks at least ``role``; 403 otherwise."""

    async def check(user: CurrentUser) -> dict[str, Any]:  # async: no threadpool hop for a comparison
        return check_role(user, role)

    return check


Viewer = Annotated[dict[str, Any], Depends(require(Role.VIEWER))]
Analyst = Annotated[dict[str, Any], Depends(require(Role.ANALYST))]
Admin = Annotated[dict[str, Any], Depends(require(Role.ADMIN))]

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, invalid or expired token, or a disabled account"},
    403: {"description": "The user's role does not allow this"},
}


def require_timezones(**values: datetime | None) -> None:
    """Time filters must be absolute: a naive time would be read in the server's zone, not the caller's."""
    for name, value in values.items():
        if value is not None and value.tzinfo is None:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=f"{name} needs a timezone, e.g. ...Z")
