"""Analyst feedback on verdicts, and the rule suppressions it (or an admin) creates."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from secustream.feedback import FeedbackLabel
from secustream.storage.tables import Event, Feedback, RuleSuppression, User
from secustream.storage.tables import Verdict as VerdictRow

F = Feedback.__table__
U = User.__table__


def list_feedback(conn: Connection, event_id: uuid.UUID) -> list[dict[str, Any]]:
    stmt = (select(F, U.c.username).select_from(F.join(U, U.c.id == F.c.user_id))
            .where(F.c.event_id == event_id).order_by(F.c.updated_at.desc(), F.c.id.desc()))
    return [dict(r._mapping) for r in conn.execute(stmt)]


def upsert_feedback(conn: Connection, event_id: uuid.UUID, user_id: int, label: str,
                    corrected_class: str | None, note: str | None) -> dict[str, Any]:
    """One current feedback per user per event: a second submission replaces the first."""
    now = datetime.now(UTC)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    values = {"event_id": event_id, "user_id": user_id, "label": label, "corrected_class": corrected_class,
              "note": note, "created_at": now, "updated_at": now}
    stmt = dialect.insert(F).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["event_id", "user_id"],
        set_={"label": label, "corrected_class": corrected_class, "note": note, "updated_at": now},
    )
    conn.execute(stmt)
    row = conn.execute(select(F, U.c.username).select_from(F.join(U, U.c.id == F.c.user_id))
                       .where(F.c.event_id == event_id, F.c.user_id == user_id)).one()
    return dict(row._mapping)


def delete_feedback(conn: Connection, event_id: uuid.UUID, user_id: int) -> bool:
    result = conn.execute(F.delete().where(F.c.event_id == event_id, F.c.user_id == user_id))
    return bool(result.rowcount)



def list_suppressions(conn: Connection, active: bool | None = None) -> list[dict[str, Any]]:
    t = RuleSuppression.__table__
    stmt = select(t).order_by(t.c.id.desc())
    if active is not None:
        stmt = stmt.where(t.c.active == active)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def create_suppression(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    t = RuleSuppression.__table__
    values = {"created_at": datetime.now(UTC), "active": True, **values}
    return dict(conn.execute(t.insert().values(**values).returning(t)).one()._mapping)


def set_suppression_active(conn: Connection, suppression_id: int, active: bool) -> dict[str, Any] | None:
    t = RuleSuppression.__table__
    conn.execute(update(t).where(t.c.id == suppression_id).values(active=active))
    row = conn.execute(select(t).where(t.c.id == suppression_id)).first()
    return dict(row._mapping) if row is not None else None


def fired_rules(conn: Connection, event_id: uuid.UUID) -> tuple[dict[str, Any], list[str]] | None:
    """The event's stored document and the rules its verdict names (None when there is no such verdict)."""
    found = conn.execute(select(Event.payload, VerdictRow.rule_ids).join(VerdictRow, VerdictRow.event_id == Event.id)
                         .where(Event.id == event_id)).first()
    return (found[0], list(found[1] or [])) if found is not None else None


def add_suppression_once(conn: Connection, rule_id: str, field: str, value: str, reason: str,
                         created_by: int | None, source_event_id: uuid.UUID | None) -> bool:
    """Add an active suppression unless the same one is active already; True when a row was added."""
    exists = conn.execute(select(RuleSuppression.id).where(
        RuleSuppression.rule_id == rule_id, RuleSuppression.field == field,
        RuleSuppression.value == value, RuleSuppression.active.is_(True))).first()
    if exists is not None:
        return False
    conn.execute(insert(RuleSuppression).values(
        rule_id=rule_id, field=field, value=value, active=True, reason=reason, created_by=created_by,
        source_event_id=source_event_id, created_at=datetime.now(UTC)))
    return True


def false_positives(conn: Connection) -> list[tuple[uuid.UUID, int, str | None]]:
    """(event id, user id, note) of every false-positive feedback."""
    rows = conn.execute(select(Feedback.event_id, Feedback.user_id, Feedback.note)
                        .where(Feedback.label == FeedbackLabel.FALSE_POSITIVE.value)).all()
    return [(e, u, n) for e, u, n in rows]


def active_suppressions(engine: Engine) -> dict[str, list[tuple[str | None, str | None]]]:
    """Active, unexpired suppressions by rule id: (field, value), or (None, None) for the whole rule."""
    t = RuleSuppression.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.rule_id, t.c.field, t.c.value).where(
            t.c.active.is_(True), or_(t.c.expires_at.is_(None), t.c.expires_at > datetime.now(UTC))))
        index: dict[str, list[tuple[str | None, str | None]]] = {}
        for rule_id, field, value in rows:
            index.setdefault(rule_id, []).append((field, value))
    return index
