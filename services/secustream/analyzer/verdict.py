"""What every tier returns, so storage, API and dashboard see one verdict shape."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, Field


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


RISK_ORDER = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2, RiskLevel.CRITICAL: 3}
RISK_SCORE_FLOOR = {RiskLevel.LOW: 0.1, RiskLevel.MEDIUM: 0.4, RiskLevel.HIGH: 0.7, RiskLevel.CRITICAL: 0.9}


class Verdict(BaseModel):
    event_id: UUID
    risk_level: RiskLevel
    risk_score: float = Field(ge=0, le=1)
    threat_type: str
    confidence: float = Field(ge=0, le=1)
    tier: str
    reason: str
    rule_ids: list[str] = Field(default_factory=list)
    mitre_ids: list[str] = Field(default_factory=list)
    recommended_actions: list[str] = Field(default_factory=list)
    analysis: str = ""
    analyzer_version: str
    latency_ms: float = Field(default=0.0, ge=0)
    analyzed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    conclusive: bool = Field(default=True, exclude=True)
