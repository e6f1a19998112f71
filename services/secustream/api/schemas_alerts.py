"""The alert queue's and incidents' public contract (OpenAPI is generated from these)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from secustream.api.schemas import EventOut
from secustream.verdict import RiskLevel


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class Resolution(StrEnum):
    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    BENIGN = "benign"


class EntityKind(StrEnum):
    IP = "ip"
    USER = "user"
    HOST = "host"
    GUID = "guid"


ALERT_EXAMPLE = {
    "id": "5b0e2a8c-61a4-5f0e-9d7c-0c8f3b7a1e22", "detection": "SSH-BRUTE-FORCE",
    "title": "Many failed SSH logins from one source", "level": "high", "threat_type": "brute_force",
    "status": "open", "resolution": None, "assignee": None, "entity_kind": "ip", "entity_value": "203.0.113.7",
    "count": 42, "first_seen": "2026-11-25T08:00:12Z", "last_seen": "2026-11-25T08:06:40Z",
    "tactics": ["credential-access"], "incident_id": "8d7b9f62-0f2d-5a71-b1c4-2f0b6c9e4d10",
}


class AlertOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ALERT_EXAMPLE]})
    id: UUID
    detection: str
    title: str
    level: str
    threat_type: str
    status: str
    resolution: str | None
    assignee: str | None
    entity_kind: str
    entity_value: str
    count: int = Field(description="Hits counted (each event once, however often it is delivered)")
    first_seen: datetime
    last_seen: datetime
    tactics: list[str]
    incident_id: UUID | None


class AlertQuery(BaseModel):
    """GET /alerts' query parameters (``api/query.py``: one validation per request)."""

    model_config = ConfigDict(frozen=True, use_enum_values=True)
    status: list[AlertStatus] = Field([], description="One or more")
    level: list[RiskLevel] = Field([], description="One or more levels")
    rule: str | None = Field(None, max_length=128, description="Detection: a rule id or tier:class")
    search: str | None = Field(None, min_length=1, max_length=128,
                               description="Words of the rule's title or id, any case (the dashboard's Rule box)")
    entity: str | None = Field(None, max_length=512, description="The grouping entity's value")
    assignee: str | None = Field(None, max_length=64)
    incident: UUID | None = Field(None, description="Alerts of one incident")
    since: datetime | None = Field(None, description="Last seen at or after (ISO 8601)")
    until: datetime | None = Field(None, description="Last seen before (ISO 8601)")
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = Field(None, max_length=200, description="next_cursor of the previous page")


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class AuditOut(BaseModel):
    alert_id: UUID | None = None
    actor: str
    action: str
    changes: dict[str, Any]
    at: datetime


class SampleEvent(BaseModel):
    event_id: UUID
    event_time: datetime
    expired: bool = Field(description="The event is gone (retention, RETENTION_EVENTS_DAYS); its id stays here")
    title: str | None = Field(None, description="Action · host · command line or first line of the message (at most "
                                                "200 characters); null once expired")


class RuleAboutOut(BaseModel):
    """A Sigma rule's description, attribution and known false positives, from the loaded packs."""

    author: str
    references: list[str]
    description: str
    false_positives: list[str]


class AlertDetail(AlertOut):
    notes: str | None
    mitre_ids: list[str]
    window_start: datetime
    window_seconds: int
    sample_event_ids: list[UUID]
    sample_events: list[SampleEvent] = Field(description="The sample events, each marked expired or not")
    audit: list[AuditOut]
    rule: RuleAboutOut | None = Field(None, description="The Sigma rule's description, author, references and "
                                                        "known false positives (null for other detections, or a "
                                                        "rule no longer loaded)")


class AlertPatch(BaseModel):
    """An analyst's triage: any of status, resolution, assignee and notes."""

    model_config = ConfigDict(extra="forbid")
    status: AlertStatus | None = None
    resolution: Resolution | None = None
    assignee: str | None = Field(default=None, max_length=64)
    notes: str | None = Field(default=None, max_length=4000)


class AlertBulkPatch(AlertPatch):
    ids: list[UUID] = Field(min_length=1, max_length=500)


class Story(BaseModel):
    summary: str
    verdict: str = Field(description="true_positive, false_positive or suspicious")
    confidence: float
    next_steps: list[str]
    source: str = Field(description="Who wrote it: llm, cached llm or template")
    why: str | None = None


class IncidentOut(BaseModel):
    id: UUID
    status: str
    severity: str
    title: str
    tactics: list[str] = Field(description="ATT&CK tactics in the order first observed")
    entities: list[list[str]] = Field(description="[kind, value] pairs")
    alert_count: int
    hit_count: int
    first_seen: datetime
    last_seen: datetime
    story_source: str | None


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    next_cursor: str | None


class TimelineItem(BaseModel):
    at: datetime
    kind: str = Field(description="alert or event")
    alert_id: UUID
    event_id: UUID | None = None
    title: str
    level: str
    count: int
    tactics: list[str]
    expired: bool = Field(default=False, description="An event retention removed (only its id and time remain)")


class IncidentDetail(IncidentOut):
    story: Story | None
    alerts: list[AlertOut]
    timeline: list[TimelineItem]
    audit: list[AuditOut]


class EntityView(BaseModel):
    kind: EntityKind
    value: str
    alerts: list[AlertOut]
    incidents: list[IncidentOut]
    recent_events: list[EventOut] = Field(description="Its newest events (IP, user, host; none for a GUID)")
    events_url: str = Field(description="All its events: the events list, filtered on it")


class HeatCell(BaseModel):
    tactic: str
    technique: str | None = None
    alerts: int
    hits: int


class AttackHeat(BaseModel):
    tactics: list[HeatCell]
    techniques: list[HeatCell]


class SuppressionHits(BaseModel):
    id: int
    rule_id: str
    field: str | None
    value: str | None
    active: bool
    hit_count: int = Field(description="Hits the suppression stopped")
    last_hit_at: datetime | None


class DeadLetterOut(BaseModel):
    id: int
    target: str
    kind: str
    subject_id: str
    payload: dict[str, Any]
    attempts: int
    last_error: str
    created_at: datetime
