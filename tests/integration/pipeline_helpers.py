"""Helpers for pipeline tests: run the worker in a thread or a process, read topics, count rows."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, TopicPartition
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text

from secustream.analyzer.service import build_worker
from secustream.analyzer.worker import AnalyzerWorker
from secustream.config import Settings
from secustream.state import RedisState


def make_settings(bootstrap: str, topics: dict[str, str], pg_url: str, redis_url: str, **extra: object) -> Settings:
    return Settings(KAFKA_SERVER=bootstrap, KAFKA_TOPIC=topics["events"], KAFKA_RESULTS_TOPIC=topics["results"],
                    KAFKA_DLQ_TOPIC=topics["dlq"], KAFKA_CONSUMER_GROUP=topics["group"], DATABASE_URL=pg_url,
                    REDIS_URL=redis_url, RULES_RELOAD_SECONDS=0, **extra)  # type: ignore[arg-type]


def analyzer_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "KAFKA_SERVER": settings.KAFKA_SERVER, "KAFKA_TOPIC": settings.KAFKA_TOPIC,
        "KAFKA_RESULTS_TOPIC": settings.KAFKA_RESULTS_TOPIC, "KAFKA_DLQ_TOPIC": settings.KAFKA_DLQ_TOPIC,
        "KAFKA_CONSUMER_GROUP": settings.KAFKA_CONSUMER_GROUP, "DATABASE_URL": settings.DATABASE_URL_OVERRIDE,
        "REDIS_URL": settings.REDIS_URL, "PROMETHEUS_PORT": "0", "LOG_LEVEL": "INFO",
    })
    env.update(extra)
    return env


def start_analyzer_process(settings: Settings, log_path: Path, **extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "secustream.cli", "analyze"], env=analyzer_env(settings, **extra),
                            stdout=log_path.open("ab"), stderr=subprocess.STDOUT)


@contextmanager
def running_worker(settings: Settings) -> Iterator[AnalyzerWorker]:
    """An analyzer worker in a background thread of this process, stopped (gracefully) on exit."""
    db = create_engine(settings.DATABASE_URL)
    worker = build_worker(settings, settings.KAFKA_SERVER, db, RedisState.from_url(settings.REDIS_URL),
                          CollectorRegistry(), client_id="test-analyzer")
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            worker.run(stop)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(60)
        db.dispose()
        assert not thread.is_alive(), "worker did not stop within 60 s"
        assert not errors, errors


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def scalar(pg_url: str, sql: str, **params: object) -> object:
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def rows(pg_url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list:  # type: ignore[type-arg]
    """Every message of ``topic`` (all partitions, from the start) until ``expected`` arrived."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader", "enable.auto.commit": False})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if msg.error() is None:
                    got.append(msg)
        return got
    finally:
        consumer.close()


def end_offsets(bootstrap: str, topic: str, timeout: float = 30.0) -> dict[int, int]:
    """The true end of each partition, by reading it to EOF (Tansu's ListOffsets(latest) answer is wrong)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "end-reader", "enable.auto.commit": False,
                         "enable.partition.eof": True})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        ends: dict[int, int] = {}
        deadline = time.monotonic() + timeout
        while len(ends) < len(parts) and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                err = msg.error()
                if err is not None and err.code() == KafkaError._PARTITION_EOF:
                    ends[msg.partition()] = msg.offset()
        assert len(ends) == len(parts), f"could not read {topic} to its end"
        return ends
    finally:
        consumer.close()


def committed_to_end(bootstrap: str, topic: str, group: str) -> bool:
    """Every partition's committed offset reached the partition's end: nothing is stuck."""
    ends = end_offsets(bootstrap, topic)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        committed = consumer.committed([TopicPartition(topic, p) for p in ends], timeout=10)
        return all(ends[tp.partition] == 0 or tp.offset >= ends[tp.partition] for tp in committed)
    finally:
        consumer.close()
