"""Verdicts → alert hits: which verdicts alert, on which detection and entity, in which dedup block.

Pure: the analyzer's alert stage feeds it each stored batch; storage counts the hits. The alert id is
a hash of (detection, grouping entity, block), so every replica and every replay of the same event
names the same alert, and "one alert per detection, entity and window" needs no coordination.

Blocks are fixed, aligned windows (``floor(event_time / window)``): a burst that crosses a block
boundary gives two alerts, each with its own count; nothing depends on arrival order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from secustream.alert_hit import ACTOR, TARGET, AlertHit, linkable, stable_id
from secustream.attack import tactics_of
from secustream.events import SecurityEvent, get_field, split_account
from secustream.verdict import RISK_ORDER, RiskLevel, Verdict

ENTITY_KINDS = ("ip", "user", "host", "guid")
"""Grouping entities: source IP, user, host, process/logon GUID."""

_GUID_KEYS = ("ProcessGuid", "ParentProcessGuid", "LogonGuid", "process_guid", "logon_guid")
_KIND_OF_PATH = {"source.ip": "ip", "destination.ip": "ip", "source.user": "user", "destination.user": "user",
                 "process.user": "user", "source.host": "host", "destination.host": "host"}


@dataclass(frozen=True, slots=True)
class Detection:
    """What the alert layer needs to know about a rule: its title, dedup window and grouping fields."""

    title: str
    window_seconds: float | None = None
    group_by: tuple[str, ...] = ()  # field paths, first present wins (the rule's own group_by)
    tactics: tuple[str, ...] = ()  # the ATT&CK tactics the rule's own tags name (attack.<tactic>): ``tactics_of``
    level: RiskLevel | None = None  # the rule's own level, an admin's override applied (``alert_level``)


DetectionLookup = Callable[[str], Detection | None]


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    min_level: RiskLevel = RiskLevel.MEDIUM
    window_seconds: int = 600
    detections: DetectionLookup = field(default=lambda _rule_id: None)


def entities_of(event: SecurityEvent) -> list[tuple[str, str, str]]:
    """Every entity of the event as (kind, value, role), in a stable order without repeats.

    Roles: the source side, the process user and GUIDs act; the destination side is acted on. The process user
    is named as ``split_account`` names the source user: Sysmon's ``pandalab\\administrator`` is ``administrator``
    (a real NTDS.dit dump incident listed both as two users).
    """
    out: dict[tuple[str, str, str], None] = {}
    src, dst = event.source, event.destination
    for kind, value, role in (("ip", src.ip, ACTOR), ("user", src.user, ACTOR), ("host", src.host, ACTOR),
                              ("user", split_account(event.process.user)[0] if event.process else None, ACTOR),
                              ("host", dst.host, TARGET), ("user", dst.user, TARGET)):
        if value:
            out[(kind, str(value) if kind == "ip" else str(value).lower(), role)] = None
    for key in _GUID_KEYS:
        value = event.unmapped.get(key)
        if isinstance(value, str) and value:
            out[("guid", value.strip("{}").lower(), ACTOR)] = None
    return list(out)


def grouping_entity(event: SecurityEvent, doc: dict[str, Any] | None, group_by: Sequence[str]) -> tuple[str, str]:
    """The entity hits are deduplicated on: the rule's own group_by field when present, else the first of
    source IP, source user, host that names someone in particular (``linkable``). Windows runs most of its work as
    SYSTEM, LOCAL SERVICE or ANONYMOUS LOGON: an alert keyed on such an account gathered one rule's hits from every
    host into one alert (45 of the 644 alerts over the OTRF corpus were "user system"); the host names the case.
    Where nothing else is there, such a value still groups."""
    for path in group_by:
        value = get_field(doc if doc is not None else event.model_dump(mode="json"), path)
        if value not in (None, ""):
            kind = _KIND_OF_PATH.get(path, path)
            return kind, str(value) if kind == "ip" else str(value).lower()
    src, dst = event.source, event.destination
    present = [(kind, str(value) if kind == "ip" else str(value).lower())
               for kind, value in (("ip", src.ip), ("user", src.user), ("host", dst.host), ("host", src.host),
                                   ("user", dst.user)) if value]
    if present:
        return next((entity for entity in present if linkable(entity)), present[0])
    guids = [e[1] for e in entities_of(event) if e[0] == "guid"]
    return ("guid", guids[0]) if guids else ("none", "-")


def detections_of(verdict: Verdict) -> list[str]:
    """One detection per rule that fired; a verdict without rules is its tier's class (``model:brute_force``)."""
    return list(verdict.rule_ids) or [f"{verdict.tier}:{verdict.threat_type}"]


def alert_level(verdict: Verdict, info: Detection | None) -> RiskLevel:
    """An alert carries its rule's own level, as Sigma, Elastic and Wazuh alerts do: SigmaHQ's medium DCSync rule
    read high whenever a native high rule fired on the same event, and a low rule beside a high one alerted at high.
    The verdict's level where the LLM judged the event (tier ``llm``), where no rule stands behind the detection
    (a model class) or the rule is not loaded any more; never above the verdict (the highest of its rules)."""
    if info is None or info.level is None or verdict.tier != "rules":
        return verdict.risk_level
    return min(info.level, verdict.risk_level, key=RISK_ORDER.__getitem__)


def block_start(moment: datetime, window_seconds: int) -> datetime:
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window_seconds, UTC)


def hits_of(event: SecurityEvent, verdict: Verdict, policy: AlertPolicy) -> list[AlertHit]:
    """The alert hits of one analysed event: one per detection at or above the policy's level (``alert_level``)."""
    floor = RISK_ORDER[policy.min_level]
    if RISK_ORDER[verdict.risk_level] < floor:
        return []
    entities = tuple(entities_of(event))
    out = []
    doc: dict[str, Any] | None = None
    for detection in detections_of(verdict):
        info = policy.detections(detection)
        level = alert_level(verdict, info)
        if RISK_ORDER[level] < floor:
            continue
        if info is not None and info.group_by and doc is None:
            doc = event.model_dump(mode="json")
        window = int(max(policy.window_seconds, (info.window_seconds or 0) if info else 0))
        kind, value = grouping_entity(event, doc, info.group_by if info else ())
        start = block_start(event.timestamp, window)
        title = info.title if info else f"{verdict.threat_type.replace('_', ' ')} ({verdict.tier})"
        out.append(AlertHit(
            alert_id=stable_id("alert", detection, kind, value, start.isoformat(), window),
            detection=detection, title=title[:256], level=level.value,
            threat_type=verdict.threat_type, mitre_ids=tuple(verdict.mitre_ids),
            tactics=tuple(tactics_of(verdict.mitre_ids, verdict.threat_type, info.tactics if info else ())),
            entity_kind=kind, entity_value=value[:512], window_start=start, window_seconds=window,
            event_id=event.event_id, event_time=event.timestamp, entities=entities))
    return out


def alert_hits(items: Iterable[tuple[SecurityEvent, Verdict]], policy: AlertPolicy) -> list[AlertHit]:
    return [hit for event, verdict in items for hit in hits_of(event, verdict, policy)]
