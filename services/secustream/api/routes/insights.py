"""Read-mostly views for analysts: stats over time buckets, rules and suppressions, model versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlalchemy.exc import IntegrityError

from secustream.analyzer.rules.model import RuleError, RuleSet
from secustream.api.deps import AUTH_RESPONSES, Admin, Conn, Ctx, Viewer
from secustream.api.schemas import (
    RULE_ID_PATTERN,
    Message,
    ModelVersionOut,
    RuleOut,
    RuleToggle,
    Stats,
    StatsBucket,
    SuppressionApprove,
    SuppressionCreate,
    SuppressionOut,
    SuppressionToggle,
)
from secustream.feedback import SuppressionStatus
from secustream.storage import audit, queries

router = APIRouter()

MAX_BUCKETS = 2000


@router.get("/stats", response_model=Stats, tags=["stats"], responses={**AUTH_RESPONSES, 400: {"model": Message}})
def get_stats(
    conn: Conn, _user: Viewer,
    since: Annotated[datetime | None, Query(description="Default: 24 hours before until")] = None,
    until: Annotated[datetime | None, Query(description="Default: now")] = None,
    bucket: Annotated[Literal["minute", "hour", "day"], Query()] = "hour",
) -> Stats:
    """Verdict counts by risk level, tier and threat type per time bucket (event time)."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=f"{name} needs a timezone, e.g. ...Z")
    end = until or datetime.now(UTC)
    start = since or end - timedelta(hours=24)
    if start >= end:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="since must be before until")
    try:
        span = (end - start).total_seconds()
    except OverflowError:
        span = float("inf")
    if span / queries.BUCKET_SECONDS[bucket] > MAX_BUCKETS:
        raise HTTPException(status.HTTP_400_BAD_REQUEST,
                            detail=f"more than {MAX_BUCKETS} {bucket} buckets: narrow the range or widen the bucket")
    data = queries.stats(conn, start, end, bucket)
    buckets = [StatsBucket(start=datetime.fromtimestamp(b, UTC), **dims) for b, dims in sorted(data["buckets"].items())]
    return Stats(since=start, until=end, bucket=bucket, totals=data["totals"], buckets=buckets)


# --------------------------------------------------------------------------- rules and suppressions


def _load_rules(ctx: Ctx) -> RuleSet:
    try:
        return RuleSet.load(ctx.settings.rules_path)
    except RuleError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"rules cannot be loaded: {exc}") from None


RuleId = Annotated[str, Path(pattern=RULE_ID_PATTERN)]


@router.get("/rules", response_model=list[RuleOut], tags=["rules"], responses=AUTH_RESPONSES)
def list_rules(ctx: Ctx, conn: Conn, _user: Viewer) -> list[RuleOut]:
    """Detection rules (from the YAML rule files) with the admins' enable/disable overrides applied."""
    overrides = queries.rule_overrides(conn)
    out = []
    for rule in _load_rules(ctx).rules:
        spec, ov = rule.spec, overrides.get(rule.id)
        out.append(RuleOut(id=spec.id, description=spec.description, severity=spec.severity,
                           threat_type=spec.threat_type.value, mitre_ids=spec.mitre,
                           enabled=bool(ov["enabled"]) if ov else spec.enabled, overridden=ov is not None,
                           updated_at=ov["updated_at"] if ov else None))
    return out


@router.put("/rules/{rule_id}", response_model=RuleOut, tags=["rules"],
            responses={**AUTH_RESPONSES, 404: {"model": Message}})
def toggle_rule(rule_id: RuleId, body: RuleToggle, ctx: Ctx, conn: Conn, user: Admin) -> RuleOut:
    """Enable or disable a rule (admin). The YAML stays the source; this stores an override."""
    rule = next((r for r in _load_rules(ctx).rules if r.id == rule_id), None)
    if rule is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no rule {rule_id}")
    ov = queries.set_rule_override(conn, rule_id, body.enabled, int(user["id"]))
    spec = rule.spec
    return RuleOut(id=spec.id, description=spec.description, severity=spec.severity,
                   threat_type=spec.threat_type.value, mitre_ids=spec.mitre, enabled=bool(ov["enabled"]),
                   overridden=True, updated_at=ov["updated_at"])


SuppressionId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/suppressions", response_model=list[SuppressionOut], tags=["rules"], responses=AUTH_RESPONSES)
def list_suppressions(conn: Conn, _user: Viewer, active: bool | None = None,
                      state: Annotated[SuppressionStatus | None, Query(alias="status")] = None
                      ) -> list[SuppressionOut]:
    """Rule suppressions (a rule stops firing where field == value), newest first; ``status=proposed`` lists
    analysts' false positives waiting for an admin."""
    rows = queries.list_suppressions(conn, active, state.value if state else None)
    return [SuppressionOut.model_validate(s) for s in rows]


@router.post("/suppressions", response_model=SuppressionOut, status_code=201, tags=["rules"],
             responses={**AUTH_RESPONSES, 400: {"model": Message}})
def create_suppression(body: SuppressionCreate, conn: Conn, user: Admin) -> SuppressionOut:
    """Add a suppression (admin); in force at once."""
    if (body.field is None) != (body.value is None):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="field and value go together")
    if body.expires_at is not None and body.expires_at.tzinfo is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="expires_at needs a timezone")
    if body.source_event_id is not None and not queries.event_exists(conn, body.source_event_id):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="source_event_id: no such event")
    try:
        row = queries.create_suppression(conn, {**body.model_dump(), "created_by": int(user["id"]),
                                                "status": SuppressionStatus.APPROVED.value,
                                                "approved_by": int(user["id"]), "approved_at": datetime.now(UTC)})
    except IntegrityError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="suppression violates a constraint") from None
    audit.record(conn, "suppression_created", actor=user["username"], target=f"suppression:{row['id']}",
                 rule_id=row["rule_id"], field=row["field"], value=row["value"], expires_at=_iso(row["expires_at"]))
    return SuppressionOut.model_validate(row)


@router.patch("/suppressions/{suppression_id}", response_model=SuppressionOut, tags=["rules"],
              responses={**AUTH_RESPONSES, 404: {"model": Message}})
def toggle_suppression(suppression_id: SuppressionId, body: SuppressionToggle, conn: Conn,
                       user: Admin) -> SuppressionOut:
    """Activate or deactivate a suppression (admin); deactivating a proposal rejects it."""
    row = queries.set_suppression_active(conn, suppression_id, body.active)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such suppression")
    audit.record(conn, "suppression_activated" if body.active else "suppression_deactivated",
                 actor=user["username"], target=f"suppression:{suppression_id}", status=row["status"])
    return SuppressionOut.model_validate(row)


@router.post("/suppressions/{suppression_id}/approve", response_model=SuppressionOut, tags=["rules"],
             responses={**AUTH_RESPONSES, 404: {"model": Message}, 400: {"model": Message}})
def approve_suppression(suppression_id: SuppressionId, body: SuppressionApprove, conn: Conn,
                        user: Admin) -> SuppressionOut:
    """Approve an analyst's proposed suppression (it is in force from now on), or extend an approved one
    (admin). Without ``expires_at`` the current expiry stays; ``"expires_at": null`` makes it permanent."""
    before = queries.get_suppression(conn, suppression_id)
    if before is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such suppression")
    changes: dict[str, Any] = {}
    if "expires_at" in body.model_fields_set:
        if body.expires_at is not None and body.expires_at.tzinfo is None:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="expires_at needs a timezone")
        changes["expires_at"] = body.expires_at
    row = queries.approve_suppression(conn, suppression_id, int(user["id"]), changes)
    assert row is not None
    action = "suppression_approved" if before["status"] != SuppressionStatus.APPROVED else "suppression_extended"
    audit.record(conn, action, actor=user["username"], target=f"suppression:{suppression_id}",
                 rule_id=row["rule_id"], field=row["field"], value=row["value"], proposed_by=before["created_by"],
                 expires_at=_iso(row["expires_at"]))
    return SuppressionOut.model_validate(row)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@router.get("/models", response_model=list[ModelVersionOut], tags=["models"], responses=AUTH_RESPONSES)
def list_models(conn: Conn, _user: Viewer,
                kind: Annotated[str | None, Query(max_length=32)] = None) -> list[ModelVersionOut]:
    """Registered model versions (classifier checkpoints, LLM programs); the active one per kind is marked."""
    return [ModelVersionOut.model_validate(m) for m in queries.list_model_versions(conn, kind)]
