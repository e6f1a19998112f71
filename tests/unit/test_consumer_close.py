"""Stopping never waits on a consumer close that a group rebalance holds (CI saw one past 30 s)."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from prometheus_client import CollectorRegistry

from secustream.analyzer.worker import AnalyzerWorker, Topics
from secustream.messaging.client import close_within
from secustream.metrics import AnalyzerMetrics


class HeldConsumer:
    """A consumer whose close blocks until ``release`` is set (a leave inside a rebalance)."""

    def __init__(self, fail: bool = False) -> None:
        self.release = threading.Event()
        self.closed = threading.Event()
        self.fail = fail
        self.subscribed: list[str] = []

    def subscribe(self, topics: list[str], **_callbacks: object) -> None:
        self.subscribed = topics

    def close(self) -> None:
        self.release.wait(30)
        self.closed.set()
        if self.fail:
            raise RuntimeError("broker gone")


class ClosingProducer:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_a_close_that_finishes_in_time_is_reported_closed() -> None:
    consumer = HeldConsumer()
    consumer.release.set()
    assert close_within(consumer, 5.0) is True  # type: ignore[arg-type]
    assert consumer.closed.is_set()


def test_a_failed_close_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    consumer = HeldConsumer(fail=True)
    consumer.release.set()
    with caplog.at_level(logging.WARNING):
        assert close_within(consumer, 5.0) is True  # type: ignore[arg-type]
    assert "close failed: broker gone" in caplog.text


def test_a_held_close_is_given_up_after_the_timeout(caplog: pytest.LogCaptureFixture) -> None:
    consumer = HeldConsumer()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        assert close_within(consumer, 0.2) is False  # type: ignore[arg-type]
    assert time.monotonic() - started < 10, "the caller waited on the held close"
    assert "did not leave its group within 0 s" in caplog.text
    consumer.release.set()  # the close still finishes in its own thread
    assert consumer.closed.wait(10)


def test_the_worker_stops_within_its_close_timeout_and_says_the_close_was_given_up() -> None:
    consumer, producer = HeldConsumer(), ClosingProducer()
    worker = AnalyzerWorker(consumer=consumer, producer=producer, router=None, repository=None,  # type: ignore[arg-type]
                            state=None, metrics=AnalyzerMetrics(CollectorRegistry()),  # type: ignore[arg-type]
                            topics=Topics("events", "results", "dlq"), close_timeout=0.2)
    stop = threading.Event()
    stop.set()
    assert worker.run(stop) is False
    assert producer.closed and consumer.subscribed == ["events"]
    consumer.release.set()
    assert consumer.closed.wait(10)
    consumer = HeldConsumer()
    consumer.release.set()
    worker.consumer = consumer  # type: ignore[assignment]
    assert worker.run(stop) is True
