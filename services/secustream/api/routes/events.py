"""Events with their verdicts: filtered keyset pages, one event in full, and analysts' feedback."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Request, Response, status

from secustream.analyzer.native import RuleSet
from secustream.analyzer.native.suppressions import suppress_false_positive
from secustream.api import query
from secustream.api.deps import AUTH_RESPONSES, Analyst, Claims, Conn, Ctx, Viewer, require_timezones
from secustream.api.pages import event_out
from secustream.api.schemas import (
    EventDetail,
    EventPage,
    EventQuery,
    FeedbackIn,
    FeedbackLabel,
    FeedbackOut,
    Message,
    Role,
)
from secustream.storage import alerts as alert_store
from secustream.storage import feedback as feedback_store
from secustream.storage import pages as page_store

router = APIRouter(prefix="/events", tags=["events"])

NOT_FOUND = {404: {"model": Message, "description": "No event with this id"}}
EventId = Annotated[UUID, Path(description="The event id (UUID)")]


@router.get("", response_model=EventPage, responses={**AUTH_RESPONSES, 400: {"model": Message}},
            openapi_extra=query.openapi(EventQuery))
async def list_events(request: Request, ctx: Ctx, claims: Claims) -> Response:
    """Events with their verdicts, newest first (event time, then id), one keyset page at a time.

    Verdict filters (risk level, tier, threat type, q) return analysed events only.
    """
    # The hot path: the reader checks the account and reads the page in one statement and builds the JSON
    # itself (api/pages.py); ``response_model`` documents the body, ``EventQuery`` the parameters.
    p = query.parse(EventQuery, request.query_params)
    require_timezones(since=p.since, until=p.until)
    if p.since is not None and p.until is not None and p.since >= p.until:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="since must be before until")
    filters = page_store.EventFilters(
        risk_levels=p.risk_level, tiers=p.tier, threat_types=p.threat_type, since=p.since, until=p.until,
        source_ip=p.source_ip, user=p.user, host=p.host, q=p.q,
    )
    try:
        body = await ctx.pages.page(claims, Role.VIEWER, filters, p.limit, p.cursor)
    except page_store.CursorError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    return Response(body, media_type="application/json")


@router.get("/{event_id}", response_model=EventDetail, responses={**AUTH_RESPONSES, **NOT_FOUND})
def get_event(event_id: EventId, conn: Conn, _user: Viewer) -> EventDetail:
    """One event in full: raw input, normalised document, verdict (tier reason, rule hits, MITRE ids,
    recommended actions) and every analyst's current feedback."""
    row = page_store.get_event(conn, event_id)
    if row is None:
        gone = alert_store.hit_event_known(conn, event_id)
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            detail="event expired (removed by retention)" if gone else "event not found")
    base = event_out(row)
    payload = dict(row["payload"] or {})
    raw = payload.pop("raw", None)
    feedback = [FeedbackOut.model_validate(f) for f in feedback_store.list_feedback(conn, event_id)]
    return EventDetail(**base.model_dump(), raw=raw if isinstance(raw, str) else None, normalised=payload,
                       produced_at=row["produced_at"], feedback=feedback)


@router.get("/{event_id}/feedback", response_model=list[FeedbackOut], responses={**AUTH_RESPONSES, **NOT_FOUND})
def list_feedback(event_id: EventId, conn: Conn, _user: Viewer) -> list[FeedbackOut]:
    """Every user's current feedback on the event, newest first."""
    if not page_store.event_exists(conn, event_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="event not found")
    return [FeedbackOut.model_validate(f) for f in feedback_store.list_feedback(conn, event_id)]


@router.put("/{event_id}/feedback", response_model=FeedbackOut,
            responses={**AUTH_RESPONSES, **NOT_FOUND, 400: {"model": Message}})
def put_feedback(event_id: EventId, body: FeedbackIn, conn: Conn, user: Analyst, ctx: Ctx) -> FeedbackOut:
    """Record (or replace) the caller's feedback: true/false positive, benign, or a corrected class.

    A false positive on a rule verdict also proposes suppressing those rules for the entity they fired on:
    scoped (rule + entity), lapsing after SUPPRESSION_PROPOSAL_DAYS, and in force only once an admin approves
    it (``POST /suppressions/{id}/approve``; the analyzers pick it up within RULES_RELOAD_SECONDS)."""
    if body.label == FeedbackLabel.CORRECTED_CLASS and body.corrected_class is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="label corrected_class needs corrected_class")
    if body.label != FeedbackLabel.CORRECTED_CLASS and body.corrected_class is not None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="corrected_class is only for label corrected_class")
    if not page_store.event_exists(conn, event_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="event not found")
    row = feedback_store.upsert_feedback(conn, event_id, int(user["id"]), body.label.value,
                                  body.corrected_class.value if body.corrected_class else None, body.note)
    if body.label == FeedbackLabel.FALSE_POSITIVE:
        suppress_false_positive(conn, event_id, int(user["id"]), body.note, RuleSet.load(ctx.settings.rules_path),
                                ctx.settings.SUPPRESSION_PROPOSAL_DAYS)
    return FeedbackOut.model_validate(row)


@router.delete("/{event_id}/feedback", status_code=204, response_class=Response,
               responses={**AUTH_RESPONSES, **NOT_FOUND})
def delete_feedback(event_id: EventId, conn: Conn, user: Analyst) -> Response:
    """Withdraw the caller's own feedback on the event."""
    if not feedback_store.delete_feedback(conn, event_id, int(user["id"])):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no feedback of yours on this event")
    return Response(status_code=204)
