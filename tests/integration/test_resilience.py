"""Crash safety and shared windows across analyzer processes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

import psycopg

from secustream.events import SecurityEvent, encode_event
from secustream.generator import EventGenerator
from secustream.generator.runner import produce_generated
from secustream.messaging.client import TrackedProducer, producer_config

from .pipeline_helpers import make_settings, rows, running_worker, scalar, start_analyzer_process, wait_for


def test_sigkill_mid_stream_loses_nothing_and_duplicates_nothing(kafka_bootstrap, topics, pg_url, redis_url,
                                                                 tmp_path):
    settings = make_settings(kafka_bootstrap, topics, pg_url, redis_url)
    batch = EventGenerator(seed=3, attack_ratio=0.1, rate=50).next_batch(8000)
    producer = TrackedProducer(producer_config(kafka_bootstrap, "test"))
    produce_generated(batch, producer, topics["events"])
    producer.flush_or_raise()

    log = tmp_path / "analyzer.log"
    first = start_analyzer_process(settings, log, ANALYZER_BATCH_SIZE="25")
    try:
        wait_for(lambda: (scalar(pg_url, "select count(*) from verdicts") or 0) >= 800, 90, "first rows")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    stored_at_kill = scalar(pg_url, "select count(*) from verdicts")
    assert 0 < stored_at_kill < len(batch), f"kill was not mid-stream ({stored_at_kill} rows); {log.read_text()}"

    second = start_analyzer_process(settings, log, ANALYZER_BATCH_SIZE="500")
    try:
        wait_for(lambda: scalar(pg_url, "select count(*) from verdicts") == len(batch), 120, "all rows after restart")
        time.sleep(2)  # anything redelivered after the restart must still not add rows
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, log.read_text()[-3000:]
    expected = {str(g.event.event_id) for g in batch}
    stored = [str(r[0]) for r in rows(pg_url, "select id from events")]
    assert len(stored) == len(expected) and set(stored) == expected
    assert scalar(pg_url, "select count(*) from verdicts") == len(batch)


def exit_code_within(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    """The exit code, or None (and the process killed) if it did not exit in time: the logs then say why."""
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def test_two_replicas_share_the_brute_force_window_through_redis(kafka_bootstrap, topics, pg_url, redis_url, tmp_path):
    """16 failures from one IP spread over 4 partitions: each replica sees ~8 (< 10), together 16."""
    settings = make_settings(kafka_bootstrap, topics, pg_url, redis_url)
    logs = [tmp_path / "replica-a.log", tmp_path / "replica-b.log"]
    replicas = [start_analyzer_process(settings, logs[0])]
    try:
        wait_for(lambda: "partitions assigned" in logs[0].read_text(), 60, "replica A to own partitions")
        replicas.append(start_analyzer_process(settings, logs[1]))
        wait_for(lambda: "partitions assigned" in logs[1].read_text() and "partitions revoked" in logs[0].read_text(),
                 60, "replica B to take over half the partitions")
        producer = TrackedProducer(producer_config(kafka_bootstrap, "test"))
        start = datetime.now(UTC)
        attacker = "203.0.113.77"
        attempts = [SecurityEvent(event_type="auth", action="ssh_login", outcome="failure",
                                  source={"ip": attacker, "port": 40000 + i},
                                  destination={"host": "bastion-1", "user": "root", "port": 22},
                                  process={"name": "sshd", "pid": 4242}, product="openssh",
                                  timestamp=start + timedelta(seconds=i * 2)) for i in range(16)]
        for i, event in enumerate(attempts):
            producer.produce(topics["events"], encode_event(event), key=attacker, partition=i % 4)
        producer.flush_or_raise()
        wait_for(lambda: scalar(pg_url, "select count(*) from verdicts") == len(attempts), 90, "verdicts")
    finally:
        for proc in replicas:
            proc.send_signal(signal.SIGTERM)
        codes = [exit_code_within(proc, 30) for proc in replicas]
    assert codes == [0, 0], [log.read_text()[-2000:] for log in logs]
    flagged = rows(pg_url, """select v.rule_ids::text from verdicts v join events e on e.id = v.event_id
                              where e.source_ip = :ip and v.risk_level in ('high', 'critical')""", ip=attacker)
    assert flagged, "a brute force split across replicas was not detected"
    for log in logs:  # each replica really analysed part of the attack
        assert "partitions assigned" in log.read_text()



def test_failed_store_is_retried_with_the_batch_after_it_nothing_lost_or_doubled(kafka_bootstrap, topics, pg_url,
                                                                                 redis_url):
    """The persist stage fails (infrastructure) while the next batch is already analysed: the same
    batch is retried in hand, not re-consumed or re-analysed, and nothing is lost or doubled."""
    settings = make_settings(kafka_bootstrap, topics, pg_url, redis_url, ANALYZER_BATCH_SIZE=200)
    start = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    batch = EventGenerator(seed=5, attack_ratio=0.1, start=start, rate=50).next_batch(3000)
    with running_worker(settings) as worker:
        real_store = worker.repository.store
        calls = {"n": 0}

        def flaky_store(items):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            if calls["n"] in (2, 3):
                raise psycopg.OperationalError("database unavailable (injected)")
            return real_store(items)

        worker.repository.store = flaky_store  # type: ignore[method-assign]
        producer = TrackedProducer(producer_config(kafka_bootstrap, "test"))
        produce_generated(batch, producer, topics["events"])
        producer.flush_or_raise()
        wait_for(lambda: scalar(pg_url, "select count(*) from verdicts") == len(batch), 120, "all verdicts")
        errors = worker.metrics.errors.labels(stage="OperationalError")._value.get()
        retries = worker.metrics.retries.labels(kind="infrastructure")._value.get()
        consumed = worker.metrics.consumed._value.get()
        replayed = worker.metrics.replayed._value.get()

    assert calls["n"] > 3, "the failing batches were retried"
    assert errors == 2 and retries == 2
    assert consumed == len(batch) and replayed == 0, "a retry re-consumes nothing"
    assert scalar(pg_url, "select count(*) from events") == len(batch)
    assert scalar(pg_url, "select count(distinct event_id) from verdicts") == len(batch)
