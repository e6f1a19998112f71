"""The verdict shape every step of the cascade returns, and the one risk table behind its levels.

Domain code: storage, API and dashboard import it; it imports nothing of ours above ``events``.
"""

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

# The one risk table: (level, lowest score at that level, the score a level-only verdict gets).
# A rule's severity and the LLM's level become scores through it; a model's score becomes a level.
RISK_TABLE: tuple[tuple[RiskLevel, float, float], ...] = (
    (RiskLevel.CRITICAL, 0.9, 0.95),
    (RiskLevel.HIGH, 0.7, 0.8),
    (RiskLevel.MEDIUM, 0.4, 0.5),
    (RiskLevel.LOW, 0.0, 0.2),
)
_LEVEL_SCORE = {level: score for level, _floor, score in RISK_TABLE}


def risk_level(score: float) -> RiskLevel:
    """The level a risk score falls in."""
    for level, floor, _score in RISK_TABLE:
        if score >= floor:
            return level
    return RiskLevel.LOW


def level_score(level: RiskLevel | str) -> float:
    """The score that stands for a level when only the level is known (a rule's severity, the LLM's answer)."""
    return _LEVEL_SCORE[RiskLevel(level)]


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
