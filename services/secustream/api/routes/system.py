"""Probes and metrics (unauthenticated: kubelet and Prometheus call them) and the dashboard page."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from secustream.api.deps import Ctx

router = APIRouter()
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


@router.get("/healthz", tags=["health"])
def healthz() -> dict[str, str]:
    """Liveness: the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", tags=["health"], responses={503: {"description": "A dependency is unreachable"}})
async def readyz(ctx: Ctx) -> JSONResponse:
    """Readiness: PostgreSQL, Redis (state store) and Kafka answer."""

    def database() -> bool:
        try:
            with ctx.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    checks = {"database": await run_in_threadpool(database), "state": await run_in_threadpool(ctx.state.ping)}
    if ctx.kafka_ready is not None:
        checks["kafka"] = bool(await run_in_threadpool(ctx.kafka_ready))
    ok = all(checks.values())
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", tags=["health"], response_class=Response)
def metrics(ctx: Ctx) -> Response:
    """Prometheus exposition: pipeline metrics of this process plus HTTP request metrics."""
    return Response(generate_latest(ctx.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def dashboard(request: Request, ctx: Ctx) -> HTMLResponse:
    """The analyst dashboard (one page; data comes from the API with the user's token)."""
    settings = ctx.settings
    return TEMPLATES.TemplateResponse(request, "index.html", {
        "project": settings.PROJECT_NAME, "version": settings.PROJECT_VERSION, "api": settings.API_V1_STR,
        "grafana": settings.GRAFANA_URL.rstrip("/"),
    })
