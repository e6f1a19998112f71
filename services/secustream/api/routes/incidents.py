"""Incidents (timeline, entities, story) and entity pages (an entity's alerts, incidents and events)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Query, status

from secustream.api.deps import AUTH_RESPONSES, Conn, Ctx, Viewer
from secustream.api.pages import event_out
from secustream.api.schemas import Message
from secustream.api.schemas_alerts import EntityKind, EntityView, IncidentDetail, IncidentPage
from secustream.storage import alerts as store
from secustream.storage import pages as page_store
from secustream.storage.pages import CursorError

router = APIRouter(tags=["incidents"])

NOT_FOUND = {404: {"model": Message, "description": "No incident with this id"}}
RECENT_EVENTS = 20
_EVENT_FILTER = {EntityKind.IP: "source_ip", EntityKind.USER: "user", EntityKind.HOST: "host"}


@router.get("/incidents", response_model=IncidentPage, responses={**AUTH_RESPONSES, 400: {"model": Message}})
def list_incidents(
    conn: Conn, _user: Viewer,
    incident_status: Annotated[list[str] | None, Query(alias="status", description="open or closed")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Any:
    """Incidents, most recent activity first, one keyset page at a time."""
    statuses = incident_status or []
    if any(s not in ("open", "closed") for s in statuses):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="status is open or closed")
    try:
        return store.list_incidents(conn, statuses, limit, cursor)
    except CursorError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None


@router.get("/incidents/{incident_id}", response_model=IncidentDetail, responses={**AUTH_RESPONSES, **NOT_FOUND})
def get_incident(incident_id: Annotated[UUID, Path()], conn: Conn, _user: Viewer) -> Any:
    """One incident: its alerts, a timeline of alerts and key events, its entities, story and audit trail."""
    incident = store.get_incident(conn, incident_id)
    if incident is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="incident not found")
    return incident


@router.get("/entities/{kind}/{value}", response_model=EntityView, responses=AUTH_RESPONSES)
def get_entity(kind: EntityKind, value: Annotated[str, Path(min_length=1, max_length=512)], conn: Conn,
               _user: Viewer, ctx: Ctx) -> Any:
    """An entity (host, user, IP or GUID): its alerts, incidents and recent events (newest 20; more through
    ``events_url``, the events list filtered on it)."""
    wanted = value if kind is EntityKind.IP else value.lower()
    view = store.entity_view(conn, kind.value, wanted)
    field = _EVENT_FILTER.get(kind)
    query = urlencode({field: value}) if field else ""
    view["events_url"] = f"{ctx.settings.API_V1_STR}/events" + (f"?{query}" if query else "")
    view["recent_events"] = [event_out(r) for r in page_store.list_events(
        conn, page_store.EventFilters(**{field: value}), RECENT_EVENTS).rows] if field else []
    return view
