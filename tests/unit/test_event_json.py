"""The events table's payload text: written from the analyzer's JSON document, the same JSON pydantic writes.

Why it matters: ``storage.repository.event_json`` is what the database keeps of every event, and the
document path skips pydantic's serialiser (~8 µs of client CPU per real Windows event in a COPY).
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import pytest

from secustream.analyzer.detection import verdict_from_hits
from secustream.events import SecurityEvent
from secustream.normalizers import NormalizationError, normalize_windows
from secustream.storage.repository import AnalyzedEvent, event_json, event_row
from tests.corpora import otrf_lines, otrf_recordings


def _item(event: SecurityEvent, with_document: bool = True) -> AnalyzedEvent:
    document = event.model_dump(mode="json", exclude_none=True) if with_document else None
    return AnalyzedEvent(event, verdict_from_hits(event, [], "t"), datetime.now(UTC), document)


def _real_events(per_recording: int) -> list[SecurityEvent]:
    events = []
    for recording in otrf_recordings():
        for i, line in enumerate(otrf_lines(recording)):
            if i >= per_recording:
                break
            with contextlib.suppress(NormalizationError):
                events.append(normalize_windows(line))
    return events


def test_on_real_windows_events_the_document_path_writes_pydantics_bytes():
    events = _real_events(per_recording=20)
    assert len(events) > 1000
    for event in events:
        assert event_json(_item(event)) == event.model_dump_json(exclude_none=True).encode()


@pytest.mark.parametrize("unmapped", [
    {"huge": 10**30},  # beyond 64 bits: orjson refuses it, pydantic writes it
    {"nested": {"list": [1, 2.5, None, True, "x\u0000y"]}, "text": "caf\u00e9 \U0001f600"},
])
def test_values_orjson_refuses_or_escapes_differently_still_store_the_same_json(unmapped):
    event = SecurityEvent(event_type="process", action="process_start", product="windows", unmapped=unmapped)
    written = event_json(_item(event))
    assert json.loads(written) == json.loads(event.model_dump_json(exclude_none=True))


def test_without_a_document_pydantic_writes_the_payload():
    event = SecurityEvent(event_type="process", action="process_start", product="windows", message="m")
    assert event_json(_item(event, with_document=False)) == event.model_dump_json(exclude_none=True).encode()
    assert event_row(_item(event, with_document=False))["payload"] == event.model_dump(mode="json", exclude_none=True)
    assert event_row(_item(event))["payload"] == event.model_dump(mode="json", exclude_none=True)
