"""Issue 11's regressions: one bad record never stalls a partition, and every valid event is stored once.

Each case used to store 0 of the 100 valid events after it (the batch was retried forever).
Now each bad record is stored sanitised or dead-lettered with its stage and reason, alone.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
import uuid
from datetime import UTC, datetime

import httpx
import psycopg
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text

from secustream.analyzer.service import build_worker
from secustream.events import encode_event
from secustream.generator import EventGenerator
from secustream.generator.runner import produce_generated
from secustream.messaging import headers as h
from secustream.messaging.client import TrackedProducer, producer_config
from secustream.metrics import serve_metrics
from secustream.state import RedisState
from secustream.storage.migrate import upgrade

from ..conftest import fresh_database
from .pipeline_helpers import committed_to_end, make_settings, read_topic, rows, running_worker, scalar, wait_for

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _event(**fields: object) -> dict[str, object]:
    return {"event_id": str(uuid.uuid4()), "timestamp": "2026-11-25T08:00:00Z", "event_type": "auth", **fields}


def _big_producer(bootstrap: str) -> TrackedProducer:
    return TrackedProducer(producer_config(bootstrap, "test-hostile", **{"message.max.bytes": 8_000_000}))


def _dlq_by_key(bootstrap: str, topic: str, expected: int) -> dict[str, dict[str, bytes]]:
    found = {}
    for msg in read_topic(bootstrap, topic, expected, timeout=60):
        headers = {k: v for k, v in msg.headers() or []}
        found[(msg.key() or b"").decode()] = {**headers, "__value": msg.value()}
    return found


def test_each_reported_poison_case_is_isolated_and_the_valid_events_are_stored(kafka_bootstrap, topics, pg_url,
                                                                               redis_url):
    settings = make_settings(kafka_bootstrap, topics, pg_url, redis_url, ANALYZER_BATCH_SIZE=50)
    valid = EventGenerator(seed=11, attack_ratio=0.0, start=START, rate=50).next_batch(100)
    nul_message = _event(message="TLS junk \u0000\u0016\u0003\u0001 after", source={"ip": "10.0.0.1"})
    nul_user = _event(source={"ip": "10.0.0.2", "user": "ro\u0000ot"}, unmapped={"k\u0000ey": "v\u0000"})
    long_user = _event(source={"ip": "10.0.0.3", "user": "u" * 300})
    long_scope = _event(source={"ip": "fe80::1%" + "x" * 60})
    early = _event(timestamp="0001-01-01T00:00:00+05:00", source={"ip": "10.0.0.4"})
    future = _event(timestamp="9999-12-31T23:59:59Z", source={"ip": "10.0.0.5"})
    deep = b'{"event_type": "auth", "unmapped": ' + b'{"a": ' * 10_000 + b"1" + b"}" * 10_001
    huge = json.dumps(_event(unmapped={"blob": "A" * 1_500_000})).encode()
    hostile: dict[str, tuple[bytes, list[tuple[str, bytes]]]] = {
        "nul-message": (json.dumps(nul_message).encode(), []),
        "nul-user": (json.dumps(nul_user).encode(), []),
        "long-user": (json.dumps(long_user).encode(), []),
        "long-scope": (json.dumps(long_scope).encode(), []),
        "early": (json.dumps(early).encode(), []),
        "future": (json.dumps(future).encode(), []),
        "deep": (deep, []),
        "huge": (huge, []),
        "invalid-utf8": (b'{"event_type": "auth", "message": "\xff\xfe\xc3"}', []),
        "huge-number": (json.dumps(_event(destination={"port": 10**30})).encode(), []),
        # a Tomcat access log line of TLS handshake bytes, shipped raw with its format header
        "tomcat-junk": (b'10.1.1.1 - - [25/Nov/2026:08:00:00 +0000] "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03'
                        b'\x00\x00" 400 2 "-" "-"', [(h.SOURCE_FORMAT, b"web-access")]),
    }
    producer = _big_producer(kafka_bootstrap)
    with running_worker(settings) as worker:
        for i, item in enumerate(valid):  # the bad records are spread through the valid stream
            if i % 9 == 0 and hostile:
                key, (value, headers) = hostile.popitem()
                producer.produce(topics["events"], value, key=key, headers=headers, partition=0)
            producer.produce(topics["events"], encode_event(item.event), key=str(item.event.event_id), partition=0)
        assert not hostile
        producer.flush_or_raise()
        wait_for(lambda: committed_to_end(kafka_bootstrap, topics["events"], topics["group"]), 120,
                 "the partition to be committed to its end")
        metrics = worker.metrics

    ids = [str(g.event.event_id) for g in valid]
    assert scalar(pg_url, "select count(*) from events where id::text = any(:ids)", ids=ids) == 100
    assert scalar(pg_url, "select count(*) from verdicts where event_id::text = any(:ids)", ids=ids) == 100

    stored = {r[0]: r[1] for r in rows(pg_url, "select id::text, payload from events where not (id::text = any(:ids))",
                                       ids=ids)}
    assert stored[nul_message["event_id"]]["message"] == "TLS junk \u0016\u0003\u0001 after"
    assert stored[nul_message["event_id"]]["unmapped"]["nul_escaped"]["message"].startswith("TLS junk \\x00")
    assert stored[nul_user["event_id"]]["source"]["user"] == "root"
    assert stored[nul_user["event_id"]]["unmapped"]["key"] == "v"
    for case in (early, future):
        unmapped = stored[case["event_id"]]["unmapped"]
        assert unmapped["timestamp_out_of_range"] is True and "timestamp" in unmapped["sanitized"]
    early_row = rows(pg_url, "select timestamp from events where id = :i", i=early["event_id"])[0][0]
    assert abs((early_row - datetime.now(UTC)).total_seconds()) < 600, "re-timed to when it was seen"

    dlq = _dlq_by_key(kafka_bootstrap, topics["dlq"], 6)
    expect = {"long-user": ("decode", "schema violation at source.user"),
              "long-scope": ("decode", "schema violation at source.ip"),
              "deep": ("decode", "malformed JSON"), "huge": ("decode", "oversized"),
              "invalid-utf8": ("decode", "malformed JSON"), "huge-number": ("decode", "schema violation"),
              "tomcat-junk": ("normalise", "web-access normaliser")}
    for key, (stage, reason) in expect.items():
        if key == "tomcat-junk" and key not in dlq:  # the web normaliser may keep the junk as a 400 request
            continue
        assert key in dlq, f"{key} neither stored nor dead-lettered"
        assert dlq[key][h.ERROR_STAGE] == stage.encode(), (key, dlq[key][h.ERROR_STAGE])
        assert dlq[key][h.ERROR].decode().startswith(reason), (key, dlq[key][h.ERROR])
    assert dlq["huge"][h.TRUNCATED] == b"1"
    assert int(dlq["huge"][h.ORIGINAL_SIZE]) == len(huge)
    assert dlq["huge"][h.ORIGINAL_SHA256] == hashlib.sha256(huge).hexdigest().encode()
    assert len(dlq["huge"]["__value"]) == settings.DLQ_MAX_PAYLOAD_BYTES
    assert metrics.consumed._value.get() == 111, "each record counted once"
    assert metrics.sanitized.labels(what="nul")._value.get() == 3  # two JSON events and the Tomcat junk line


def test_store_and_analyze_poison_are_isolated_by_bisection(kafka_bootstrap, topics, pg_url, redis_url):
    """Records the database or a tier refuses (whatever the reason) cost themselves only."""
    settings = make_settings(kafka_bootstrap, topics, pg_url, redis_url, ANALYZER_BATCH_SIZE=200)
    batch = EventGenerator(seed=12, attack_ratio=0.05, start=START, rate=50).next_batch(600)
    store_poison = {batch[i].event.event_id for i in (5, 250, 599)}
    analyze_poison = {batch[i].event.event_id for i in (17, 400)}
    with running_worker(settings) as worker:
        real_store, real_analyze = worker.repository.store, worker.router.analyze_documents

        def store(items):  # type: ignore[no-untyped-def]
            if any(i.event.event_id in store_poison for i in items):
                raise psycopg.errors.StringDataRightTruncation("value too long for type character varying(256)")
            return real_store(items)

        def analyze_documents(events, context=None):  # type: ignore[no-untyped-def]
            if any(e.event_id in analyze_poison for e in events):
                raise KeyError("a tier bug on one event")
            return real_analyze(events, context)

        worker.repository.store = store  # type: ignore[method-assign]
        worker.router.analyze_documents = analyze_documents  # type: ignore[method-assign]
        producer = TrackedProducer(producer_config(kafka_bootstrap, "test"))
        produce_generated(batch, producer, topics["events"])
        producer.flush_or_raise()
        wait_for(lambda: scalar(pg_url, "select count(*) from verdicts") == 595, 120, "595 verdicts")
        wait_for(lambda: committed_to_end(kafka_bootstrap, topics["events"], topics["group"]), 60, "commits")
        record_retries = worker.metrics.retries.labels(kind="record")._value.get()

    dlq = read_topic(kafka_bootstrap, topics["dlq"], 5)
    stages = sorted((m.headers() and dict(m.headers())[h.ERROR_STAGE].decode()) for m in dlq)
    assert stages == ["analyze", "analyze", "store", "store", "store"]
    assert scalar(pg_url, "select count(*) from events") == 595
    assert record_retries >= 2


def test_database_outage_is_retried_with_backoff_and_loses_nothing(kafka_bootstrap, topics, redis_url):
    """A real outage (the database refuses connections): same batch, spacing doubling 0.5 s → cap."""
    with fresh_database("secustream_outage") as url:
        upgrade(url)
        name = url.rsplit("/", 1)[1]
        admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        settings = make_settings(kafka_bootstrap, topics, url, redis_url, ANALYZER_BATCH_SIZE=500,
                                 ANALYZER_MAX_ATTEMPTS=50, ANALYZER_RETRY_INITIAL_SECONDS=0.4,
                                 ANALYZER_RETRY_MAX_SECONDS=3.2)
        batch = EventGenerator(seed=13, attack_ratio=0.05, start=START, rate=50).next_batch(1500)
        attempts: list[tuple[float, bool]] = []
        try:
            with running_worker(settings) as worker:
                def timed(write):  # type: ignore[no-untyped-def]
                    def attempt(items):  # type: ignore[no-untyped-def]
                        try:
                            result = write(items)
                        except Exception:
                            attempts.append((time.monotonic(), False))
                            raise
                        attempts.append((time.monotonic(), True))
                        return result
                    return attempt

                # both database writes of a batch: its rows, then its alerts (the outage may hit either)
                worker.repository.store = timed(worker.repository.store)  # type: ignore[method-assign]
                assert worker.alerts is not None
                worker.alerts.process = timed(worker.alerts.process)  # type: ignore[method-assign]
                producer = TrackedProducer(producer_config(kafka_bootstrap, "test"))
                produce_generated(batch[:500], producer, topics["events"])
                producer.flush_or_raise()
                wait_for(lambda: scalar(url, "select count(*) from events") >= 1, 60, "the first rows")
                with admin.connect() as conn:  # the outage: no new connections, existing ones killed
                    conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                    conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                                 {"n": name})
                worker.repository.engine.dispose()
                produce_generated(batch[500:], producer, topics["events"])
                producer.flush_or_raise()
                wait_for(lambda: sum(1 for _t, ok in attempts if not ok) >= 5, 60, "five failed attempts")
                with admin.connect() as conn:
                    conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
                wait_for(lambda: scalar(url, "select count(*) from verdicts") == len(batch), 120, "all verdicts")
                retries = worker.metrics.retries.labels(kind="infrastructure")._value.get()
                dlq_total = sum(s.value for s in worker.metrics.dlq.collect()[0].samples
                                if s.name.endswith("_total"))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            admin.dispose()
        assert scalar(url, "select count(*) from events") == len(batch)
        assert scalar(url, "select count(distinct event_id) from verdicts") == len(batch)

    assert dlq_total == 0, "an outage must not dead-letter anything"
    failed = [t for t, ok in attempts if not ok]
    first_fail = attempts.index(next(a for a in attempts if not a[1]))
    run = [t for t, _ok in attempts[first_fail:]]
    gaps = [b - a for a, b in itertools.pairwise(run)]
    assert len(failed) >= 5 and retries >= 5
    for n, gap in enumerate(gaps[:5], start=1):  # attempt n waits between d/2 and d, d = min(3.2, 0.4·2ⁿ⁻¹)
        ceiling = min(3.2, 0.4 * 2 ** (n - 1))
        assert ceiling / 2 - 0.05 <= gap <= ceiling + 1.5, (n, gap, gaps)


def test_stuck_partition_turns_healthz_unhealthy_and_recovers(kafka_bootstrap, topics, pg_url, redis_url):
    settings = make_settings(kafka_bootstrap, topics, pg_url, redis_url, ANALYZER_STALL_SECONDS=2.0,
                             ANALYZER_RETRY_MAX_SECONDS=0.5)
    db = create_engine(pg_url)
    registry = CollectorRegistry()
    worker = build_worker(settings, kafka_bootstrap, db, RedisState.from_url(redis_url), registry,
                          client_id="test-stuck")
    worker.lag_interval = 0.5
    server = serve_metrics(registry, 0, "127.0.0.1", health=worker.health.check)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    real_store, real_ping = worker.repository.store, worker.repository.ping
    outage = {"on": True}

    def store(items):  # type: ignore[no-untyped-def]
        if outage["on"]:
            raise psycopg.OperationalError("connection refused (injected outage)")
        return real_store(items)

    worker.repository.store = store  # type: ignore[method-assign]
    worker.repository.ping = lambda: not outage["on"] and real_ping()  # type: ignore[method-assign]
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert httpx.get(f"{base}/healthz").status_code == 200
        batch = EventGenerator(seed=14, attack_ratio=0.0, start=START, rate=50).next_batch(50)
        producer = TrackedProducer(producer_config(kafka_bootstrap, "test"))
        produce_generated(batch, producer, topics["events"])
        producer.flush_or_raise()
        wait_for(lambda: httpx.get(f"{base}/healthz").status_code == 503, 30, "/healthz to turn 503")
        assert "stalled" in httpx.get(f"{base}/healthz").text
        assert httpx.get(f"{base}/livez").status_code == 200, "liveness stays up: a restart cures no outage"
        assert registry.get_sample_value("secustream_analyzer_stalled_seconds") > 2.0
        # lag is read from committed offsets: the 50 stuck records show (it used to read ~0 here)
        wait_for(lambda: registry.get_sample_value("secustream_consumer_lag") == 50, 30, "lag to show the 50")
        outage["on"] = False
        wait_for(lambda: httpx.get(f"{base}/healthz").status_code == 200, 60, "/healthz to recover")
        wait_for(lambda: scalar(pg_url, "select count(*) from verdicts") == 50, 30, "the batch stored")
    finally:
        stop.set()
        thread.join(30)
        server.shutdown()
        db.dispose()


@pytest.mark.parametrize("size", [2_000_000])
def test_oversized_message_dead_letter_is_truncated_not_a_failed_produce(kafka_bootstrap, topics, pg_url, redis_url,
                                                                         size):
    settings = make_settings(kafka_bootstrap, topics, pg_url, redis_url)
    big = b'{"event_type": "auth", "message": "' + b"x" * size + b'"}'
    producer = _big_producer(kafka_bootstrap)
    producer.produce(topics["events"], big, key="big", headers=[("x-trace", b"t" * 10)])
    after = EventGenerator(seed=15, attack_ratio=0.0, start=START, rate=50).next_batch(20)
    produce_generated(after, producer, topics["events"])
    producer.flush_or_raise()
    with running_worker(settings):
        wait_for(lambda: scalar(pg_url, "select count(*) from verdicts") == 20, 60, "the events after it")
    (letter,) = read_topic(kafka_bootstrap, topics["dlq"], 1)
    headers = dict(letter.headers())
    assert headers[h.ERROR].startswith(b"oversized")
    assert int(headers[h.ORIGINAL_SIZE]) == len(big) and headers["x-trace"] == b"t" * 10
