"""API test fixtures: an app over real PostgreSQL and Redis, users of every role, a seeded event set.

Module-scoped databases keep the suite fast (one migrated database per module, not per test); under CI=true
a missing service fails (tests/conftest.py's ``service_missing``), locally it skips.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from secustream.api.app import create_app
from secustream.api.proxies import server_options
from secustream.api.security import PasswordHasher
from secustream.config import Settings
from secustream.events import Endpoint, SecurityEvent
from secustream.messaging.local_broker import free_port
from secustream.state import RedisState
from secustream.storage import users as user_store
from secustream.storage.database import make_engine
from secustream.storage.migrate import upgrade
from secustream.storage.repository import AnalyzedEvent, VerdictRepository
from secustream.verdict import RiskLevel, Verdict
from tests.conftest import flushed_redis_url, fresh_database

PASSWORD = "correct horse battery"
ROLES = ("viewer", "analyst", "admin")


@pytest.fixture(scope="module")
def module_pg_url() -> Iterator[str]:
    """A fresh migrated database shared by one test module."""
    with fresh_database("secustream_api") as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="module")
def module_redis_url() -> str:
    return flushed_redis_url()


def make_settings(**overrides: object) -> Settings:
    base: dict[str, object] = {
        "SECRET_KEY": secrets.token_urlsafe(40), "ALGORITHM": "HS256", "ACCESS_TOKEN_EXPIRE_MINUTES": 30,
        "PASSWORD_HASH_ROUNDS": 4, "LOGIN_MAX_FAILURES": 3, "LOGIN_WINDOW_SECONDS": 2, "DEV_MODE": False,
        "FIRST_ADMIN_USERNAME": "", "FIRST_ADMIN_PASSWORD": "", "CORS_ORIGINS": "", "GRAFANA_URL": "",
        "MAX_REQUEST_BYTES": 65536, "API_V1_STR": "/api/v1",
    }
    base.update(overrides)
    return Settings(_env_file=None, **base)  # type: ignore[call-arg]


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    settings: Settings
    engine: Engine
    state: RedisState
    users: dict[str, dict[str, object]]

    def token(self, role: str) -> str:
        """A fresh token for the role's user at the account's current token version."""
        with self.engine.connect() as conn:
            user = user_store.get_user(conn, int(self.users[role]["id"]))  # type: ignore[call-overload]
        assert user is not None, role
        return self.app.state.ctx.tokens.issue(int(user["id"]), int(user["token_version"]), role)[0]

    def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.token(role)}"}


def create_users(engine: Engine, rounds: int = 4) -> dict[str, dict[str, object]]:
    """One active user per role plus a disabled analyst; all share ``PASSWORD``."""
    hasher = PasswordHasher(rounds)
    hashed = hasher.hash(PASSWORD)
    users = {}
    with engine.begin() as conn:
        for role in ROLES:
            users[role] = user_store.create_user(conn, f"{role}-user", hashed, role)
        users["disabled"] = user_store.create_user(conn, "disabled-user", hashed, "analyst", is_active=False)
    return users


def build_api(pg_url: str, redis_url: str, **overrides: object) -> Api:
    settings = make_settings(**overrides)
    engine = make_engine(pg_url, pool_size=10)
    state = RedisState.from_url(redis_url)
    app = create_app(settings, engine, state, CollectorRegistry())
    with engine.connect() as conn:
        existing = {u["role"]: u for u in user_store.list_users(conn) if u["username"].endswith("-user")}
    users = existing if existing else create_users(engine)
    if "disabled" not in users:
        with engine.connect() as conn:
            users["disabled"] = user_store.get_user_by_name(conn, "disabled-user")  # type: ignore[assignment]
    return Api(app, TestClient(app), settings, engine, state, users)


@pytest.fixture(scope="module")
def api(module_pg_url: str, module_redis_url: str) -> Iterator[Api]:
    built = build_api(module_pg_url, module_redis_url)
    built.client.__enter__()  # runs the lifespan: requests use the events list's async pool on the client's loop
    try:
        yield built
    finally:
        built.client.__exit__(None, None, None)
        built.app.state.ctx.hub.close()
        built.app.state.ctx.pages.close()
        built.state.close()
        built.engine.dispose()


# --------------------------------------------------------------------------- seeded events

T0 = datetime(2026, 11, 1, tzinfo=UTC)
TIERS = ("rules", "model", "llm")
THREATS = ("benign", "brute_force", "port_scan", "data_exfiltration")
RISKS = (RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH, RiskLevel.CRITICAL)


def seed_item(i: int, ts: datetime | None = None) -> AnalyzedEvent:
    """Deterministic event ``i``: attributes cycle with co-prime periods so filter combinations all occur."""
    ts = ts or T0 + timedelta(seconds=i // 2)  # pairs share a timestamp: the id tiebreak matters
    event = SecurityEvent(
        event_type="auth", action="ssh_login", outcome="failure" if i % 2 else "success", timestamp=ts,
        # some in upper case, as Windows logs them (WORKSTATION5, SYSTEM): the user and host filters take any case
        source=Endpoint(ip=f"10.0.{i % 5}.{i % 7}", user=f"user{i % 3}" if i % 5 else f"USER{i % 3}",
                        host=f"ws-{i % 4}" if i % 7 else f"WS-{i % 4}"),
        destination=Endpoint(host=f"srv-{i % 6}", port=22), product="sshd", raw=f"raw line {i}",
    )
    risk = RISKS[i % 4]
    verdict = Verdict(
        event_id=event.event_id, risk_level=risk, risk_score=0.2 + 0.2 * (i % 4), threat_type=THREATS[i % 4],
        confidence=0.9, tier=TIERS[i % 3], reason=f"seed reason {i}", rule_ids=["SSH-BRUTE-FORCE"] if i % 4 else [],
        mitre_ids=["T1110"] if i % 4 else [], recommended_actions=["Block the source"] if i % 4 else [],
        analysis=("Password spraying observed" if i % 5 == 0 else "Routine login activity") + f" #{i}",
        analyzer_version="test",
    )
    return AnalyzedEvent(event, verdict)


def seed(engine: Engine, n: int) -> list[AnalyzedEvent]:
    items = [seed_item(i) for i in range(n)]
    VerdictRepository(engine).store(items)
    return items


def seed_alerts(engine: Engine, items: list[AnalyzedEvent]) -> None:
    """Count the seeded verdicts into alerts and incidents, as the analyzer's alert stage does."""
    from secustream.alerts.hits import AlertPolicy
    from secustream.alerts.stage import AlertStage

    AlertStage(engine, AlertPolicy()).process(items)


# --------------------------------------------------------------------------- a real HTTP server


class LiveServer:
    """uvicorn in a thread on a free port: the live stream and the browser need real sockets."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off", **server_options()))  # type: ignore[arg-type]
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("uvicorn did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
