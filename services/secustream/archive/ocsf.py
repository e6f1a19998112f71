"""What every archived OCSF 1.1.0 record shares, and the way back from a record to its row.

Lossless by construction: a record's ``unmapped`` holds its table and the row's canonical JSON (all columns
but an event's payload), ``raw_data`` the event exactly as it travelled on the events topic; so ``row_of``
gives every row back, and the archive can be checked byte for byte (``stored_bytes``) and replayed.
The per-table mappings: ``ocsf_events`` (events) and ``ocsf_findings`` (verdicts, alerts, incidents).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from secustream.verdict import RiskLevel

OCSF_VERSION = "1.1.0"
PROFILES = ("cloud",)  # metadata.profiles of every record: the cloud profile carries region and account
PRODUCT = "SecuStreamAI"
TABLE_KEY = "secustream.table"  # unmapped keys: which table the row came from, and the row itself
ROW_KEY = "secustream.row"


@dataclass(frozen=True, slots=True)
class OcsfClass:
    key: str  # file/source name part, e.g. "process_activity"
    uid: int
    name: str
    category_uid: int
    category_name: str
    extension: str | None = None  # e.g. "win": the class is "win/<key>" in the schema, from that extension

    @property
    def schema_key(self) -> str:
        return f"{self.extension}/{self.key}" if self.extension else self.key


CLASSES: dict[str, OcsfClass] = {c.key: c for c in (
    OcsfClass("authentication", 3002, "Authentication", 3, "Identity & Access Management"),
    OcsfClass("process_activity", 1007, "Process Activity", 1, "System Activity"),
    OcsfClass("file_activity", 1001, "File System Activity", 1, "System Activity"),
    OcsfClass("module_activity", 1005, "Module Activity", 1, "System Activity"),
    OcsfClass("scheduled_job_activity", 1006, "Scheduled Job Activity", 1, "System Activity"),
    OcsfClass("registry_key_activity", 201001, "Registry Key Activity", 1, "System Activity", "win"),
    OcsfClass("registry_value_activity", 201002, "Registry Value Activity", 1, "System Activity", "win"),
    OcsfClass("account_change", 3001, "Account Change", 3, "Identity & Access Management"),
    OcsfClass("authorize_session", 3003, "Authorize Session", 3, "Identity & Access Management"),
    OcsfClass("group_management", 3006, "Group Management", 3, "Identity & Access Management"),
    OcsfClass("network_activity", 4001, "Network Activity", 4, "Network Activity"),
    OcsfClass("http_activity", 4002, "HTTP Activity", 4, "Network Activity"),
    OcsfClass("dns_activity", 4003, "DNS Activity", 4, "Network Activity"),
    OcsfClass("detection_finding", 2004, "Detection Finding", 2, "Findings"),
    OcsfClass("incident_finding", 2005, "Incident Finding", 2, "Findings"),
    OcsfClass("base_event", 0, "Base Event", 0, "Uncategorized"),
)}

_SEVERITY = {RiskLevel.LOW: (2, "Low"), RiskLevel.MEDIUM: (3, "Medium"), RiskLevel.HIGH: (4, "High"),
             RiskLevel.CRITICAL: (5, "Critical")}
RISK_LEVEL_IDS = {RiskLevel.LOW: 1, RiskLevel.MEDIUM: 2, RiskLevel.HIGH: 3, RiskLevel.CRITICAL: 4}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Origin:
    """The cloud profile of every record: where the archive says the data lives (region and account)."""

    provider: str
    region: str
    account_id: str


def epoch_ms(value: datetime | str | None) -> int | None:
    """OCSF ``timestamp_t``: milliseconds since the epoch (naive times are UTC, as the schema stores them)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MS


def header(cls: OcsfClass, activity: tuple[int, str], time: int | None, severity: tuple[int, str],
            status: tuple[int, str], message: str | None, metadata: dict[str, Any], origin: Origin,
            unmapped: dict[str, str], raw_data: str | None) -> dict[str, Any]:
    """The attributes every class has (base event), in one place."""
    return {
        "class_uid": cls.uid, "class_name": cls.name, "category_uid": cls.category_uid,
        "category_name": cls.category_name, "activity_id": activity[0], "activity_name": activity[1],
        "type_uid": cls.uid * 100 + activity[0], "type_name": f"{cls.name}: {activity[1]}",
        "time": time, "severity_id": severity[0], "severity": severity[1], "status_id": status[0],
        "status": status[1], "message": message, "metadata": metadata,
        "cloud": {"provider": origin.provider, "region": origin.region, "account": {"uid": origin.account_id}},
        "raw_data": raw_data, "unmapped": unmapped,
    }


def metadata(uid: str | None, product: str | None, vendor: str | None, version: str | None = None,
              log_name: str | None = None, correlation_uid: str | None = None) -> dict[str, Any]:
    return {"version": OCSF_VERSION, "profiles": list(PROFILES), "uid": uid, "log_name": log_name,
            "correlation_uid": correlation_uid,
            "product": {"name": product or PRODUCT, "vendor_name": vendor or product or PRODUCT, "version": version}}


def severity(level: str | None) -> tuple[int, str]:
    try:
        return _SEVERITY[RiskLevel(level)] if level else (0, "Unknown")
    except ValueError:
        return 0, "Unknown"


def row_of(record: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(table, row) back from a record: the inverse of ``event_record`` / ``verdict_record``."""
    unmapped = dict(record["unmapped"])  # Parquet maps read back as (key, value) pairs
    row = json.loads(unmapped[ROW_KEY])
    table = unmapped[TABLE_KEY]
    if table == "events":
        row["payload"] = json.loads(record["raw_data"])
    return table, row


def stored_bytes(record: Mapping[str, Any]) -> bytes:
    """What a record stores of its row (the row's canonical JSON, the event document): the digest's input.

    The same on the way in and on the way back from Parquet (where ``unmapped`` reads back as key/value pairs).
    """
    unmapped = record["unmapped"]
    row = (unmapped if isinstance(unmapped, Mapping) else dict(unmapped))[ROW_KEY]
    return f"{row}\n{record.get('raw_data') or ''}".encode()
