"""Rows shaped as retention hands them to the archiver: a generated day of events with their verdicts.

The same columns and Python types the database returns (UUIDs, aware datetimes, JSON documents), with the
verdict's columns prefixed ``verdict_`` on events rows (archival.py's contract).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from secustream.events import EventType, SecurityEvent
from secustream.generator.engine import EventGenerator
from secustream.storage.repository import AnalyzedEvent, event_row, verdict_row
from secustream.verdict import RiskLevel, Verdict

DAY = date(2026, 11, 2)
_LEVELS = list(RiskLevel)
_TIERS = ("rules", "model", "llm", "sigma")


def verdict_for(event: SecurityEvent, n: int, threat: str = "benign") -> Verdict:
    return Verdict(event_id=event.event_id, risk_level=_LEVELS[n % 4], risk_score=(n % 100) / 100,
                   threat_type=threat, confidence=((n * 7) % 100) / 100, tier=_TIERS[n % 4], reason=f"reason {n}",
                   rule_ids=[f"rule-{n % 5}"] if n % 3 else [], mitre_ids=["T1110", "T1021.004"] if n % 2 else [],
                   recommended_actions=["look"], analysis="" if n % 5 else f"analysis {n}", analyzer_version="test-1",
                   latency_ms=1.5, analyzed_at=event.timestamp + timedelta(seconds=1))


def generated_events(count: int, day: date = DAY, seed: int = 11) -> list[tuple[SecurityEvent, str]]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    gen = EventGenerator(seed=seed, attack_ratio=0.3, start=start, rate=max(1.0, count / 80_000))
    return [(g.event, g.label.value) for g in gen.next_batch(count)]


def odd_events(day: date = DAY) -> list[SecurityEvent]:
    """Shapes the generator does not make: extremes, missing parts, every event type."""
    at = datetime(day.year, day.month, day.day, 23, 59, 59, 999_999, tzinfo=UTC)
    return [
        SecurityEvent(event_type=EventType.PROCESS, timestamp=at, action="process_start",
                      process={"pid": 2**70, "name": "x", "executable": "C:\\Windows\\x.exe", "parent_pid": 4},
                      unmapped={"EventID": 1, "nested": {"a": [1, 2.5, None, "é\u2028"]}}),
        SecurityEvent(event_type=EventType.FILE, timestamp=at, file={"size": 10}),  # no name: base event
        SecurityEvent(event_type=EventType.FILE, timestamp=at, action="file_rename",
                      file={"path": "/tmp/a b", "sha256": "ab" * 32, "size": 2**64}),
        SecurityEvent(event_type=EventType.HTTP, timestamp=at, http={"method": "PATCH", "url": "/x"}),  # no code
        SecurityEvent(event_type=EventType.REGISTRY, timestamp=at, action="set_value", raw="raw \x01 line"),
        SecurityEvent(event_type=EventType.NETWORK, timestamp=at, action="connection_denied", outcome="failure",
                      network={"direction": "inbound", "transport": "tcp", "bytes_in": 5}),
        SecurityEvent(event_type=EventType.DNS, timestamp=at, dns={"query": "example.org", "answers": ["1.2.3.4"]}),
        SecurityEvent(event_type=EventType.AUTH, timestamp=at.replace(hour=0, minute=0, second=0, microsecond=0)),
        SecurityEvent(event_type=EventType.OTHER, timestamp=at),
    ]


def events_row(event: SecurityEvent, verdict: Verdict | None, n: int) -> dict[str, Any]:
    """An events row (``payload`` parsed, as JSONB comes back), its verdict's columns prefixed."""
    row = event_row(AnalyzedEvent(event, verdict or verdict_for(event, n)))
    # the database hands back aware datetimes in the session's zone: not always UTC
    row["stored_at"] = (event.timestamp + timedelta(minutes=n % 7)).astimezone(timezone(timedelta(hours=2)))
    row["produced_at"] = None if n % 2 else event.timestamp
    if verdict is None:
        row.update({f"verdict_{k}": None for k in verdict_columns(verdict_for(event, n))})
    else:
        row.update({f"verdict_{k}": v for k, v in verdict_columns(verdict).items()})
    return row


def verdict_columns(verdict: Verdict) -> dict[str, Any]:
    row = verdict_row(verdict)
    row["id"] = abs(hash(verdict.event_id)) % 10**9
    row["event_timestamp"] = verdict.analyzed_at - timedelta(seconds=1)
    return row


def day_rows(count: int = 400, day: date = DAY) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events rows, verdicts rows) of one day: generated events, the odd ones, one row without a verdict."""
    events = [e for e, _label in generated_events(count, day)] + odd_events(day)
    event_rows, verdict_rows = [], []
    for n, event in enumerate(events):
        verdict = None if n == 5 else verdict_for(event, n)
        event_rows.append(events_row(event, verdict, n))
        if verdict is not None:
            verdict_rows.append(verdict_columns(verdict))
    return event_rows, verdict_rows


def alert_and_incident_rows(day: date = DAY) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of the alerts and incidents tables (retention deletes them by day of last activity)."""
    import uuid

    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    incidents, alerts = [], []
    for n in range(6):
        incident_id = uuid.uuid4()
        incidents.append({
            "id": incident_id, "status": ("open", "acknowledged", "closed")[n % 3], "severity": _LEVELS[n % 4].value,
            "title": f"incident {n}", "tactics": ["credential-access", "lateral-movement"][: n % 3],
            "entities": [["ip", "10.0.0.1"], ["user", "alice"]], "alert_count": n + 1, "hit_count": 3 * n,
            "first_seen": at - timedelta(hours=n), "last_seen": at + timedelta(minutes=n),
            "story": {"summary": f"story {n}", "steps": [1, 2]} if n % 2 else None,
            "story_source": "template" if n % 2 else None, "created_at": at - timedelta(hours=n),
            "updated_at": at + timedelta(minutes=n),
        })
        alerts.append({
            "id": uuid.uuid4(), "detection": f"rule-{n}", "title": f"brute force {n}", "level": _LEVELS[n % 4].value,
            "threat_type": "brute_force", "status": ("open", "acknowledged", "closed")[n % 3],
            "resolution": "true_positive" if n % 3 == 2 else None, "assignee": "bob" if n % 2 else None,
            "notes": None, "entity_kind": "ip", "entity_value": "10.0.0.1", "window_start": at,
            "window_seconds": 600, "count": 10 + n, "first_seen": at, "last_seen": at + timedelta(minutes=n),
            "mitre_ids": ["T1110"], "tactics": ["credential-access"], "incident_id": incident_id if n % 2 else None,
            "created_at": at, "updated_at": at + timedelta(minutes=n),
        })
    return alerts, incidents
