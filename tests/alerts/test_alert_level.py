"""An alert's level is its rule's own (docs/alerts.md "Alert level"): on a real DCSync event a native high rule and
SigmaHQ's medium rule fire together, and the medium rule's alert read high; a low rule beside them alerted too."""

from __future__ import annotations

import contextlib
import uuid

import yaml

from secustream.alerts.hits import AlertPolicy, hits_of
from secustream.analyzer.detection import Detection, RuleOverride
from secustream.analyzer.native import RulesEngine, RuleSet
from secustream.analyzer.router import Router
from secustream.analyzer.service import lookup_of
from secustream.analyzer.sigma import SigmaEngine, SigmaRuleSet
from secustream.config import Settings
from secustream.events import SecurityEvent
from secustream.normalizers import NormalizationError, normalize_windows
from secustream.state import MemoryState
from secustream.verdict import RiskLevel
from tests.corpora import OTRF, SIGMAHQ, otrf_lines, require

DCSYNC = "credential_access/host/empire_dcsync_dcerpc_drsuapi_DsGetNCChanges.zip"
SIGMA_DCSYNC = SIGMAHQ / "rules/windows/builtin/security/win_security_ad_replication_non_machine_account.yml"
LOW_RULE = {"title": "Directory object access (low)", "id": str(uuid.uuid4()), "status": "test", "level": "low",
            "logsource": {"product": "windows", "service": "security"},
            "detection": {"sel": {"EventID": 4662}, "condition": "sel"}}


def dcsync_events() -> list[SecurityEvent]:
    out = []
    for line in otrf_lines(require(OTRF / DCSYNC)):
        with contextlib.suppress(NormalizationError):
            event = normalize_windows(line)
            if event.unmapped.get("EventID") == 4662 and event.unmapped.get("SubjectUserName") == "pgustavo":
                out.append(event)
    return out


def dcsync_detection() -> Detection:
    text = require(SIGMA_DCSYNC).read_text() + "\n---\n" + yaml.safe_dump(LOW_RULE)
    sigma = SigmaEngine(SigmaRuleSet.from_yaml_text(text), MemoryState())
    return Detection([RulesEngine(RuleSet.load(Settings().rules_path), MemoryState()), sigma], "test")


def levels(detection: Detection, events: list[SecurityEvent], policy: AlertPolicy) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for event, verdict in zip(events, Router(detection).analyze(events), strict=True):
        for hit in hits_of(event, verdict, policy):
            found.setdefault(hit.detection, set()).add(hit.level)
    return found


def test_each_alert_of_a_real_dcsync_event_carries_its_rules_level() -> None:
    events = dcsync_events()
    assert events, "the recording changed"
    detection = dcsync_detection()
    policy = AlertPolicy(detections=lookup_of(detection))
    found = levels(detection, events, policy)
    sigma_id = "sigma:17d619c1-e020-4347-957e-1d1207455c93"
    assert found["CRED-DCSYNC-BY-ACCOUNT"] == {"high"}
    assert found[sigma_id] == {"medium"}  # was "high": the event's verdict
    assert f"sigma:{LOW_RULE['id']}" not in found  # low: under the policy's medium, though the event is high
    assert levels(detection, events, AlertPolicy(RiskLevel.LOW, detections=lookup_of(detection)))[
        f"sigma:{LOW_RULE['id']}"] == {"low"}

    detection.overrides = {sigma_id: RuleOverride(level=RiskLevel.CRITICAL)}  # an admin's override counts
    found = levels(detection, events, policy)
    assert found[sigma_id] == {"critical"} and found["CRED-DCSYNC-BY-ACCOUNT"] == {"high"}


def test_a_verdict_the_llm_judged_or_no_rule_stands_behind_keeps_the_verdicts_level() -> None:
    events = dcsync_events()[:1]
    detection = dcsync_detection()
    policy = AlertPolicy(detections=lookup_of(detection))
    [verdict] = Router(detection).analyze(events)
    judged = verdict.model_copy(update={"tier": "llm", "risk_level": RiskLevel.CRITICAL})
    assert {hit.level for hit in hits_of(events[0], judged, policy)} == {"critical"}
    gone = verdict.model_copy(update={"rule_ids": ["RULE-NOT-LOADED-ANY-MORE"]})
    assert [hit.level for hit in hits_of(events[0], gone, policy)] == [verdict.risk_level.value]
