"""User accounts (the API's logins and roles)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from secustream.storage.tables import User

U = User.__table__

# The account check of the events list's raw-driver path (api/pages.py): role and status by name.
ACCOUNT_SQL = "SELECT role, is_active FROM users WHERE username = %s"


def get_user_by_name(conn: Connection, username: str) -> dict[str, Any] | None:
    row = conn.execute(select(U).where(U.c.username == username)).first()
    return dict(row._mapping) if row is not None else None


def get_user(conn: Connection, user_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(U).where(U.c.id == user_id)).first()
    return dict(row._mapping) if row is not None else None


def list_users(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(U).order_by(U.c.id))]


def create_user(conn: Connection, username: str, hashed_password: str, role: str,
                is_active: bool = True) -> dict[str, Any]:
    result = conn.execute(U.insert().values(username=username, hashed_password=hashed_password, role=role,
                                            is_active=is_active, created_at=datetime.now(UTC)).returning(U))
    return dict(result.one()._mapping)


def update_user(conn: Connection, user_id: int, changes: dict[str, Any]) -> dict[str, Any] | None:
    if changes:
        conn.execute(update(U).where(U.c.id == user_id).values(**changes))
    return get_user(conn, user_id)
