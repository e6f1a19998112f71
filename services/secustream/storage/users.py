"""User accounts (the API's logins and roles)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from secustream.storage.tables import User

U = User.__table__

ACCOUNT_COLUMNS = 3  # role, is_active, token_version: in front of every row of ``with_account``


def with_account(page: str, params: dict[str, Any], user_id: int, order: str) -> tuple[str, dict[str, Any]]:
    """A page statement (psycopg, ``%(name)s`` parameters) with the caller's account in front of each row.

    Why one statement: the account check and the page used to be two statements in one pipelined round trip,
    and the pipeline's bookkeeping was the largest share of the API's CPU per alert page. Here the account row
    (``role, is_active, token_version``; all NULL for an unknown id) is joined to the page: always exactly one
    row when the page is empty (page columns NULL), else one per page row. ``order`` is the page's ORDER BY
    (output column names), repeated outside so the order never rests on the join's plan. The page's first
    column must be NOT NULL: it tells a page row from the empty page's placeholder.
    """
    if "account_id" in params:
        raise ValueError("the page statement already binds account_id")
    return (f"SELECT u.role, u.is_active, u.token_version, p.* FROM (SELECT 1) AS one "
            f"LEFT JOIN users AS u ON u.id = %(account_id)s LEFT JOIN LATERAL ({page}) AS p ON true "
            f"ORDER BY {order}"), {**params, "account_id": user_id}


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


# A change to any of these revokes the account's tokens: a token outlives neither the password it was
# obtained with, nor the role or the enabled state it was issued under.
REVOKING_CHANGES = frozenset({"hashed_password", "role", "is_active"})


def update_user(conn: Connection, user_id: int, changes: dict[str, Any]) -> dict[str, Any] | None:
    """Apply ``changes``; a password, role or status change also bumps ``token_version`` (same statement)."""
    if changes:
        values: dict[str, Any] = dict(changes)
        if REVOKING_CHANGES & values.keys():
            values["token_version"] = U.c.token_version + 1
        conn.execute(update(U).where(U.c.id == user_id).values(**values))
    return get_user(conn, user_id)


def revoke_tokens(conn: Connection, user_id: int | None = None, *, except_id: int | None = None) -> int:
    """Refuse every token issued so far to ``user_id`` (all users when None, but ``except_id``); returns rows."""
    stmt = update(U).values(token_version=U.c.token_version + 1)
    if user_id is not None:
        stmt = stmt.where(U.c.id == user_id)
    if except_id is not None:
        stmt = stmt.where(U.c.id != except_id)
    return int(conn.execute(stmt).rowcount or 0)


def delete_user(conn: Connection, user_id: int) -> bool:
    """Delete the account; its tokens die with it (they name the id, which is never reused)."""
    return bool(conn.execute(U.delete().where(U.c.id == user_id)).rowcount)
