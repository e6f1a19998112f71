"""Table rows → OCSF 1.1.0 records and back: the pure mapping of the archive (docs/storage.md "OCSF mapping").

One record per row. An ``events`` row becomes the class its event type fits (Authentication 3002, Process
Activity 1007, File System Activity 1001, Network Activity 4001, HTTP Activity 4002, DNS Activity 4003), with
the verdict's risk as its severity; a ``verdicts`` row at or above a level becomes a Detection Finding 2004.
Whatever fits no class, or lacks an attribute its class requires (a file without a name, an HTTP request
without a response code), becomes a Base Event (class 0). Lossless by construction: ``raw_data`` holds the
event exactly as it travelled on the events topic and ``unmapped`` the rest of the row, so ``row_of`` gives
the row back and the archive can be replayed or checked byte for byte (``rows.canonical_json``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from secustream.archive.rows import canonical_json, document_json
from secustream.events import Endpoint, EventType, Outcome, SecurityEvent
from secustream.verdict import RISK_ORDER, RiskLevel

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


CLASSES: dict[str, OcsfClass] = {c.key: c for c in (
    OcsfClass("authentication", 3002, "Authentication", 3, "Identity & Access Management"),
    OcsfClass("process_activity", 1007, "Process Activity", 1, "System Activity"),
    OcsfClass("file_activity", 1001, "File System Activity", 1, "System Activity"),
    OcsfClass("network_activity", 4001, "Network Activity", 4, "Network Activity"),
    OcsfClass("http_activity", 4002, "HTTP Activity", 4, "Network Activity"),
    OcsfClass("dns_activity", 4003, "DNS Activity", 4, "Network Activity"),
    OcsfClass("detection_finding", 2004, "Detection Finding", 2, "Findings"),
    OcsfClass("base_event", 0, "Base Event", 0, "Uncategorized"),
)}

# Activity ids per class: (word prefixes in the event's action, id, caption); first match wins.
_ACTIVITIES: dict[str, tuple[tuple[tuple[str, ...], int, str], ...]] = {
    "authentication": ((("logoff", "logout", "close"), 2, "Logoff"),
                       (("ticket",), 3, "Authentication Ticket"),
                       (("login", "logon", "open", "auth", "ssh", "sudo", "su", "vpn", "pam"), 1, "Logon")),
    "process_activity": ((("terminat", "exit", "stop", "kill"), 2, "Terminate"),
                         (("inject",), 4, "Inject"),
                         (("setuid", "set_user"), 5, "Set User ID"),
                         (("start", "create", "exec", "launch", "spawn"), 1, "Launch"),
                         (("open",), 3, "Open")),
    "file_activity": ((("delete", "remove", "unlink"), 4, "Delete"),
                      (("rename", "move"), 5, "Rename"),
                      (("write", "modif", "update", "append"), 3, "Update"),
                      (("create",), 1, "Create"),
                      (("read",), 2, "Read"),
                      (("open", "access"), 14, "Open")),
    "network_activity": ((("deny", "denied", "refuse", "reject", "block", "drop"), 5, "Refuse"),
                         (("reset",), 3, "Reset"),
                         (("fail",), 4, "Fail"),
                         (("close", "end"), 2, "Close"),
                         (("open", "connect", "attempt", "accept", "start"), 1, "Open"),
                         (("flow", "traffic"), 6, "Traffic")),
    "dns_activity": ((("response", "answer", "reply"), 2, "Response"),
                     (("query", "request", "lookup"), 1, "Query")),
}
_HTTP_METHODS = {"CONNECT": 1, "DELETE": 2, "GET": 3, "HEAD": 4, "OPTIONS": 5, "POST": 6, "PUT": 7, "TRACE": 8}
_SEVERITY = {RiskLevel.LOW: (2, "Low"), RiskLevel.MEDIUM: (3, "Medium"), RiskLevel.HIGH: (4, "High"),
             RiskLevel.CRITICAL: (5, "Critical")}
_RISK_LEVEL = {RiskLevel.LOW: 1, RiskLevel.MEDIUM: 2, RiskLevel.HIGH: 3, RiskLevel.CRITICAL: 4}
_LEVELS = frozenset(level.value for level in RiskLevel)
_STATUS = {Outcome.SUCCESS: (1, "Success"), Outcome.FAILURE: (2, "Failure"), Outcome.UNKNOWN: (0, "Unknown")}
_DIRECTION = {"inbound": (1, "Inbound"), "ingress": (1, "Inbound"), "outbound": (2, "Outbound"),
              "egress": (2, "Outbound"), "lateral": (3, "Lateral"), "internal": (3, "Lateral")}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WORDS = re.compile(r"[^a-z0-9]+")
_I64 = (-(1 << 63), (1 << 63) - 1)
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


def _activity(key: str, action: str | None) -> tuple[int, str]:
    if not action:
        return 0, "Unknown"
    tokens = _WORDS.split(action.lower())
    for words, uid, caption in _ACTIVITIES.get(key, ()):
        if any(t.startswith(w) for t in tokens for w in words):
            return uid, caption
    return 99, "Other"


def _i64(value: int | None) -> int | None:
    """A count the schema does not bound, if Parquet's int64 holds it (raw_data keeps the exact value)."""
    return value if value is None or _I64[0] <= value <= _I64[1] else None


def _endpoint(end: Endpoint) -> dict[str, Any]:
    return {"ip": end.ip, "port": end.port, "hostname": end.host, "domain": end.domain}


def _user(name: str | None, domain: str | None = None) -> dict[str, Any]:
    return {"name": name, "domain": domain}


def _basename(path: str | None) -> str | None:
    if not path:
        return None
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or None


def _process(event: SecurityEvent) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The process, and its parent as a process object (the actor of a launch) when anything is known of it."""
    p = event.process
    assert p is not None
    exe = _basename(p.executable)
    parent = None
    if p.parent_name or p.parent_pid is not None or p.parent_command_line:
        parent = {"name": p.parent_name, "pid": _i64(p.parent_pid), "cmd_line": p.parent_command_line, "file": None,
                  "user": None}
    image = {"name": exe, "path": p.executable, "type_id": 1, "type": "Regular File", "size": None,
             "hashes": None} if exe else None
    proc = {"name": p.name, "pid": _i64(p.pid), "cmd_line": p.command_line, "file": image, "user": _user(p.user),
            "parent_process": parent}
    return proc, parent


def _device(event: SecurityEvent) -> dict[str, Any]:
    return {"type_id": 0, "type": "Unknown", "hostname": event.source.host, "ip": event.source.ip,
            "domain": event.source.domain}


def _event_class(event: SecurityEvent) -> str:
    """The OCSF class an event fits, or base_event when it lacks what that class requires."""
    kind = event.event_type
    if kind == EventType.AUTH:
        return "authentication"
    if kind == EventType.PROCESS and event.process is not None:
        return "process_activity"
    if kind == EventType.FILE and event.file is not None and (event.file.name or _basename(event.file.path)):
        return "file_activity"
    if kind == EventType.NETWORK:
        return "network_activity"
    if kind == EventType.DNS and event.dns is not None and event.dns.query:
        return "dns_activity"
    if kind == EventType.HTTP and event.http is not None and event.http.status_code is not None:
        return "http_activity"
    return "base_event"


def _class_fields(key: str, event: SecurityEvent) -> dict[str, Any]:
    """The attributes only ``key``'s class has, filled from the event."""
    if key == "authentication":
        return {"user": _user(event.destination.user or event.source.user,
                              event.destination.domain or event.source.domain),
                "src_endpoint": _endpoint(event.source), "dst_endpoint": _endpoint(event.destination)}
    if key == "process_activity":
        proc, parent = _process(event)
        actor_user = (event.process.user if event.process else None) or event.source.user
        return {"process": proc, "actor": {"user": _user(actor_user), "process": parent}, "device": _device(event)}
    if key == "file_activity":
        f = event.file
        assert f is not None
        hashes = [{"algorithm_id": 3, "algorithm": "SHA-256", "value": f.sha256}] if f.sha256 else None
        file = {"name": f.name or _basename(f.path), "path": f.path, "type_id": 1, "type": "Regular File",
                "size": _i64(f.size), "hashes": hashes}
        actor_process = _process(event)[0] if event.process is not None else None
        if actor_process is not None:
            actor_process.pop("parent_process")
        user = (event.process.user if event.process else None) or event.source.user
        return {"file": file, "actor": {"user": _user(user), "process": actor_process}, "device": _device(event)}
    fields: dict[str, Any] = {"src_endpoint": _endpoint(event.source), "dst_endpoint": _endpoint(event.destination)}
    net = event.network
    if key == "network_activity":
        direction = _DIRECTION.get((net.direction or "").lower(), (0, "Unknown")) if net else (0, "Unknown")
        fields["connection_info"] = {"protocol_name": (net.transport or net.protocol) if net else None,
                                     "direction_id": direction[0], "direction": direction[1]}
        fields["traffic"] = {"bytes": None, "bytes_in": _i64(net.bytes_in) if net else None,
                             "bytes_out": _i64(net.bytes_out) if net else None}
    elif key == "dns_activity":
        dns = event.dns
        assert dns is not None
        fields["query"] = {"hostname": dns.query, "type": dns.record_type}
        fields["answers"] = [{"rdata": a} for a in dns.answers] or None
    elif key == "http_activity":
        http = event.http
        assert http is not None
        fields["http_request"] = {"http_method": http.method, "url": {"url_string": http.url},
                                  "user_agent": http.user_agent}
        fields["http_response"] = {"code": http.status_code}
        fields["traffic"] = {"bytes": _i64(http.bytes), "bytes_in": None, "bytes_out": None}
    return fields


def _activity_of(key: str, event: SecurityEvent) -> tuple[int, str]:
    if key == "http_activity":
        method = ((event.http.method if event.http else None) or "").upper()
        if not method:
            return 0, "Unknown"
        uid = _HTTP_METHODS.get(method, 99)
        return uid, method.title() if uid != 99 else "Other"
    activity = _activity(key, event.action)
    if key == "network_activity" and activity[0] == 1 and event.outcome == Outcome.FAILURE:
        return 4, "Fail"
    if key == "dns_activity" and activity[0] in (0, 99):  # a DNS event carries a query (its class requires one)
        return 1, "Query"
    return activity


def _header(cls: OcsfClass, activity: tuple[int, str], time: int | None, severity: tuple[int, str],
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


def _metadata(uid: str | None, product: str | None, vendor: str | None, version: str | None = None,
              log_name: str | None = None, correlation_uid: str | None = None) -> dict[str, Any]:
    return {"version": OCSF_VERSION, "profiles": list(PROFILES), "uid": uid, "log_name": log_name,
            "correlation_uid": correlation_uid,
            "product": {"name": product or PRODUCT, "vendor_name": vendor or product or PRODUCT, "version": version}}


def _severity(level: str | None) -> tuple[int, str]:
    try:
        return _SEVERITY[RiskLevel(level)] if level else (0, "Unknown")
    except ValueError:
        return 0, "Unknown"


def payload_of(row: Mapping[str, Any]) -> Any:
    """An events row's payload as a document (the database may hand it over parsed or as text)."""
    payload = row.get("payload")
    if isinstance(payload, str | bytes | bytearray | memoryview):
        return json.loads(bytes(payload) if not isinstance(payload, str) else payload)  # any integer size
    return payload


def event_record(row: Mapping[str, Any], origin: Origin) -> tuple[str, dict[str, Any]]:
    """(class key, OCSF record) of an ``events`` row (its verdict's columns prefixed ``verdict_``)."""
    payload = payload_of(row)
    rest = {k: v for k, v in row.items() if k != "payload"}
    unmapped = {TABLE_KEY: "events", ROW_KEY: canonical_json(rest).decode()}
    raw = document_json(payload).decode()
    severity = _severity(row.get("verdict_risk_level"))
    try:
        event = SecurityEvent.model_validate(payload)
    except ValidationError:  # stored before a schema change: still archived, whole, as a Base Event
        cls = CLASSES["base_event"]
        meta = _metadata(str(row.get("id")) if row.get("id") is not None else None, None, None)
        return cls.key, _header(cls, (0, "Unknown"), epoch_ms(row.get("timestamp")), severity, (0, "Unknown"),
                                None, meta, origin, unmapped, raw)
    key = _event_class(event)
    cls = CLASSES[key]
    activity = _activity_of(key, event) if key != "base_event" else ((99, "Other") if event.action else (0, "Unknown"))
    meta = _metadata(str(event.event_id), event.product, event.vendor, log_name=event.dataset)
    record = _header(cls, activity, epoch_ms(event.timestamp), severity, _STATUS[event.outcome], event.message,
                     meta, origin, unmapped, raw)
    if key != "base_event":
        record.update(_class_fields(key, event))
    return key, record


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
    severity = _severity(level)
    event_id = str(row["event_id"]) if row.get("event_id") is not None else None
    time = epoch_ms(row.get("event_timestamp") or row.get("analyzed_at"))
    uid = str(row["id"]) if row.get("id") is not None else None
    meta = _metadata(uid, None, None, version=row.get("analyzer_version"), correlation_uid=event_id)
    reason = row.get("reason")
    is_finding = level in _LEVELS and RISK_ORDER[RiskLevel(level)] >= RISK_ORDER[min_level]
    if not is_finding:
        cls = CLASSES["base_event"]
        return cls.key, _header(cls, (99, "Other"), time, severity, (0, "Unknown"), reason, meta, origin,
                                unmapped, None)
    cls = CLASSES["detection_finding"]
    record = _header(cls, (1, "Create"), time, severity, (1, "New"), reason, meta, origin, unmapped, None)
    threat = str(row.get("threat_type") or "unknown")
    rule_ids = list(row.get("rule_ids") or [])
    confidence = float(row.get("confidence") or 0.0)
    record.update({
        "finding_info": {
            "uid": event_id or uid or "", "title": f"{threat}: {reason}" if reason else threat,
            "desc": row.get("analysis") or None, "types": [threat], "created_time": epoch_ms(row.get("analyzed_at")),
            "analytic": _analytic(str(row.get("tier") or ""), rule_ids),
            "attacks": [{"technique": {"uid": m}} for m in row.get("mitre_ids") or []] or None,
            "related_events": [{"uid": event_id}] if event_id else None,
        },
        "confidence_id": _confidence_id(confidence)[0], "confidence": _confidence_id(confidence)[1],
        "confidence_score": round(confidence * 100),
        "risk_level_id": _RISK_LEVEL[RiskLevel(level)], "risk_level": level.title(),
        "risk_score": round(float(row.get("risk_score") or 0.0) * 100),
    })
    return cls.key, record


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
