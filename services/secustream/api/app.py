"""App factory: dependencies (engine, state, registry) are passed in, never module globals.

Refuses to build with an insecure SECRET_KEY unless DEV_MODE; bootstraps the first admin from settings.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, Counter
from psycopg_pool import PoolTimeout
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from secustream import heap
from secustream.api.deps import ApiContext
from secustream.api.live_hub import LiveHub
from secustream.api.middleware import BodySizeLimit, HTTPMetrics, SecurityHeaders
from secustream.api.pages import page_reader
from secustream.api.proxies import ClientAddress
from secustream.api.routes import (
    alerts,
    audit,
    auth,
    content,
    events,
    incidents,
    live,
    models,
    rules,
    stats,
    suppressions,
    system,
    users,
)
from secustream.api.rule_catalog import RuleCatalog
from secustream.api.schemas import Message
from secustream.api.security import PasswordHasher, TokenCodec, VerifiedTokens, check_secret_key
from secustream.api.throttle import LOCKOUT_SCOPES, LoginThrottle, ThrottlePolicy
from secustream.config import Settings
from secustream.state import VERDICTS_CHANNEL, StateStore
from secustream.storage import users as user_store

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"

DESCRIPTION = """Events and verdicts of the SecuStreamAI pipeline for analysts.

Authenticate with `POST {api}/auth/token` (OAuth2 password form), then send `Authorization: Bearer <token>`.
Roles: **viewer** reads; **analyst** also gives feedback and triages alerts; **admin** also manages users, rules
and suppressions and reads notification dead letters.
"""


COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Message, "description": "Bad input (the message says which)"},
    413: {"model": Message, "description": "Request body larger than MAX_REQUEST_BYTES"},
}


def make_throttle(settings: Settings, state: StateStore, registry: CollectorRegistry) -> LoginThrottle:
    """Counters from the state backend: shared through Redis (falling back to in-process counters while Redis
    is down, counted in ``secustream_login_throttle_fallback_total``), in-process for `secustream up`."""
    fallback = Counter("secustream_login_throttle_fallback_total",
                       "Login throttle operations served in-process because Redis was unavailable",
                       registry=registry)
    return LoginThrottle(state.counters(on_fallback=fallback.inc), ThrottlePolicy.from_settings(settings))


def lockout_counter(registry: CollectorRegistry) -> Counter:
    """Login budgets spent, by scope (every scope exported from the start, so alerts see a 0)."""
    counter = Counter("secustream_login_lockouts_total", "Login throttle budgets spent: account_client and "
                      "client are blocked, account is slowed (docs/api.md)", ["scope"], registry=registry)
    for scope in LOCKOUT_SCOPES:
        counter.labels(scope)
    return counter


def bootstrap_admin(engine: Engine, hasher: PasswordHasher, username: str, password: str) -> bool:
    """Create the first admin when absent (idempotent; an existing user is never changed). True if created."""
    with engine.begin() as conn:
        if user_store.get_user_by_name(conn, username) is not None:
            return False
        try:
            user_store.create_user(conn, username, hasher.hash(password), "admin")
        except IntegrityError:  # another replica won the race
            return False
    log.info("bootstrapped admin user %r", username)
    return True


def create_app(settings: Settings, engine: Engine, state: StateStore, registry: CollectorRegistry,
               kafka_ready: Callable[[], bool] | None = None) -> FastAPI:
    check_secret_key(settings)
    api = settings.API_V1_STR
    app = FastAPI(title=f"{settings.PROJECT_NAME} API", version=settings.PROJECT_VERSION,
                  description=DESCRIPTION.format(api=api), openapi_url=f"{api}/openapi.json", docs_url="/docs",
                  redoc_url=None, swagger_ui_oauth2_redirect_url=None, lifespan=_lifespan)
    hasher = PasswordHasher(settings.PASSWORD_HASH_ROUNDS)
    hub = LiveHub(state, VERDICTS_CHANNEL)
    tokens = TokenCodec.from_settings(settings)
    app.state.ctx = ApiContext(settings=settings, engine=engine, state=state, registry=registry,
                               kafka_ready=kafka_ready, tokens=tokens, verified=VerifiedTokens(tokens), hasher=hasher,
                               throttle=make_throttle(settings, state, registry),
                               login_lockouts=lockout_counter(registry), hub=hub, pages=page_reader(engine),
                               rules=RuleCatalog(settings))
    if settings.FIRST_ADMIN_USERNAME and settings.FIRST_ADMIN_PASSWORD:
        bootstrap_admin(engine, hasher, settings.FIRST_ADMIN_USERNAME, settings.FIRST_ADMIN_PASSWORD)

    app.state.coverage = content.CoverageView(settings)
    app.include_router(system.router)
    for module in (auth, events, alerts, incidents, stats, rules, suppressions, models, content, users, audit,
                   live):
        app.include_router(module.router, prefix=api, responses=COMMON_RESPONSES)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _install_error_handlers(app)

    # Outermost last: metrics see every response, headers are added to all, the body limit runs first.
    if settings.CORS_ORIGINS.strip():
        origins = [o.strip() for o in settings.CORS_ORIGINS.split(",") if o.strip()]
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(BodySizeLimit, max_bytes=settings.MAX_REQUEST_BYTES)
    app.add_middleware(SecurityHeaders, api_prefix=api)
    app.add_middleware(HTTPMetrics, registry=registry, api_prefix=api)
    app.add_middleware(ClientAddress, trusted=settings.trusted_proxies)  # outermost: everything sees the client
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The events list's async pool lives on the serving loop: opened at start-up, closed before the loop ends."""
    pages = app.state.ctx.pages
    await pages.start()
    try:
        yield
    finally:
        await pages.stop()
        pages.close()


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 without echoing the submitted values back (they may be passwords)."""
        errors: list[dict[str, Any]] = [
            {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))}
            for err in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(DataError)
    @app.exception_handler(psycopg.DataError)  # the same, from the events list's raw driver
    async def bad_value(_request: Request, exc: Exception) -> JSONResponse:
        """A value PostgreSQL cannot store or compare (e.g. a NUL character) is the client's error."""
        return JSONResponse({"detail": "invalid value in the request (e.g. a NUL character)"}, status_code=400)

    @app.exception_handler(SQLAlchemyError)
    @app.exception_handler(psycopg.Error)
    @app.exception_handler(PoolTimeout)
    async def database_error(_request: Request, exc: Exception) -> JSONResponse:
        log.error("database error: %s", type(exc).__name__)
        return JSONResponse({"detail": "database unavailable"}, status_code=503)

    @app.exception_handler(redis.RedisError)
    async def state_error(_request: Request, exc: Exception) -> JSONResponse:
        """Redis down is an outage (503, retry later), never a 500; logins do not need it (api/throttle.py)."""
        log.error("state store error: %s", type(exc).__name__)
        return JSONResponse({"detail": "state store (Redis) unavailable"}, status_code=503)


def from_env() -> FastAPI:
    """uvicorn factory (``uvicorn --factory secustream.api.app:from_env --no-proxy-headers --http
    secustream.api.http_writes:CoalescingHttpToolsProtocol --workers N``, as ``proxies.server_options``):
    everything from env vars (proxy headers are resolved by the app from TRUSTED_PROXIES, api/proxies.py)."""
    from secustream.config import load_settings
    from secustream.runtime import kafka_reachable
    from secustream.state import make_state
    from secustream.storage.database import make_engine

    settings = load_settings()
    kafka = settings.KAFKA_SERVER
    app = create_app(settings, make_engine(settings.DATABASE_URL, pool_size=20, max_overflow=20),
                     make_state(settings.REDIS_URL), CollectorRegistry(),
                     kafka_ready=(lambda: kafka_reachable(kafka)) if kafka else None)
    # The app's long-lived objects (routes, schemas, models) leave the collector's view: full collections stay
    # short instead of pausing every in-flight request (measured: lower p99 of the events list).
    heap.settle()
    return app
