"""Batches grow under load: while the previous batch is persisted, fetched messages join the next one (bounded)."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from prometheus_client import CollectorRegistry

from secustream.analyzer.worker import AnalyzerWorker, PreparedBatch, Topics, _InFlight
from secustream.metrics import AnalyzerMetrics


class FetchedConsumer:
    """Hands out what is 'already fetched': ``consume(n, 0)`` returns up to n, then nothing."""

    def __init__(self, waiting: int, on_consume: Any = None) -> None:
        self.waiting = list(range(waiting))
        self.calls: list[tuple[int, float]] = []
        self.on_consume = on_consume

    def consume(self, n: int, timeout: float) -> list[int]:
        self.calls.append((n, timeout))
        if self.on_consume is not None:
            self.on_consume()
        taken, self.waiting = self.waiting[:n], self.waiting[n:]
        return taken


def worker(consumer: FetchedConsumer, batch_size: int = 5, max_batch_size: int = 12) -> AnalyzerWorker:
    w = AnalyzerWorker(consumer=consumer, producer=None, router=None, repository=None, state=None,  # type: ignore[arg-type]
                       metrics=AnalyzerMetrics(CollectorRegistry()), topics=Topics("e", "r", "d"),
                       batch_size=batch_size, max_batch_size=max_batch_size)
    w.prepare = lambda msgs: PreparedBatch(list(msgs), [], [], [], [], 1.0)  # type: ignore[method-assign]
    return w


def in_flight(done: bool) -> _InFlight:
    future: Future[Any] = Future()
    if done:
        future.set_result(None)
    return _InFlight(PreparedBatch([], [], [], [], [], 0.0), future)


def test_grows_while_the_persister_is_busy_up_to_the_bound() -> None:
    consumer = FetchedConsumer(waiting=100)
    w = worker(consumer)
    messages: list[Any] = [-1, -2, -3, -4, -5]
    batch = w._grow(w.prepare(messages), messages, in_flight(done=False))
    assert len(batch.messages) == len(messages) == 12, "bounded by max_batch_size, messages kept for a rewind"
    assert batch.messages == [-1, -2, -3, -4, -5, *range(7)] and batch.started == 1.0
    assert all(timeout == 0 for _n, timeout in consumer.calls), "only what is already fetched: no waiting"


def test_no_growth_when_the_persister_keeps_up_or_nothing_is_fetched() -> None:
    consumer = FetchedConsumer(waiting=100)
    w = worker(consumer)
    messages: list[Any] = [0]
    assert w._grow(w.prepare(messages), messages, in_flight(done=True)).messages == [0]
    assert consumer.calls == []
    idle = FetchedConsumer(waiting=0)
    w = worker(idle)
    assert w._grow(w.prepare(messages), messages, in_flight(done=False)).messages == [0]
    assert len(idle.calls) == 1


def test_a_rebalance_stops_the_growth() -> None:
    holder: list[AnalyzerWorker] = []

    def rebalance() -> None:
        holder[0]._rebalances += 1  # what the assign/revoke/lost callbacks do inside consume

    consumer = FetchedConsumer(waiting=100, on_consume=rebalance)
    w = worker(consumer, batch_size=3, max_batch_size=100)
    holder.append(w)
    messages: list[Any] = [0]
    batch = w._grow(w.prepare(messages), messages, in_flight(done=False))
    assert len(consumer.calls) == 1 and len(batch.messages) == 4, "what that consume returned is kept, no more"
