"""User administration (admin only): create, disable, re-role, delete, revoke tokens, unlock. Admins cannot lock
themselves out. Every change that affects access is in the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response, status
from sqlalchemy.exc import IntegrityError

from secustream.api.deps import AUTH_RESPONSES, Admin, Conn, Ctx
from secustream.api.schemas import Message, RevokedCount, UserCreate, UserOut, UserUpdate
from secustream.storage import audit
from secustream.storage import users as user_store

router = APIRouter(prefix="/users", tags=["users"])
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]
NOT_FOUND = {404: {"model": Message, "description": "No user with this id"}}


def _target(user_id: int) -> str:
    return f"user:{user_id}"


def _existing(conn: Conn, user_id: int) -> dict[str, Any]:
    user = user_store.get_user(conn, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such user")
    return user


@router.get("", response_model=list[UserOut], responses=AUTH_RESPONSES)
def list_users(conn: Conn, _user: Admin) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in user_store.list_users(conn)]


@router.post("", response_model=UserOut, status_code=201,
             responses={**AUTH_RESPONSES, 409: {"model": Message, "description": "Username taken"}})
def create_user(body: UserCreate, ctx: Ctx, conn: Conn, admin: Admin) -> UserOut:
    if user_store.get_user_by_name(conn, body.username) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="username already exists")
    try:
        row = user_store.create_user(conn, body.username, ctx.hasher.hash(body.password), body.role.value)
    except IntegrityError:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="username already exists") from None
    audit.record(conn, "user_created", actor=admin["username"], target=_target(row["id"]),
                 username=row["username"], role=row["role"])
    return UserOut.model_validate(row)


@router.patch("/{user_id}", response_model=UserOut,
              responses={**AUTH_RESPONSES, **NOT_FOUND, 409: {"model": Message}})
def update_user(user_id: UserId, body: UserUpdate, ctx: Ctx, conn: Conn, admin: Admin) -> UserOut:
    """Change role, enable/disable, or reset the password. Any of them revokes the user's existing tokens."""
    _existing(conn, user_id)
    if user_id == admin["id"] and (body.is_active is False or (body.role is not None and body.role.value != "admin")):
        raise HTTPException(status.HTTP_409_CONFLICT, detail="admins cannot disable or demote themselves")
    changes: dict[str, Any] = {}
    if body.role is not None:
        changes["role"] = body.role.value
    if body.is_active is not None:
        changes["is_active"] = body.is_active
    if body.password is not None:
        changes["hashed_password"] = ctx.hasher.hash(body.password)
    row = user_store.update_user(conn, user_id, changes)
    assert row is not None
    if changes:
        shown = {k: v for k, v in changes.items() if k != "hashed_password"}
        audit.record(conn, "user_updated", actor=admin["username"], target=_target(user_id),
                     password_reset="hashed_password" in changes, **shown)
    return UserOut.model_validate(row)


@router.delete("/{user_id}", status_code=204, response_class=Response,
               responses={**AUTH_RESPONSES, **NOT_FOUND, 409: {"model": Message}})
def delete_user(user_id: UserId, conn: Conn, admin: Admin) -> Response:
    """Delete an account. Its tokens die with it, also if an account of the same name is created later."""
    user = _existing(conn, user_id)
    if user_id == admin["id"]:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="admins cannot delete themselves")
    user_store.delete_user(conn, user_id)
    audit.record(conn, "user_deleted", actor=admin["username"], target=_target(user_id), username=user["username"])
    return Response(status_code=204)


@router.post("/{user_id}/revoke-tokens", status_code=204, response_class=Response,
             responses={**AUTH_RESPONSES, **NOT_FOUND})
def revoke_user_tokens(user_id: UserId, conn: Conn, admin: Admin) -> Response:
    """Refuse every token issued so far to this user (they sign in again)."""
    _existing(conn, user_id)
    user_store.revoke_tokens(conn, user_id)
    audit.record(conn, "tokens_revoked", actor=admin["username"], target=_target(user_id))
    return Response(status_code=204)


@router.post("/{user_id}/unlock", status_code=204, response_class=Response,
             responses={**AUTH_RESPONSES, **NOT_FOUND})
def unlock_user(user_id: UserId, ctx: Ctx, conn: Conn, admin: Admin) -> Response:
    """Lift the login throttle on this account: every client's block and the account's slowdown."""
    user = _existing(conn, user_id)
    cleared = ctx.throttle.unlock(str(user["username"]))
    audit.record(conn, "login_unlocked", actor=admin["username"], target=_target(user_id), counters=cleared)
    return Response(status_code=204)


@router.post("/revoke-tokens", response_model=RevokedCount, responses=AUTH_RESPONSES)
def revoke_all_tokens(conn: Conn, admin: Admin) -> RevokedCount:
    """Refuse every token of every other user (e.g. after a suspected key or token leak). The caller's own
    tokens stay valid; ``POST /auth/logout`` ends those."""
    count = user_store.revoke_tokens(conn, except_id=int(admin["id"]))
    audit.record(conn, "tokens_revoked_all", actor=admin["username"], accounts=count)
    return RevokedCount(accounts=count)
