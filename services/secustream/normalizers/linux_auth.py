"""Linux ``/var/log/auth.log`` (Debian/Ubuntu) and ``/var/log/secure`` (RHEL) lines → ``SecurityEvent``.

Why a separate normaliser from ``sshd``: those files interleave sshd with sudo, su, PAM, account
management and logind. sshd lines are handed to the sshd normaliser (same events as ``--format
sshd``); the rest are parsed here. A well-formed syslog line whose message we do not model is kept as
``other`` (lossless), never rejected. Field conventions as in docs/events.md: sudo/su ``source.user`` =
invoking user, ``destination.user`` = target account; PAM ``rhost`` = ``source``. The parts of sudo's
message (``TTY``, ``PWD``, ``USER``, ``COMMAND``) and PAM's key=values stay in ``unmapped`` under their
own names, which is what Sigma's ``service: sudo`` / ``service: auth`` rules use.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, tzinfo
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
from secustream.normalizers.sshd import SSHD_PROGRAMS, _parse_header, normalize_sshd

Fields = dict[str, Any]

_PAM_KV = re.compile(r"(\w+)=(\S*)")


def _pam_kv(text: str) -> dict[str, str]:
    return {k: v for k, v in _PAM_KV.findall(text)}


def _remote(rhost: str | None) -> Fields:
    if not rhost:
        return {}
    ip = valid_ip(rhost)
    return {"ip": ip} if ip else {"host": rhost}


def _sudo(msg: str, host: str) -> Fields | None:
    m = re.match(r"^\s*(?P<user>\S+) : (?P<rest>.*)$", msg)
    if not m:
        return None
    parts = [p.strip() for p in m.group("rest").split(" ; ")]
    kv: dict[str, str] = {}
    problems: list[str] = []  # "user NOT in sudoers", "3 incorrect password attempts" …
    for part in parts:
        key, eq, value = part.partition("=")
        if eq and key in ("TTY", "PWD", "USER", "COMMAND", "ENV"):
            kv[key] = value
        else:
            problems.append(part)
    failed = bool(problems)
    out: Fields = {"event_type": "auth", "action": "sudo", "outcome": "failure" if failed else "success",
                   "source": {"host": host, "user": m.group("user")},
                   "destination": {"host": host, "user": kv.get("USER")},
                   "unmapped": {**kv, **({"sudo_error": "; ".join(problems)} if problems else {})}}
    if kv.get("COMMAND"):
        out["process"] = {"name": "sudo", "command_line": kv["COMMAND"], "user": m.group("user")}
    return out


def _su(msg: str, host: str) -> Fields | None:
    m = (re.match(r"^(?P<failed>FAILED SU|FAILED su) \(to (?P<to>\S+)\) (?P<by>\S+) on (?P<tty>\S+)$", msg)
         or re.match(r"^\(to (?P<to>\S+)\) (?P<by>\S+) on (?P<tty>\S+)$", msg)
         or re.match(r"^(?P<ok>Successful) su for (?P<to>\S+) by (?P<by>\S+)$", msg)
         or re.match(r"^(?P<sign>[+-]) (?P<tty>\S+) (?P<by>[^:\s]+):(?P<to>\S+)$", msg))
    if not m:
        return None
    g = m.groupdict()
    failed = bool(g.get("failed")) or g.get("sign") == "-"
    return {"event_type": "auth", "action": "su", "outcome": "failure" if failed else "success",
            "source": {"host": host, "user": g["by"]}, "destination": {"host": host, "user": g["to"]},
            "unmapped": {"tty": g["tty"]} if g.get("tty") else {}}


def _pam(msg: str, host: str) -> Fields | None:
    m = re.match(r"^(?P<module>pam_\w+)\((?P<svc>[\w\-]+):(?P<kind>\w+)\): (?P<rest>.*)$", msg)
    if not m:
        return None
    svc, kind, rest = m.group("svc"), m.group("kind"), m.group("rest")
    base = {"unmapped": {"pam_module": m.group("module"), "pam_service": svc, "pam_type": kind}}
    if "authentication failure" in rest:
        kv = _pam_kv(rest)
        return {**base, "event_type": "auth", "action": "pam_auth_failure", "outcome": "failure",
                "source": {**_remote(kv.get("rhost")), "user": kv.get("ruser") or kv.get("logname") or None},
                "destination": {"host": host, "user": kv.get("user") or None},
                "unmapped": {**base["unmapped"], **{k: v for k, v in kv.items() if v}}}
    sm = re.match(r"^session (?P<what>opened|closed) for user (?P<user>[^\s(]+)(?:\(uid=\d+\))?(?: by (?P<by>\S*))?",
                  rest)
    if sm:
        by = (sm.group("by") or "").split("(", 1)[0] or None
        return {**base, "event_type": "auth", "action": f"session_{sm.group('what')}", "outcome": "success",
                "source": {"host": host, "user": by}, "destination": {"host": host, "user": sm.group("user")}}
    pm = re.match(r"^password changed for (?P<user>\S+)", rest)
    if pm:
        return {**base, "event_type": "auth", "action": "password_change", "outcome": "success",
                "destination": {"host": host, "user": pm.group("user")}}
    return {**base, "event_type": "auth", "action": "pam_message", "outcome": "unknown",
            "destination": {"host": host}}


def _account_mgmt(msg: str, host: str) -> Fields | None:
    patterns: tuple[tuple[str, str], ...] = (
        (r"^new user: name=(?P<user>[^,]+),", "user_account_created"),
        (r"^new group: name=(?P<group>[^,]+),", "group_created"),
        (r"^delete user '(?P<user>[^']+)'", "user_account_deleted"),
        (r"^removed group '(?P<group>[^']+)'", "group_deleted"),
        (r"^(?:add|adding user) '(?P<user>[^']+)' to (?:shadow )?group '(?P<group>[^']+)'", "group_member_added"),
        (r"^change user '(?P<user>[^']+)' password", "password_change"),
    )
    for pattern, action in patterns:
        m = re.match(pattern, msg)
        if m:
            g = m.groupdict()
            kv = dict(re.findall(r"(\w+)=([^,\s]+)", msg))  # useradd: "name=bob, UID=1001, ..."
            unmapped = {**kv, **({"group": g["group"]} if g.get("group") else {})}
            return {"event_type": "auth", "action": action, "outcome": "success",
                    "source": {"host": host}, "destination": {"host": host, "user": g.get("user")},
                    "unmapped": unmapped}
    return None


def _logind(msg: str, host: str) -> Fields | None:
    m = re.match(r"^New session (?P<id>\S+) of user (?P<user>[^.\s]+)\.?$", msg)
    if m:
        return {"event_type": "auth", "action": "session_opened", "outcome": "success",
                "destination": {"host": host, "user": m.group("user")}, "unmapped": {"session_id": m.group("id")}}
    m = re.match(r"^Removed session (?P<id>\S+?)\.?$", msg)
    if m:
        return {"event_type": "auth", "action": "session_closed", "outcome": "success",
                "destination": {"host": host}, "unmapped": {"session_id": m.group("id")}}
    return None


_PROGRAMS: dict[str, Callable[[str, str], Fields | None]] = {
    "sudo": _sudo, "su": _su, "systemd-logind": _logind,
}
_ACCOUNT_PROGRAMS = frozenset({"useradd", "userdel", "usermod", "groupadd", "groupdel", "gpasswd", "passwd",
                               "chpasswd", "groupmod"})


def normalize_linux_auth(line: str, *, year: int | None = None, tz: tzinfo = UTC) -> SecurityEvent:
    """One auth.log / secure line → event (RFC3164 lines need ``year``, see ``normalize_sshd``)."""
    text = line.rstrip("\r\n")
    if not text.strip():
        raise NormalizationError("empty line")
    ts, host, prog, pid, message = _parse_header(text, year, tz)
    name = prog.rsplit("/", 1)[-1]
    if name in SSHD_PROGRAMS:
        return normalize_sshd(text, year=year, tz=tz)
    msg = message.strip()
    fields = _pam(msg, host)
    if fields is None and name in _PROGRAMS:
        fields = _PROGRAMS[name](msg, host)
    if fields is None and name in _ACCOUNT_PROGRAMS:
        fields = _account_mgmt(msg, host)
    if fields is None:
        fields = {"event_type": "other", "action": "syslog_message", "outcome": "unknown",
                  "destination": {"host": host}}
    unmapped: dict[str, Any] = {k: v for k, v in fields.pop("unmapped", {}).items() if v is not None}
    unmapped["program"] = name
    if len(text) > MAX_RAW:
        unmapped["raw_truncated"] = True
    process = fields.pop("process", None) or {}
    process.setdefault("name", name)
    process.setdefault("pid", pid)
    try:
        return SecurityEvent(event_id=line_event_id(text), timestamp=ts, message=clip(message, MAX_MESSAGE),
                             process=process, product=name, vendor="linux", dataset="linux.auth",
                             unmapped=unmapped, raw=clip(text, MAX_RAW), **fields)
    except ValidationError as exc:
        raise NormalizationError(validation_reason(exc)) from None
