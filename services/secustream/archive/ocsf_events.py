"""SecurityEvent rows → the OCSF 1.1.0 activity class their event type fits (docs/storage.md "OCSF mapping").

Windows events first go through ``ocsf_windows`` (by channel and event id: registry, module, account, group,
scheduled job and privilege classes, and the right activity for process access or injection).

Authentication 3002, Process Activity 1007, File System Activity 1001, Network Activity 4001, HTTP Activity
4002, DNS Activity 4003; an event that lacks what its class requires (a file without a name, an HTTP request
without a response code), or fits none, is a Base Event. The verdict's risk is the record's severity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from secustream.archival import load_json
from secustream.archive.ocsf import CLASSES, ROW_KEY, TABLE_KEY, Origin, epoch_ms, header, metadata, severity
from secustream.archive.ocsf_objects import basename as _basename
from secustream.archive.ocsf_objects import device as _device_object
from secustream.archive.ocsf_objects import file as _file
from secustream.archive.ocsf_objects import i64 as _i64
from secustream.archive.ocsf_objects import user as _user
from secustream.archive.ocsf_windows import windows_mapping
from secustream.archive.rows import canonical_json, document_json
from secustream.events import Endpoint, EventType, Outcome, SecurityEvent

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
_STATUS = {Outcome.SUCCESS: (1, "Success"), Outcome.FAILURE: (2, "Failure"), Outcome.UNKNOWN: (0, "Unknown")}
_DIRECTION = {"inbound": (1, "Inbound"), "ingress": (1, "Inbound"), "outbound": (2, "Outbound"),
              "egress": (2, "Outbound"), "lateral": (3, "Lateral"), "internal": (3, "Lateral")}
_WORDS = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)  # a handful of distinct actions per day
def _activity(key: str, action: str | None) -> tuple[int, str]:
    if not action:
        return 0, "Unknown"
    tokens = _WORDS.split(action.lower())
    for words, uid, caption in _ACTIVITIES.get(key, ()):
        if any(t.startswith(w) for t in tokens for w in words):
            return uid, caption
    return 99, "Other"


def _endpoint(end: Endpoint) -> dict[str, Any]:
    return {"ip": end.ip, "port": end.port, "hostname": end.host, "domain": end.domain}


def _process(event: SecurityEvent) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The process, and its parent as a process object (the actor of a launch) when anything is known of it."""
    p = event.process
    assert p is not None
    exe = _basename(p.executable)
    parent = None
    if p.parent_name or p.parent_pid is not None or p.parent_command_line:
        parent = {"name": p.parent_name, "pid": _i64(p.parent_pid), "cmd_line": p.parent_command_line, "file": None,
                  "user": None}
    image = _file(p.executable) if exe else None
    proc = {"name": p.name, "pid": _i64(p.pid), "cmd_line": p.command_line, "file": image, "user": _user(p.user),
            "parent_process": parent}
    return proc, parent


def _device(event: SecurityEvent) -> dict[str, Any]:
    return _device_object(event.source.host, event.source.ip, event.source.domain)


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
        file = _file(f.path, f.name, f.sha256, f.size)
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


def payload_of(row: Mapping[str, Any]) -> Any:
    """An events row's payload as a document (the database may hand it over parsed or as text)."""
    payload = row.get("payload")
    if isinstance(payload, str | bytes | bytearray | memoryview):
        return load_json(payload)  # json.loads's result (any integer size), mostly by orjson
    return payload


def event_record(row: Mapping[str, Any], origin: Origin) -> tuple[str, dict[str, Any]]:
    """(class key, OCSF record) of an ``events`` row (its verdict's columns prefixed ``verdict_``)."""
    payload = payload_of(row)
    rest = {k: v for k, v in row.items() if k != "payload"}
    unmapped = {TABLE_KEY: "events", ROW_KEY: canonical_json(rest).decode()}
    raw = document_json(payload).decode()
    risk = severity(row.get("verdict_risk_level"))
    try:
        event = SecurityEvent.model_validate(payload)
    except ValidationError:  # stored before a schema change: still archived, whole, as a Base Event
        cls = CLASSES["base_event"]
        meta = metadata(str(row.get("id")) if row.get("id") is not None else None, None, None)
        return cls.key, header(cls, (0, "Unknown"), epoch_ms(row.get("timestamp")), risk, (0, "Unknown"),
                                None, meta, origin, unmapped, raw)
    windows = windows_mapping(event)  # by channel and event id, where the event type is too coarse
    if windows is not None:
        key, activity, fields = windows
    else:
        key = _event_class(event)
        activity = _activity_of(key, event) if key != "base_event" else (
            (99, "Other") if event.action else (0, "Unknown"))
        fields = _class_fields(key, event) if key != "base_event" else {}
    meta = metadata(str(event.event_id), event.product, event.vendor, log_name=event.dataset)
    record = header(CLASSES[key], activity, epoch_ms(event.timestamp), risk, _STATUS[event.outcome], event.message,
                    meta, origin, unmapped, raw)
    record.update(fields)
    return key, record


