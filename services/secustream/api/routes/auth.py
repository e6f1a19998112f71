"""OAuth2 password flow: POST a form, get a bearer JWT; logout revokes. Guessing is throttled (api/throttle.py)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordRequestForm

from secustream.api.deps import AUTH_RESPONSES, ApiContext, Conn, Ctx, CurrentUser
from secustream.api.proxies import request_client
from secustream.api.schemas import Message, Token, UserOut
from secustream.api.throttle import Lockout
from secustream.storage import audit
from secustream.storage import users as user_store

router = APIRouter(prefix="/auth", tags=["auth"])
log = logging.getLogger(__name__)


def _report(ctx: ApiContext, username: str, client: str, spent: list[Lockout]) -> None:
    """Lockouts and slowdowns go to the audit log; a database hiccup never turns a 401 into a 500."""
    for lock in spent:
        ctx.login_lockouts.labels(lock.scope).inc()
        log.warning("login budget spent: %s from %s after %d failures", lock.scope, client, lock.failures)
        try:
            audit.record_now(ctx.engine, "login_locked" if lock.scope != "account" else "login_slowed",
                             target=f"username:{username}", scope=lock.scope, client=client,
                             failures=lock.failures, seconds=lock.seconds)
        except Exception as exc:  # the throttle already holds; the record is best effort
            log.error("audit log unavailable for a lockout: %s", type(exc).__name__)


@router.post("/token", response_model=Token, responses={
    401: {"model": Message, "description": "Wrong username or password, or a disabled account"},
    429: {"model": Message, "description": "Too many failed logins from this client (for this user, or for many "
                                           "users); see Retry-After. Other clients are not affected"},
})
async def login(request: Request, ctx: Ctx, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """Exchange username and password for an access token (form fields ``username`` and ``password``)."""
    client = request_client(request.scope)
    username = form.username.strip()
    gate = await run_in_threadpool(ctx.throttle.check, username, client)
    if gate.retry_after:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            detail=f"too many failed logins from this client; retry in {gate.retry_after}s",
                            headers={"Retry-After": str(gate.retry_after)})
    if gate.slowdown:
        await asyncio.sleep(gate.slowdown)

    def check() -> dict[str, object] | None:
        with ctx.engine.connect() as conn:
            user = user_store.get_user_by_name(conn, username)
        ok = ctx.hasher.verify(form.password, user["hashed_password"] if user else None)
        return user if ok and user is not None else None

    user = await run_in_threadpool(check)
    if user is None or not user["is_active"]:
        spent = await run_in_threadpool(ctx.throttle.failed, username, client)
        log.info("failed login from %s", client)
        if spent:
            await run_in_threadpool(_report, ctx, username, client, spent)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="incorrect username or password",
                            headers={"WWW-Authenticate": "Bearer"})
    await run_in_threadpool(ctx.throttle.succeeded, username, client)
    token, lifetime = ctx.tokens.issue(int(user["id"]), int(user["token_version"]), str(user["role"]))  # type: ignore[call-overload]
    return Token(access_token=token, expires_in=lifetime)


@router.post("/logout", status_code=204, response_class=Response, responses=AUTH_RESPONSES)
def logout(conn: Conn, user: CurrentUser) -> Response:
    """Sign out: every token of the caller's account stops working (all sessions: tokens are stateless, so
    the account's token version is what can be revoked)."""
    user_store.revoke_tokens(conn, int(user["id"]))
    audit.record(conn, "logout", actor=str(user["username"]), target=f"user:{user['id']}")
    return Response(status_code=204)


@router.get("/me", response_model=UserOut, responses=AUTH_RESPONSES)
def me(user: CurrentUser) -> UserOut:
    """The signed-in user (the dashboard uses it to show the role and hide actions the role lacks)."""
    return UserOut.model_validate(user)
