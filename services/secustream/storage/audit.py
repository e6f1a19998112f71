"""The security audit log: lockouts, unlocks, token revocations, account and suppression decisions.

Why a table: an admin must see who was locked out or unlocked, who revoked what and who approved a
suppression, after the fact and across API replicas (GET /audit).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from secustream.storage.tables import AuditEntry

A = AuditEntry.__table__


def record(conn: Connection, action: str, actor: str | None = None, target: str | None = None,
           **detail: Any) -> None:
    """Add one entry in the caller's transaction (it commits or rolls back with the change it describes)."""
    conn.execute(A.insert().values(at=datetime.now(UTC), actor=actor, action=action, target=target,
                                   detail=detail))


def record_now(engine: Engine, action: str, actor: str | None = None, target: str | None = None,
               **detail: Any) -> None:
    """Add one entry in its own transaction (events with no request transaction, e.g. a lockout)."""
    with engine.begin() as conn:
        record(conn, action, actor, target, **detail)


def entries(conn: Connection, limit: int, action: str | None = None, before_id: int | None = None
            ) -> list[dict[str, Any]]:
    """Newest first; ``before_id`` pages backwards."""
    stmt = select(A).order_by(A.c.id.desc()).limit(limit)
    if action is not None:
        stmt = stmt.where(A.c.action == action)
    if before_id is not None:
        stmt = stmt.where(A.c.id < before_id)
    return [dict(r._mapping) for r in conn.execute(stmt)]
