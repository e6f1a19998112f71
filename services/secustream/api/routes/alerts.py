"""The alert queue: keyset pages, triage (one or many), ATT&CK heat, suppressed hits, webhook dead letters.

Roles: viewers read; analysts triage; admins see notification dead letters (their payloads).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status

from secustream.alerts.triage import feed_resolution
from secustream.analyzer.native import RuleSet
from secustream.api import query
from secustream.api.deps import AUTH_RESPONSES, Admin, Analyst, Claims, Conn, Ctx, Viewer, require_timezones
from secustream.api.schemas import Message, Role
from secustream.api.schemas_alerts import (
    AlertBulkPatch,
    AlertDetail,
    AlertOut,
    AlertPage,
    AlertPatch,
    AlertQuery,
    AlertStatus,
    AttackHeat,
    DeadLetterOut,
    SuppressionHits,
)
from secustream.storage import alerts as store
from secustream.storage.pages import CursorError

router = APIRouter(prefix="/alerts", tags=["alerts"])

NOT_FOUND = {404: {"model": Message, "description": "No alert with this id"}}
AlertId = Annotated[UUID, Path(description="The alert id (UUID)")]


@router.get("", response_model=AlertPage, responses={**AUTH_RESPONSES, 400: {"model": Message}},
            openapi_extra=query.openapi(AlertQuery))
async def list_alerts(request: Request, ctx: Ctx, claims: Claims) -> Response:
    """Alerts, most recent activity first (last seen, then id), one keyset page at a time."""
    q = query.parse(AlertQuery, request.query_params)
    require_timezones(since=q.since, until=q.until)
    if q.since is not None and q.until is not None and q.since >= q.until:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="since must be before until")
    filters = store.AlertFilters(statuses=q.status, levels=q.level, detection=q.rule, search=q.search, entity=q.entity,
                                 since=q.since, until=q.until, incident_id=q.incident, assignee=q.assignee)
    try:
        body = await ctx.pages.alert_page(claims, Role.VIEWER, filters, q.limit, q.cursor)
    except CursorError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    return Response(body, media_type="application/json")


@router.get("/attack", response_model=AttackHeat, responses=AUTH_RESPONSES)
def attack_heat(conn: Conn, _user: Viewer,
                since: Annotated[datetime | None, Query(description="Alerts last seen at or after")] = None) -> Any:
    """ATT&CK coverage and heat: alerts and hits by tactic and by technique."""
    require_timezones(since=since)
    return store.attack_heat(conn, since)


@router.get("/suppressed", response_model=list[SuppressionHits], responses=AUTH_RESPONSES)
def suppressed(conn: Conn, _user: Viewer) -> Any:
    """Every rule suppression with the hits it stopped (nothing is dropped silently)."""
    return store.suppressed_counts(conn)


@router.get("/dead-letters", response_model=list[DeadLetterOut], responses=AUTH_RESPONSES)
def dead_letters(conn: Conn, _user: Admin,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Any:
    """Webhook notifications that failed every retry, newest first."""
    return store.list_dead_letters(conn, limit)


@router.post("/bulk", response_model=list[AlertOut], responses={**AUTH_RESPONSES, 400: {"model": Message}})
def bulk_triage(body: AlertBulkPatch, conn: Conn, user: Analyst, ctx: Ctx) -> Any:
    """Triage many alerts at once (the queue's bulk acknowledge / close)."""
    return _triage(conn, body.ids, body, user, ctx)


@router.get("/{alert_id}", response_model=AlertDetail, responses={**AUTH_RESPONSES, **NOT_FOUND})
def get_alert(alert_id: AlertId, conn: Conn, _user: Viewer, ctx: Ctx) -> Any:
    """One alert with its sample events, audit trail and, for a Sigma rule, its description and attribution."""
    alert = store.get_alert(conn, alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="alert not found")
    about = ctx.rules.about(alert["detection"])
    return {**alert, "rule": dataclasses.asdict(about) if about is not None else None}


@router.patch("/{alert_id}", response_model=AlertOut,
              responses={**AUTH_RESPONSES, **NOT_FOUND, 400: {"model": Message}})
def patch_alert(alert_id: AlertId, body: AlertPatch, conn: Conn, user: Analyst, ctx: Ctx) -> Any:
    """Acknowledge, assign, annotate or close an alert (with a resolution). Every change is audited; a false
    positive also becomes feedback on its events and proposes suppressing its rule for its entity (an admin
    approves it: POST /suppressions/{id}/approve)."""
    found = _triage(conn, [alert_id], body, user, ctx)
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="alert not found")
    return found[0]


def _triage(conn: Any, ids: list[UUID], body: AlertPatch, user: dict[str, Any], ctx: Any) -> list[dict[str, Any]]:
    changes = body.model_dump(exclude_unset=True, mode="json")
    if not changes:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="nothing to change")
    if changes.get("status") == AlertStatus.CLOSED and not changes.get("resolution"):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="closing needs a resolution")
    if changes.get("resolution") and changes.get("status", AlertStatus.CLOSED) != AlertStatus.CLOSED:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="a resolution closes the alert: status closed")
    if changes.get("resolution"):
        changes["status"] = AlertStatus.CLOSED.value
    before = {a["id"]: a for a in store.alerts_by_id(conn, ids)}
    after = store.triage(conn, ids, changes, str(user["username"]))
    resolution = changes.get("resolution")
    if resolution:
        ruleset = RuleSet.load(ctx.settings.rules_path)
        for alert in after:
            if before.get(alert["id"], {}).get("resolution") != resolution:
                feed_resolution(conn, alert, resolution, int(user["id"]), changes.get("notes"), ruleset,
                                ctx.settings.SUPPRESSION_PROPOSAL_DAYS)
    return after
