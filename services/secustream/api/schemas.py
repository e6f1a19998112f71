"""Request and response models: the API's public contract (OpenAPI, with examples, is generated from these)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from secustream.events import ThreatClass
from secustream.feedback import FeedbackLabel, SuppressionStatus
from secustream.verdict import RiskLevel


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"


ROLE_RANK = {Role.VIEWER: 0, Role.ANALYST: 1, Role.ADMIN: 2}

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{1,63}$"
TIER_PATTERN = r"^[a-z][a-z0-9_-]{0,15}$"
THREAT_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
# A native rule id, or a Sigma one (sigma:<name|uuid|title-slug>)
RULE_ID_PATTERN = r"^(?:[A-Za-z0-9][A-Za-z0-9_.-]{1,63}|sigma:[A-Za-z0-9][A-Za-z0-9_.-]{0,240})$"

VERDICT_EXAMPLE = {
    "risk_level": "high", "risk_score": 0.92, "threat_type": "brute_force", "confidence": 0.95, "tier": "rules",
    "reason": "rule SSH-BRUTE-FORCE: 12 failed logins from 203.0.113.7 in 60s", "rule_ids": ["SSH-BRUTE-FORCE"],
    "mitre_ids": ["T1110", "T1110.001"], "recommended_actions": ["Block the source IP at the perimeter firewall"],
    "analysis": "Repeated SSH password failures from one external source.", "analyzer_version": "0.1.0",
    "latency_ms": 1.7, "analyzed_at": "2026-11-25T08:00:01Z",
}
EVENT_EXAMPLE = {
    "event_id": "0b6c1f8e-3f55-4a8e-9c2e-5c1a7b0d2f11", "timestamp": "2026-11-25T08:00:00Z", "event_type": "auth",
    "action": "ssh_login", "outcome": "failure", "source_ip": "203.0.113.7", "source_user": None,
    "source_host": None, "destination_ip": "10.0.0.5", "destination_port": 22, "destination_host": "bastion-1",
    "product": "sshd", "stored_at": "2026-11-25T08:00:01Z", "verdict": VERDICT_EXAMPLE,
}


class Message(BaseModel):
    detail: str = Field(examples=["not found"])


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Lifetime in seconds", examples=[1800])


class VerdictOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [VERDICT_EXAMPLE]})
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
    model_config = ConfigDict(json_schema_extra={"examples": [EVENT_EXAMPLE]})
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


Tier = Annotated[str, Field(pattern=TIER_PATTERN)]
ThreatType = Annotated[str, Field(pattern=THREAT_PATTERN)]


class EventQuery(BaseModel):
    """GET /events' query parameters (``api/query.py``: one validation per request)."""

    model_config = ConfigDict(frozen=True, use_enum_values=True)
    risk_level: list[RiskLevel] = Field([], description="One or more risk levels")
    tier: list[Tier] = Field([], description="Deciding tier(s): rules, model, llm")
    threat_type: list[ThreatType] = Field([], description="Threat type(s), e.g. brute_force")
    since: datetime | None = Field(None, description="Event time at or after (ISO 8601)")
    until: datetime | None = Field(None, description="Event time before (ISO 8601)")
    source_ip: str | None = Field(None, max_length=45)
    user: str | None = Field(None, max_length=256, description="Source user name (any case: `SYSTEM` finds `system`)")
    host: str | None = Field(None, max_length=256,
                             description="Source or destination host (any case: Windows logs `WS01.corp.local`)")
    q: str | None = Field(None, min_length=2, max_length=200, description="Text in the verdict's analysis")
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = Field(None, max_length=200, description="next_cursor of the previous page")


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page; null on the last page")


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"label": "false_positive", "note": "Nightly vulnerability scanner"},
        {"label": "corrected_class", "corrected_class": "port_scan", "note": "Scan, not brute force"},
    ]})
    label: FeedbackLabel
    corrected_class: ThreatClass | None = Field(default=None, description="Required when label is corrected_class")
    note: str | None = Field(default=None, max_length=2000)


class FeedbackOut(BaseModel):
    event_id: UUID
    user_id: int
    username: str
    label: str
    corrected_class: str | None
    note: str | None
    created_at: datetime
    updated_at: datetime


class EventDetail(EventOut):
    """One event in full: the raw and normalised record, the verdict with its reasoning, and all feedback."""

    raw: str | None = Field(description="The original input line when the event was ingested from a log")
    normalised: dict[str, Any] = Field(description="The normalised SecurityEvent document")
    produced_at: datetime | None
    feedback: list[FeedbackOut]


class StatsBucket(BaseModel):
    start: datetime
    risk_level: dict[str, int]
    tier: dict[str, int]
    threat_type: dict[str, int]


class Stats(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "since": "2026-11-24T08:00:00Z", "until": "2026-11-25T08:00:00Z", "bucket": "hour",
        "totals": {"risk_level": {"low": 950, "high": 12}, "tier": {"rules": 900, "model": 62},
                   "threat_type": {"benign": 940, "brute_force": 22}},
        "buckets": [{"start": "2026-11-25T07:00:00Z", "risk_level": {"low": 40}, "tier": {"rules": 40},
                     "threat_type": {"benign": 40}}]}]})
    since: datetime
    until: datetime
    bucket: Literal["minute", "hour", "day"]
    totals: dict[str, dict[str, int]]
    buckets: list[StatsBucket]


def _password_bytes(value: str | None) -> str | None:
    if value is not None and len(value.encode()) > 72:
        raise ValueError("password longer than 72 bytes (bcrypt's limit)")
    return value


class UserOut(BaseModel):
    id: int
    username: str
    role: Role
    is_active: bool
    created_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"username": "alice", "password": "a long passphrase here", "role": "analyst"}]})
    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=12, max_length=72)
    role: Role = Role.VIEWER

    _check_password = field_validator("password")(_password_bytes)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"role": "analyst"},
                                                                               {"is_active": False}]})
    role: Role | None = None
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=12, max_length=72)

    _check_password = field_validator("password")(_password_bytes)


class RevokedCount(BaseModel):
    accounts: int = Field(description="Accounts whose existing tokens no longer work")


class RuleOut(BaseModel):
    id: str
    description: str
    severity: RiskLevel
    threat_type: str
    mitre_ids: list[str]
    enabled: bool = Field(description="Effective state: the rule file's unless an admin override exists")
    level_override: RiskLevel | None = Field(default=None, description="The level an admin gave the rule, if any")
    overridden: bool
    updated_at: datetime | None = None


class RuleToggle(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": False},
                                                                           {"enabled": True, "level": "low"}]})
    enabled: bool
    level: RiskLevel | None = Field(default=None, description="Another level for the rule's hits; null: its own")


class SuppressionOut(BaseModel):
    id: int
    rule_id: str
    field: str | None
    value: str | None
    reason: str | None
    active: bool
    created_by: int | None
    source_event_id: UUID | None
    created_at: datetime
    expires_at: datetime | None
    status: SuppressionStatus = Field(description="proposed (an analyst's false positive, not in force until an "
                                                  "admin approves it) or approved")
    approved_by: int | None = None
    approved_at: datetime | None = None


class SuppressionApprove(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {}, {"expires_at": "2026-12-31T00:00:00Z"}, {"expires_at": None}]})
    expires_at: datetime | None = Field(default=None, description="Omitted: keep the current expiry. A time: "
                                        "extend or shorten to it. null: never expires")


class SecurityAuditOut(BaseModel):
    id: int
    at: datetime
    actor: str | None = Field(description="Username; null for the system (e.g. a login lockout)")
    action: str = Field(examples=["login_locked"])
    target: str | None = Field(examples=["username:alice", "user:7", "suppression:12"])
    detail: dict[str, Any]


class SuppressionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"rule_id": "SSH-BRUTE-FORCE", "field": "source.ip", "value": "10.0.0.9", "reason": "internal scanner"}]})
    rule_id: str = Field(pattern=RULE_ID_PATTERN)
    field: str | None = Field(default=None, max_length=128)
    value: str | None = Field(default=None, max_length=512)
    reason: str | None = Field(default=None, max_length=2000)
    source_event_id: UUID | None = None
    expires_at: datetime | None = None


class SuppressionToggle(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})
    active: bool


class ModelVersionOut(BaseModel):
    id: int
    kind: str
    version: int
    name: str
    artifact_path: str
    metrics: dict[str, Any]
    active: bool
    notes: str | None
    created_at: datetime


class RuleCoverage(BaseModel):
    """ATT&CK coverage of the loaded Sigma rules (docs/sigma.md "Coverage")."""

    rules: int = Field(description="rules and correlations that emit hits")
    with_attack_tags: int = Field(description="of them, rules tagged with at least one ATT&CK technique")
    techniques: int = Field(description="distinct techniques covered")
    tactics: dict[str, dict[str, int]] = Field(description="tactic -> technique -> number of rules")
