"""OpenSSH server log lines (syslog RFC3164/RFC5424, journald ISO exports) → ``SecurityEvent``.

Why a hand-written parser: sshd's messages are a small, stable vocabulary, and each one carries
exactly the entities the brute-force / lateral-movement rules group by (source IP, target user).
Field conventions: ``source`` = the connecting client, ``destination.host`` = the syslog host
running sshd, ``destination.user`` = the account being logged in to, ``process`` = sshd + pid.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
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

SSHD_PROGRAMS = frozenset({"sshd", "sshd-session", "sshd-auth"})  # OpenSSH >= 9.8 splits the daemon

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}

_PROG = r"(?P<prog>[A-Za-z0-9_.\-/]+?)(?:\[(?P<pid>\d+)\])?:\s?"
_RFC3164 = re.compile(
    r"^(?:<\d{1,3}>)?(?P<mon>[A-Za-z]{3}) {1,2}(?P<day>\d{1,2}) "
    r"(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})(?:\.(?P<frac>\d{1,6}))?"
    r" (?P<host>\S+) " + _PROG + r"(?P<msg>.*)$"
)
_ISO = (r"(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|z|[+-]\d{2}:?\d{2})?)")
_ISO_LINE = re.compile(r"^(?:<\d{1,3}>)?" + _ISO + r" (?P<host>\S+) " + _PROG + r"(?P<msg>.*)$")
_RFC5424 = re.compile(
    r"^<\d{1,3}>1 " + _ISO + r" (?P<host>\S+) (?P<prog>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (?:\ufeff)?(?P<msg>.*))?$"
)

_IP = r"(?P<ip>[0-9A-Fa-f:.]+|UNKNOWN)"
_PORT = r"port (?P<port>\d+)"
_PREAUTH = r"(?P<preauth> \[preauth\])?"

Fields = dict[str, Any]
Handler = Callable[[re.Match[str]], Fields]


def _auth(action: str, outcome: str, m: re.Match[str], **unmapped: Any) -> Fields:
    return {"event_type": "auth", "action": action, "outcome": outcome, "_m": m,
            "unmapped": {k: v for k, v in unmapped.items() if v is not None}}


def _net(action: str, outcome: str, m: re.Match[str], **unmapped: Any) -> Fields:
    out = _auth(action, outcome, m, **unmapped)
    out["event_type"] = "network"
    return out


def _group(m: re.Match[str], name: str) -> str | None:
    return m.groupdict().get(name)


def _login(m: re.Match[str]) -> Fields:
    ok = m.group("verb") == "Accepted"
    key = _group(m, "key")
    key_type, _, fingerprint = (key or "").partition(" ")
    return _auth(
        "ssh_login", "success" if ok else "failure", m, ssh_auth_method=m.group("method"),
        invalid_user=True if _group(m, "invalid") else None, ssh_protocol=_group(m, "proto"),
        key_type=key_type or None, key_fingerprint=fingerprint or None,
    )


def _disconnect(kind: str) -> Handler:
    def handle(m: re.Match[str]) -> Fields:
        preauth = bool(_group(m, "preauth"))
        qualifier = _group(m, "kind")
        # ended before authentication → failure; the end of an authenticated session → success;
        # a bare "Connection closed/reset by IP" (probe, kex error) → unknown
        post_auth = _group(m, "user") is not None or kind == "received_disconnect"
        outcome = "failure" if preauth else "success" if post_auth else "unknown"
        return _net(
            "ssh_disconnect", outcome, m, ssh_disconnect_kind=kind, preauth=preauth,
            invalid_user=True if qualifier == "invalid" else None, user_state=qualifier,
            disconnect_code=int(c) if (c := _group(m, "code")) else None, disconnect_reason=_group(m, "reason"),
        )
    return handle


def _pam_kv(text: str) -> dict[str, str]:
    return {k: v for k, v in re.findall(r"(\w+)=(\S*)", text)}


def _pam_failure(m: re.Match[str]) -> Fields:
    kv = _pam_kv(m.group("kv"))
    fields = _auth("ssh_pam_auth_failure", "failure", m, pam=kv,
                   failures=int(n) if (n := _group(m, "n")) else None)
    fields["_ip"] = kv.get("rhost") or None
    fields["_user"] = kv.get("user") or None
    return fields


def _session(m: re.Match[str]) -> Fields:
    return _auth(f"ssh_session_{m.group('what')}", "success", m,
                 uid=int(u) if (u := _group(m, "uid")) else None, by=_group(m, "by"))


# Ordered: the first pattern that matches the message (after an optional error:/fatal: prefix) wins.
_MESSAGES: tuple[tuple[re.Pattern[str], Handler], ...] = tuple((re.compile(p), h) for p, h in (
    (r"^(?P<verb>Failed|Accepted) (?P<method>\S+) for (?P<invalid>invalid user )?(?P<user>.*?) from " + _IP
     + r" " + _PORT + r"(?: (?P<proto>ssh\d?))?(?:: (?P<key>.*))?$", _login),
    (r"^Invalid user (?P<user>.*?) from " + _IP + r"(?: " + _PORT + r")?$",
     lambda m: _auth("ssh_invalid_user", "failure", m, invalid_user=True)),
    (r"^Connection closed by (?:(?P<kind>invalid|authenticating) user (?P<user>.*?) )?" + _IP + r" " + _PORT
     + _PREAUTH + r"$", _disconnect("connection_closed")),
    (r"^Connection reset by (?:(?P<kind>invalid|authenticating) user (?P<user>.*?) )?" + _IP + r" " + _PORT
     + _PREAUTH + r"$", _disconnect("connection_reset")),
    (r"^Disconnected from (?:(?:(?P<kind>invalid|authenticating) )?user (?P<user>.*?) )?" + _IP + r" " + _PORT
     + _PREAUTH + r"$", _disconnect("disconnected")),
    (r"^Received disconnect from " + _IP + r"(?: " + _PORT + r")?: ?(?P<code>\d+): (?P<reason>.*?)" + _PREAUTH + r"$",
     _disconnect("received_disconnect")),
    (r"^pam_unix\(sshd:auth\): authentication failure; (?P<kv>.*)$", _pam_failure),
    (r"^PAM (?P<n>\d+) more authentication failures?; (?P<kv>.*)$", _pam_failure),
    (r"^maximum authentication attempts exceeded for (?P<invalid>invalid user )?(?P<user>.*?) from " + _IP + r" "
     + _PORT + r"(?: ssh\d?)?" + _PREAUTH + r"$",
     lambda m: _auth("ssh_max_auth_exceeded", "failure", m, invalid_user=True if _group(m, "invalid") else None)),
    (r"^Disconnecting (?:(?P<kind>invalid|authenticating) )?user (?P<user>.*?) " + _IP + r" " + _PORT
     + r": Too many authentication failures" + _PREAUTH + r"$",
     lambda m: _auth("ssh_max_auth_exceeded", "failure", m,
                     invalid_user=True if _group(m, "kind") == "invalid" else None)),
    (r"^kex_exchange_identification: (?P<reason>.*)$",
     lambda m: _net("ssh_kex_error", "failure", m, reason=m.group("reason"))),
    (r"^Did not receive identification string from " + _IP + r"(?: " + _PORT + r")?$",
     lambda m: _net("ssh_no_identification", "failure", m)),
    (r"^banner exchange: Connection from " + _IP + r" " + _PORT + r": (?P<reason>.*)$",
     lambda m: _net("ssh_banner_error", "failure", m, reason=m.group("reason"))),
    (r"^Bad protocol version identification '(?P<reason>.*)' from " + _IP + r"(?: " + _PORT + r")?$",
     lambda m: _net("ssh_banner_error", "failure", m, reason=m.group("reason"))),
    (r"^Protocol major versions differ for " + _IP + r" " + _PORT + r": (?P<reason>.*)$",
     lambda m: _net("ssh_banner_error", "failure", m, reason=m.group("reason"))),
    (r"^Unable to negotiate with " + _IP + r" " + _PORT + r": (?P<reason>.*?)" + _PREAUTH + r"$",
     lambda m: _net("ssh_negotiation_failed", "failure", m, reason=m.group("reason"))),
    (r"^Timeout before authentication for " + _IP + r" " + _PORT + r"$",
     lambda m: _net("ssh_timeout", "failure", m)),
    (r"^reverse mapping checking getaddrinfo for (?P<name>\S+) \[" + _IP + r"\] failed.*$",
     lambda m: _net("ssh_reverse_mapping_failed", "unknown", m, resolved_name=m.group("name"))),
    (r"^Connection from " + _IP + r" " + _PORT + r" on (?P<lip>\S+) port (?P<lport>\d+).*$",
     lambda m: _net("ssh_connection", "unknown", m, local_ip=m.group("lip"), local_port=int(m.group("lport")))),
    (r"^pam_unix\(sshd:session\): session (?P<what>opened|closed) for user (?P<user>[^\s(]+)"
     r"(?:\(uid=(?P<uid>\d+)\))?(?: by (?P<by>.*))?$", _session),
    (r"^Server listening on (?P<lip>\S+) port (?P<lport>\d+)\.?$",
     lambda m: {**_auth("sshd_started", "success", m, listen=f"{m.group('lip')}:{m.group('lport')}"),
                "event_type": "system"}),
    (r"^Received signal (?P<sig>\d+); terminating\.?$",
     lambda m: {**_auth("sshd_stopped", "success", m, signal=int(m.group("sig"))), "event_type": "system"}),
))
_LEVEL = re.compile(r"^(?P<level>error|fatal|warning): ")
_REPEATED = re.compile(r"^message repeated (?P<n>\d+) times: \[ ?(?P<inner>.*?) ?\]$")


def _parse_header(line: str, year: int | None, tz: tzinfo) -> tuple[datetime, str, str, int | None, str]:
    """(timestamp, host, program, pid, message) of a syslog/journald line, or NormalizationError."""
    m = _RFC5424.match(line)
    if m:
        pid = m.group("pid")
        return _iso(m.group("ts"), tz), m.group("host"), m.group("prog"), int(pid) if pid.isdigit() else None, \
            m.group("msg") or ""
    m = _ISO_LINE.match(line) or _RFC3164.match(line)
    if not m:
        raise NormalizationError("not a syslog line (expected 'Mon DD HH:MM:SS host sshd[pid]: ...', "
                                 "an ISO timestamp, or RFC5424)")
    groups = m.groupdict()
    if groups.get("ts"):
        ts = _iso(groups["ts"], tz)
    else:
        month = _MONTHS.get(groups["mon"].lower())
        if month is None:
            raise NormalizationError(f"unknown month {groups['mon']!r}")
        ts = _rfc3164_time(month, groups, year, tz)
    return ts, groups["host"], groups["prog"], int(groups["pid"]) if groups.get("pid") else None, groups["msg"]


def _iso(text: str, tz: tzinfo) -> datetime:
    text = text.replace(",", ".")
    if len(text) > 10 and text[10] == " ":
        text = text[:10] + "T" + text[11:]
    if "." in text:  # Python accepts at most 6 fractional digits
        head, _, tail = text.partition(".")
        digits = re.match(r"\d+", tail)
        frac = digits.group(0) if digits else ""
        text = f"{head}.{frac[:6].ljust(6, '0')}{tail[len(frac):]}"
    try:
        ts = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        raise NormalizationError(f"bad timestamp {text!r}: {exc}") from None
    return ts.replace(tzinfo=tz) if ts.tzinfo is None else ts


def _rfc3164_time(month: int, g: dict[str, str], year: int | None, tz: tzinfo) -> datetime:
    guess_year = year is None
    y = datetime.now(tz).year if year is None else year
    frac = int((g.get("frac") or "0").ljust(6, "0"))
    try:
        ts = datetime(y, month, int(g["day"]), int(g["h"]), int(g["mi"]), int(g["s"]), frac, tzinfo=tz)
        if guess_year and ts > datetime.now(tz) + timedelta(days=2):
            ts = ts.replace(year=y - 1)  # a December line read in January
    except ValueError as exc:
        raise NormalizationError(f"bad timestamp: {exc}") from None
    return ts


def _classify(message: str) -> Fields:
    text = message.strip()
    level = None
    lm = _LEVEL.match(text)
    if lm:
        level, text = lm.group("level"), text[lm.end():]
    for pattern, handler in _MESSAGES:
        m = pattern.match(text)
        if m:
            fields = handler(m)
            if level:
                fields["unmapped"]["level"] = level
            return fields
    rm = _REPEATED.match(text)
    if rm:
        fields = _classify(rm.group("inner"))
        fields["unmapped"]["repeat_count"] = int(rm.group("n"))
        return fields
    # A well-formed sshd line whose message we do not model: keep it (lossless), typed as "other".
    return {"event_type": "other", "action": "sshd_message", "outcome": "unknown", "_m": None,
            "unmapped": {"level": level} if level else {}}


def normalize_sshd(line: str, *, year: int | None = None, tz: tzinfo = UTC) -> SecurityEvent:
    """One sshd log line → event. RFC3164 lines have no year: ``year`` (default: this year, or last
    year for a date more than two days ahead) and ``tz`` (default UTC) fill the gap."""
    text = line.rstrip("\r\n")
    if not text.strip():
        raise NormalizationError("empty line")
    ts, host, prog, pid, message = _parse_header(text, year, tz)
    if prog.rsplit("/", 1)[-1] not in SSHD_PROGRAMS:
        raise NormalizationError(f"not an sshd line (program {prog!r})")
    fields = _classify(message)
    m: re.Match[str] | None = fields.pop("_m")
    groups = m.groupdict() if m else {}
    raw_ip = fields.pop("_ip", None) or groups.get("ip")
    user = fields.pop("_user", None) or groups.get("user")
    unmapped: dict[str, Any] = fields.pop("unmapped")
    ip = valid_ip(raw_ip)
    if raw_ip and ip is None:
        unmapped["source_address"] = raw_ip  # e.g. "UNKNOWN", or a host name in PAM's rhost
    port = groups.get("port")
    if len(text) > MAX_RAW:
        unmapped["raw_truncated"] = True
    try:
        return SecurityEvent(
            event_id=line_event_id(text),
            timestamp=ts,
            message=clip(message, MAX_MESSAGE),
            source={"ip": ip, "port": int(port) if port else None},
            destination={"host": host, "user": user or None},
            process={"name": prog.rsplit("/", 1)[-1], "pid": pid},
            product="openssh",
            vendor="openbsd",
            dataset="sshd",
            unmapped=unmapped,
            raw=clip(text, MAX_RAW),
            **fields,
        )
    except ValidationError as exc:
        raise NormalizationError(validation_reason(exc)) from None
