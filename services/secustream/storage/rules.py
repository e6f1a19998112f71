"""Admins' rule overrides: a rule switched off or given another level, read by running analyzers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from secustream.storage.tables import RuleOverride


def rule_overrides(conn: Connection) -> dict[str, dict[str, Any]]:
    t = RuleOverride.__table__
    return {r.rule_id: dict(r._mapping) for r in conn.execute(select(t))}


def set_rule_override(conn: Connection, rule_id: str, enabled: bool, user_id: int) -> dict[str, Any]:
    t = RuleOverride.__table__
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    now = datetime.now(UTC)
    stmt = dialect.insert(t).values(rule_id=rule_id, enabled=enabled, updated_by=user_id, updated_at=now)
    conn.execute(stmt.on_conflict_do_update(index_elements=["rule_id"],
                                            set_={"enabled": enabled, "updated_by": user_id, "updated_at": now}))
    return dict(conn.execute(select(t).where(t.c.rule_id == rule_id)).one()._mapping)
