"""Property: hostile records interleaved with valid ones, through produce → analyze → store.

Whatever hypothesis generates (NUL and control characters in any field, invalid UTF-8, deep
nesting, huge numbers, dates at the edges, over-long strings in every bounded field, oversized
messages, unknown fields), every valid event is stored exactly once, every hostile record is
stored (sanitised) or in the DLQ with its stage and reason, and no partition stops advancing.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secustream.events import MAX_ACTION, MAX_NAME, MAX_PRODUCT, encode_event
from secustream.generator import EventGenerator
from secustream.messaging import headers as h
from secustream.messaging.client import TrackedProducer, producer_config

from .pipeline_helpers import committed_to_end, make_settings, rows, running_worker, wait_for

MAX_EVENT_BYTES = 65_536
POOL = EventGenerator(seed=21, attack_ratio=0.1, start=datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
                      rate=50).next_batch(400)

hostile_text = st.text(st.characters(codec=None, exclude_categories=()), min_size=1, max_size=40).map(
    lambda s: s + "\x00")  # always at least one NUL, plus whatever else (controls, surrogates …)
STRING_FIELDS = [("message",), ("action",), ("source", "user"), ("source", "host"), ("destination", "host"),
                 ("destination", "user"), ("product",), ("vendor",), ("dataset",), ("raw",),
                 ("process", "command_line"), ("http", "url"), ("unmapped", "note")]
BOUNDED = [(("source", "user"), MAX_NAME), (("source", "host"), MAX_NAME), (("destination", "host"), MAX_NAME),
           (("action",), MAX_ACTION), (("product",), MAX_PRODUCT), (("message",), 8192), (("raw",), 65536),
           (("source", "ip"), 45)]
EDGE_DATES = ["0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00",
              "9999-12-31T23:59:59.999999Z", "1969-12-31T23:59:59Z", "2999-01-01T00:00:00Z", "1970-01-01T00:00:00Z"]


def _base(event_id: str) -> dict[str, Any]:
    return {"event_id": event_id, "timestamp": "2026-11-25T08:00:00Z", "event_type": "auth",
            "source": {"ip": "198.51.100.7"}}


def _put(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    node = doc
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return doc


@st.composite
def hostile_record(draw: st.DrawFn) -> tuple[str, bytes]:
    event_id = str(draw(st.uuids()))
    doc = _base(event_id)
    kind = draw(st.sampled_from(["text", "long", "number", "date", "deep", "utf8", "oversized", "unknown"]))
    if kind == "text":
        _put(doc, draw(st.sampled_from(STRING_FIELDS)), draw(hostile_text))
        payload = json.dumps(doc).encode()
    elif kind == "long":
        path, bound = draw(st.sampled_from(BOUNDED))
        _put(doc, path, "a" * (bound + draw(st.integers(1, 300))))
        payload = json.dumps(doc).encode()
    elif kind == "number":
        path = draw(st.sampled_from([("destination", "port"), ("process", "pid"), ("file", "size"),
                                     ("network", "bytes_in"), ("unmapped", "n")]))
        number = draw(st.one_of(st.integers(2**63, 10**60), st.integers(-(10**60), -(2**63))))
        payload = json.dumps(_put(doc, path, number)).encode()
        if draw(st.booleans()):
            payload = payload.replace(str(number).encode(), b"1e999999")
    elif kind == "date":
        stamp = draw(st.one_of(st.sampled_from(EDGE_DATES),
                               st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())))
        payload = json.dumps({**doc, "timestamp": stamp}).encode()
    elif kind == "deep":
        depth = draw(st.integers(64, 20_000))
        inner = b'{"a": ' * depth + b"1" + b"}" * depth
        payload = json.dumps(doc).encode()[:-1] + b', "unmapped": {"x": ' + inner + b"}}"
    elif kind == "utf8":
        junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x00", b"\xc0\xaf"]))
        payload = json.dumps({**doc, "message": "before-MARK-after"}).encode().replace(b"MARK", junk)
    elif kind == "oversized":
        payload = json.dumps(_put(doc, ("unmapped", "blob"), "B" * draw(st.integers(MAX_EVENT_BYTES,
                                                                                      3 * MAX_EVENT_BYTES)))).encode()
    else:
        payload = json.dumps({**doc, draw(st.sampled_from(["surprise", "x\x00y", "source.ip"])): 1}).encode()
    return event_id, payload


records = st.lists(st.one_of(st.tuples(st.just("valid"), st.integers(0, len(POOL) - 1), st.uuids()),
                             st.tuples(st.just("hostile"), hostile_record())), min_size=1, max_size=30)


class DlqReader:
    """Reads the DLQ incrementally: key → (stage, reason)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"dlq-{uuid.uuid4().hex[:6]}",
                                  "enable.auto.commit": False})
        parts = self.consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self.consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        self.seen: dict[str, tuple[bytes | None, bytes | None]] = {}

    def poll(self) -> dict[str, tuple[bytes | None, bytes | None]]:
        for msg in self.consumer.consume(500, 0.2):
            if msg.error() is None:
                hdrs = dict(msg.headers() or [])
                self.seen[(msg.key() or b"").decode()] = (hdrs.get(h.ERROR_STAGE), hdrs.get(h.ERROR))
        return self.seen


def test_hostile_records_never_stall_and_valid_events_are_stored_once(kafka_bootstrap, topics, pg_url, redis_url):
    cfg = make_settings(kafka_bootstrap, topics, pg_url, redis_url, ANALYZER_BATCH_SIZE=20,
                        EVENT_MAX_BYTES=MAX_EVENT_BYTES, DLQ_MAX_PAYLOAD_BYTES=4096)
    producer = TrackedProducer(producer_config(kafka_bootstrap, "test-property"))
    dlq = DlqReader(kafka_bootstrap, topics["dlq"])
    with running_worker(cfg):

        @settings(max_examples=25, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.function_scoped_fixture])
        @given(records)
        def check(batch: list[tuple[Any, ...]]) -> None:
            valid_ids: list[str] = []
            hostile_ids: list[str] = []
            for item in batch:
                if item[0] == "valid":
                    # A repeated id is a redelivery, the same message: so the id derives from the pool event too
                    # (rows are exactly-once on (event id, event time): docs/storage.md, "Exactly-once under
                    # partitioning").
                    event = POOL[item[1]].event.model_copy(update={"event_id": uuid.uuid5(item[2], str(item[1]))})
                    if str(event.event_id) in valid_ids:
                        continue
                    valid_ids.append(str(event.event_id))
                    producer.produce(topics["events"], encode_event(event), key=str(event.event_id))
                else:
                    event_id, payload = item[1]
                    hostile_ids.append(event_id)
                    producer.produce(topics["events"], payload, key=event_id)
            producer.flush_or_raise()

            def accounted() -> bool:
                stored = {r[0] for r in rows(pg_url, "select e.id::text from events e join verdicts v "
                                             "on v.event_id = e.id where e.id::text = any(:ids)",
                                             ids=valid_ids + hostile_ids)}
                letters = dlq.poll()
                return (all(i in stored for i in valid_ids)
                        and all(i in stored or i in letters for i in hostile_ids))

            wait_for(accounted, 60, "every record stored or dead-lettered")
            wait_for(lambda: committed_to_end(kafka_bootstrap, topics["events"], topics["group"]), 60,
                     "every partition committed to its end")
            counts = rows(pg_url, "select id::text, count(*) from events where id::text = any(:ids) group by id",
                          ids=valid_ids)
            assert all(n == 1 for _id, n in counts) and len(counts) == len(valid_ids)
            for event_id in hostile_ids:
                if event_id in dlq.seen:
                    stage, reason = dlq.seen[event_id]
                    assert stage and reason, f"{event_id} dead-lettered without stage/reason"

        check()
    dlq.consumer.close()
