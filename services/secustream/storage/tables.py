"""SQLAlchemy 2 models; the unique event id makes the verdict table exactly-once under replays.

On PostgreSQL ``events`` and ``verdicts`` are partitioned by day (migration 0008, docs/storage.md): their
keys carry the event time because a partitioned table's unique indexes must hold the partition key, and
no foreign key points at them (retention drops their days; what referred to an event keeps its id).
SQLite (`secustream up`) keeps the plain tables of migrations 0001-0007.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JsonDoc = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


RULE_ID_LENGTH = 255  # native ids are up to 64 characters; Sigma ids (sigma:<name|uuid|slug>) longer


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    hashed_password: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="viewer")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    # Tokens carry the version they were issued under; bumping it (password, role, status change, logout,
    # revoke) refuses every older token at once (migration 0006).
    token_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")


class Event(Base):
    __tablename__ = "events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # Part of the key: a redelivered event carries the same time, so (id, timestamp) still refuses it.
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(32), nullable=False)
    action: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    source_ip: Mapped[str | None] = mapped_column(String(45))
    source_user: Mapped[str | None] = mapped_column(String(256))
    source_host: Mapped[str | None] = mapped_column(String(256))
    destination_ip: Mapped[str | None] = mapped_column(String(45))
    destination_port: Mapped[int | None] = mapped_column(Integer)
    destination_host: Mapped[str | None] = mapped_column(String(256))
    product: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc, nullable=False)
    produced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_events_timestamp", "timestamp"),
        Index("ix_events_source_ip", "source_ip"),
        # API keyset pages (migration 0003a): newest first by (timestamp, id), optionally per entity.
        Index("ix_events_timestamp_id", "timestamp", "id"),
        Index("ix_events_source_ip_ts", "source_ip", "timestamp", "id"),
    )


# Per entity, in any case (migration 0010): alerts keep entities lower-cased, Windows logs `WORKSTATION5.corp.local`.
Index("ix_events_source_user_lower_ts", func.lower(Event.source_user), Event.timestamp, Event.id)
Index("ix_events_source_host_lower_ts", func.lower(Event.source_host), Event.timestamp, Event.id)
Index("ix_events_destination_host_lower_ts", func.lower(Event.destination_host), Event.timestamp, Event.id)


class Verdict(Base):
    __tablename__ = "verdicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    risk_level: Mapped[str] = mapped_column(String(16), nullable=False)
    risk_score: Mapped[float] = mapped_column(Float, nullable=False)
    threat_type: Mapped[str] = mapped_column(String(64), nullable=False)
    confidence: Mapped[float] = mapped_column(Float, nullable=False)
    tier: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    rule_ids: Mapped[list[str]] = mapped_column(JsonDoc, nullable=False, default=list)
    mitre_ids: Mapped[list[str]] = mapped_column(JsonDoc, nullable=False, default=list)
    recommended_actions: Mapped[list[str]] = mapped_column(JsonDoc, nullable=False, default=list)
    analysis: Mapped[str] = mapped_column(Text, nullable=False, default="")
    analyzer_version: Mapped[str] = mapped_column(String(64), nullable=False)
    latency_ms: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    analyzed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    # Copy of events.timestamp: the partition key (migration 0008), set by the writer (repository.py).
    event_timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)

    __table_args__ = (
        # exactly-once per event: the partition key rides along (same event, same time)
        UniqueConstraint("event_id", "event_timestamp", name="uq_verdicts_event_id_ts"),
        Index("ix_verdicts_risk_level", "risk_level"),
        Index("ix_verdicts_analyzed_at", "analyzed_at"),
        # API keyset pages (migration 0003a): one ordered index per filter column, trigram free text.
        Index("ix_verdicts_event_ts", "event_timestamp", "event_id"),
        Index("ix_verdicts_risk_ts", "risk_level", "event_timestamp", "event_id"),
        Index("ix_verdicts_tier_ts", "tier", "event_timestamp", "event_id"),
        Index("ix_verdicts_threat_ts", "threat_type", "event_timestamp", "event_id"),
        Index("ix_verdicts_analysis_trgm", "analysis", postgresql_using="gin",
              postgresql_ops={"analysis": "gin_trgm_ops"}),
    )


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)  # kept when retention drops the event
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    label: Mapped[str] = mapped_column(String(32), nullable=False)
    corrected_class: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("event_id", "user_id", name="uq_feedback_event_user"),)


class EventLabel(Base):
    """Ground truth of simulated events (training store); the analyzer never reads it."""

    __tablename__ = "event_labels"

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    label: Mapped[str] = mapped_column(String(64), nullable=False)
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class ModelVersion(Base):
    """Model registry: classifier checkpoints and DSPy programs; one active version per kind."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)  # "classifier" | "llm_program"
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    artifact_path: Mapped[str] = mapped_column(Text, nullable=False)
    metrics: Mapped[dict[str, Any]] = mapped_column(JsonDoc, nullable=False, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("kind", "version", name="uq_model_versions_kind_version"),)


class RuleSuppression(Base):
    """A rule stops firing where ``field`` == ``value``: added by an admin, or proposed by an analyst's
    "false positive" and in force only once an admin approves it (``status``, migration 0006)."""

    __tablename__ = "rule_suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(RULE_ID_LENGTH), nullable=False)
    field: Mapped[str | None] = mapped_column(String(128))
    value: Mapped[str | None] = mapped_column(String(512))
    reason: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_by: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id", ondelete="SET NULL"))
    source_event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # kept when retention drops the event
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="approved", server_default="approved")
    approved_by: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Hits the suppression stopped (nothing is dropped silently; migration 0007).
    hit_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    last_hit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_rule_suppressions_rule_id", "rule_id"),)


class AuditEntry(Base):
    """Security audit log: who did what to which account or suppression, and when (GET /audit)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(64))  # username; None for the system (e.g. a lockout)
    action: Mapped[str] = mapped_column(String(48), nullable=False)
    target: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JsonDoc, nullable=False, default=dict)

    __table_args__ = (Index("ix_audit_log_at", "at"),)


class RuleOverride(Base):
    """Admin override of a rule shipped as data (the rule file stays the source): off, or another level."""

    __tablename__ = "rule_overrides"

    rule_id: Mapped[str] = mapped_column(String(RULE_ID_LENGTH), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False)
    level: Mapped[str | None] = mapped_column(String(16))  # None: the rule's own level
    updated_by: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


# --- alerts and incidents (migration 0007; docs/alerts.md)

class Incident(Base):
    """Alerts sharing an entity within a window; id = hash of the alert that opened it."""

    __tablename__ = "incidents"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    severity: Mapped[str] = mapped_column(String(16), nullable=False)
    title: Mapped[str] = mapped_column(String(256), nullable=False)
    tactics: Mapped[list[str]] = mapped_column(JsonDoc, nullable=False, default=list)
    entities: Mapped[list[list[str]]] = mapped_column(JsonDoc, nullable=False, default=list)
    alert_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    hit_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    story: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    story_source: Mapped[str | None] = mapped_column(String(16))  # "llm" | "template"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_incidents_last_seen", "last_seen", "id"),
        Index("ix_incidents_status_last_seen", "status", "last_seen", "id"),
    )


class Alert(Base):
    """Hits of one detection on one entity in one dedup block; id = hash of those three."""

    __tablename__ = "alerts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    detection: Mapped[str] = mapped_column(String(128), nullable=False)
    title: Mapped[str] = mapped_column(String(256), nullable=False)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    threat_type: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    resolution: Mapped[str | None] = mapped_column(String(32))
    assignee: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    entity_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    entity_value: Mapped[str] = mapped_column(String(512), nullable=False)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    window_seconds: Mapped[int] = mapped_column(Integer, nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    mitre_ids: Mapped[list[str]] = mapped_column(JsonDoc, nullable=False, default=list)
    tactics: Mapped[list[str]] = mapped_column(JsonDoc, nullable=False, default=list)
    incident_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("incidents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (
        # The queue's keyset pages: newest activity first, optionally per status / level / detection / entity;
        # the leaf carries the other filter columns so a filtered page is an ordered index scan (bench/api.py).
        Index("ix_alerts_last_seen", "last_seen", "id", postgresql_include=["status", "level", "detection"]),
        Index("ix_alerts_status_last_seen", "status", "last_seen", "id", postgresql_include=["level", "detection"]),
        Index("ix_alerts_detection_last_seen", "detection", "last_seen", "id"),
        Index("ix_alerts_entity_last_seen", "entity_value", "last_seen", "id"),
        Index("ix_alerts_incident", "incident_id"),
    )


class AlertHitRow(Base):
    """Which events an alert counted: a replayed event is found here and counted nothing."""

    __tablename__ = "alert_hits"

    alert_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class AlertEntity(Base):
    """Every entity of an alert's events with its role (actor/target): incident linking and entity pages read it."""

    __tablename__ = "alert_entities"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(512), primary_key=True)
    alert_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(8), primary_key=True)

    __table_args__ = (Index("ix_alert_entities_alert", "alert_id"),)


class AlertAudit(Base):
    """Who changed what on an alert or incident, and when."""

    __tablename__ = "alert_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    incident_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    changes: Mapped[dict[str, Any]] = mapped_column(JsonDoc, nullable=False, default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (Index("ix_alert_audit_alert", "alert_id", "at"),
                      Index("ix_alert_audit_incident", "incident_id", "at"))


class NotificationDeadLetter(Base):
    """A webhook notification that failed every retry, kept for replay."""

    __tablename__ = "notification_dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(512), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    subject_id: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    last_error: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
