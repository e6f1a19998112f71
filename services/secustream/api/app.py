"""App factory: dependencies (engine, state, registry) are passed in, never module globals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import Engine, text

from secustream.api.dashboard import DASHBOARD_HTML
from secustream.api.schemas import EventOut, EventPage, VerdictOut
from secustream.config import Settings
from secustream.state import StateStore
from secustream.storage.models import Event
from secustream.storage.models import Verdict as VerdictRow
from secustream.storage.repository import VerdictRepository


def event_out(event: Event, verdict: VerdictRow | None, with_payload: bool = False) -> EventOut:
    return EventOut(
        event_id=event.id, timestamp=event.timestamp, event_type=event.event_type, action=event.action,
        outcome=event.outcome, source_ip=event.source_ip, source_user=event.source_user,
        source_host=event.source_host, destination_ip=event.destination_ip,
        destination_port=event.destination_port, destination_host=event.destination_host, product=event.product,
        stored_at=event.stored_at, payload=event.payload if with_payload else None,
        verdict=VerdictOut.model_validate(verdict, from_attributes=True) if verdict is not None else None,
    )


def create_app(settings: Settings, engine: Engine, state: StateStore, registry: CollectorRegistry,
               kafka_ready: Callable[[], bool] | None = None) -> FastAPI:
    app = FastAPI(title=settings.PROJECT_NAME, version=settings.PROJECT_VERSION,
                  openapi_url=f"{settings.API_V1_STR}/openapi.json", docs_url="/docs", redoc_url=None)
    repo = VerdictRepository(engine)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process serves requests."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz(response: Response) -> dict[str, object]:
        """Readiness: the database, the state store and Kafka answer."""
        checks: dict[str, bool] = {}
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = True
        except Exception:
            checks["database"] = False
        checks["state"] = state.ping()
        if kafka_ready is not None:
            checks["kafka"] = bool(kafka_ready())
        ok = all(checks.values())
        response.status_code = 200 if ok else 503
        return {"status": "ready" if ok else "not ready", "checks": checks}

    @app.get("/metrics", tags=["health"], response_class=Response)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get(f"{settings.API_V1_STR}/events", response_model=EventPage, tags=["events"])
    def list_events(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        before: Annotated[datetime | None, Query(description="Keyset cursor: events strictly older")] = None,
    ) -> EventPage:
        """Events with their verdicts, newest first."""
        rows = repo.recent(limit=limit, before=before)
        items = [event_out(ev, vd) for ev, vd in rows]
        return EventPage(items=items, next_before=items[-1].timestamp if len(items) == limit else None)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request) -> HTMLResponse:
        return HTMLResponse(DASHBOARD_HTML.replace("{{API}}", settings.API_V1_STR))

    return app
