"""Webhook notifications for new and escalated incidents and alerts: JSON or Alertmanager's format.

Why a background sender: a slow or failing receiver must never hold up the analyzer's batch (and with
it the offset commit). Each notification is retried with exponential backoff; after the last attempt it
is written to the ``notification_dead_letters`` table (``GET /alerts/dead-letters``), never dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

log = logging.getLogger(__name__)

DeadLetter = Callable[[str, str, str, dict[str, Any], int, str], None]
"""(target, kind, subject id, payload, attempts, last error) -> None"""


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    format: str = "json"  # "json" | "alertmanager"
    retries: int = 5  # attempts in all
    backoff_seconds: float = 1.0  # first delay; doubles per attempt
    timeout_seconds: float = 5.0
    dashboard_url: str = ""
    secret: str = ""  # HMAC-SHA256 key; empty = unsigned


SIGNATURE_HEADER = "X-SecuStream-Signature"
TIMESTAMP_HEADER = "X-SecuStream-Timestamp"


def signature(secret: str, timestamp: int, content: bytes) -> str:
    """``v1=<hex>``: HMAC-SHA256 of ``<timestamp>.<body>`` (a receiver recomputes it and compares in constant time)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + content, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def signed_headers(secret: str, content: bytes, now: Callable[[], float] = time.time) -> dict[str, str]:
    """The request headers of one attempt: JSON, plus timestamp and signature when a secret is set."""
    headers = {"Content-Type": "application/json"}
    if secret:
        timestamp = int(now())
        headers[TIMESTAMP_HEADER] = str(timestamp)
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, content)
    return headers


def _jsonable(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_UTC_Z, default=str))


def json_payload(kind: str, subject: Mapping[str, Any]) -> dict[str, Any]:
    """The plain JSON body: ``{"kind": "incident.created", "incident": {...}}``."""
    noun = kind.split(".", 1)[0]
    return {"kind": kind, "sent_at": datetime.now(UTC).isoformat(), noun: _jsonable(dict(subject))}


def alertmanager_payload(kind: str, subject: Mapping[str, Any], dashboard_url: str = "") -> list[dict[str, Any]]:
    """An Alertmanager v2 ``POST /api/v2/alerts`` body (a list of one alert)."""
    noun = kind.split(".", 1)[0]
    severity = subject.get("severity") or subject.get("level") or "medium"
    story = subject.get("story") or {}
    labels = {"alertname": f"SecuStream{noun.capitalize()}", "severity": str(severity),
              f"{noun}_id": str(subject["id"]), "event": kind}
    if noun == "alert":
        labels.update(detection=str(subject.get("detection")), entity=str(subject.get("entity_value")))
    annotations = {"summary": str(subject.get("title", "")),
                   "description": str(story.get("summary", "")) if isinstance(story, dict) else ""}
    body: dict[str, Any] = {"labels": labels, "annotations": annotations,
                            "startsAt": _jsonable(subject.get("first_seen") or datetime.now(UTC))}
    if subject.get("status") == "closed":
        body["endsAt"] = _jsonable(subject.get("last_seen") or datetime.now(UTC))
    if dashboard_url:
        body["generatorURL"] = f"{dashboard_url.rstrip('/')}/#/{noun}s/{subject['id']}"
    return [body]


class WebhookSink:
    """Queue + one sender thread; ``notify`` never blocks, ``close`` drains what is queued."""

    def __init__(self, config: WebhookConfig, dead_letter: DeadLetter, *,
                 sleep: Callable[[float], None] = time.sleep, client: httpx.Client | None = None) -> None:
        self.config = config
        self._dead_letter = dead_letter
        self._sleep = sleep
        self._client = client or httpx.Client(timeout=config.timeout_seconds)
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue(maxsize=10_000)
        self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)
        self._thread.start()
        self.sent = 0
        self.failed = 0
        self._stopping = False

    def notify(self, kind: str, subject: Mapping[str, Any]) -> None:
        try:
            self._queue.put_nowait((kind, dict(subject)))
        except queue.Full:  # never block the analyzer: the overflow is dead-lettered
            payload = json_payload(kind, subject)
            self._dead_letter(self.config.url, kind, str(subject.get("id")), payload, 0, "notification queue full")

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued within ``timeout``; what is still waiting then is dead-lettered, not lost."""
        self._stopping = True
        self._queue.put(None)
        self._thread.join(timeout)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                kind, subject = item
                self._dead_letter(self.config.url, kind, str(subject.get("id")), json_payload(kind, subject), 0,
                                  "analyzer stopped before delivery")
            self._queue.task_done()
        self._client.close()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """For tests and shutdown: True once everything queued has been sent or dead-lettered."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    def _body(self, kind: str, subject: Mapping[str, Any]) -> Any:
        if self.config.format == "alertmanager":
            return alertmanager_payload(kind, subject, self.config.dashboard_url)
        return json_payload(kind, subject)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._deliver(*item)
            except Exception:  # the sender must outlive any one notification
                log.exception("webhook notification failed")
            finally:
                self._queue.task_done()

    def _deliver(self, kind: str, subject: dict[str, Any]) -> None:
        body = self._body(kind, subject)
        content = orjson.dumps(body, option=orjson.OPT_UTC_Z, default=str)
        error = ""
        for attempt in range(1, self.config.retries + 1):
            try:
                response = self._client.post(self.config.url, content=content,
                                             headers=signed_headers(self.config.secret, content))
                if response.status_code < 300:
                    self.sent += 1
                    return
                error = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            if attempt < self.config.retries and not self._stopping:
                self._sleep(self.config.backoff_seconds * 2 ** (attempt - 1))
        self.failed += 1
        log.warning("webhook %s for %s dead-lettered after %d attempts: %s", kind, subject.get("id"),
                    self.config.retries, error)
        wrapped = {"body": body} if isinstance(body, list) else body
        self._dead_letter(self.config.url, kind, str(subject.get("id")), wrapped, self.config.retries, error)
