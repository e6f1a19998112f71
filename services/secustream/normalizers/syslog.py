"""Any syslog line (``/var/log/messages``, ``syslog``, a syslog relay) → ``SecurityEvent``, losslessly.

Why (issue 11): a real ``/var/log/messages`` mixes kernel, init scripts, cron, PAM in its older tag
form (``sshd(pam_unix)[19939]:``), ftp daemons and lines with no tag at all (``-- MARK --``). The
``sshd`` / ``linux-auth`` formats reject what they do not know; this one accepts every line that has a
syslog timestamp header and only sends lines with none to the DLQ.

* sshd lines → the sshd normaliser's events (``dataset=sshd``);
* auth / remote-access lines (PAM in both forms, su, sudo, login, ftp daemons, xinetd, account
  management, logind) → ``linux_auth.auth_fields``, the same mapping as ``--format linux-auth``
  (``dataset=linux.auth``);
* a few system lines (syslogd restart, ``-- MARK --``, init-script start/stop, kernel boot) →
  ``system`` events; everything else → ``other`` / ``syslog_message`` with host, program, pid, message.

``unmapped.syslog`` carries the header: ``format`` (rfc3164 / iso / rfc5424), ``pri``, ``facility``
and ``severity`` decoded from ``<PRI>``, RFC5424 ``version``, ``msgid`` and ``structured_data``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, tzinfo
from typing import Any

from secustream.events import MAX_NAME, SecurityEvent
from secustream.normalizers.base import NormalizationError, clip
from secustream.normalizers.linux_auth import (
    Fields,
    auth_fields,
    header_unmapped,
    other_fields,
    program_name,
    syslog_event,
)
from secustream.normalizers.sshd import SyslogHeader, is_sshd, parse_syslog_header, sshd_event

FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
              "ntp", "security", "console", "solaris-cron", *(f"local{i}" for i in range(8)))
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

_SD_ELEMENT = re.compile(r"\[(?P<id>[^\s\]=\"]+)(?P<params>(?: [^\s=\]\"]+=\"(?:[^\"\\]|\\.)*\")*) ?\]")
_SD_PARAM = re.compile(r"([^\s=\]\"]+)=\"((?:[^\"\\]|\\.)*)\"")
_SD_ESCAPE = re.compile(r"\\([\"\\\]])")
_REPEATED = re.compile(r"^message repeated (?P<n>\d{1,9}) times: \[ ?(?P<inner>.*?) ?\]$", re.DOTALL)


def decode_pri(pri: int) -> dict[str, Any]:
    """``<PRI>`` → facility and severity names (RFC 5424 §6.2.1); an impossible PRI is kept as is."""
    if pri > 191:
        return {"pri": pri, "pri_invalid": True}
    return {"pri": pri, "facility": FACILITIES[pri >> 3], "severity": SEVERITIES[pri & 7]}


def parse_structured_data(sd: str) -> dict[str, Any] | str:
    """RFC5424 STRUCTURED-DATA → ``{sd_id: {param: value}}``; kept as the raw text when malformed."""
    out: dict[str, Any] = {}
    pos = 0
    for m in _SD_ELEMENT.finditer(sd):
        if m.start() != pos:
            return sd
        pos = m.end()
        params = out.setdefault(m.group("id"), {})
        for key, value in _SD_PARAM.findall(m.group("params")):
            params[key] = _SD_ESCAPE.sub(r"\1", value)
    return out if pos == len(sd) else sd


def syslog_meta(header: SyslogHeader) -> dict[str, Any]:
    """``unmapped.syslog``: what the header said besides time, host, program and pid."""
    meta = header.meta
    out: dict[str, Any] = {"format": meta.get("syslog_format")}
    if meta.get("pri") is not None:
        out.update(decode_pri(meta["pri"]))
    if meta.get("syslog_version") is not None:
        out["version"] = meta["syslog_version"]
    if meta.get("msgid"):
        out["msgid"] = meta["msgid"]
    if meta.get("structured_data"):
        out["structured_data"] = parse_structured_data(meta["structured_data"])
    if meta.get("header_error"):
        out["header_error"] = meta["header_error"]
    if meta.get("octet_count") is not None:
        out["octet_count"] = meta["octet_count"]  # RFC 6587 framing left before the line
    if meta.get("time_received"):
        out["time_received"] = True  # no timestamp in the header: ``timestamp`` is when the line was read
    return out


def _system(action: str, outcome: str = "success", **unmapped: Any) -> Fields:
    return {"event_type": "system", "action": action, "outcome": outcome, "unmapped": unmapped}


Build = Callable[[re.Match[str]], Fields]

# (program names it applies to, None = any; pattern over the stripped message; fields from the match)
_SYSTEM_MESSAGES: tuple[tuple[frozenset[str] | None, re.Pattern[str], Build], ...] = tuple(
    (programs, re.compile(pattern), build) for programs, pattern, build in (
        (frozenset({"syslogd", "rsyslogd", "syslog-ng", "syslog"}), r"^restart\.?$|^\[origin .*\] start$",
         lambda m: _system("syslog_restart")),
        (None, r"^(?P<svc>[\w.\-]+) (?P<what>startup|shutdown) (?P<res>succeeded|failed)$",
         lambda m: _system("service_started" if m.group("what") == "startup" else "service_stopped",
                           "success" if m.group("res") == "succeeded" else "failure", service=m.group("svc"))),
        (frozenset({"rc", "init"}), r"^(?P<what>Starting|Stopping) (?P<svc>[^:]{1,200}): +(?P<res>succeeded|failed)$",
         lambda m: _system("service_started" if m.group("what") == "Starting" else "service_stopped",
                           "success" if m.group("res") == "succeeded" else "failure", service=m.group("svc"))),
        (frozenset({"init"}), r"^Switching to runlevel: (?P<level>\S+)$",
         lambda m: _system("runlevel_change", runlevel=m.group("level"))),
        (frozenset({"kernel"}), r"^Linux version (?P<version>\S+)",
         lambda m: _system("kernel_boot", kernel_version=m.group("version"))),
    ))
_TAGLESS_MESSAGES: tuple[tuple[re.Pattern[str], Build], ...] = (
    (re.compile(r"^-- MARK --$"), lambda m: _system("syslog_mark")),
    (re.compile(r"^exiting on signal (?P<sig>\d{1,9})$"),
     lambda m: _system("syslog_stopped", signal=int(m.group("sig")))),
    (re.compile(r"^last message repeated (?P<n>\d{1,9}) times?$"),
     lambda m: {"event_type": "other", "action": "syslog_repeat", "outcome": "unknown",
                "unmapped": {"repeat_count": int(m.group("n"))}}),
)


def system_fields(header: SyslogHeader) -> Fields | None:
    """The few system messages worth a type of their own (syslogd restart, MARK, service start/stop)."""
    msg = header.message.strip()
    name = program_name(header.program)
    if name is None:
        for pattern, build in _TAGLESS_MESSAGES:
            m = pattern.match(msg)
            if m:
                return build(m)
        return None
    for programs, pattern, build in _SYSTEM_MESSAGES:
        if programs is not None and name not in programs:
            continue
        m = pattern.match(msg)
        if m:
            return build(m)
    return None


def _repeated_auth(header: SyslogHeader) -> Fields | None:
    """rsyslog's ``message repeated N times: [ … ]`` around an auth message: that message, counted once."""
    m = _REPEATED.match(header.message.strip())
    if not m:
        return None
    fields = auth_fields(header.program, header.sub, m.group("inner"), header.host)
    if fields is not None:
        fields["unmapped"] = {**fields.get("unmapped", {}), "repeat_count": int(m.group("n"))}
    return fields


def _classified(text: str, header: SyslogHeader, extra: dict[str, Any]) -> SecurityEvent:
    if is_sshd(header.program):
        return sshd_event(text, header, {**extra, **header_unmapped(header)})
    fields = auth_fields(header.program, header.sub, header.message, header.host) or _repeated_auth(header)
    if fields is not None:
        return syslog_event(text, header, fields, dataset="linux.auth", vendor="linux", extra=extra)
    fields = system_fields(header) or other_fields(header.host)
    fields.setdefault("destination", {"host": header.host})
    return syslog_event(text, header, fields, dataset="syslog", vendor=None, extra=extra)


def normalize_syslog(line: str, *, year: int | None = None, tz: tzinfo = UTC) -> SecurityEvent:
    """One syslog line → event; only a line without a syslog header (a timestamp, or at least a valid ``<PRI>``)
    raises.

    RFC3164 lines have no year: ``year`` (default: this year, or last year for a date more than two
    days ahead) and ``tz`` (default UTC) fill the gap, as for ``normalize_sshd``.
    """
    text = line.rstrip("\r\n")
    if not text.strip():
        raise NormalizationError("empty line")
    header = parse_syslog_header(text, year, tz, pri_only=True)
    extra = {"syslog": syslog_meta(header)}
    try:
        return _classified(text, header, extra)
    except NormalizationError as exc:
        # A recognised message with an impossible value (port 99999 …): keep the line as a plain
        # syslog event and say why it was not mapped, rather than dead-lettering a valid syslog line.
        extra["parse_error"] = clip(exc.reason, MAX_NAME)
        return syslog_event(text, header, other_fields(header.host), dataset="syslog", vendor=None, extra=extra)
