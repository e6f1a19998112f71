"""Analyst feedback on verdicts, and the rule suppressions it (or an admin) creates."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from secustream.feedback import FeedbackLabel, SuppressionStatus
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



def list_suppressions(conn: Connection, active: bool | None = None, status: str | None = None
                      ) -> list[dict[str, Any]]:
    t = RuleSuppression.__table__
    stmt = select(t).order_by(t.c.id.desc())
    if active is not None:
        stmt = stmt.where(t.c.active == active)
    if status is not None:
        stmt = stmt.where(t.c.status == status)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def get_suppression(conn: Connection, suppression_id: int) -> dict[str, Any] | None:
    t = RuleSuppression.__table__
    row = conn.execute(select(t).where(t.c.id == suppression_id)).first()
    return dict(row._mapping) if row is not None else None


def create_suppression(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    t = RuleSuppression.__table__
    values = {"created_at": datetime.now(UTC), "active": True, **values}
    return dict(conn.execute(t.insert().values(**values).returning(t)).one()._mapping)


def set_suppression_active(conn: Connection, suppression_id: int, active: bool) -> dict[str, Any] | None:
    t = RuleSuppression.__table__
    conn.execute(update(t).where(t.c.id == suppression_id).values(active=active))
    return get_suppression(conn, suppression_id)


def approve_suppression(conn: Connection, suppression_id: int, user_id: int, changes: dict[str, Any]
                        ) -> dict[str, Any] | None:
    """Put a suppression in force (approved, active), with ``changes`` (e.g. a new ``expires_at``)."""
    t = RuleSuppression.__table__
    conn.execute(update(t).where(t.c.id == suppression_id).values(
        status="approved", active=True, approved_by=user_id, approved_at=datetime.now(UTC), **changes))
    return get_suppression(conn, suppression_id)


def fired_rules(conn: Connection, event_id: uuid.UUID) -> tuple[dict[str, Any], list[str]] | None:
    """The event's stored document and the rules its verdict names (None when there is no such verdict)."""
    found = conn.execute(select(Event.payload, VerdictRow.rule_ids).join(VerdictRow, VerdictRow.event_id == Event.id)
                         .where(Event.id == event_id)).first()
    return (found[0], list(found[1] or [])) if found is not None else None


def propose_suppression(conn: Connection, rule_id: str, field: str, value: str, reason: str,
                        created_by: int | None, source_event_id: uuid.UUID, days: float) -> int | None:
    """A proposed suppression lapsing after ``days``, unless a live one (proposed or approved) already covers
    the rule and entity or this event already proposed it; the new row's id, or None."""
    now = datetime.now(UTC)
    t = RuleSuppression.__table__
    same = (t.c.rule_id == rule_id, t.c.field == field, t.c.value == value)
    live = (t.c.active.is_(True), or_(t.c.expires_at.is_(None), t.c.expires_at > now))
    if conn.execute(select(t.c.id).where(*same, or_(t.c.source_event_id == source_event_id, and_(*live)))).first():
        return None
    return int(conn.execute(t.insert().values(
        rule_id=rule_id, field=field, value=value, active=True, status=SuppressionStatus.PROPOSED.value,
        reason=reason, created_by=created_by, source_event_id=source_event_id, created_at=now,
        expires_at=now + timedelta(days=days)).returning(t.c.id)).scalar_one())


def false_positives(conn: Connection) -> list[tuple[uuid.UUID, int, str | None]]:
    """(event id, user id, note) of every false-positive feedback."""
    rows = conn.execute(select(Feedback.event_id, Feedback.user_id, Feedback.note)
                        .where(Feedback.label == FeedbackLabel.FALSE_POSITIVE.value)).all()
    return [(e, u, n) for e, u, n in rows]


def approved_suppressions(engine: Engine) -> dict[str, list[tuple[int, str | None, str | None]]]:
    """Approved, active, unexpired suppressions by rule id: (id, field, value); field None = the whole rule."""
    t = RuleSuppression.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.id, t.c.rule_id, t.c.field, t.c.value).where(
            t.c.active.is_(True), t.c.status == SuppressionStatus.APPROVED.value,
            or_(t.c.expires_at.is_(None), t.c.expires_at > datetime.now(UTC))))
        index: dict[str, list[tuple[int, str | None, str | None]]] = {}
        for sid, rule_id, field, value in rows:
            index.setdefault(rule_id, []).append((sid, field, value))
    return index
