"""Verdict, alert and incident rows → OCSF 1.1.0 findings (docs/storage.md "OCSF mapping").

A verdict at or above a level is a Detection Finding 2004 (below it a Base Event: still archived, whole); an
alert is a Detection Finding with its counts and first/last seen; an incident is an Incident Finding 2005.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from secustream.archive.ocsf import (
    CLASSES,
    RISK_LEVEL_IDS,
    ROW_KEY,
    TABLE_KEY,
    Origin,
    epoch_ms,
    header,
    metadata,
    severity,
)
from secustream.archive.rows import canonical_json
from secustream.verdict import RISK_ORDER, RiskLevel

_LEVELS = frozenset(level.value for level in RiskLevel)


def _confidence_id(confidence: float) -> tuple[int, str]:
    if confidence >= 0.7:
        return 3, "High"
    if confidence >= 0.4:
        return 2, "Medium"
    return 1, "Low"


def _analytic(tier: str, rule_ids: list[str]) -> dict[str, Any]:
    text = tier.lower()
    if "rule" in text or "sigma" in text:
        kind = (1, "Rule")
    elif "model" in text:
        kind = (4, "Learning (ML/DL)")
    else:
        kind = (99, "Other")
    return {"type_id": kind[0], "type": kind[1], "name": tier, "uid": rule_ids[0] if rule_ids else None}


def verdict_record(row: Mapping[str, Any], origin: Origin, min_level: RiskLevel) -> tuple[str, dict[str, Any]]:
    """(class key, OCSF record) of a ``verdicts`` row: a Detection Finding at or above ``min_level``."""
    unmapped = {TABLE_KEY: "verdicts", ROW_KEY: canonical_json(row).decode()}
    level = str(row.get("risk_level") or "")
    risk = severity(level)
    event_id = str(row["event_id"]) if row.get("event_id") is not None else None
    time = epoch_ms(row.get("event_timestamp") or row.get("analyzed_at"))
    uid = str(row["id"]) if row.get("id") is not None else None
    meta = metadata(uid, None, None, version=row.get("analyzer_version"), correlation_uid=event_id)
    reason = row.get("reason")
    is_finding = level in _LEVELS and RISK_ORDER[RiskLevel(level)] >= RISK_ORDER[min_level]
    if not is_finding:
        cls = CLASSES["base_event"]
        return cls.key, header(cls, (99, "Other"), time, risk, (0, "Unknown"), reason, meta, origin,
                                unmapped, None)
    cls = CLASSES["detection_finding"]
    record = header(cls, (1, "Create"), time, risk, (1, "New"), reason, meta, origin, unmapped, None)
    threat = str(row.get("threat_type") or "unknown")
    rule_ids = _strings(row.get("rule_ids"))
    confidence = float(row.get("confidence") or 0.0)
    record.update({
        "finding_info": {
            "uid": event_id or uid or "", "title": f"{threat}: {reason}" if reason else threat,
            "desc": row.get("analysis") or None, "types": [threat], "created_time": epoch_ms(row.get("analyzed_at")),
            "first_seen_time": None, "last_seen_time": None, "modified_time": None,
            "analytic": _analytic(str(row.get("tier") or ""), rule_ids),
            "attacks": _attacks(row.get("mitre_ids"), None),
            "related_events": [{"uid": event_id}] if event_id else None,
        },
        "confidence_id": _confidence_id(confidence)[0], "confidence": _confidence_id(confidence)[1],
        "confidence_score": round(confidence * 100),
        "risk_level_id": RISK_LEVEL_IDS[RiskLevel(level)], "risk_level": level.title(),
        "risk_score": round(float(row.get("risk_score") or 0.0) * 100), "count": None,
    })
    return cls.key, record




_ALERT_STATUS = {"open": (1, "New"), "acknowledged": (2, "In Progress"), "closed": (4, "Resolved")}
_INCIDENT_STATUS = {"open": (1, "New"), "acknowledged": (2, "In Progress"), "closed": (5, "Closed")}


def _status(table: Mapping[str, tuple[int, str]], value: Any) -> tuple[int, str]:
    return table.get(str(value or ""), (99, "Other"))


def alert_record(row: Mapping[str, Any], origin: Origin) -> tuple[str, dict[str, Any]]:
    """An alert (hits of one detection on one entity) as a Detection Finding, by its last activity."""
    uid = str(row["id"]) if row.get("id") is not None else None
    unmapped = {TABLE_KEY: "alerts", ROW_KEY: canonical_json(row).decode()}
    cls = CLASSES["detection_finding"]
    meta = metadata(uid, None, None)
    record = header(cls, (2, "Update"), epoch_ms(row.get("last_seen")), severity(row.get("level")),
                    _status(_ALERT_STATUS, row.get("status")), row.get("title"), meta, origin, unmapped, None)
    detection = str(row.get("detection") or "")
    record.update({
        "finding_info": {
            "uid": uid or "", "title": str(row.get("title") or detection or "alert"), "desc": row.get("notes"),
            "types": [str(row.get("threat_type") or "unknown")], "created_time": epoch_ms(row.get("created_at")),
            "first_seen_time": epoch_ms(row.get("first_seen")), "last_seen_time": epoch_ms(row.get("last_seen")),
            "modified_time": epoch_ms(row.get("updated_at")),
            "analytic": {"type_id": 1, "type": "Rule", "name": detection or None, "uid": detection or None},
            "attacks": _attacks(row.get("mitre_ids"), row.get("tactics")), "related_events": None,
        },
        "count": row.get("count"),
    })
    return cls.key, record


def _strings(value: Any) -> list[str]:
    """A JSON list column: parsed (PostgreSQL's JSONB) or its text (SQLite through a plain query)."""
    if isinstance(value, str):
        value = json.loads(value) if value.startswith("[") else [value]
    return [str(v) for v in value or []]


def _attacks(techniques: Any, tactics: Any) -> list[dict[str, Any]] | None:
    out = [{"technique": {"uid": t}, "tactic": None} for t in _strings(techniques)]
    out += [{"technique": None, "tactic": {"name": t}} for t in _strings(tactics)]
    return out or None


def incident_record(row: Mapping[str, Any], origin: Origin) -> tuple[str, dict[str, Any]]:
    """An incident (alerts sharing entities) as an Incident Finding, by its last activity."""
    uid = str(row["id"]) if row.get("id") is not None else None
    unmapped = {TABLE_KEY: "incidents", ROW_KEY: canonical_json(row).decode()}
    cls = CLASSES["incident_finding"]
    meta = metadata(uid, None, None)
    title = str(row.get("title") or "incident")
    record = header(cls, (2, "Update"), epoch_ms(row.get("last_seen")), severity(row.get("severity")),
                    _status(_INCIDENT_STATUS, row.get("status")), title, meta, origin, unmapped, None)
    story = row.get("story")
    record.update({
        "finding_info_list": [{
            "uid": uid or "", "title": title, "desc": None, "types": None,
            "created_time": epoch_ms(row.get("created_at")),
            "first_seen_time": epoch_ms(row.get("first_seen")), "last_seen_time": epoch_ms(row.get("last_seen")),
            "modified_time": epoch_ms(row.get("updated_at")), "analytic": None, "attacks": None, "related_events": None,
        }],
        "attacks": _attacks(None, row.get("tactics")),
        "desc": story.get("summary") if isinstance(story, Mapping) and isinstance(story.get("summary"), str) else None,
        "count": row.get("alert_count"),
    })
    return cls.key, record
