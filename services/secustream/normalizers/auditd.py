"""Linux audit log records (``/var/log/audit/audit.log``, raw or ENRICHED format) → ``SecurityEvent``.

Why per record, not per audit event: one syscall is written as several lines (SYSCALL, EXECVE,
PATH, PROCTITLE …) that share ``msg=audit(<time>:<serial>)``; normalising each line keeps ingest
stateless and ordered, and ``unmapped.audit_serial`` lets rules and analysts join them. Every
key=value of the record (hex-encoded strings decoded) stays in ``unmapped`` under auditd's own name
(``type``, ``a0``, ``exe``, ``comm``, ``key`` …), which is what Sigma's ``service: auditd`` rules use;
USER_* records' inner ``msg='…'`` fields are flattened next to them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from secustream.events import SecurityEvent
from secustream.normalizers.base import (
    MAX_MESSAGE,
    MAX_RAW,
    NormalizationError,
    clip,
    line_event_id,
    valid_ip,
    validation_reason,
)

_HEADER = re.compile(r"^(?:node=(?P<node>\S+) )?type=(?P<type>[A-Z_0-9]+) msg=audit\((?P<sec>\d+)(?:\.(?P<frac>\d+))?"
                     r":(?P<serial>\d+)\):\s?(?P<body>.*)$")
_KV = re.compile(r"""(?P<key>[\w\-]+)=(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>\S*))""")
_HEX = re.compile(r"^(?:[0-9A-F]{2})+$")
_HEX_FIELDS = frozenset({"proctitle", "cmd", "acct", "comm", "exe", "name", "cwd", "data", "path", "ocomm"})

# record type → (event_type, action)
_TYPES: dict[str, tuple[str, str]] = {
    "EXECVE": ("process", "process_start"),
    "PROCTITLE": ("process", "process_title"),
    "SYSCALL": ("process", "syscall"),
    "PATH": ("file", "file_path"),
    "CWD": ("process", "process_cwd"),
    "SOCKADDR": ("network", "socket_address"),
    "USER_AUTH": ("auth", "user_auth"),
    "USER_LOGIN": ("auth", "user_login"),
    "USER_LOGOUT": ("auth", "user_logout"),
    "USER_ACCT": ("auth", "user_acct"),
    "USER_START": ("auth", "session_opened"),
    "USER_END": ("auth", "session_closed"),
    "CRED_ACQ": ("auth", "credentials_acquired"),
    "CRED_DISP": ("auth", "credentials_disposed"),
    "CRED_REFR": ("auth", "credentials_refreshed"),
    "USER_CMD": ("auth", "sudo"),
    "USER_CHAUTHTOK": ("auth", "password_change"),
    "ADD_USER": ("auth", "user_account_created"),
    "DEL_USER": ("auth", "user_account_deleted"),
    "ADD_GROUP": ("auth", "group_created"),
    "DEL_GROUP": ("auth", "group_deleted"),
    "USER_MGMT": ("auth", "user_management"),
    "GRP_MGMT": ("auth", "group_management"),
    "USER_ROLE_CHANGE": ("auth", "role_change"),
    "ANOM_LOGIN_FAILURES": ("auth", "login_failures_exceeded"),
    "SERVICE_START": ("system", "service_started"),
    "SERVICE_STOP": ("system", "service_stopped"),
    "CONFIG_CHANGE": ("system", "audit_config_change"),
    "DAEMON_START": ("system", "auditd_started"),
    "DAEMON_END": ("system", "auditd_stopped"),
    "ANOM_ABEND": ("system", "process_crashed"),
    "ANOM_PROMISCUOUS": ("network", "promiscuous_mode"),
    "AVC": ("system", "access_denied"),
    "KERN_MODULE": ("system", "kernel_module"),
}
_EXEC_SYSCALLS = frozenset({"59", "322", "execve", "execveat"})


def _decode(key: str, value: str, record_type: str) -> str:
    """auditd hex-encodes strings with spaces/quotes/non-ASCII; NULs separate proctitle arguments."""
    hex_field = key in _HEX_FIELDS or (record_type == "EXECVE" and re.fullmatch(r"a\d+(?:\[\d+\])?", key))
    if hex_field and len(value) >= 2 and _HEX.match(value):
        try:
            return bytes.fromhex(value).decode("utf-8").replace("\x00", " ").strip()
        except (ValueError, UnicodeDecodeError):
            return value
    return value


def _fields(body: str, record_type: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _KV.finditer(body):
        key = m.group("key")
        if m.group("sq") is not None and key == "msg":  # USER_* records: msg='op=... acct="x" res=failed'
            for inner in _KV.finditer(m.group("sq")):
                value = inner.group("dq") if inner.group("dq") is not None else inner.group("bare") or ""
                out.setdefault(inner.group("key"), value if inner.group("dq") is not None
                               else _decode(inner.group("key"), value, record_type))
            continue
        if m.group("dq") is not None:
            out[key] = m.group("dq")
        else:
            raw = m.group("sq") if m.group("sq") is not None else m.group("bare") or ""
            out[key] = _decode(key, raw, record_type)
    return out


def _none(value: str | None) -> str | None:
    return None if value in (None, "", "?", "(null)", "(none)", "unset", "4294967295") else value


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def normalize_auditd(line: str) -> SecurityEvent:
    """One audit record line → event; unknown record types are kept as ``other``."""
    text = line.rstrip("\r\n")
    if not text.strip():
        raise NormalizationError("empty line")
    body_text, _, enriched = text.partition("\x1d")  # ENRICHED format appends UID="root" … after a GS byte
    m = _HEADER.match(body_text.strip())
    if not m:
        raise NormalizationError("not an audit record (expected 'type=TYPE msg=audit(SECONDS.MS:SERIAL): ...')")
    record_type = m.group("type")
    kv = _fields(m.group("body"), record_type)
    for em in _KV.finditer(enriched):
        kv[em.group("key")] = em.group("dq") if em.group("dq") is not None else em.group("bare") or ""
    stamp = int(m.group("sec")) + int((m.group("frac") or "0")[:6].ljust(6, "0")) / 1e6
    event_type, action = _TYPES.get(record_type, ("other", f"audit_{record_type.lower()}"))
    node = m.group("node")
    res = (kv.get("res") or kv.get("success") or "").lower()
    outcome = "success" if res in ("success", "yes", "1") else "failure" if res in ("failed", "no", "0") else "unknown"

    process: dict[str, Any] = {"pid": _int(kv.get("pid")), "parent_pid": _int(kv.get("ppid")),
                               "executable": _none(kv.get("exe")), "name": _none(kv.get("comm")),
                               "user": _none(kv.get("AUID") or kv.get("auid"))}
    source: dict[str, Any] = {"host": node}
    destination: dict[str, Any] = {"host": node}
    file: dict[str, Any] | None = None
    if record_type == "EXECVE":
        argc = _int(kv.get("argc")) or 0
        args = [kv[f"a{i}"] for i in range(argc) if f"a{i}" in kv]
        process["command_line"] = " ".join(args) or None
        if args:
            process["name"] = args[0].rsplit("/", 1)[-1]
        outcome = "success"
    elif record_type == "PROCTITLE":
        process["command_line"] = _none(kv.get("proctitle"))
    elif record_type == "SYSCALL" and kv.get("syscall") in _EXEC_SYSCALLS:
        action = "execve_syscall"  # not process_start: the EXECVE record of the same exec is the process event
    elif record_type == "USER_CMD":
        process["command_line"] = _none(kv.get("cmd"))
        source["user"] = _none(kv.get("AUID") or kv.get("auid"))
        destination["user"] = _none(kv.get("UID") or kv.get("uid"))
    elif record_type == "PATH":
        path = _none(kv.get("name"))
        if path:
            file = {"path": path, "name": path.rsplit("/", 1)[-1], "action": _none(kv.get("nametype"))}
    if event_type == "auth" and record_type != "USER_CMD":
        account = _none(kv.get("acct") or kv.get("id"))
        destination["user"] = account
        remote = _none(kv.get("addr")) or _none(kv.get("hostname"))
        ip = valid_ip(remote)
        if ip:
            source["ip"] = ip
        elif remote:
            source["host"] = remote
        source["user"] = _none(kv.get("AUID") or kv.get("auid"))
    unmapped: dict[str, Any] = {"type": record_type, **kv, "audit_serial": int(m.group("serial"))}
    if node:
        unmapped["node"] = node
    if len(text) > MAX_RAW:
        unmapped["raw_truncated"] = True
    try:
        return SecurityEvent(
            event_id=line_event_id(text), timestamp=datetime.fromtimestamp(stamp, UTC), event_type=event_type,
            action=action, outcome=outcome, message=clip(m.group("body"), MAX_MESSAGE), source=source,
            destination=destination, process=process if any(v is not None for v in process.values()) else None,
            file=file, product="auditd", vendor="linux", dataset="linux.auditd", unmapped=unmapped,
            raw=clip(text, MAX_RAW),
        )
    except ValidationError as exc:
        raise NormalizationError(validation_reason(exc)) from None
