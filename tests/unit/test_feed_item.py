"""The live feed / results-topic payload (``worker.feed_item_bytes``) is byte for byte what it was when orjson wrote the
verdict from ``model_dump()`` and the event id from ``str(uuid)``: on real OTRF events with their rule hits, generated
events, and verdicts with odd floats, text and times."""

from __future__ import annotations

import contextlib
import random
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import orjson

from secustream.analyzer.detection import verdict_from_hits
from secustream.analyzer.native import RulesEngine, RuleSet
from secustream.analyzer.worker import feed_item_bytes
from secustream.events import SecurityEvent
from secustream.generator import EventGenerator
from secustream.normalizers import NormalizationError, normalize_windows
from secustream.state import MemoryState
from secustream.verdict import RiskLevel, Verdict
from tests.corpora import OTRF, REPO, otrf_lines, otrf_recordings, require


def before(event: SecurityEvent, verdict: Verdict) -> bytes:
    """``feed_item_bytes`` as it was: the reference."""
    source, destination = event.source, event.destination
    return orjson.dumps({
        "event": {
            "event_id": str(event.event_id), "timestamp": event.timestamp.isoformat(),
            "event_type": event.event_type.value, "action": event.action, "outcome": event.outcome.value,
            "source_ip": source.ip, "source_user": source.user, "host": destination.host or source.host,
            "message": event.message,
        },
        "verdict": verdict.model_dump(),
    }, option=orjson.OPT_UTC_Z)


def test_real_and_generated_events_with_their_hits() -> None:
    events = [g.event for g in EventGenerator(seed=4, attack_ratio=0.4).next_batch(2_000)]
    for recording in (otrf_recordings() or [require(OTRF / "missing")])[::4]:
        for i, line in enumerate(otrf_lines(recording)):
            if i == 200:
                break
            with contextlib.suppress(NormalizationError):
                events.append(normalize_windows(line))
    engine = RulesEngine(RuleSet.load(REPO / "services" / "secustream" / "rules" / "default.yaml"), MemoryState())
    hits = engine.evaluate(events)
    assert sum(map(bool, hits)) >= 50
    for event, found in zip(events, hits, strict=True):
        verdict = verdict_from_hits(event, found, "test")
        assert feed_item_bytes(event, verdict) == before(event, verdict)


def test_verdicts_with_odd_floats_text_and_times() -> None:
    rng = random.Random(3)
    event = SecurityEvent(event_type="process", message="é\u2028\"\\ \x01 😀")
    floats = [0.0, 1.0, 0.1, 1 / 3, 1e-7, 5e-324, 0.9999999999999999, 0.5, 2 / 3]
    texts = ["", "é", "\u2028", "\"quoted\"", "back\\slash", "\x01\x1f", "😀", "İ", "a" * 5_000]
    zones = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    for _ in range(2_000):
        verdict = Verdict(
            event_id=uuid4(), risk_level=rng.choice(list(RiskLevel)), risk_score=rng.choice(floats),
            threat_type=rng.choice(texts), confidence=rng.choice(floats), tier=rng.choice(["rules", "model", "llm"]),
            reason=rng.choice(texts), rule_ids=rng.sample(texts, 2), mitre_ids=["T1003"],
            recommended_actions=rng.sample(texts, 3), analysis=rng.choice(texts), analyzer_version="v",
            latency_ms=rng.choice([0.0, 12.5, 1e6, 3.141592653589793]),
            analyzed_at=datetime(2026, 12, 8, 1, 2, 3, rng.choice([0, 1, 999_999]), tzinfo=rng.choice(zones)))
        assert feed_item_bytes(event, verdict) == before(event, verdict)
