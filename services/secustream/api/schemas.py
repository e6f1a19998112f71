"""Response models: the API's public contract (OpenAPI is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel


class VerdictOut(BaseModel):
    risk_level: str
    risk_score: float
    threat_type: str
    confidence: float
    tier: str
    reason: str
    rule_ids: list[str]
    mitre_ids: list[str]
    recommended_actions: list[str]
    analysis: str
    analyzer_version: str
    latency_ms: float
    analyzed_at: datetime


class EventOut(BaseModel):
    event_id: UUID
    timestamp: datetime
    event_type: str
    action: str | None
    outcome: str
    source_ip: str | None
    source_user: str | None
    source_host: str | None
    destination_ip: str | None
    destination_port: int | None
    destination_host: str | None
    product: str | None
    stored_at: datetime
    verdict: VerdictOut | None
    payload: dict[str, Any] | None = None


class EventPage(BaseModel):
    items: list[EventOut]
    next_before: datetime | None
