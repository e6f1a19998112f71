"""Nothing dropped silently: a hit a suppression stops adds to that suppression's counter, which the API shows."""

from __future__ import annotations

from sqlalchemy import create_engine

from secustream.analyzer.detection import Detection
from secustream.analyzer.native import RulesEngine, RuleSet
from secustream.analyzer.native.suppressions import SuppressionIndex
from secustream.analyzer.router import Router
from secustream.config import Settings
from secustream.state import MemoryState
from secustream.storage import alerts as store
from secustream.storage import feedback as feedback_store
from secustream.storage.repository import AnalyzedEvent

from .helpers import sshd_events, stage_for, store_and_alert

SOURCE = "45.155.205.233"


def test_suppressed_hits_are_counted_not_alerted(pg_url: str) -> None:
    db = create_engine(pg_url)
    with db.begin() as conn:
        feedback_store.create_suppression(conn, {"rule_id": "SSH-BRUTE-FORCE", "field": "source.ip", "value": SOURCE,
                                          "active": True, "reason": "test"})
    index = SuppressionIndex(db, interval=3600)
    engine = RulesEngine(RuleSet.load(Settings().rules_path), MemoryState(), index)
    events = sorted(sshd_events(), key=lambda e: e.timestamp)
    items = [AnalyzedEvent(e, v) for e, v in zip(events, Router(Detection([engine], "t")).analyze(events),
                                                   strict=True)]
    store_and_alert(db, stage_for(db, engine), items)
    index.flush()
    with db.connect() as conn:
        [row] = [r for r in store.suppressed_counts(conn) if r["value"] == SOURCE]
        alerts = store.alert_page(store.alert_page_rows(conn, store.AlertFilters(entity=SOURCE), 50), 50)["items"]
    assert row["hit_count"] >= 5 and row["last_hit_at"] is not None  # the log holds 11+ hits from it
    assert [a for a in alerts if a["detection"] == "SSH-BRUTE-FORCE"] == []
    db.dispose()
