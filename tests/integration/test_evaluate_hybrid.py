"""`secustream train` on synthetic + real data, then `secustream evaluate`: on a fresh synthetic seed the hybrid's
macro-F1 is >= 0.95 and above rules-only; on the OTRF test split the hybrid puts <= 1 % of background at
high/critical and detects at least as many recordings as the rules alone (native + the full SigmaHQ corpus);
a generator-only challenger that raises real noise is not promoted; then the foundation's pipeline with all
three tiers on (trained model + LLM tier at a local endpoint)."""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from secustream.analyzer.llm.stub import StubLLM
from secustream.cli import main
from secustream.events import ThreatClass
from secustream.generator import EventGenerator
from secustream.generator.runner import produce_generated
from secustream.messaging.client import TrackedProducer, producer_config
from secustream.training import registry

from .pipeline_helpers import make_settings, rows, running_worker, scalar, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

# Smaller than the defaults on purpose (2 shared cores): 6,000 generated events + the real sample (40 background
# events per OTRF train recording, their Sigma weak labels).
REAL_BACKGROUND = "40"
TRAIN_ARGS = ["train", "--seed", "7", "--events", "6000", "--held-out-events", "1500", "--epochs", "3",
              "--batch-size", "64", "--arch", "student", "--real-background", REAL_BACKGROUND]
CORPORA = Path(os.environ.get("CORPORA_DIR", Path(__file__).resolve().parents[3] / "shared" / "corpora"))


@pytest.fixture(scope="module")
def module_pg_url():  # type: ignore[no-untyped-def]
    """A migrated database shared by this module's tests (the trained model is registered there)."""
    from secustream.storage.migrate import upgrade
    from tests.conftest import fresh_database

    with fresh_database("secustream_eval") as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="module")
def training_run(tmp_path_factory, module_pg_url):  # type: ignore[no-untyped-def]
    """One `secustream train` run for the module (training is the slow part): (database, output)."""
    if not (CORPORA / "otrf-atomic-windows").is_dir():
        pytest.fail(f"the real corpora are missing at {CORPORA} (set CORPORA_DIR)")
    pg_url = module_pg_url
    model_dir = tmp_path_factory.mktemp("models")
    mp = pytest.MonkeyPatch()
    for key, value in _env(pg_url, model_dir).items():
        mp.setenv(key, value)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = main(TRAIN_ARGS)
    finally:
        mp.undo()
    print(out.getvalue())
    assert code == 0
    return pg_url, out.getvalue()


@pytest.fixture(scope="module")
def trained(training_run):  # type: ignore[no-untyped-def]
    pg_url, _out = training_run
    from sqlalchemy import create_engine

    engine = create_engine(pg_url)
    current = registry.active(engine, registry.CLASSIFIER)
    engine.dispose()
    assert current is not None and current.version == 1, _out
    return pg_url, Path(current.artifact_path)


def test_train_on_synthetic_and_real_data_reports_its_sources_and_real_dev_figures(training_run):
    """First in the module, so training has this test's time budget to itself."""
    _pg_url, out = training_run
    sources = re.search(r"training examples by source: (.*)", out)
    assert sources, out
    counts = {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", sources.group(1))}
    assert counts["generator"] == 6000 and counts["otrf_background"] > 1000 and counts["sigma_weak"] > 10, out
    assert re.search(r"real dev \(candidate\): [0-9.]+% of background at high/critical, \d+/\d+ recordings", out)
    assert "PROMOTED" in out, out


def _env(pg_url: str, model_dir: Path) -> dict[str, str]:
    return {"DATABASE_URL": pg_url, "MODEL_DIR": str(model_dir), "MODEL_DEVICE": "cpu", "MODEL_THREADS": "1",
            "CORPORA_DIR": str(CORPORA)}


def _f1(output: str, mode: str) -> float:
    match = re.search(rf"== {re.escape(mode)}[^:]*: macro-F1 ([0-9.]+)", output)
    assert match, output
    return float(match.group(1))


def test_evaluate_on_a_fresh_seed_hybrid_beats_rules_only(trained, capsys, monkeypatch):
    pg_url, _artifact = trained
    monkeypatch.setenv("DATABASE_URL", pg_url)  # evaluate finds the active version in the registry
    monkeypatch.setenv("MODEL_DEVICE", "cpu")
    assert main(["evaluate", "--seed", "90210", "--events", "8000", "--attack-ratio", "0.08"]) == 0
    out = capsys.readouterr().out
    print(out)
    rules, model, hybrid = _f1(out, "rules-only"), _f1(out, "model-only"), _f1(out, "hybrid")
    assert hybrid >= 0.95, out
    assert hybrid > rules, out
    assert model > rules, out
    assert "share of events per deciding tier" in out and "LLM calls per 1,000 events" in out
    for cls in ("benign", "brute_force", "port_scan", "lateral_movement"):
        assert re.search(rf"^{cls}\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+\d+$", out, re.M), cls


def _rows(output: str) -> dict[str, list[str]]:
    found = re.finditer(r"^(rules-only|model-only|hybrid)\s+(.*)$", output, re.M)
    return {m.group(1): m.group(2).split() for m in found}


def test_otrf_test_split_hybrid_is_quiet_and_detects_what_the_rules_detect(trained, capsys, monkeypatch):
    """Real Windows background: the hybrid adds no noise the rules do not make, and loses no detection."""
    pg_url, artifact = trained
    for key, value in _env(pg_url, artifact.parent.parent).items():
        monkeypatch.setenv(key, value)
    assert main(["evaluate", "--corpus", "otrf", "--split", "test", "--per-recording", "100"]) == 0
    out = capsys.readouterr().out
    print(out)
    rows = _rows(out)
    # mode  background  high+  share  detected/recordings  attack-share
    share = {mode: float(cols[2].rstrip("%")) for mode, cols in rows.items()}
    detected = {mode: int(cols[3].split("/")[0]) for mode, cols in rows.items()}
    assert share["hybrid"] <= 1.0, out
    assert detected["hybrid"] >= detected["rules-only"] > 0, out


def test_sigmahq_regression_events_flagged_by_each_tier(trained, capsys, monkeypatch):
    pg_url, artifact = trained
    for key, value in _env(pg_url, artifact.parent.parent).items():
        monkeypatch.setenv(key, value)
    assert main(["evaluate", "--corpus", "sigmahq"]) == 0
    out = capsys.readouterr().out
    print(out)
    flagged = {mode: int(cols[1]) for mode, cols in _rows(out).items()}
    assert flagged["hybrid"] >= flagged["rules-only"] > 0, out


def test_promotion_rejects_a_generator_only_challenger_that_raises_real_noise(trained, capsys, monkeypatch):
    """Trained on generator data only, judged on the OTRF dev split against the active (real-trained) model."""
    pg_url, artifact = trained
    for key, value in _env(pg_url, artifact.parent.parent).items():
        monkeypatch.setenv(key, value)
    assert main(["train", "--seed", "8", "--events", "3000", "--held-out-events", "1000", "--epochs", "2",
                 "--arch", "tiny", "--max-length", "48", "--no-real-training",
                 "--real-background", REAL_BACKGROUND]) == 0
    out = capsys.readouterr().out
    print(out)
    assert "training examples by source: generator" in out and "otrf_background" not in out.split("by source:")[1]
    assert "not promoted: " in out and "raises real background noise on the OTRF dev split" in out, out
    from sqlalchemy import create_engine

    engine = create_engine(pg_url)
    try:
        assert registry.active(engine, registry.CLASSIFIER).version == 1  # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_pipeline_end_to_end_with_all_three_tiers(trained, kafka_bootstrap, topics, redis_url):
    """The foundation's e2e properties hold with rules + trained model + LLM tier (local endpoint)."""
    pg_url, artifact = trained
    stub = StubLLM().start()
    try:
        settings = make_settings(kafka_bootstrap, topics, pg_url, redis_url, MODEL_PATH=str(artifact),
                                 MODEL_DEVICE="cpu", LLM_API_BASE=stub.base_url, LLM_MODEL="openai/stub",
                                 LLM_TIMEOUT_SECONDS=5, ROUTER_LAG_THRESHOLD=1_000_000)
        batch = EventGenerator(seed=11, attack_ratio=0.15, start=datetime(2026, 11, 25, 8, tzinfo=UTC),
                               rate=50).next_batch(3000)
        benign = EventGenerator(seed=5, attack_ratio=0.0, start=datetime(2026, 11, 26, 8, tzinfo=UTC),
                                rate=50).next_batch(1500)
        producer = TrackedProducer(producer_config(kafka_bootstrap, "test"))
        produce_generated(batch + benign, producer, topics["events"])
        producer.flush_or_raise()
        total = len(batch) + len(benign)
        before = scalar(pg_url, "select count(*) from verdicts")
        with running_worker(settings):
            wait_for(lambda: scalar(pg_url, "select count(*) from verdicts") == before + total, 180, "all verdicts")
        tiers = Counter(dict(rows(pg_url, "select tier, count(*) from verdicts group by tier")))
        print("verdicts per tier:", dict(tiers), "llm calls:", stub.calls)
        assert tiers["rules"] > 0 and tiers["model"] > 0 and tiers["llm"] > 0 and stub.calls > 0
        assert scalar(pg_url, "select count(distinct event_id) from verdicts") == before + total
        # every verdict says which tier decided and why
        assert scalar(pg_url, "select count(*) from verdicts where reason = '' or tier = ''") == 0
        # brute-force sources are flagged high (rules or model)
        bf_sources = {g.event.source.ip for g in batch if g.label == ThreatClass.BRUTE_FORCE and g.event.source.ip}
        flagged = {r[0] for r in rows(pg_url, """select e.source_ip from events e join verdicts v on v.event_id = e.id
                                                 where v.risk_level in ('high', 'critical')""")}
        assert bf_sources and bf_sources <= flagged
        # the benign-only stream raises nothing high or critical
        ids = [str(g.event.event_id) for g in benign]
        bad = rows(pg_url, "select tier, reason from verdicts where risk_level in ('high','critical') "
                           "and event_id::text = any(:ids)", ids=ids)
        assert not bad, f"{len(bad)} benign events at high/critical, e.g. {bad[0]}"
    finally:
        stub.stop()
