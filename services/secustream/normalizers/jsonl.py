"""JSON lines → ``SecurityEvent``: ECS-shaped documents (Beats, Elastic Agent, Vector …) or our own schema.

Why ECS: it is the de-facto shape of JSON security logs, so mapping it once covers many shippers.
Both nested (``{"source": {"ip": …}}``) and dotted (``{"source.ip": …}``) keys are accepted.
Whatever is not mapped stays in ``unmapped`` (re-nested, so ``unmapped.winlog.event_id`` works in
rules) and the line itself goes to ``raw``.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ValidationError

from secustream.events import (
    DnsInfo,
    Endpoint,
    FileInfo,
    HttpInfo,
    NetworkInfo,
    ProcessInfo,
    SecurityEvent,
)
from secustream.normalizers.base import (
    MAX_ACTION,
    MAX_MESSAGE,
    MAX_RAW,
    NormalizationError,
    clip,
    line_event_id,
    parse_json_object,
    valid_ip,
    validation_reason,
)

_PARTS: dict[str, type[BaseModel]] = {
    "source": Endpoint, "destination": Endpoint, "process": ProcessInfo, "file": FileInfo,
    "network": NetworkInfo, "dns": DnsInfo, "http": HttpInfo,
}

# ECS event.category → our event type, in priority order (a document may list several categories).
_CATEGORY_ORDER: tuple[tuple[str, str], ...] = (
    ("malware", "malware_alert"), ("intrusion_detection", "malware_alert"),
    ("authentication", "auth"), ("iam", "auth"), ("session", "auth"),
    ("process", "process"), ("file", "file"), ("registry", "registry"), ("web", "http"),
    ("network", "network"), ("host", "system"), ("configuration", "system"), ("driver", "system"),
    ("package", "system"), ("database", "system"), ("api", "http"),
)

# ECS dotted key → our dotted path. Keys used for decisions (user.*, host.*, category) are handled in code.
_DIRECT: dict[str, str] = {
    "event.action": "action",
    "event.dataset": "dataset",
    "message": "message",
    "observer.vendor": "vendor",
    "observer.product": "product",
    "source.ip": "source.ip", "source.port": "source.port", "source.domain": "source.domain",
    "source.user.name": "source.user",
    "destination.ip": "destination.ip", "destination.port": "destination.port",
    "destination.domain": "destination.domain", "destination.user.name": "destination.user",
    "process.name": "process.name", "process.pid": "process.pid", "process.executable": "process.executable",
    "process.command_line": "process.command_line", "process.user.name": "process.user",
    "process.parent.name": "process.parent_name", "process.parent.pid": "process.parent_pid",
    "process.parent.command_line": "process.parent_command_line",
    "file.path": "file.path", "file.name": "file.name", "file.size": "file.size",
    "file.hash.sha256": "file.sha256",
    "network.protocol": "network.protocol", "network.transport": "network.transport",
    "network.direction": "network.direction",
    "source.bytes": "network.bytes_out", "destination.bytes": "network.bytes_in",
    "dns.question.name": "dns.query", "dns.question.type": "dns.record_type",
    "url.full": "http.url", "http.request.method": "http.method",
    "http.response.status_code": "http.status_code", "user_agent.original": "http.user_agent",
    "http.response.bytes": "http.bytes",
}
_FALLBACK: dict[str, str] = {  # used only when the preferred key above is absent
    "url.original": "http.url",
    "http.response.body.bytes": "http.bytes",
    "event.module": "product",
    "event.provider": "product",
}
_OUTCOMES = {"success": "success", "failure": "failure", "unknown": "unknown"}


def _flatten(node: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            _flatten(value, path + ".", out)
        else:
            out[path] = value


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys back to nested dicts; a key that is both a leaf and a parent keeps the leaf as ``_value``."""
    root: dict[str, Any] = {}
    for path, value in flat.items():
        node = root
        parts = path.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {} if child is None else {"_value": child}
                node[part] = child
            node = child
        leaf = parts[-1]
        if isinstance(node.get(leaf), dict):
            node[leaf]["_value"] = value
        else:
            node[leaf] = value
    return root


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    head, _, tail = path.partition(".")
    if tail:
        doc.setdefault(head, {})[tail] = value
    else:
        doc[head] = value


def _has(doc: dict[str, Any], path: str) -> bool:
    head, _, tail = path.partition(".")
    return (doc.get(head) or {}).get(tail) is not None if tail else doc.get(head) is not None


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _event_type(categories: list[str], flat: dict[str, Any]) -> str:
    cats = {c.lower() for c in categories if isinstance(c, str)}
    has_dns = flat.get("dns.question.name") is not None
    has_http = any(k.startswith(("http.", "url.")) for k in flat)
    for cat, event_type in _CATEGORY_ORDER:
        if cat in cats:
            if event_type == "network" and has_dns:
                return "dns"
            if event_type == "network" and has_http:
                return "http"
            return event_type
    if has_dns:
        return "dns"
    if has_http:
        return "http"
    if flat.get("process.name") or flat.get("process.command_line"):
        return "process"
    if flat.get("file.path"):
        return "file"
    if flat.get("source.ip") or flat.get("destination.ip"):
        return "network"
    return "other"


def _from_ecs(data: dict[str, Any], line: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    _flatten(data, "", flat)
    used: set[str] = set()
    doc: dict[str, Any] = {}

    def take(key: str) -> Any:
        value = flat.get(key)
        if value is not None:
            used.add(key)
        return value

    timestamp = take("@timestamp")
    if timestamp is None:
        raise NormalizationError("ECS document without @timestamp")
    doc["timestamp"] = timestamp
    categories = take("event.category")
    event_type = _event_type(categories if isinstance(categories, list) else [categories], flat)
    doc["event_type"] = event_type
    outcome = take("event.outcome")
    if outcome is not None:
        doc["outcome"] = _OUTCOMES.get(str(outcome).lower(), "unknown")
        if doc["outcome"] == "unknown" and str(outcome).lower() != "unknown":
            used.discard("event.outcome")  # keep the odd value in unmapped
    event_id = flat.get("event.id")
    try:
        doc["event_id"] = uuid.UUID(str(event_id)) if event_id is not None else line_event_id(line)
        if event_id is not None:
            used.add("event.id")
    except ValueError:
        doc["event_id"] = line_event_id(line)

    for key, path in _DIRECT.items():
        value = take(key)
        if value is not None:
            _set(doc, path, _first(value) if path.endswith((".ip", ".port")) else value)
    for key, path in _FALLBACK.items():
        if not _has(doc, path) and flat.get(key) is not None:
            _set(doc, path, take(key))
    if not _has(doc, "process.command_line") and isinstance(flat.get("process.args"), list):
        _set(doc, "process.command_line", " ".join(str(a) for a in take("process.args")))
    if not _has(doc, "dns.answers"):
        answers = flat.get("dns.answers")
        if isinstance(answers, list):
            used.add("dns.answers")
            _set(doc, "dns.answers", [str(a.get("data")) if isinstance(a, dict) else str(a) for a in answers])
        elif isinstance(flat.get("dns.resolved_ip"), list):
            _set(doc, "dns.answers", [str(a) for a in take("dns.resolved_ip")])
    for side in ("source", "destination"):  # ECS "address" may hold an IP or a host name
        address = flat.get(f"{side}.address")
        if address is None:
            continue
        ip = valid_ip(address)
        current = (doc.get(side) or {}).get("ip")
        if ip is not None and (current is None or valid_ip(current) == ip):
            if current is None:
                _set(doc, f"{side}.ip", address)
            used.add(f"{side}.address")
        elif ip is None and not _has(doc, f"{side}.host"):
            _set(doc, f"{side}.host", take(f"{side}.address"))

    # Who and where, by event type (see docs/events.md "Field conventions").
    user = take("user.name")
    target = take("user.target.name") or take("user.effective.name")
    host = take("host.name") or take("host.hostname")
    host_ip = _first(take("host.ip"))
    if event_type == "auth":
        if target is not None:
            if not _has(doc, "destination.user"):
                _set(doc, "destination.user", target)
            if user is not None and not _has(doc, "source.user"):
                _set(doc, "source.user", user)
        elif user is not None and not _has(doc, "destination.user"):
            _set(doc, "destination.user", user)
        here = "destination"
    else:
        if user is not None:
            if event_type == "process" and not _has(doc, "process.user"):
                _set(doc, "process.user", user)
            if not _has(doc, "source.user"):
                _set(doc, "source.user", user)
        if target is not None and not _has(doc, "destination.user"):
            _set(doc, "destination.user", target)
        # the observing host is the server for web access logs and inbound traffic, else the actor
        inbound = str(flat.get("network.direction", "")).lower() in ("inbound", "ingress")
        here = "destination" if event_type == "http" or inbound else "source"
    if host is not None and not _has(doc, f"{here}.host"):
        _set(doc, f"{here}.host", host)
    if host_ip is not None and not _has(doc, f"{here}.ip") and valid_ip(host_ip):
        _set(doc, f"{here}.ip", host_ip)

    if isinstance(doc.get("action"), str) and len(doc["action"]) > MAX_ACTION:
        doc["action"] = doc["action"][:MAX_ACTION]
    if isinstance(doc.get("message"), str):
        doc["message"] = clip(doc["message"], MAX_MESSAGE)
    leftovers = {k: v for k, v in flat.items() if k not in used and not (isinstance(v, dict) and not v)}
    doc["unmapped"] = _nest(leftovers)
    return doc


def _from_own(data: dict[str, Any]) -> dict[str, Any]:
    """Our own schema; unknown keys (top level or inside a part) move to ``unmapped``, not errors."""
    doc: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    known = SecurityEvent.model_fields
    for key, value in data.items():
        if key not in known:
            extra[key] = value
        elif key in _PARTS and isinstance(value, dict):
            fields = _PARTS[key].model_fields
            doc[key] = {k: v for k, v in value.items() if k in fields}
            unknown = {k: v for k, v in value.items() if k not in fields}
            if unknown:
                extra[key] = unknown
        else:
            doc[key] = value
    if extra:
        unmapped = doc.get("unmapped")
        doc["unmapped"] = {**extra, **unmapped} if isinstance(unmapped, dict) else extra
    return doc


def normalize_jsonl(line: str) -> SecurityEvent:
    """One JSON line → event: our own ``SecurityEvent`` JSON when it has ``event_type`` and no
    ``@timestamp``, otherwise ECS. Ids default to a hash of the line so re-ingest is idempotent."""
    text = line.strip()
    data = parse_json_object(text)
    if "event_type" in data and "@timestamp" not in data:
        doc = _from_own(data)
        doc.setdefault("event_id", str(line_event_id(text)))
    else:
        doc = _from_ecs(data, text)
        if len(text) > MAX_RAW:
            doc["unmapped"]["raw_truncated"] = True
        doc["raw"] = clip(text, MAX_RAW)
    try:
        return SecurityEvent.model_validate(doc)
    except ValidationError as exc:
        raise NormalizationError(validation_reason(exc)) from None
