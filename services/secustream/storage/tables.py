"""SQLAlchemy 2 models; the unique event id makes the verdict table exactly-once under replays."""

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
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

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


class Event(Base):
    __tablename__ = "events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
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

    verdict: Mapped[Verdict | None] = relationship(back_populates="event", uselist=False)

    __table_args__ = (
        Index("ix_events_timestamp", "timestamp"),
        Index("ix_events_source_ip", "source_ip"),
        # API keyset pages (migration 0003a): newest first by (timestamp, id), optionally per entity.
        Index("ix_events_timestamp_id", "timestamp", "id"),
        Index("ix_events_source_ip_ts", "source_ip", "timestamp", "id"),
        Index("ix_events_source_user_ts", "source_user", "timestamp", "id"),
        Index("ix_events_source_host_ts", "source_host", "timestamp", "id"),
        Index("ix_events_destination_host_ts", "destination_host", "timestamp", "id"),
    )


class Verdict(Base):
    __tablename__ = "verdicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("events.id", ondelete="CASCADE"), nullable=False, unique=True
    )
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
    # Copy of events.timestamp, filled by a database trigger (migration 0003a) so writers need not set it.
    event_timestamp: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    event: Mapped[Event] = relationship(back_populates="verdict")

    __table_args__ = (
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
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("events.id", ondelete="CASCADE"), nullable=False)
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
    """An analyst's "false positive" on a rule hit: the rule stops firing where ``field`` == ``value``."""

    __tablename__ = "rule_suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(RULE_ID_LENGTH), nullable=False)
    field: Mapped[str | None] = mapped_column(String(128))
    value: Mapped[str | None] = mapped_column(String(512))
    reason: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_by: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id", ondelete="SET NULL"))
    source_event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("events.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_rule_suppressions_rule_id", "rule_id"),)


class RuleOverride(Base):
    """Admin override of a rule shipped as data (the rule file stays the source): off, or another level."""

    __tablename__ = "rule_overrides"

    rule_id: Mapped[str] = mapped_column(String(RULE_ID_LENGTH), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False)
    level: Mapped[str | None] = mapped_column(String(16))  # None: the rule's own level
    updated_by: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
