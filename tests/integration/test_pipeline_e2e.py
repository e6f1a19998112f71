"""Foundation acceptance: generator → Kafka → rules analyzer → PostgreSQL/Redis, end to end."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

from secustream.analyzer.native import RuleSet
from secustream.events import SecurityEvent, ThreatClass, encode_event
from secustream.generator import EventGenerator
from secustream.generator.runner import produce_generated
from secustream.messaging import headers as h
from secustream.messaging.client import TrackedProducer, producer_config

from .pipeline_helpers import make_settings, read_topic, rows, running_worker, scalar, wait_for

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def brute_force_rule(settings) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    for rule in RuleSet.load(settings.rules_path).rules:
        t = rule.spec.threshold
        if rule.spec.threat_type == ThreatClass.BRUTE_FORCE and t and not t.distinct:
            return rule.id, t.count
    raise AssertionError("the default rules have no brute-force threshold rule")


def test_generated_stream_is_stored_once_and_brute_force_is_flagged(kafka_bootstrap, topics, pg_url, redis_url):
    settings = make_settings(kafka_bootstrap, topics, pg_url, redis_url)
    generator = EventGenerator(seed=11, attack_ratio=0.15, start=START, rate=50)
    batch = generator.next_batch(4000)
    producer = TrackedProducer(producer_config(kafka_bootstrap, "test"))
    produce_generated(batch, producer, topics["events"])
    producer.flush_or_raise()

    with running_worker(settings):
        wait_for(lambda: scalar(pg_url, "select count(*) from verdicts") == len(batch), 120, "all verdicts")

    assert scalar(pg_url, "select count(*) from events") == len(batch)
    assert scalar(pg_url, "select count(distinct event_id) from verdicts") == len(batch)

    rule_id, threshold = brute_force_rule(settings)
    failures: Counter[tuple[str, str]] = Counter()
    for g in batch:
        if g.label == ThreatClass.BRUTE_FORCE and g.event.outcome == "failure" and g.event.source.ip:
            failures[(g.campaign_id or "", g.event.source.ip)] += 1
    sources = {ip for (_c, ip), n in failures.items() if n >= threshold}
    assert len(sources) >= 2, f"seeded stream should hold several complete brute-force campaigns: {failures}"
    flagged = {r[0] for r in rows(pg_url, """
        select e.source_ip from events e join verdicts v on v.event_id = e.id
        where v.risk_level in ('high', 'critical') and v.rule_ids::jsonb ? :rule""", rule=rule_id)}
    assert sources <= flagged, f"brute-force sources not flagged: {sources - flagged}"

    # Ground truth never reaches the payload the analyzer reads.
    payloads = [r[0] for r in rows(pg_url, "select payload::text from events")]
    assert not any("brute_force" in p or "campaign" in p for p in payloads)


def test_benign_only_stream_has_no_high_or_critical(kafka_bootstrap, topics, pg_url, redis_url):
    settings = make_settings(kafka_bootstrap, topics, pg_url, redis_url)
    batch = EventGenerator(seed=5, attack_ratio=0.0, start=START, rate=50).next_batch(4000)
    assert {g.label for g in batch} == {ThreatClass.BENIGN}
    producer = TrackedProducer(producer_config(kafka_bootstrap, "test"))
    produce_generated(batch, producer, topics["events"])
    producer.flush_or_raise()
    with running_worker(settings):
        wait_for(lambda: scalar(pg_url, "select count(*) from verdicts") == len(batch), 120, "all verdicts")
    bad = rows(pg_url, "select risk_level, reason from verdicts where risk_level in ('high','critical')")
    assert bad == []


def test_replay_adds_no_rows_and_bad_messages_go_to_dlq(kafka_bootstrap, topics, pg_url, redis_url):
    settings = make_settings(kafka_bootstrap, topics, pg_url, redis_url)
    producer = TrackedProducer(producer_config(kafka_bootstrap, "test"))
    good = [SecurityEvent(event_type="auth", outcome="success", source={"ip": f"10.0.0.{i % 200 + 1}"},
                          destination={"user": "alice"}) for i in range(300)]
    bad = [b"{this is not json", b'{"event_type": "telepathy"}', b'{"event_type": "auth", "source": {"port": -1}}',
           b"", b"[]"]
    sent_bad = 0
    for i, event in enumerate(good):
        producer.produce(topics["events"], encode_event(event), key=event.source.ip)
        if i % 60 == 30:
            producer.produce(topics["events"], bad[sent_bad], key=b"bad", partition=i % 4)
            sent_bad += 1
    producer.flush_or_raise()

    with running_worker(settings) as worker:
        wait_for(lambda: scalar(pg_url, "select count(*) from verdicts") == len(good), 60, "valid events stored")
        dead = read_topic(kafka_bootstrap, topics["dlq"], sent_bad)
        assert len(dead) == sent_bad
        reasons = sorted(dict(m.headers())[h.ERROR].decode() for m in dead)
        assert all(r for r in reasons)
        assert any(r.startswith("malformed JSON") for r in reasons)
        assert any(r.startswith("schema violation at event_type") for r in reasons)
        assert any(r.startswith("schema violation at source.port") for r in reasons)
        assert {m.value() for m in dead} == set(bad[:sent_bad])

        # Replay every valid message: at-least-once delivery must not add a single row.
        for event in good:
            producer.produce(topics["events"], encode_event(event), key=event.source.ip)
        producer.flush_or_raise()
        total = len(good) * 2 + sent_bad

        def consumed() -> bool:
            value = worker.metrics.consumed._value.get()
            return value >= total

        wait_for(consumed, 60, "replayed messages consumed")
    assert scalar(pg_url, "select count(*) from events") == len(good)
    assert scalar(pg_url, "select count(*) from verdicts") == len(good)

    results = read_topic(kafka_bootstrap, topics["results"], 2 * len(good))  # replays republish
    assert {json.loads(m.value())["event"]["event_id"] for m in results} == {str(e.event_id) for e in good}
