"""Admins' rule overrides: a rule switched off or given another level, read by running analyzers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from secustream.storage.tables import RuleOverride


def rule_overrides(conn: Connection) -> dict[str, dict[str, Any]]:
    t = RuleOverride.__table__
    return {r.rule_id: dict(r._mapping) for r in conn.execute(select(t))}


def set_rule_override(conn: Connection, rule_id: str, enabled: bool, level: str | None,
                      user_id: int) -> dict[str, Any]:
    """Insert or replace the override of ``rule_id`` (``level`` None: the rule's own level)."""
    t = RuleOverride.__table__
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    now = datetime.now(UTC)
    values = {"enabled": enabled, "level": level, "updated_by": user_id, "updated_at": now}
    stmt = dialect.insert(t).values(rule_id=rule_id, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["rule_id"], set_=values))
    return dict(conn.execute(select(t).where(t.c.rule_id == rule_id)).one()._mapping)


def current_overrides(engine: Engine) -> dict[str, tuple[bool, str | None]]:
    """Every override as rule id → (enabled, level), for the analyzers' periodic refresh."""
    t = RuleOverride.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.rule_id, t.c.enabled, t.c.level))
        return {r.rule_id: (bool(r.enabled), r.level) for r in rows}
