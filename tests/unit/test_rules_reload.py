"""Native rules reload without a restart, and a broken edit keeps the active set."""

from __future__ import annotations

import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from secustream.analyzer.native import RulesEngine, RuleSet
from secustream.analyzer.reload import RulesReloader
from secustream.metrics import AnalyzerMetrics
from secustream.state import MemoryState


def rule(rule_id: str) -> str:
    return (f"  - id: {rule_id}\n    description: test\n    severity: high\n    threat_type: brute_force\n"
            "    match:\n      event_type: auth\n")


def test_edit_is_picked_up_and_a_broken_edit_keeps_the_active_rules(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text("rules:\n" + rule("R-1"))
    engine = RulesEngine(RuleSet.load(tmp_path), MemoryState())
    metrics = AnalyzerMetrics(CollectorRegistry())
    reloader = RulesReloader(tmp_path, engine, interval=0.001, metrics=metrics)

    time.sleep(0.01)
    assert not reloader.maybe_reload(), "unchanged files are not reloaded"

    rules_file.write_text("rules:\n" + rule("R-1") + rule("R-2"))
    time.sleep(0.01)
    assert reloader.maybe_reload()
    assert [r.id for r in engine.ruleset.rules] == ["R-1", "R-2"]

    rules_file.write_text("rules:\n  - id: R-3\n    severity: nonsense\n")
    time.sleep(0.01)
    assert not reloader.maybe_reload()
    assert [r.id for r in engine.ruleset.rules] == ["R-1", "R-2"]
    assert metrics.rules_reloads.labels(detector="native", result="ok")._value.get() == 1
    assert metrics.rules_reloads.labels(detector="native", result="error")._value.get() == 1
    assert metrics.rules_loaded.labels(detector="native")._value.get() == 2
