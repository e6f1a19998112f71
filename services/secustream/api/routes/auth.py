"""OAuth2 password flow: POST a form, get a bearer JWT; repeated failures are throttled per user and per IP."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordRequestForm

from secustream.api.deps import AUTH_RESPONSES, Ctx, CurrentUser
from secustream.api.schemas import Message, Token, UserOut
from secustream.storage import users as user_store

router = APIRouter(prefix="/auth", tags=["auth"])
log = logging.getLogger(__name__)


@router.post("/token", response_model=Token, responses={
    401: {"model": Message, "description": "Wrong username or password, or a disabled account"},
    429: {"model": Message, "description": "Too many failed logins for this user or client; see Retry-After"},
})
async def login(request: Request, ctx: Ctx, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """Exchange username and password for an access token (form fields ``username`` and ``password``)."""
    client_ip = request.client.host if request.client else "unknown"
    username = form.username.strip()
    wait = await run_in_threadpool(ctx.throttle.blocked_for, username, client_ip)
    if wait:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, detail=f"too many failed logins; retry in {wait}s",
                            headers={"Retry-After": str(wait)})

    def check() -> dict[str, object] | None:
        with ctx.engine.connect() as conn:
            user = user_store.get_user_by_name(conn, username)
        ok = ctx.hasher.verify(form.password, user["hashed_password"] if user else None)
        return user if ok and user is not None else None

    user = await run_in_threadpool(check)
    if user is None or not user["is_active"]:
        await run_in_threadpool(ctx.throttle.failed, username, client_ip)
        log.info("failed login from %s", client_ip)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="incorrect username or password",
                            headers={"WWW-Authenticate": "Bearer"})
    await run_in_threadpool(ctx.throttle.succeeded, username)
    token, lifetime = ctx.tokens.issue(str(user["username"]), str(user["role"]))
    return Token(access_token=token, expires_in=lifetime)


@router.get("/me", response_model=UserOut, responses=AUTH_RESPONSES)
def me(user: CurrentUser) -> UserOut:
    """The signed-in user (the dashboard uses it to show the role and hide actions the role lacks)."""
    return UserOut.model_validate(user)
