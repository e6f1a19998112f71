"""The webhook sink against a local HTTP receiver that fails the first attempts: retried with backoff,
delivered in JSON and Alertmanager's format; a receiver that never recovers gives a dead-letter row."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import create_engine

from secustream.alerts.notify import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookConfig, WebhookSink, signature
from secustream.storage import alerts as store

from .helpers import sshd_alerted


class Receiver:
    """Answers 503 to the first ``fail_first`` requests (or all of them), then 200; keeps what it got."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.attempts = 0
        self.received: list[Any] = []
        self.headers: list[dict[str, str]] = []
        self.bodies: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.attempts += 1
                receiver.headers.append(dict(self.headers))
                receiver.bodies.append(body)
                ok = receiver.attempts > receiver.fail_first
                if ok:
                    receiver.received.append(json.loads(body))
                self.send_response(200 if ok else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    made: list[Receiver] = []
    yield lambda fail_first: made.append(Receiver(fail_first)) or made[-1]
    for r in made:
        r.close()


def test_retries_with_backoff_then_delivers_json(receiver) -> None:  # type: ignore[no-untyped-def]
    r = receiver(2)
    delays: list[float] = []
    dead: list[Any] = []
    sink = WebhookSink(WebhookConfig(r.url, "json", retries=4, backoff_seconds=0.5),
                       lambda *a: dead.append(a), sleep=delays.append)
    sink.notify("incident.created", {"id": "i-1", "title": "t", "severity": "high"})
    assert sink.wait_idle(10)
    assert r.attempts == 3 and delays == [0.5, 1.0] and not dead
    assert r.received[0]["kind"] == "incident.created" and r.received[0]["incident"]["id"] == "i-1"
    sink.close()


def test_signed_when_a_secret_is_set_and_each_retry_signed_afresh(receiver) -> None:  # type: ignore[no-untyped-def]
    r = receiver(1)
    sink = WebhookSink(WebhookConfig(r.url, "json", retries=3, backoff_seconds=0, secret="s3cret"),
                       lambda *a: None, sleep=lambda s: None)
    sink.notify("alert.created", {"id": "a-1", "title": "t", "level": "high"})
    assert sink.wait_idle(10)
    assert r.attempts == 2
    for headers, body in zip(r.headers, r.bodies, strict=True):
        timestamp = int(headers[TIMESTAMP_HEADER])
        # what a receiver does: recompute over "<timestamp>.<raw body>" and compare
        assert headers[SIGNATURE_HEADER] == signature("s3cret", timestamp, body)
        assert headers[SIGNATURE_HEADER] != signature("other", timestamp, body)
    sink.close()


def test_unsigned_without_a_secret(receiver) -> None:  # type: ignore[no-untyped-def]
    r = receiver(0)
    sink = WebhookSink(WebhookConfig(r.url, "json"), lambda *a: None, sleep=lambda s: None)
    sink.notify("alert.created", {"id": "a-2"})
    assert sink.wait_idle(10)
    assert SIGNATURE_HEADER not in r.headers[0] and TIMESTAMP_HEADER not in r.headers[0]
    sink.close()


def test_alertmanager_payload(receiver) -> None:  # type: ignore[no-untyped-def]
    r = receiver(0)
    sink = WebhookSink(WebhookConfig(r.url, "alertmanager", dashboard_url="http://dash"), lambda *a: None,
                       sleep=lambda s: None)
    sink.notify("incident.escalated", {"id": "i-2", "title": "Brute force then lateral movement",
                                       "severity": "critical", "first_seen": "2026-03-03T08:00:00Z",
                                       "story": {"summary": "two steps"}})
    assert sink.wait_idle(10)
    [[alert]] = r.received
    assert alert["labels"] == {"alertname": "SecuStreamIncident", "severity": "critical", "incident_id": "i-2",
                               "event": "incident.escalated"}
    assert alert["annotations"]["description"] == "two steps" and alert["startsAt"] == "2026-03-03T08:00:00Z"
    assert alert["generatorURL"] == "http://dash/#/incidents/i-2"
    sink.close()


def test_stage_dead_letters_after_the_last_retry(receiver, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    r = receiver(10_000)  # never recovers
    db = create_engine(pg_url)

    def dead_letter(*args: Any) -> None:
        with db.begin() as conn:
            store.add_dead_letter(conn, *args)

    sink = WebhookSink(WebhookConfig(r.url, "json", retries=3, backoff_seconds=0), dead_letter)
    stage, _items = sshd_alerted(db, webhook=sink)
    assert stage.wait_idle(30)
    with db.connect() as conn:
        letters = store.list_dead_letters(conn)
        alerts = store.count_rows(conn)["alerts"]
        incidents = store.count_rows(conn)["incidents"]
    assert len(letters) == alerts + incidents  # every notification (all are high) dead-lettered, none lost
    assert all(dl["attempts"] == 3 and "HTTP 503" in dl["last_error"] for dl in letters)
    assert r.attempts == 3 * len(letters)
    stage.close()
    db.dispose()


def test_close_dead_letters_what_it_could_not_send(receiver) -> None:  # type: ignore[no-untyped-def]
    r = receiver(10_000)
    dead: list[Any] = []
    sink = WebhookSink(WebhookConfig(r.url, "json", retries=3, backoff_seconds=0.2), lambda *a: dead.append(a))
    for i in range(5):
        sink.notify("alert.created", {"id": f"a-{i}", "level": "high"})
    sink.close(timeout=0.5)
    assert sorted(d[2] for d in dead) == [f"a-{i}" for i in range(5)]  # every one accounted for
