"""Sigma correlations on shared windows, rule examples and `secustream rules test`, rules-tier integration."""

from __future__ import annotations

import shutil
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from secustream.analyzer.detection import Detection
from secustream.analyzer.native import RulesEngine, RuleSet
from secustream.analyzer.sigma import SigmaEngine, SigmaRuleSet
from secustream.analyzer.sigma.examples import run_examples
from secustream.analyzer.sigma.filters import RuleFilter
from secustream.analyzer.sigma.packs import SigmaSources
from secustream.cli import main
from secustream.events import SecurityEvent
from secustream.state import MemoryState, RedisState

PACKAGED = Path(__file__).resolve().parents[2] / "services" / "secustream" / "rules" / "sigma"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def failed_logon(ip: str, user: str, seconds: float) -> SecurityEvent:
    return SecurityEvent(event_type="auth", action="logon", outcome="failure", dataset="windows.security",
                         product="windows", timestamp=T0 + timedelta(seconds=seconds), source={"ip": ip},
                         unmapped={"EventID": 4625, "IpAddress": ip, "TargetUserName": user})


def hit_ids(engine: SigmaEngine, events: list[SecurityEvent]) -> list[set[str]]:
    return [{h.rule_id for h in hits} for hits in engine.evaluate(events)]


@pytest.fixture(scope="module")
def packaged() -> SigmaRuleSet:
    return SigmaRuleSet.load(PACKAGED)


def test_packaged_rules_load_cleanly(packaged: SigmaRuleSet) -> None:
    assert packaged.errors == ()
    assert len(packaged.rules) >= 15 and {c.kind for c in packaged.correlations} == {
        "event_count", "value_count", "temporal"}


def test_event_count_fires_on_the_tenth_event_in_the_window(packaged: SigmaRuleSet) -> None:
    engine = SigmaEngine(packaged, MemoryState())
    burst = [failed_logon("198.51.100.23", "administrator", i * 3) for i in range(12)]
    hits = hit_ids(engine, burst[:6]) + hit_ids(engine, burst[6:])  # windows span batches
    fired = [i for i, h in enumerate(hits) if "sigma:win-logon-brute-force" in h]
    assert fired == [9, 10, 11]
    assert all("sigma:win-failed-logon" not in h for h in hits)  # generate: false keeps the base rule quiet


def test_value_count_needs_distinct_values(packaged: SigmaRuleSet) -> None:
    engine = SigmaEngine(packaged, MemoryState())
    same_user = [failed_logon("10.20.1.77", "bob", i) for i in range(6)]
    assert not any("sigma:win-password-spray" in h for h in hit_ids(engine, same_user))
    spray = [failed_logon("10.20.1.77", f"user{i}", 10 + i) for i in range(5)]
    # six failures for bob count as one account: bob + user0..user3 is the fifth distinct one
    assert ["sigma:win-password-spray" in h for h in hit_ids(engine, spray)] == [False] * 3 + [True] * 2


def test_temporal_needs_every_rule_in_the_window_for_the_same_group(packaged: SigmaRuleSet) -> None:
    engine = SigmaEngine(packaged, MemoryState())

    def ev(event_id: int, subject: str, minutes: float, target: str = "backdoor") -> SecurityEvent:
        return SecurityEvent(event_type="auth", action="x", dataset="windows.security", product="windows",
                             timestamp=T0 + timedelta(minutes=minutes),
                             unmapped={"EventID": event_id, "SubjectUserName": subject, "TargetUserName": target})

    events = [ev(4720, "eve", 0), ev(4732, "mallory", 1, "Administrators"), ev(4732, "eve", 3, "Administrators"),
              ev(4720, "trent", 10), ev(4732, "trent", 25, "Administrators")]
    fired = ["sigma:win-new-account-made-privileged" in h for h in hit_ids(engine, events)]
    assert fired == [False, False, True, False, False]


def test_correlation_windows_are_shared_through_redis(packaged: SigmaRuleSet, redis_url: str) -> None:
    """Two analyzer replicas (two engines) see one burst split between them and still fire once it's 10."""
    a, b = (SigmaEngine(packaged, RedisState.from_url(redis_url)) for _ in range(2))
    ip = f"203.0.113.{uuid.uuid4().int % 200 + 1}"
    burst = [failed_logon(ip, "administrator", i) for i in range(10)]
    first = hit_ids(a, burst[0::2])
    second = hit_ids(b, burst[1::2])
    assert not any("sigma:win-logon-brute-force" in h for h in first)
    assert "sigma:win-logon-brute-force" in second[-1]


def test_examples_of_the_packaged_content_pass(packaged: SigmaRuleSet) -> None:
    report = run_examples(PACKAGED, packaged)
    assert report.ok, report.summary()
    assert report.untested == [] and len(report.results) >= 40


def test_runner_fails_when_a_rule_stops_firing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(PACKAGED, rules)
    lsass = rules / "win_lsass_access.yml"
    lsass.write_text(lsass.read_text().replace("'0x1010'", "'0x9999'"))  # a careless edit narrows the rule
    assert main(["rules", "test", str(rules)]) == 1
    out = capsys.readouterr().out
    assert "FAIL sigma:win-lsass-memory-access fires[0]: rule did not fire" in out
    assert main(["rules", "test", str(PACKAGED), "--quiet"]) == 0
    assert "0 problems" in capsys.readouterr().out


def test_runner_fails_on_a_rule_that_cannot_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yml").write_text("title: bad\nlogsource: {product: windows}\ndetection:\n"
                                      "  sel: {CommandLine|expand: '%x%'}\n  condition: sel\n")
    assert main(["rules", "test", str(tmp_path)]) == 1
    assert "unsupported: placeholder %x%" in capsys.readouterr().out


@pytest.mark.parametrize(("content", "reason"), [
    (b"just a line of text\n", "not a Sigma rule: pySigma failed on it (AttributeError: 'str' object has no attribute"),
    (b"- a\n- b\n", "not a Sigma rule: pySigma failed on it (AttributeError: 'list' object has no attribute"),
    (b"", "holds no Sigma rule (empty)"),
    (b"---\n---\n", "holds no Sigma rule (empty)"),
    ("title: caf\xe9\n".encode("latin-1"), "not read: not UTF-8 text (invalid continuation byte at byte 10)"),
])
def test_a_file_that_is_no_rule_is_reported_and_the_rest_loads(tmp_path: Path, content: bytes, reason: str) -> None:
    """Every rule file loads or is reported: a text, a list, an empty file or Latin-1 bytes crashed the whole load
    (pySigma's AttributeError, UnicodeDecodeError) or were passed over silently."""
    shutil.copy(PACKAGED / next(p.name for p in PACKAGED.glob("*.yml")), tmp_path / "good.yml")
    (tmp_path / "odd.yml").write_bytes(content)
    ruleset = SigmaRuleSet.load(tmp_path)
    assert ruleset.rules
    [issue] = [i for i in ruleset.issues if i.origin.endswith("odd.yml")]
    assert issue.level == "error" and issue.reason.startswith(reason)


def test_rules_tier_merges_native_and_sigma_hits(packaged: SigmaRuleSet) -> None:
    state = MemoryState()
    native = RulesEngine(RuleSet.load(PACKAGED.parent / "default.yaml"), state)
    detection = Detection([native, SigmaEngine(packaged, state)], "test")
    psexec = SecurityEvent(event_type="process", action="process_start", dataset="sysmon", product="sysmon",
                           source={"host": "ws1"}, process={"name": "PsExec64.exe",
                                                            "command_line": r"PsExec64.exe \\fs01 -accepteula -s cmd"})
    benign = SecurityEvent(event_type="process", action="process_start", dataset="sysmon", product="sysmon",
                           process={"name": "notepad.exe", "command_line": "notepad.exe a.txt"})
    docs = [e.model_dump(mode="json", exclude_none=True) for e in (psexec, benign)]
    bad, good = (d.verdict for d in detection.detect([psexec, benign], docs))
    assert "sigma:win-psexec-remote-execution" in bad.rule_ids and bad.risk_level.value == "high"
    assert {"T1569.002", "T1021.002"} <= set(bad.mitre_ids)
    assert good.rule_ids == []


def test_starter_set_on_generated_traffic(packaged: SigmaRuleSet) -> None:
    """No Sigma hit on benign generator events; every hit on campaign events is on the right campaign."""
    from secustream.generator import EventGenerator

    batch = EventGenerator(seed=11, attack_ratio=0.3, rate=200).next_batch(6000)
    hits = SigmaEngine(packaged, MemoryState()).evaluate([g.event for g in batch])
    pairs = {(g.label.value, h.rule_id) for g, found in zip(batch, hits, strict=True) for h in found}
    assert not any(label == "benign" for label, _ in pairs), pairs
    expected_labels = {"sigma:lnx-ssh-password-spray": "brute_force", "sigma:win-psexec-remote-execution":
                       "lateral_movement", "sigma:win-suspicious-service-installed": "lateral_movement",
                       "sigma:win-lolbin-proxy-execution": "malicious_process",
                       "sigma:win-powershell-encoded-command": "malicious_process",
                       "sigma:win-powershell-encoded-download-cradle": "malicious_process"}
    fired = {rule for _, rule in pairs}
    assert fired >= {"sigma:win-psexec-remote-execution", "sigma:win-suspicious-service-installed"}
    assert all(expected_labels.get(rule) == label for label, rule in pairs), pairs


def test_sigma_rules_hot_reload_and_keep_working_on_a_broken_edit(tmp_path: Path) -> None:
    rule = (PACKAGED / "win_psexec_execution.yml").read_text()
    (tmp_path / "a.yml").write_text(rule)
    sources = SigmaSources(tmp_path, None, RuleFilter())
    engine = SigmaEngine(sources.load(), MemoryState(), sources=sources, reload_interval=0.001)
    assert [r.rule_id for r in engine.ruleset.rules] == ["sigma:win-psexec-remote-execution"]
    (tmp_path / "b.yml").write_text((PACKAGED / "win_lsass_access.yml").read_text())
    time.sleep(0.01)
    assert engine.maybe_reload()
    assert len(engine.ruleset.rules) == 2
    (tmp_path / "c.yml").write_text("title: [broken\n")
    time.sleep(0.01)
    assert engine.maybe_reload()  # the broken file is reported; the good rules stay active
    assert len(engine.ruleset.rules) == 2 and engine.ruleset.errors
