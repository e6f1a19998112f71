"""User administration (admin only): create, disable, re-role. Admins cannot lock themselves out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from sqlalchemy.exc import IntegrityError

from secustream.api.deps import AUTH_RESPONSES, Admin, Conn, Ctx
from secustream.api.schemas import Message, UserCreate, UserOut, UserUpdate
from secustream.storage import users as user_store

router = APIRouter(prefix="/users", tags=["users"])
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("", response_model=list[UserOut], responses=AUTH_RESPONSES)
def list_users(conn: Conn, _user: Admin) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in user_store.list_users(conn)]


@router.post("", response_model=UserOut, status_code=201,
             responses={**AUTH_RESPONSES, 409: {"model": Message, "description": "Username taken"}})
def create_user(body: UserCreate, ctx: Ctx, conn: Conn, _user: Admin) -> UserOut:
    if user_store.get_user_by_name(conn, body.username) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="username already exists")
    try:
        row = user_store.create_user(conn, body.username, ctx.hasher.hash(body.password), body.role.value)
    except IntegrityError:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="username already exists") from None
    return UserOut.model_validate(row)


@router.patch("/{user_id}", response_model=UserOut,
              responses={**AUTH_RESPONSES, 404: {"model": Message}, 409: {"model": Message}})
def update_user(user_id: UserId, body: UserUpdate, ctx: Ctx, conn: Conn, admin: Admin) -> UserOut:
    """Change role, enable/disable, or reset the password. Disabling takes effect on the user's next request."""
    if user_store.get_user(conn, user_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such user")
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
    return UserOut.model_validate(row)
