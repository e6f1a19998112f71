from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from secustream.analyzer.detection import verdict_from_hits
from secustream.analyzer.native import RuleError, RulesEngine, RuleSet
from secustream.events import SecurityEvent
from secustream.state import MemoryState

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def rule_yaml(body: str) -> str:
    return "rules:\n  - id: R-1\n    description: test\n    severity: high\n    threat_type: brute_force\n" + body


def hits_for(yaml_body: str, events: list[SecurityEvent]) -> list[int]:
    engine = RulesEngine(RuleSet.from_yaml_text(rule_yaml(yaml_body)), MemoryState())
    return [len(h) for h in engine.evaluate(events)]


def ev(**kw: object) -> SecurityEvent:
    kw.setdefault("event_type", "process")
    return SecurityEvent(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("condition", "event", "fires"),
    [
        ("process.name: PowerShell.exe", ev(process={"name": "powershell.exe"}), True),
        ("process.name: [cmd.exe, wscript.exe]", ev(process={"name": "WScript.exe"}), True),
        ("process.name: {not_equals: cmd.exe}", ev(process={"name": "cmd.exe"}), False),
        ("process.command_line: {contains: ' -enc '}", ev(process={"command_line": "powershell -ENC abc"}), True),
        ("process.command_line: {contains_any: [urlcache, '| sh']}", ev(process={"command_line": "curl x | sh"}),
         True),
        ("process.name: {startswith: cert}", ev(process={"name": "certutil.exe"}), True),
        ("process.name: {endswith: .exe}", ev(process={"name": "bash"}), False),
        ("process.name: {not_endswith: [.exe, .dll]}", ev(process={"name": "bash"}), True),
        ("process.name: {not_endswith: .exe}", ev(process={"name": "CMD.EXE"}), False),
        ("process.name: {not_startswith: msol_}", ev(process={"name": "MSOL_1a2b"}), False),
        ("process.command_line: {not_contains: ' -enc '}", ev(process={"command_line": "powershell -ENC abc"}), False),
        ("process.parent_name: {not_contains: x}", ev(process={"name": "a"}), True),  # absent holds, as not_equals
        ("process.command_line: {regex: 'base64\\s+-d'}", ev(process={"command_line": "echo x | base64  -d"}), True),
        ("network.bytes_out: {gte: 100}", ev(event_type="network", network={"bytes_out": 100}), True),
        ("network.bytes_out: {gt: 100}", ev(event_type="network", network={"bytes_out": 100}), False),
        ("network.bytes_out: {lt: 5}", ev(event_type="network"), False),
        ("source.ip: {cidr: 10.0.0.0/8}", ev(source={"ip": "10.2.3.4"}), True),
        ("source.ip: {not_cidr: [10.0.0.0/8, 192.168.0.0/16]}", ev(source={"ip": "8.8.8.8"}), True),
        ("source.ip: {not_cidr: [10.0.0.0/8]}", ev(), False),
        ("process.parent_name: {exists: true}", ev(process={"name": "a"}), False),
        ("file: {exists: false}", ev(), True),
        ("event_type: {in: [auth, process]}", ev(), True),
        ("event_type: {not_in: [auth, process]}", ev(), False),
    ],
)
def test_operators(condition: str, event: SecurityEvent, fires: bool) -> None:
    assert hits_for(f"    match:\n      {condition}\n", [event]) == [1 if fires else 0]


def test_any_blocks_are_or_and_match_is_and() -> None:
    body = ("    match: {event_type: process}\n"
            "    any:\n      - {process.name: certutil.exe}\n      - {process.name: mshta.exe}\n")
    events = [ev(process={"name": "mshta.exe"}), ev(process={"name": "notepad.exe"}),
              ev(event_type="file", process={"name": "mshta.exe"})]
    assert hits_for(body, events) == [1, 0, 0]


def brute(ip: str, seconds: list[float]) -> list[SecurityEvent]:
    return [SecurityEvent(event_type="auth", outcome="failure", source={"ip": ip}, timestamp=T0 + timedelta(seconds=s))
            for s in seconds]


THRESHOLD = ("    match: {event_type: auth, outcome: failure}\n"
             "    threshold: {count: 3, window_seconds: 10, group_by: [source.ip]}\n")


def test_threshold_fires_at_count_within_window_per_group() -> None:
    events = brute("1.1.1.1", [0, 1, 2, 3]) + brute("2.2.2.2", [0, 1])
    assert hits_for(THRESHOLD, events) == [0, 0, 1, 1, 0, 0]


def test_threshold_window_slides() -> None:
    assert hits_for(THRESHOLD, brute("1.1.1.1", [0, 5, 11, 30, 31])) == [0, 0, 0, 0, 0]


def test_replayed_event_is_not_counted_twice() -> None:
    events = brute("1.1.1.1", [0, 1])
    assert hits_for(THRESHOLD, events + events) == [0, 0, 0, 0]


def test_distinct_threshold_counts_values() -> None:
    body = ("    match: {event_type: network}\n"
            "    threshold: {count: 3, window_seconds: 60, group_by: [source.ip], distinct: destination.port}\n")
    events = [SecurityEvent(event_type="network", source={"ip": "1.1.1.1"}, destination={"port": p},
                            timestamp=T0 + timedelta(seconds=i)) for i, p in enumerate([22, 22, 80, 22, 443])]
    assert hits_for(body, events) == [0, 0, 0, 0, 1]


HOST_FALLBACK = ("    match: {event_type: auth, outcome: failure}\n"
                 "    threshold: {count: 3, window_seconds: 10, group_by: [source.ip | source.host]}\n")


def test_group_by_alternatives_take_the_first_field_present() -> None:
    """``source.ip|source.host``: a PAM rhost that is a host name groups on that name."""
    def fail(at: float, **source: str) -> SecurityEvent:
        return SecurityEvent(event_type="auth", outcome="failure", source=source, timestamp=T0 + timedelta(seconds=at))

    events = [fail(0, host="bad.example.com"), fail(1, ip="1.1.1.1"), fail(2, host="bad.example.com"),
              fail(3, ip="1.1.1.1", host="other.example.com"), fail(4, user="x"), fail(5, host="bad.example.com"),
              fail(6, ip="1.1.1.1")]
    engine = RulesEngine(RuleSet.from_yaml_text(rule_yaml(HOST_FALLBACK)), MemoryState())
    hits = engine.evaluate(events)
    assert [len(h) for h in hits] == [0, 0, 0, 0, 0, 1, 1]  # the ip wins over a host; no ip or host: not counted
    assert hits[5][0].detail == "3 events within 10s for source.host=bad.example.com"
    assert hits[6][0].detail == "3 events within 10s for source.ip=1.1.1.1"
    assert engine.ruleset.rules[0].spec.threshold.group_by == ["source.ip|source.host"]  # type: ignore[union-attr]


def test_suppression_field_follows_group_by_alternatives() -> None:
    from secustream.analyzer.native.suppressions import suppression_field

    ruleset = RuleSet.from_yaml_text(rule_yaml(HOST_FALLBACK))
    by_host = {"source": {"host": "bad.example.com", "user": "root"}}
    assert suppression_field(ruleset, "R-1", by_host) == ("source.host", "bad.example.com")
    assert suppression_field(ruleset, "R-1", {"source": {"ip": "1.1.1.1"}}) == ("source.ip", "1.1.1.1")


def test_verdict_takes_highest_severity_and_unions() -> None:
    text = """
rules:
  - {id: A-1, description: a, severity: medium, threat_type: malicious_process, mitre: [T1059],
     match: {event_type: process}, recommended_actions: [isolate]}
  - {id: B-1, description: b, severity: critical, threat_type: malicious_process, mitre: [T1059.001, T1059],
     match: {process.name: powershell.exe}, recommended_actions: [isolate, reset]}
"""
    engine = RulesEngine(RuleSet.from_yaml_text(text), MemoryState())
    event = ev(process={"name": "powershell.exe"})
    verdict = verdict_from_hits(event, engine.evaluate([event])[0], "v")
    assert verdict.risk_level == "critical" and verdict.tier == "rules" and verdict.risk_score == 0.95
    assert verdict.rule_ids == ["B-1", "A-1"]
    assert verdict.mitre_ids == ["T1059.001", "T1059"]
    assert verdict.recommended_actions == ["isolate", "reset"]
    assert "B-1" in verdict.reason
    quiet = verdict_from_hits(ev(), [], "v")
    assert quiet.risk_level == "low" and quiet.rule_ids == [] and quiet.reason == "no rule matched"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: {}", "top-level 'rules:' list"),
        ("rules:\n  - [1]", "must be a mapping"),
        (rule_yaml("    match: {a: {bogus: 1}}\n"), "unknown operator 'bogus'"),
        (rule_yaml("    match: {a: {regex: '('}}\n"), "bad regex"),
        (rule_yaml("    match: {a: {cidr: nope}}\n"), "bad cidr"),
        (rule_yaml("    match: {a: {gt: x}}\n"), "needs a number"),
        (rule_yaml("    mitre: [X1]\n    match: {a: 1}\n"), "MITRE"),
        (rule_yaml(""), "needs 'match' or 'any'"),
        (rule_yaml("    match: {a: 1}\n    threshold: {count: 1, window_seconds: 5, group_by: [a]}\n"), "count"),
        (rule_yaml("    match: {a: 1}\n    threshold: {count: 2, window_seconds: 5, group_by: ['source.ip|']}\n"),
         "empty field path"),
        (rule_yaml("    match: {a: 1}\n") + "  - {id: R-1, description: d, severity: low, threat_type: benign, "
                                            "match: {a: 1}}\n", "duplicate rule id R-1"),
        ("rules: [", "invalid YAML"),
    ],
)
def test_bad_rules_fail_at_load_with_reason(text: str, message: str) -> None:
    with pytest.raises(RuleError) as info:
        RuleSet.from_yaml_text(text, origin="test.yaml")
    assert message in str(info.value) and "test.yaml" in str(info.value)


def test_disabled_rules_are_skipped() -> None:
    assert hits_for("    enabled: false\n    match: {event_type: process}\n", [ev()]) == [0]


def test_packaged_default_rules_load() -> None:
    from secustream.config import load_settings

    ruleset = RuleSet.load(load_settings().rules_path)
    assert len(ruleset.rules) >= 8
