"""OpenSSH server log lines (syslog RFC3164/RFC5424, journald ISO exports) → ``SecurityEvent``.

Why a hand-written parser: sshd's messages are a small, stable vocabulary, and each one carries
exactly the entities the brute-force / lateral-movement rules group by (source IP, target user).
Field conventions: ``source`` = the connecting client, ``destination.host`` = the syslog host
running sshd, ``destination.user`` = the account being logged in to, ``process`` = sshd + pid.

This module also holds the syslog header parser (``parse_syslog_header``) and the field bounds
that ``linux_auth`` and ``syslog`` share, so the three formats read a header the same way.
"""

from __future__ import annotations

import calendar
import ipaddress
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, NamedTuple

from pydantic import ValidationError

from secustream.events import MAX_IP, MAX_NAME, SecurityEvent
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

# --------------------------------------------------------------------------- syslog header
# The header parser lives here because sshd was its first user; linux-auth and syslog share it.
# Permissive on purpose (issue 11): every real header shape seen in the wild is accepted, the tag may
# be missing, and only a line without a recognisable timestamp is "not syslog".

_PARSE_LIMIT = MAX_RAW  # a longer line is parsed on its first 64 KiB (its raw is clipped there anyway)

_PRI = r"(?:<(?P<pri>\d{1,3})>)?"
_BSD_TS = (r"(?P<mon>[A-Za-z]{3}) {1,2}(?P<day>\d{1,2}) (?:(?P<year>\d{4}) )?"
           r"(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})(?:\.(?P<frac>\d{1,9}))?")
_ISO_BODY = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|z|[+-]\d{2}:?\d{2})?"
_ISO = r"(?P<ts>" + _ISO_BODY + r")"
_RFC3164 = re.compile(r"^" + _PRI + _BSD_TS + r"(?: (?P<rest>.*))?$", re.DOTALL)
_ISO_LINE = re.compile(r"^" + _PRI + _ISO + r"(?: (?P<rest>.*))?$", re.DOTALL)
_SD = r"(?P<sd>-|(?:\[(?:[^\]\"\\]|\\.|\"(?:[^\"\\]|\\.)*\")*\])+)"  # a "]" inside a quoted value is tolerated
_RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>(?P<ver>[1-9]\d?) (?P<ts>-|" + _ISO_BODY + r") (?P<host>\S+) (?P<prog>\S+) "
    r"(?P<procid>\S+) (?P<msgid>\S+) " + _SD + r"(?: (?:\ufeff)?(?P<msg>.*))?$", re.DOTALL)
# "<PRI>1 TS host app procid msgid" followed by malformed structured data: keep the rest as the message
_RFC5424_LOOSE = re.compile(
    r"^<(?P<pri>\d{1,3})>(?P<ver>[1-9]\d?) (?P<ts>-|" + _ISO_BODY + r") (?P<host>\S+) (?P<prog>\S+) "
    r"(?P<procid>\S+) (?P<msgid>\S+)(?: (?P<msg>.*))?$", re.DOTALL)

# Tag forms after the host: "prog[pid]:", "prog(sub)[pid]:", "prog (sub):", "prog:", "prog[pid]:"
# (old PAM: "sshd(pam_unix)[19939]:"), "syslogd 1.4.1:" (program + version), and old login's
# "-- root[1144]:" (user + login's pid). A colon must end the tag (followed by a space or the end).
_TAG = re.compile(r"(?P<prog>[^\s\[\]():]+)(?: ?\((?P<sub>[^()\s:]*)\))?(?:\[(?P<pid>[^\]\s]*)\])?:(?: |$)")
_TAG_VERSION = re.compile(r"(?P<prog>[A-Za-z][\w.\-/]*) (?P<version>\d+\.\d[\w.\-]*):(?: |$)")
_TAG_LOGIN = re.compile(r"-- (?P<user>[^\s\[\]:]+)\[(?P<pid>\d+)\]:(?: |$)")
_PID = re.compile(r"\d{1,10}")
_NOT_SYSLOG = "not a syslog line"  # the start of the reason for a line without any header
# Before the header: a byte order mark or blanks (files concatenated, lines pasted), and RFC 6587's octet count
# ("123 <13>…") when a captured TCP stream was written to a file as it came; only when a <PRI> follows the count.
# Every part is optional, so it always matches.
_LEADING = re.compile(r"[\ufeff \t]*(?:(?P<octets>\d{1,9}) (?=<\d{1,3}>))?")
_PRI_ONLY = re.compile(r"^<(?P<pri>\d{1,3})>(?P<msg>.*)$", re.DOTALL)


class SyslogHeader(NamedTuple):
    """One parsed syslog header. ``program`` is None for a line without a tag (``-- MARK --``)."""

    timestamp: datetime
    host: str | None
    program: str | None
    sub: str | None  # the parenthesised part of an old tag: "pam_unix" in "sshd(pam_unix)[1]:"
    pid: int | None
    message: str
    meta: dict[str, Any]  # syslog_format, pri, procid, msgid, structured_data, program_version, tag_user


def _tag(text: str) -> tuple[str, str | None, str | None, str, dict[str, Any]] | None:
    """(program, sub, pid text, message, meta) when ``text`` starts with a tag, else None."""
    m = _TAG_LOGIN.match(text)
    if m:
        return "login", None, m.group("pid"), text[m.end():], {"tag_user": m.group("user")}
    m = _TAG.match(text)
    if m:
        return m.group("prog"), m.group("sub"), m.group("pid"), text[m.end():], {}
    m = _TAG_VERSION.match(text)
    if m:
        return m.group("prog"), None, None, text[m.end():], {"program_version": m.group("version")}
    return None


def _pid(text: str | None, meta: dict[str, Any]) -> int | None:
    if not text or text == "-":
        return None
    if _PID.fullmatch(text):
        return int(text)
    meta["procid"] = clip(text, MAX_NAME)  # "[-]", "[worker-3]": kept, but not a pid
    return None


def _host_and_tag(rest: str) -> tuple[str | None, str | None, str | None, int | None, str, dict[str, Any]]:
    """Split what follows the timestamp into (host, program, sub, pid, message, meta).

    The host is optional: when the first word already is a tag (``sshd[1]:``) there is none. The tag
    is optional too: without one the whole remainder is the message.
    """
    text = rest.lstrip(" ")
    first = text.split(" ", 1)[0]
    # cheap pre-check: only a first word ending in ":" (or "--", or "prog 1.2:") can be a tag
    maybe_tag = first.endswith(":") or first == "--" or _TAG_VERSION.match(text) is not None
    tagged = _tag(text) if maybe_tag else None
    host: str | None = None
    if tagged is None:
        host, _, text = text.partition(" ")
        text = text.lstrip(" ")
        tagged = _tag(text)
    if tagged is None:
        return host or None, None, None, None, text, {}
    prog, sub, pid_text, message, meta = tagged
    return host or None, prog, sub, _pid(pid_text, meta), message, meta


def parse_syslog_header(line: str, year: int | None, tz: tzinfo, *, pri_only: bool = False) -> SyslogHeader:
    """The header of any syslog line (RFC3164 with or without <PRI>, ISO/journald, RFC5424), or
    NormalizationError when the line has no recognisable timestamp header (then it is not syslog).

    ``pri_only``: a line that opens with a valid ``<PRI>`` but has no valid timestamp header is kept instead
    (``_pri_only_header``); the syslog format asks for it, sshd and linux-auth do not."""
    leading = _LEADING.match(line)
    assert leading is not None  # every part of the pattern is optional
    text = line[leading.end():leading.end() + _PARSE_LIMIT]
    try:
        header = _parse_header(text, year, tz)
    except NormalizationError as exc:
        found = _pri_only_header(text, exc.reason) if pri_only else None
        if found is None:
            raise
        header = found
    if leading.group("octets"):
        header.meta["octet_count"] = int(leading.group("octets"))
    return header


def _pri_only_header(text: str, header_error: str) -> SyslogHeader | None:
    """A line that opens with a valid ``<PRI>`` (0..191) but has no valid timestamp header: RFC 3164 §4.3.2 has a
    relay keep it, stamped with the time it was received, the rest unaltered as the message (a sender without a
    clock; Cisco IOS's ``<189>123: *Mar  1 00:00:00.000: %SYS-5-CONFIG_I: …``). ``header_error`` (why the header
    parser refused it) is kept unless it only says there was no header. None for a line without a valid PRI."""
    m = _PRI_ONLY.match(text)
    if m is None or int(m.group("pri")) > 191:
        return None
    meta: dict[str, Any] = {"syslog_format": "pri_only", "pri": int(m.group("pri")), "time_received": True}
    if not header_error.startswith(_NOT_SYSLOG):
        meta["header_error"] = clip(header_error, MAX_NAME)
    return SyslogHeader(datetime.now(UTC), None, None, None, None, m.group("msg").lstrip(" "), meta)


def _parse_header(text: str, year: int | None, tz: tzinfo) -> SyslogHeader:
    m = _RFC5424.match(text) or _RFC5424_LOOSE.match(text)
    if m:
        groups = m.groupdict()
        meta: dict[str, Any] = {"syslog_format": "rfc5424", "pri": int(groups["pri"]),
                                "syslog_version": int(groups["ver"])}
        if groups["ts"] == "-":  # RFC 5424 6.2.3.1: the sender had no clock; receivers stamp the time they read it
            ts = datetime.now(UTC)
            meta["time_received"] = True
        else:
            ts = _iso(groups["ts"], tz)
        if groups.get("msgid") not in (None, "-"):
            meta["msgid"] = clip(groups["msgid"], MAX_NAME)
        if groups.get("sd") not in (None, "-"):
            meta["structured_data"] = groups["sd"]
        prog = groups["prog"] if groups["prog"] != "-" else None
        host = groups["host"] if groups["host"] != "-" else None
        return SyslogHeader(ts, host, prog, None, _pid(groups["procid"], meta),
                            (groups.get("msg") or "").removeprefix("\ufeff"), meta)
    m = _ISO_LINE.match(text) or _RFC3164.match(text)
    if not m:
        raise NormalizationError(f"{_NOT_SYSLOG} (expected 'Mon DD HH:MM:SS host prog[pid]: ...', "
                                 "an ISO timestamp, or RFC5424)")
    groups = m.groupdict()
    if groups.get("ts"):
        ts, fmt = _iso(groups["ts"], tz), "iso"
    else:
        month = _MONTHS.get(groups["mon"].lower())
        if month is None:
            raise NormalizationError(f"unknown month {groups['mon']!r}")
        ts, fmt = _rfc3164_time(month, groups, int(groups["year"]) if groups.get("year") else year, tz), "rfc3164"
    host, prog, sub, pid, message, meta = _host_and_tag(groups.get("rest") or "")
    meta["syslog_format"] = fmt
    if groups.get("pri") is not None:
        meta["pri"] = int(groups["pri"])
    return SyslogHeader(ts, host, prog, sub, pid, message, meta)


def remote_endpoint(address: str | None) -> dict[str, str]:
    """``{"ip": …}`` for an IP, ``{"host": …}`` (clipped) for a host name, ``{}`` for nothing."""
    if not address or address in ("(null)", "UNKNOWN", "?", "-"):
        return {}
    ip = valid_ip(address)
    if ip is not None and ip.startswith("::ffff:"):
        mapped = ipaddress.ip_address(ip).ipv4_mapped  # type: ignore[union-attr]
        ip = str(mapped) if mapped else ip  # vsftpd/xinetd "::ffff:1.2.3.4" is the IPv4 client
    if ip is not None and len(ip) <= MAX_IP:
        return {"ip": ip}
    return {"host": address[:MAX_NAME]}


def bound_endpoint(part: dict[str, Any] | None) -> dict[str, Any]:
    """An Endpoint dict whose names fit the events table (host/user/domain <= 256); addresses come
    from ``remote_endpoint``, which already keeps only those that fit."""
    if not part:
        return {}
    out = {k: v for k, v in part.items() if v is not None}
    for key in ("host", "user", "domain"):
        value = out.get(key)
        if isinstance(value, str) and len(value) > MAX_NAME:
            out[key] = value[:MAX_NAME]
    return out


_IP = r"(?P<ip>[0-9A-Fa-f:.]+|UNKNOWN)"
_PORT = r"port (?P<port>\d{1,9})"
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
    (r"^Received disconnect from " + _IP + r"(?: " + _PORT + r")?: ?(?P<code>\d{1,9}): (?P<reason>.*?)" + _PREAUTH
     + r"$",
     _disconnect("received_disconnect")),
    # new PAM form "pam_unix(sshd:auth): …" and the old one, "sshd(pam_unix)[pid]: authentication failure; …"
    (r"^(?:pam_\w+\(sshd:auth\): )?authentication failure; (?P<kv>.*)$", _pam_failure),
    (r"^(?:PAM |pam_\w+\(sshd:auth\): )?(?P<n>\d{1,9}) more authentication failures?; (?P<kv>.*)$", _pam_failure),
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
    (r"^Connection from " + _IP + r" " + _PORT + r" on (?P<lip>\S+) port (?P<lport>\d{1,9}).*$",
     lambda m: _net("ssh_connection", "unknown", m, local_ip=m.group("lip"), local_port=int(m.group("lport")))),
    (r"^(?:pam_\w+\(sshd:session\): )?session (?P<what>opened|closed) for user (?P<user>[^\s(]+)"
     r"(?:\(uid=(?P<uid>\d{1,9})\))?(?: by (?P<by>.*))?$", _session),
    (r"^Server listening on (?P<lip>\S+) port (?P<lport>\d{1,9})\.?$",
     lambda m: {**_auth("sshd_started", "success", m, listen=f"{m.group('lip')}:{m.group('lport')}"),
                "event_type": "system"}),
    (r"^Received signal (?P<sig>\d{1,9}); terminating\.?$",
     lambda m: {**_auth("sshd_stopped", "success", m, signal=int(m.group("sig"))), "event_type": "system"}),
))
_LEVEL = re.compile(r"^(?P<level>error|fatal|warning): ")
_REPEATED = re.compile(r"^message repeated (?P<n>\d{1,9}) times: \[ ?(?P<inner>.*?) ?\]$")


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


def _leap_year_at_or_before(year: int) -> int:
    while not calendar.isleap(year):
        year -= 1
    return year


def _rfc3164_time(month: int, g: dict[str, str], year: int | None, tz: tzinfo) -> datetime:
    guess_year = year is None
    y = datetime.now(tz).year if year is None else year
    day = int(g["day"])
    if guess_year and (month, day) == (2, 29):
        y = _leap_year_at_or_before(y)  # "Feb 29" read in a common year: it was written in a leap year
    frac = int((g.get("frac") or "0")[:6].ljust(6, "0"))
    try:
        ts = datetime(y, month, day, int(g["h"]), int(g["mi"]), int(g["s"]), frac, tzinfo=tz)
        if guess_year and ts > datetime.now(tz) + timedelta(days=2):
            ts = ts.replace(year=_leap_year_at_or_before(y - 1) if (month, day) == (2, 29) else y - 1)
    except ValueError as exc:
        raise NormalizationError(f"bad timestamp: {exc}") from None
    return ts


def _classify(message: str, nested: bool = False) -> Fields:
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
    rm = None if nested else _REPEATED.match(text)
    if rm:
        fields = _classify(rm.group("inner"), nested=True)
        fields["unmapped"]["repeat_count"] = int(rm.group("n"))
        return fields
    # A well-formed sshd line whose message we do not model: keep it (lossless), typed as "other".
    return {"event_type": "other", "action": "sshd_message", "outcome": "unknown", "_m": None,
            "unmapped": {"level": level} if level else {}}


def is_sshd(program: str | None) -> bool:
    return program is not None and program.rsplit("/", 1)[-1] in SSHD_PROGRAMS


def bound_unmapped(value: Any, depth: int = 0) -> Any:
    """``unmapped`` with every string clipped to MAX_MESSAGE (and nesting cut at 8 levels), so a
    hostile line cannot blow up the stored payload through a field copied out of it."""
    if isinstance(value, str):
        return value[:MAX_MESSAGE]
    if isinstance(value, dict):
        if depth >= 8:
            return clip(str(value), MAX_MESSAGE)
        return {str(k)[:MAX_NAME]: bound_unmapped(v, depth + 1) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [bound_unmapped(v, depth + 1) for v in value]
    return value


def sshd_event(text: str, header: SyslogHeader, extra: dict[str, Any] | None = None) -> SecurityEvent:
    """The event of an sshd line whose header is already parsed (shared by sshd, linux-auth, syslog)."""
    assert header.program is not None
    message = header.message
    fields = _classify(message)
    m: re.Match[str] | None = fields.pop("_m")
    groups = m.groupdict() if m else {}
    raw_ip = fields.pop("_ip", None) or groups.get("ip")
    user = fields.pop("_user", None) or groups.get("user")
    unmapped: dict[str, Any] = {**(extra or {}), **fields.pop("unmapped")}
    if header.sub:
        unmapped["pam_module" if header.sub.startswith("pam_") else "program_sub"] = header.sub
    source: dict[str, Any] = remote_endpoint(raw_ip)
    if raw_ip and "ip" not in source:
        unmapped["source_address"] = raw_ip  # e.g. "UNKNOWN", or a host name in PAM's rhost
    port = groups.get("port")
    source["port"] = int(port) if port else None
    if len(text) > MAX_RAW:
        unmapped["raw_truncated"] = True
    try:
        return SecurityEvent(
            event_id=line_event_id(text),
            timestamp=header.timestamp,
            message=clip(message, MAX_MESSAGE),
            source=bound_endpoint(source),
            destination=bound_endpoint({"host": header.host, "user": user or None}),
            process={"name": header.program.rsplit("/", 1)[-1][:MAX_NAME], "pid": header.pid},
            product="openssh",
            vendor="openbsd",
            dataset="sshd",
            unmapped=bound_unmapped(unmapped),
            raw=clip(text, MAX_RAW),
            **fields,
        )
    except ValidationError as exc:
        raise NormalizationError(validation_reason(exc)) from None


def normalize_sshd(line: str, *, year: int | None = None, tz: tzinfo = UTC) -> SecurityEvent:
    """One sshd log line → event. RFC3164 lines have no year: ``year`` (default: this year, or last
    year for a date more than two days ahead) and ``tz`` (default UTC) fill the gap."""
    text = line.rstrip("\r\n")
    if not text.strip():
        raise NormalizationError("empty line")
    header = parse_syslog_header(text, year, tz)
    if header.program is None:
        raise NormalizationError("not an sshd line (no program tag)")
    if not is_sshd(header.program):
        raise NormalizationError(f"not an sshd line (program {clip(header.program, 64)!r})")
    return sshd_event(text, header)
