"""Shared fixtures: real PostgreSQL, Redis and a Tansu Kafka broker.

Under CI=true a missing service fails the test; locally it skips with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get("SECUSTREAM_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_URL = os.environ.get("SECUSTREAM_TEST_REDIS", "redis://127.0.0.1:6379/9")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _default_schema_dir() -> str:
    """Upstream CRD schemas (test data, not in the repo): the workspace's shared folder next to any clone."""
    repo = Path(__file__).resolve().parents[1]
    for candidate in (repo.parent / "shared" / "k8s-schemas", Path("/work/shared/k8s-schemas")):
        if candidate.is_dir():
            return str(candidate)
    return str(repo.parent / "shared" / "k8s-schemas")


os.environ.setdefault("SECUSTREAM_K8S_SCHEMAS", _default_schema_dir())


def service_missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"required test service unavailable under CI: {what}")
    pytest.skip(f"service unavailable: {what}")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the model trainings the collected modules need, in the background (``tests/background_training.py``)."""
    from tests import background_training

    background_training.start(session.config, session.items)


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests import background_training

    background_training.stop(session.config)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    from secustream.messaging.local_broker import LocalBroker

    try:
        broker = LocalBroker().start()
    except Exception as exc:
        service_missing(f"Tansu Kafka broker: {exc}")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def topics(kafka_bootstrap: str) -> dict[str, str]:
    """Fresh topic names per test so tests never see each other's messages."""
    from secustream.messaging.admin import ensure_topics

    suffix = uuid.uuid4().hex[:8]
    names = {"events": f"events-{suffix}", "results": f"results-{suffix}", "dlq": f"dlq-{suffix}",
             "group": f"analyzer-{suffix}"}
    ensure_topics(kafka_bootstrap, [names["events"], names["results"], names["dlq"]], 4)
    return names


@contextmanager
def fresh_database(prefix: str = "secustream_test") -> Iterator[str]:
    """A brand-new empty PostgreSQL database (URL), dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        service_missing(f"PostgreSQL at {PG_ADMIN_URL}: {exc}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest.fixture
def pg_url(empty_pg_url: str) -> str:
    """A fresh database migrated to head."""
    from secustream.storage.migrate import upgrade

    upgrade(empty_pg_url)
    return empty_pg_url


def flushed_redis_url() -> str:
    """The test Redis database, emptied (a missing Redis fails under CI, skips elsewhere)."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_TEST_URL)
        client.flushdb()
        client.close()
    except Exception as exc:
        service_missing(f"Redis at {REDIS_TEST_URL}: {exc}")
    return REDIS_TEST_URL


@pytest.fixture
def redis_url() -> str:
    return flushed_redis_url()
