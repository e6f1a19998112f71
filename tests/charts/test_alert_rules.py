"""promtool check rules on every rule group and promtool test rules (each alert fires and stays quiet)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.charts.conftest import REPO

RULES = REPO / "prometheus" / "rules"
TESTS = REPO / "prometheus" / "tests"
REQUIRED_ALERTS = {
    "SecuStreamConsumerLagHigh",       # analyzer consumer lag high and growing
    "SecuStreamNoAnalyzerReady",       # no analyzer ready
    "SecuStreamDeadLetters",           # DLQ rate above zero
    "SecuStreamPartitionStuck",        # records wait and nothing is committed (stalled partition)
    "SecuStreamHighRiskSpike",         # spike of high/critical verdicts
    "SecuStreamLLMBudgetExhausted",    # LLM budget exhausted
    "SecuStreamLLMErrorRate",          # LLM error rate high
    "SecuStreamAPIErrorRate",          # API 5xx rate
    "SecuStreamOperatorReconcileErrors",  # operator reconcile errors
}


def promtool_run(promtool: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False)


def alerts() -> dict[str, dict]:
    out = {}
    for path in sorted(RULES.glob("*.yaml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                out[rule["alert"]] = rule
    return out


def test_promtool_check_rules(promtool: str) -> None:
    files = sorted(RULES.glob("*.yaml"))
    assert files
    out = promtool_run(promtool, "check", "rules", *map(str, files))
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in out.stdout


def test_required_alerts_exist_with_severity_and_help() -> None:
    found = alerts()
    assert set(found) >= REQUIRED_ALERTS
    for name, rule in found.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def test_promtool_unit_tests_fire_and_stay_quiet(promtool: str) -> None:
    tests = sorted(TESTS.glob("*.test.yaml"))
    out = promtool_run(promtool, "test", "rules", *map(str, tests))
    assert out.returncode == 0, out.stdout + out.stderr
    # every alert has a case where it fires and one where it must not
    fired, quiet = set(), set()
    for path in tests:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    assert set(alerts()) <= fired and set(alerts()) <= quiet


def test_promtool_unit_tests_can_fail(promtool: str, tmp_path: Path) -> None:
    """A wrong expectation makes promtool fail, so the suite above is not vacuous."""
    shutil.copytree(RULES, tmp_path / "rules")
    (tmp_path / "tests").mkdir()
    doc = yaml.safe_load((TESTS / "secustream.rules.test.yaml").read_text())
    doc["tests"][0]["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": {"severity": "warning",
                                                                           "namespace": "ns1"}}]
    bad = tmp_path / "tests" / "bad.test.yaml"
    bad.write_text(yaml.safe_dump(doc))
    out = promtool_run(promtool, "test", "rules", str(bad))
    assert out.returncode != 0 and "FAILED" in (out.stdout + out.stderr)
