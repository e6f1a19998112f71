"""Web access log normaliser: combined, common, vhost and trailing-field lines; W3C names kept for Sigma."""

from __future__ import annotations

from pathlib import Path

import pytest

from secustream.events import decode_event, encode_event
from secustream.normalizers import NormalizationError, iter_normalized, normalize_web_access

LINES = (Path(__file__).resolve().parents[1] / "data" / "web" / "access.log").read_text().splitlines()


def test_combined_line_fields() -> None:
    event = normalize_web_access(LINES[5])
    assert (event.event_type, event.action, event.outcome) == ("http", "http_request", "success")
    assert event.source.ip == "203.0.113.9" and event.http is not None
    assert (event.http.method, event.http.url, event.http.status_code, event.http.bytes, event.http.user_agent) == \
        ("GET", "/uploads/cmd.php?cmd=whoami", 200, 12, "curl/8.5.0")
    assert {k: event.unmapped[k] for k in ("c-ip", "cs-method", "cs-uri-stem", "cs-uri-query", "sc-status")} == {
        "c-ip": "203.0.113.9", "cs-method": "GET", "cs-uri-stem": "/uploads/cmd.php", "cs-uri-query": "cmd=whoami",
        "sc-status": 200}
    assert event.timestamp.isoformat() == "2026-03-02T09:12:00+00:00"
    assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(("index", "checks"), [
    (2, {"source.user": "alice", "referer": "https://intranet.example/login", "status": 302}),
    (3, {"outcome": "failure", "status": 404}),
    (6, {"vhost": "www.example.com", "port": 443, "ts": "2026-03-02T08:12:30+00:00"}),
    (7, {"request": True, "status": 400}),
    (8, {"extra": '"10.0.0.99" rt=0.012'}),
    (9, {"agent": None, "bytes": None, "method": "HEAD"}),  # common log format, size "-"
])
def test_variants(index: int, checks: dict[str, object]) -> None:
    event = normalize_web_access(LINES[index])
    assert event.http is not None
    for key, want in checks.items():
        got = {
            "source.user": event.source.user, "referer": event.unmapped.get("cs-referer"),
            "status": event.http.status_code, "outcome": event.outcome.value, "vhost": event.destination.host,
            "port": event.destination.port, "ts": event.timestamp.isoformat(), "request": "request" in event.unmapped,
            "extra": event.unmapped.get("extra"), "agent": event.http.user_agent, "bytes": event.http.bytes,
            "method": event.http.method,
        }[key]
        assert got == want, key


def test_bad_lines_are_reported_not_fatal() -> None:
    results = list(iter_normalized(LINES, "web-access"))
    assert [r.line_no for r in results if r.error] == [11, 12]
    assert "not a common/combined" in results[10].error.reason  # type: ignore[union-attr]
    assert "bad timestamp" in results[11].error.reason  # type: ignore[union-attr]
    with pytest.raises(NormalizationError):
        normalize_web_access("   ")
