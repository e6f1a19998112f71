"""`secustream archive read`: an archived day goes back onto a real (Tansu) events topic, event for event.

The ids, timestamps and every field of each replayed event equal the archived originals; ``--dry-run``
sends nothing; a damaged archive is refused before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from secustream.archive import make_archiver
from secustream.cli import main
from secustream.config import Settings
from secustream.events import SecurityEvent, decode_event
from secustream.messaging import headers as h
from tests.archive_data import DAY, day_rows
from tests.integration.pipeline_helpers import read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def archived(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    events, _verdicts = day_rows(500)
    url = f"file://{tmp_path}/lake"
    monkeypatch.setenv("ARCHIVE_URL", url)
    monkeypatch.setenv("ARCHIVE_ROWS_PER_FILE", "120")
    monkeypatch.setenv("PROMETHEUS_PORT", "0")
    make_archiver(url, Settings(ARCHIVE_ROWS_PER_FILE=120)).archive(
        "events", DAY, sorted(events, key=lambda r: r["timestamp"]))
    yield url, events


def test_an_archived_day_replays_onto_the_events_topic(archived: tuple[str, list[dict[str, Any]]],
                                                       kafka_bootstrap: str, topics: dict[str, str],
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    _url, rows = archived
    monkeypatch.setenv("KAFKA_SERVER", kafka_bootstrap)
    assert main(["archive", "read", "--day", DAY.isoformat(), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"{len(rows)} events archived for {DAY}" in out and f"would replay {len(rows)} events" in out

    assert main(["archive", "read", "--day", DAY.isoformat(), "--topic", topics["events"]]) == 0
    out = capsys.readouterr().out
    assert f"replayed {len(rows)} events" in out and f"to {topics['events']}" in out
    messages = read_topic(kafka_bootstrap, topics["events"], len(rows))
    assert len(messages) == len(rows)
    assert all(h.header_value(m.headers(), h.SOURCE_FORMAT) == b"archive" for m in messages)
    replayed = {e.event_id: e for e in (decode_event(m.value()) for m in messages)}
    originals = {e.event_id: e for e in (SecurityEvent.model_validate(r["payload"]) for r in rows)}
    assert replayed.keys() == originals.keys()
    for event_id, event in originals.items():
        assert replayed[event_id] == event  # every field, the timestamp to the microsecond
        assert replayed[event_id].timestamp == event.timestamp


def test_a_damaged_archive_is_refused_before_anything_is_sent(archived: tuple[str, list[dict[str, Any]]],
                                                              kafka_bootstrap: str, topics: dict[str, str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    url, _rows = archived
    monkeypatch.setenv("KAFKA_SERVER", kafka_bootstrap)
    archiver = make_archiver(url, Settings())
    victim = archiver.manifest("events", DAY).files[0][0]
    with archiver.fs.open(victim, "rb") as handle:
        data = handle.read()
    with archiver.fs.open(victim, "wb") as handle:
        handle.write(data[: len(data) // 2])  # truncated, as by an interrupted copy
    with pytest.raises(SystemExit, match="archive read: "):
        main(["archive", "read", "--day", DAY.isoformat(), "--topic", topics["events"]])
    assert read_topic(kafka_bootstrap, topics["events"], 1, timeout=3) == []
    with pytest.raises(SystemExit, match="no complete archive of events for 2026-11-03"):
        main(["archive", "read", "--day", "2026-11-03", "--dry-run"])
