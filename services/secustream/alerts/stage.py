"""The analyzer's alert stage: a stored batch's verdicts → counted alerts → linked incidents → story, webhook.

Runs after the batch's verdicts are stored and before its offsets are committed, so a crash redelivers
the batch and ``storage.alerts.record`` (idempotent) counts nothing twice. The template story is written
in the same transaction as the counts; LLM stories and webhooks run on background threads so a slow
LLM or receiver never holds up the commit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from secustream.alerts.hits import AlertPolicy, alert_hits
from secustream.alerts.notify import WebhookSink
from secustream.alerts.story import StoryWriter, template_story
from secustream.storage import alerts as store
from secustream.storage.repository import AnalyzedEvent
from secustream.verdict import RISK_ORDER, RiskLevel

log = logging.getLogger(__name__)


class AlertMetrics(Protocol):
    def observe(self, changes: store.Changes) -> None: ...


class AlertStage:
    def __init__(self, engine: Engine, policy: AlertPolicy, *, incident_window: timedelta = timedelta(hours=1),
                 stories: StoryWriter | None = None, webhook: WebhookSink | None = None,
                 notify_min_level: RiskLevel = RiskLevel.HIGH, metrics: AlertMetrics | None = None) -> None:
        self.engine = engine
        self.policy = policy
        self.incident_window = incident_window
        self.stories = stories
        self.webhook = webhook
        self.notify_min_level = notify_min_level
        self.metrics = metrics
        self._llm = ThreadPoolExecutor(max_workers=1, thread_name_prefix="incident-story") if stories else None
        self._pending: set[Any] = set()
        self._lock = threading.Lock()

    def process(self, items: Sequence[AnalyzedEvent]) -> store.Changes:
        """Count the batch's alert hits; returns what changed (the worker's 'alert' stage)."""
        hits = alert_hits(((i.event, i.verdict) for i in items), self.policy)
        if not hits:
            return store.Changes()
        with self.engine.begin() as conn:
            changes = store.record(conn, hits, self.incident_window)
            self._templates(conn, changes.touched_incidents)
        if self.metrics is not None:
            self.metrics.observe(changes)
        self._after_commit(changes)
        return changes

    def _templates(self, conn: Connection, incident_ids: Sequence[Any]) -> None:
        """The template story of every touched incident that has no LLM story, in the counts' transaction."""
        why = "LLM story pending" if self.stories is not None else "no LLM configured"
        store.set_stories(conn, {incident_id: template_story(incident, why)
                                 for incident_id, incident in store.incidents_for_stories(conn, incident_ids).items()
                                 if incident.get("story_source") != "llm"}, "template")

    def _after_commit(self, changes: store.Changes) -> None:
        wanted = [*changes.new_incidents, *changes.escalated_incidents]
        if self._llm is not None:
            for incident_id in wanted:
                future = self._llm.submit(self._llm_story, incident_id)
                with self._lock:
                    self._pending.add(future)
                future.add_done_callback(self._done)
        if self.webhook is None:
            return
        with self.engine.connect() as conn:
            for kind, ids in (("incident.created", changes.new_incidents),
                              ("incident.escalated", changes.escalated_incidents)):
                for incident_id in ids:
                    incident = store.incident_alerts_for_story(conn, incident_id)
                    if incident is not None and self._loud(incident["severity"]):
                        incident.pop("alerts", None)
                        self.webhook.notify(kind, incident)
            for alert_id in changes.new_alerts:
                alert = store.get_alert(conn, alert_id)
                if alert is not None and self._loud(alert["level"]):
                    alert.pop("audit", None)
                    self.webhook.notify("alert.created", alert)

    def _loud(self, level: str) -> bool:
        return RISK_ORDER[RiskLevel(level)] >= RISK_ORDER[self.notify_min_level]

    def _done(self, future: Any) -> None:
        with self._lock:
            self._pending.discard(future)

    def _llm_story(self, incident_id: Any) -> None:
        assert self.stories is not None
        with self.engine.connect() as conn:
            incident = store.incident_alerts_for_story(conn, incident_id)
        if incident is None:
            return
        story = self.stories.write(incident)
        source = "llm" if story["source"] != "template" else "template"
        with self.engine.begin() as conn:
            store.set_story(conn, incident_id, story, source)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Tests and shutdown: wait for queued LLM stories and webhooks."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.result(timeout=timeout)
        return self.webhook.wait_idle(timeout) if self.webhook is not None else True

    def close(self) -> None:
        if self._llm is not None:
            self._llm.shutdown(wait=True, cancel_futures=False)
        if self.stories is not None:
            self.stories.close()
        if self.webhook is not None:
            self.webhook.close()
