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


def test_both_detectors_have_one_shape_and_report_reloads_by_detector(tmp_path: Path) -> None:
    from secustream.analyzer.detection import Detector
    from secustream.analyzer.sigma import SigmaEngine
    from secustream.analyzer.sigma.filters import RuleFilter
    from secustream.analyzer.sigma.packs import SigmaSources

    native_dir, sigma_dir = tmp_path / "native", tmp_path / "sigma"
    native_dir.mkdir()
    sigma_dir.mkdir()
    (native_dir / "rules.yaml").write_text("rules:\n" + rule("R-1"))
    sigma_rule = Path(__file__).resolve().parents[2] / "services/secustream/rules/sigma/win_psexec_execution.yml"
    (sigma_dir / "a.yml").write_text(sigma_rule.read_text())
    metrics = AnalyzerMetrics(CollectorRegistry())
    native = RulesEngine(RuleSet.load(native_dir), MemoryState())
    RulesReloader(native_dir, native, interval=0.001, metrics=metrics)
    sources = SigmaSources(sigma_dir, None, RuleFilter())
    sigma = SigmaEngine(sources.load(), MemoryState(), sources=sources, reload_interval=0.001, metrics=metrics)
    detectors: list[Detector] = [native, sigma]
    assert all(isinstance(d, Detector) for d in detectors)
    assert [(d.name, d.rule_count) for d in detectors] == [("native", 1), ("sigma", 1)]
    (native_dir / "rules.yaml").write_text("rules:\n" + rule("R-1") + rule("R-2"))
    (sigma_dir / "b.yml").write_text((sigma_rule.parent / "win_lsass_access.yml").read_text())
    time.sleep(0.01)
    assert [d.maybe_reload() for d in detectors] == [True, True]
    for name, count in (("native", 2), ("sigma", 2)):
        assert metrics.rules_loaded.labels(detector=name)._value.get() == count
        assert metrics.rules_reloads.labels(detector=name, result="ok")._value.get() == 1
