"""Pipeline benchmark: analyzer rules-only throughput vs raw consume of the same topic, and latency.

Prints, from one run on the same broker and database:
  (a) raw consume-and-discard rate (confluent-kafka consumer group, batch consume),
  (b) analyzer rules-only rate from Kafka to committed PostgreSQL rows (decode, rules with Redis
      windows, insert-or-ignore, publish results + Redis feed, commit), the ratio b/a, and the
      process CPU µs per event (steadier than wall clock when the machine is shared);
  (c) the database write alone: the same number of event + verdict rows stored with the analyzer's
      repository and batch size, no Kafka, no rules (a ceiling for b on this database);
  (d) p50/p99 produce->stored latency with the generator paced at --latency-rate events/s.
With --real: the events are real Windows events (OTRF recordings, normalised once before the clock)
and the analyzer runs the SigmaHQ corpus (rules/, emerging threats, threat hunting installed as
packs, default pack filters) next to the native rules; (c) stores those same events; (d) is skipped.
The model and LLM tiers are off in every run (MODEL_ENABLED=false, LLM_ENABLED=false).
--stages prints where (b)'s wall time goes per stage; --profile prints cProfile of the worker.

Usage: python bench/pipeline.py [--events 100000] [--batch-sizes 500,2000] [--replicas 1,2] [--latency-rate 1000]
       python bench/pipeline.py --compare-partitions 3 [--events 30000]   # plain tables vs day partitions
       python bench/pipeline.py --real [--events 50000] [--batch-sizes 500,2000] [--stages] [--profile]
       python bench/pipeline.py --real --compare-persist 2 --batch-sizes 500   # before/after the persist round
Needs PostgreSQL (SECUSTREAM_BENCH_PG, default postgresql+psycopg://postgres@127.0.0.1:5432/postgres) and Redis
(SECUSTREAM_BENCH_REDIS, default redis://127.0.0.1:6379/10); starts its own Tansu broker unless KAFKA_SERVER is set.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text

from secustream import heap
from secustream.analyzer.detection import verdict_from_hits
from secustream.analyzer.service import build_worker
from secustream.analyzer.sigma.packs import install
from secustream.analyzer.worker import AnalyzerWorker
from secustream.config import Settings
from secustream.events import SecurityEvent, encode_event, grouping_key
from secustream.generator import EventGenerator
from secustream.generator.runner import produce_generated, run_generator
from secustream.messaging.admin import ensure_topics
from secustream.messaging.client import TrackedProducer, consumer_config, producer_config
from secustream.messaging.local_broker import LocalBroker
from secustream.normalizers import NormalizationError, normalize_windows
from secustream.state import RedisState
from secustream.storage import partitions
from secustream.storage.migrate import upgrade
from secustream.storage.repository import AnalyzedEvent, VerdictRepository

PG_ADMIN = os.environ.get("SECUSTREAM_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("SECUSTREAM_BENCH_REDIS", "redis://127.0.0.1:6379/10")
PARTITIONS = 6


BENCH_DAY = date(2026, 11, 25)  # the generated events' day (fixed start)
# which schema the database-writing stages get: "head" (day partitions), or "0005" (plain tables, before them)
SCHEMA = {"revision": "head", "payload": "lz4"}  # payload: the events.payload compression (0009: lz4)


@contextmanager
def fresh_database():  # type: ignore[no-untyped-def]
    name = f"secustream_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url, SCHEMA["revision"])
        if SCHEMA["revision"] == "head":  # the events' day has its partition, as `partitions ensure` would make
            engine = create_engine(url)
            partitions.ensure(engine, BENCH_DAY, days_ahead=1, days_back=1)
            if SCHEMA["payload"] != "lz4":  # --compare-persist: the compression before migration 0009
                with engine.begin() as conn:
                    for table in ("events", *partitions.children(conn, "events")):
                        conn.execute(text(f"ALTER TABLE ONLY {table} ALTER COLUMN payload SET COMPRESSION "
                                          f"{SCHEMA['payload']}"))
            engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def produce_stream(bootstrap: str, topic: str, n: int) -> None:
    producer = TrackedProducer(producer_config(bootstrap, "bench"))
    generator = EventGenerator(seed=42, attack_ratio=0.05, start=datetime(2026, 11, 25, tzinfo=UTC), rate=1000)
    done = 0
    while done < n:
        batch = generator.next_batch(min(10_000, n - done))
        produce_generated(batch, producer, topic)
        done += len(batch)
    producer.flush_or_raise()


def produce_real(bootstrap: str, topic: str, n: int) -> list[SecurityEvent]:
    """``n`` distinct OTRF Windows events, spread over all recordings, normalised and produced as the ingest does
    (a line repeated across recordings has one event id, so it is produced once: rows are unique by id)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.corpora import otrf_lines, otrf_recordings

    recordings = otrf_recordings()
    per = max(1, n // len(recordings) + 1)
    producer = TrackedProducer(producer_config(bootstrap, "bench"))
    seen: set[object] = set()
    events: list[SecurityEvent] = []
    for rounds in range(1, 50):
        for recording in recordings:
            taken = 0
            for line in otrf_lines(recording):
                if taken >= per * rounds or len(seen) >= n:
                    break
                try:
                    event = normalize_windows(line)
                except NormalizationError:
                    continue
                taken += 1
                if event.event_id in seen:
                    continue
                seen.add(event.event_id)
                events.append(event)
                producer.produce(topic, encode_event(event), key=grouping_key(event))
        if len(seen) >= n:
            break
    producer.flush_or_raise()
    if len(seen) < n:
        raise RuntimeError(f"only {len(seen)} distinct OTRF events")
    return events


def install_corpus(packs: Path) -> None:
    """The SigmaHQ corpus as three packs (compiled once here, so the analyzer starts from the cache)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.corpora import RULE_DIRS, SIGMAHQ

    for folder in RULE_DIRS:
        install(str(SIGMAHQ / folder), packs, folder)


def raw_consume_rate(bootstrap: str, topic: str, n: int, batch: int) -> float:
    consumer = Consumer(consumer_config(bootstrap, f"raw-{uuid.uuid4().hex[:6]}", "bench-raw"))
    consumer.subscribe([topic])
    got, first = 0, None
    deadline = time.monotonic() + 300
    while got < n and time.monotonic() < deadline:
        msgs = consumer.consume(batch, 0.5)
        if msgs and first is None:
            first = time.perf_counter()
        got += sum(1 for m in msgs if m.error() is None)
    elapsed = time.perf_counter() - (first or time.perf_counter())
    consumer.close()
    if got < n:
        raise RuntimeError(f"raw consumer got only {got}/{n}")
    return n / elapsed


def count_rows(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("select count(*) from verdicts")).scalar() or 0)
    finally:
        engine.dispose()


def wait_for_rows(url: str, n: int, timeout: float = 600) -> float:
    """Seconds from the first stored row to ``n`` rows, polling on one connection (cheap: 4 counts/s)."""
    engine = create_engine(url)
    first = None
    deadline = time.monotonic() + timeout
    try:
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                count = int(conn.execute(text("select count(*) from verdicts")).scalar() or 0)
                conn.rollback()
                if count and first is None:
                    first = time.perf_counter()
                if count >= n:
                    break
                time.sleep(0.005 if first is None else 0.25)
    finally:
        engine.dispose()
    return time.perf_counter() - (first or time.perf_counter())


def bench_settings(bootstrap: str, topics: dict[str, str], url: str, batch: int) -> dict[str, str]:
    return {"KAFKA_SERVER": bootstrap, "KAFKA_TOPIC": topics["events"], "KAFKA_RESULTS_TOPIC": topics["results"],
            "KAFKA_DLQ_TOPIC": topics["dlq"], "KAFKA_CONSUMER_GROUP": f"bench-{uuid.uuid4().hex[:6]}",
            "DATABASE_URL": url, "REDIS_URL": REDIS, "ANALYZER_BATCH_SIZE": str(batch), "RULES_RELOAD_SECONDS": "0",
            "MODEL_ENABLED": "false", "LLM_ENABLED": "false", "PROMETHEUS_PORT": "0", "LOG_LEVEL": "WARNING"}


PROFILE: list[bool] = [False]  # --profile: cProfile the in-thread worker (set once in main)


class StageClock:
    """Wall seconds the in-thread worker spends in each stage (wrapping the worker's own callables), so a
    run says where an event's time goes: consume, decode, dump + detect, store, alerts, publish, commit."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._gc_started = 0.0
        self.consuming = False  # consume time counts from the first message (not the group join)

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        """``gc.callbacks`` hook: collector pauses (any thread), by generation."""
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self.consuming:  # not the worker's start-up collection (heap.py)
            name = f"garbage collector, generation {info['generation']} (any thread)"
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - self._gc_started

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
                self.calls[name] = self.calls.get(name, 0) + 1

        return timed

    def attach(self, worker: AnalyzerWorker) -> None:
        consumer = worker.consumer
        timed_consume = self.wrap("consume (Kafka fetch, after the first message)", consumer.consume)

        def consume(*args: Any) -> Any:
            if self.consuming:
                return timed_consume(*args)
            messages = consumer.consume(*args)
            self.consuming = bool(messages)
            return messages

        worker.consumer = _TimedConsumer(consumer, consume)  # type: ignore[assignment]
        worker._decode = self.wrap("decode (validate JSON)", worker._decode)  # type: ignore[method-assign]
        router = worker.router
        router.analyze = self.wrap("analyze (dump + detect + verdicts)", router.analyze)  # type: ignore[method-assign]
        for detector in router.detection.detectors:
            detector.evaluate = self.wrap(f"  of which {detector.name} rules", detector.evaluate)  # type: ignore[method-assign]
        worker.repository.store = self.wrap("store (COPY + commit, persist thread)", worker.repository.store)  # type: ignore[method-assign]
        if worker.alerts is not None:
            worker.alerts.process = self.wrap("alerts (persist thread)", worker.alerts.process)  # type: ignore[method-assign]
        worker._publish = self.wrap("publish results + feed (persist thread)", worker._publish)  # type: ignore[method-assign]
        worker._commit = self.wrap("wait for persist + commit offsets", worker._commit)  # type: ignore[method-assign]

    def report(self, n: int, wall: float) -> None:
        print(f"  stages of (b), wall µs per event over {n:,} events ({wall:.1f} s wall; the persist thread "
              "overlaps the next batch's consume/decode/analyze):")
        for name, seconds in self.seconds.items():
            calls = self.calls.get(name)
            per_call = f"  {calls:5} calls" if calls else ""
            print(f"    {name:48} {seconds / n * 1e6:8.1f} µs  {seconds / wall:6.1%} of wall{per_call}")


class _TimedConsumer:
    """The worker's consumer with a timed ``consume``; everything else passes through."""

    def __init__(self, consumer: Consumer, consume: Callable[..., Any]) -> None:
        self._consumer = consumer
        self.consume = consume

    def __getattr__(self, name: str) -> Any:
        return getattr(self._consumer, name)


STAGES: list[StageClock | None] = [None]  # the clock of the analyzer run in progress
STAGE_REPORT: list[bool] = [False]  # --stages (set once in main)


def profiled(run: Callable[[threading.Event], None]) -> Callable[[threading.Event], None]:
    """``run`` under cProfile; prints the top functions by own time when it returns."""

    def wrapper(stop: threading.Event) -> None:
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            run(stop)
        finally:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
            pstats.Stats(profiler).sort_stats("cumtime").print_stats(40)

    return wrapper


@contextmanager
def worker_in_thread(values: dict[str, str], bootstrap: str, url: str):  # type: ignore[no-untyped-def]
    """An analyzer worker running in a thread of this process; stopped gracefully on exit."""
    engine = create_engine(url)
    settings = Settings(**values)
    heap.tune(settings.GC_YOUNG_THRESHOLD)  # as ``secustream analyze`` runs (cli.main)
    worker = build_worker(settings, bootstrap, engine, RedisState.from_url(REDIS),  # type: ignore[arg-type]
                          CollectorRegistry())
    stop = threading.Event()
    clock = STAGES[0]
    if clock is not None:
        clock.attach(worker)
        gc.callbacks.append(clock.on_gc)
    run = profiled(worker.run) if PROFILE[0] else worker.run
    thread = threading.Thread(target=run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(60)
        engine.dispose()
        if clock is not None:
            gc.callbacks.remove(clock.on_gc)


def analyzer_rate(bootstrap: str, topics: dict[str, str], n: int, batch: int,
                  replicas: int = 1, extra: dict[str, str] | None = None) -> tuple[float, float | None]:
    """Rules-only analyzer rate, and CPU µs per event for the in-process worker (None for subprocesses).

    ``replicas`` > 1 runs that many `secustream analyze` processes in one group. CPU per event is the
    figure to compare across runs on a busy machine: wall-clock rates there swing with the neighbours.
    """
    cpu_us: float | None = None
    RedisState.from_url(REDIS).client.flushdb()
    with fresh_database() as url:
        values = {**bench_settings(bootstrap, topics, url, batch), **(extra or {})}
        if replicas > 1:
            env = {**os.environ, **values}
            procs = [subprocess.Popen([sys.executable, "-m", "secustream.cli", "analyze"], env=env)
                     for _ in range(replicas)]
            try:
                elapsed = wait_for_rows(url, n)
            finally:
                for proc in procs:
                    proc.send_signal(signal.SIGTERM)
                for proc in procs:
                    proc.wait(60)
        else:
            clock = STAGES[0] = StageClock() if STAGE_REPORT[0] else None
            with worker_in_thread(values, bootstrap, url):
                cpu_before = time.process_time()  # after the rules are loaded
                elapsed = wait_for_rows(url, n)
            cpu_us = (time.process_time() - cpu_before) / n * 1e6
            if clock is not None:
                clock.report(n, elapsed)
        stored = count_rows(url)
        if stored != n:
            raise RuntimeError(f"analyzer stored {stored}/{n}")
        return n / elapsed, cpu_us


def store_rate(n: int, batch: int, events: list[SecurityEvent] | None = None) -> float:
    """Rows per second through ``VerdictRepository.store`` alone (rows are built before the clock starts):
    ``events`` (the real ones of --real, whose rows are larger), else ``n`` generated events."""
    if events is None:
        generator = EventGenerator(seed=99, attack_ratio=0.05, start=datetime(2026, 11, 25, tzinfo=UTC), rate=1000)
        events = [g.event for g in generator.next_batch(n)]
    now = datetime.now(UTC)
    items = [AnalyzedEvent(e, verdict_from_hits(e, [], "bench"), now) for e in events]
    with fresh_database() as url:
        engine = create_engine(url)
        repository = VerdictRepository(engine)
        started = time.perf_counter()
        for i in range(0, n, batch):
            repository.store(items[i:i + batch])
        elapsed = time.perf_counter() - started
        engine.dispose()
    return n / elapsed


def latency_at(bootstrap: str, rate: float, seconds: float, batch: int) -> tuple[float, float, int]:
    suffix = uuid.uuid4().hex[:6]
    topics = {"events": f"lat-events-{suffix}", "results": f"lat-results-{suffix}", "dlq": f"lat-dlq-{suffix}"}
    ensure_topics(bootstrap, topics.values(), PARTITIONS)
    RedisState.from_url(REDIS).client.flushdb()
    with fresh_database() as url:
        values = {**bench_settings(bootstrap, topics, url, batch), "ANALYZER_POLL_TIMEOUT_SECONDS": "0.05"}
        count = int(rate * seconds)
        with worker_in_thread(values, bootstrap, url):
            time.sleep(4)  # group join before the clock starts
            producer = TrackedProducer(producer_config(bootstrap, "bench-lat", **{"linger.ms": 1}))
            run_generator(EventGenerator(seed=7, attack_ratio=0.05, rate=rate), producer, topics["events"], rate,
                          threading.Event(), count)
            wait_for_rows(url, count, timeout=120)
        engine = create_engine(url)
        with engine.connect() as conn:
            lat = [float(r[0]) for r in conn.execute(text(
                "select extract(epoch from (stored_at - produced_at)) from events where produced_at is not null"))]
        engine.dispose()
    lat.sort()
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    return p50, p99, len(lat)


def compare_partitions(bootstrap: str, topics: dict[str, str], n: int, rounds: int, store_only: bool = False) -> None:
    """(b) and (c) on plain tables (0005, before partitions) and day partitions (head), alternately, same run."""
    rates: dict[tuple[str, str], list[float]] = {}
    print(f"{'stage':44} {'schema':>12} {'events/s':>10}", flush=True)
    for r in range(rounds):
        for revision in (("0005", "head") if r % 2 == 0 else ("head", "0005")):
            SCHEMA["revision"] = revision
            label = "partitioned" if revision == "head" else "plain"
            stages = (("(b) analyzer rules-only -> committed rows",
                       lambda: analyzer_rate(bootstrap, topics, n, 500)[0]),
                      ("(c) database write alone", lambda: store_rate(n, 500)))
            for stage, measure in stages[1:] if store_only else stages:
                rate = measure()
                rates.setdefault((stage, label), []).append(rate)
                print(f"{stage:44} {label:>12} {rate:>10.0f}", flush=True)
    SCHEMA["revision"] = "head"
    for stage in sorted({stage for stage, _label in rates}):
        before = statistics.median(rates[(stage, "plain")])
        after = statistics.median(rates[(stage, "partitioned")])
        print(f"{stage}: median partitioned/plain = {after:.0f}/{before:.0f} = {after / before:.3f} "
              f"({rounds} rounds, alternating)", flush=True)


PERSIST_VARIANTS = {  # --compare-persist: name -> (payload compression, max batch size or None for the batch size)
    "before (pglz, fixed batches)": ("pglz", None),
    "lz4, fixed batches": ("lz4", None),
    "lz4, batches grow to 2000": ("lz4", 2000),
}


def compare_persist(bootstrap: str, topics: dict[str, str], n: int, rounds: int, batch: int,
                    real_events: list[SecurityEvent] | None, extra: dict[str, str], only: list[str]) -> None:
    """(b) and (c) before and after this round's persist changes, variants alternating, same run, load beside."""
    rates: dict[tuple[str, str], list[float]] = {}
    print(f"{'stage':44} {'variant':>30} {'events/s':>10}  load", flush=True)
    names = [name for name in PERSIST_VARIANTS if not only or any(o in name for o in only)]
    for r in range(rounds):
        raw = raw_consume_rate(bootstrap, topics["events"], n, batch)
        rates.setdefault(("(a) raw consume-and-discard", "-"), []).append(raw)
        print(f"{'(a) raw consume-and-discard':44} {'-':>30} {raw:>10.0f}  {os.getloadavg()[0]:.1f}", flush=True)
        for name in names if r % 2 == 0 else names[::-1]:
            payload, grow = PERSIST_VARIANTS[name]
            SCHEMA["payload"] = payload
            values = {**extra, "ANALYZER_MAX_BATCH_SIZE": str(grow or batch)}
            stages = [("(b) analyzer -> committed rows",
                       lambda v=values: analyzer_rate(bootstrap, topics, n, batch, 1, v)[0])]
            if grow is None and not os.environ.get("BENCH_SKIP_C"):
                stages.append(("(c) database write alone", lambda: store_rate(n, batch, real_events)))
            for stage, measure in stages:
                rate = measure()
                rates.setdefault((stage, name), []).append(rate)
                print(f"{stage:44} {name:>30} {rate:>10.0f}  {os.getloadavg()[0]:.1f}", flush=True)
    SCHEMA["payload"] = "lz4"
    for (stage, name), values_ in sorted(rates.items()):
        print(f"{stage:44} {name:>30} median {statistics.median(values_):>8.0f} ({rounds} rounds)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch-sizes", default="500,2000")
    parser.add_argument("--latency-rate", type=float, default=1000.0)
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--replicas", default="1", help="comma list: analyzer processes in one consumer group")
    parser.add_argument("--real", action="store_true", help="OTRF Windows events through the full SigmaHQ corpus")
    parser.add_argument("--compare-partitions", type=int, default=0, metavar="ROUNDS",
                        help="only (b) and (c), plain tables vs day partitions, alternating for ROUNDS rounds")
    parser.add_argument("--store-only", action="store_true", help="with --compare-partitions: (c) alone")
    parser.add_argument("--compare-persist", type=int, default=0, metavar="ROUNDS",
                        help="(b) and (c): pglz payload + fixed batches vs lz4 vs lz4 + growing batches")
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process analyzer worker (b)")
    parser.add_argument("--stages", action="store_true", help="print wall µs/event per stage of the worker (b)")
    args = parser.parse_args()
    PROFILE[0], STAGE_REPORT[0] = args.profile, args.stages
    extra: dict[str, str] = {}
    packs_tmp = None
    if args.real:
        packs_tmp = tempfile.TemporaryDirectory()
        print("installing the SigmaHQ corpus as packs…", flush=True)
        install_corpus(Path(packs_tmp.name))
        extra = {"SIGMA_PACKS_DIR": packs_tmp.name}
    broker = None if os.environ.get("KAFKA_SERVER") else LocalBroker().start()
    bootstrap = os.environ.get("KAFKA_SERVER") or broker.bootstrap  # type: ignore[union-attr]
    try:
        suffix = uuid.uuid4().hex[:6]
        topics = {"events": f"bench-events-{suffix}", "results": f"bench-results-{suffix}",
                  "dlq": f"bench-dlq-{suffix}"}
        ensure_topics(bootstrap, topics.values(), PARTITIONS)
        kind = "real OTRF Windows" if args.real else "generated"
        print(f"producing {args.events} {kind} events to {topics['events']} ({PARTITIONS} partitions)…", flush=True)
        real_events = produce_real(bootstrap, topics["events"], args.events) if args.real else None
        if not args.real:
            produce_stream(bootstrap, topics["events"], args.events)
        if args.compare_partitions:
            compare_partitions(bootstrap, topics, args.events, args.compare_partitions, args.store_only)
            return
        if args.compare_persist:
            compare_persist(bootstrap, topics, args.events, args.compare_persist,
                            int(args.batch_sizes.split(",")[0]), real_events, extra,
                            [v for v in os.environ.get("BENCH_VARIANTS", "").split(",") if v])
            return
        print(f"{'stage':52} {'batch':>6} {'events/s':>10} {'ratio b/a':>10}")
        for batch in [int(b) for b in args.batch_sizes.split(",")]:
            raw = raw_consume_rate(bootstrap, topics["events"], args.events, batch)
            print(f"{'(a) raw consume-and-discard':52} {batch:>6} {raw:>10.0f} {'':>10}", flush=True)
            for replicas in [int(r) for r in args.replicas.split(",")]:
                ana, cpu_us = analyzer_rate(bootstrap, topics, args.events, batch, replicas, extra)
                label = ("(b) analyzer native+SigmaHQ -> committed rows" if args.real
                         else "(b) analyzer rules-only -> committed rows") + (
                    f", {replicas} procs" if replicas > 1 else "")
                cpu = f"   {cpu_us:.0f} µs CPU/event" if cpu_us is not None else ""
                print(f"{label:52} {batch:>6} {ana:>10.0f} {ana / raw:>10.2f}{cpu}", flush=True)
            ceiling = store_rate(args.events, batch, real_events)
            print(f"{'(c) database write alone, same events (ceiling for b)':52} {batch:>6} {ceiling:>10.0f} "
                  f"{ceiling / raw:>10.2f}", flush=True)
        if not args.real:
            p50, p99, n = latency_at(bootstrap, args.latency_rate, args.latency_seconds, 500)
            print(f"produce->stored latency at {args.latency_rate:.0f} events/s over {n} events: "
                  f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    finally:
        if broker:
            broker.stop()
        if packs_tmp is not None:
            packs_tmp.cleanup()


if __name__ == "__main__":
    main()
