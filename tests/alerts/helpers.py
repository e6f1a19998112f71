"""Analyse events with the packaged rules (no Kafka): the verdicts the alert layer is fed in production."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from secustream.alerts.hits import AlertPolicy
from secustream.alerts.stage import AlertStage
from secustream.analyzer.detection import Detection
from secustream.analyzer.native import RulesEngine, RuleSet
from secustream.analyzer.router import Router
from secustream.analyzer.service import detection_lookup
from secustream.config import Settings
from secustream.events import SecurityEvent
from secustream.normalizers.sshd import normalize_sshd
from secustream.state import MemoryState
from secustream.storage.repository import AnalyzedEvent, VerdictRepository

DATA = Path(__file__).parents[1] / "data"
SSHD_LOG = DATA / "sshd_auth.log"


def rules_router() -> tuple[Router, RulesEngine]:
    engine = RulesEngine(RuleSet.load(Settings().rules_path), MemoryState())
    return Router(Detection([engine], "test")), engine


def analyse(events: Sequence[SecurityEvent]) -> tuple[list[AnalyzedEvent], RulesEngine]:
    router, engine = rules_router()
    ordered = sorted(events, key=lambda e: e.timestamp)
    verdicts = router.analyze(ordered)
    return [AnalyzedEvent(e, v) for e, v in zip(ordered, verdicts, strict=True)], engine


def sshd_events(path: Path = SSHD_LOG) -> list[SecurityEvent]:
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(normalize_sshd(line, year=2026))
        except ValueError:  # the sample holds deliberately broken lines
            continue
    return out


def stage_for(db: Engine, engine: RulesEngine, *, window: int = 600, incident_window: int = 3600,
              **kw: object) -> AlertStage:
    policy = AlertPolicy(window_seconds=window, detections=detection_lookup(engine, None))
    return AlertStage(db, policy, incident_window=timedelta(seconds=incident_window), **kw)  # type: ignore[arg-type]


def store_and_alert(db: Engine, stage: AlertStage, items: Sequence[AnalyzedEvent], batch: int = 50) -> None:
    """What the worker does per batch: store, then count alerts (in batches, like consumption)."""
    repo = VerdictRepository(db)
    for i in range(0, len(items), batch):
        part = items[i:i + batch]
        repo.store(part)
        stage.process(part)


def sshd_alerted(db: Engine, **stage_kw: object) -> tuple[AlertStage, list[AnalyzedEvent]]:
    """The sshd sample analysed, stored and counted into alerts (the common start of the alert tests)."""
    items, engine = analyse(sshd_events())
    stage = stage_for(db, engine, **stage_kw)
    store_and_alert(db, stage, items)
    return stage, items
