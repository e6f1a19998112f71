"""Linux ``/var/log/auth.log`` (Debian/Ubuntu) and ``/var/log/secure`` (RHEL) lines → ``SecurityEvent``.

Why a separate normaliser from ``sshd``: those files interleave sshd with sudo, su, PAM, login, ftp
daemons, xinetd, account management and logind. sshd lines are handed to the sshd normaliser (same
events as ``--format sshd``); the rest are parsed here. A syslog line whose message we do not model
is kept as ``other`` (lossless), never rejected. Field conventions as in docs/events.md: sudo/su
``source.user`` = invoking user, ``destination.user`` = target account; PAM ``rhost`` and the ftp/login
remote = ``source`` (``ip`` when it is an address, else ``host``). The parts of sudo's message
(``TTY``, ``PWD``, ``USER``, ``COMMAND``) and PAM's key=values stay in ``unmapped`` under their own
names, which is what Sigma's ``service: sudo`` / ``service: auth`` rules use.

``auth_fields`` is the dispatch the ``syslog`` normaliser reuses, so both formats map a line alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, tzinfo
from typing import Any

from pydantic import ValidationError

from secustream.events import MAX_NAME, MAX_PRODUCT, SecurityEvent
from secustream.normalizers.base import (
    MAX_MESSAGE,
    MAX_RAW,
    NormalizationError,
    clip,
    line_event_id,
    validation_reason,
)
from secustream.normalizers.sshd import (
    SyslogHeader,
    bound_endpoint,
    bound_unmapped,
    is_sshd,
    parse_syslog_header,
    remote_endpoint,
    sshd_event,
)

Fields = dict[str, Any]
Handler = Callable[[str, str | None], Fields | None]

_PAM_KV = re.compile(r"(\w+)=(\S*)")
_TTY = re.compile(r"^(?:tty\S*|pts/\S*|console|vc/\S*|:\d\S*|/dev/\S*)$")


def _pam_kv(text: str) -> dict[str, str]:
    return {k: v for k, v in _PAM_KV.findall(text)}


def _remote(rhost: str | None) -> Fields:
    return remote_endpoint(rhost)


def _login_origin(origin: str | None) -> tuple[Fields, Fields]:
    """(source endpoint, unmapped) for login's FROM: a tty is local, anything else is the remote."""
    if origin and _TTY.match(origin):
        return {}, {"tty": origin}
    return _remote(origin), {}


def _sudo(msg: str, host: str | None) -> Fields | None:
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
        out["process"] = {"name": "sudo", "command_line": clip(kv["COMMAND"], MAX_MESSAGE),
                          "user": clip(m.group("user"), MAX_NAME)}
    return out


def _su(msg: str, host: str | None) -> Fields | None:
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


def _pam_rest(module: str, svc: str, kind: str | None, rest: str, host: str | None) -> Fields:
    """A PAM module's message, whichever tag form carried it (``module(svc:kind): rest`` or the old
    ``svc(module)[pid]: rest``)."""
    base = {"pam_module": module, "pam_service": svc, "pam_type": kind}
    if "authentication failure" in rest:
        kv = _pam_kv(rest)
        more = re.match(r"^(?P<n>\d{1,9}) more authentication failures", rest)
        return {"event_type": "auth", "action": "pam_auth_failure", "outcome": "failure",
                "source": {**_remote(kv.get("rhost")), "user": kv.get("ruser") or kv.get("logname") or None},
                "destination": {"host": host, "user": kv.get("user") or None},
                "unmapped": {**base, **{k: v for k, v in kv.items() if v},
                             **({"failures": int(more.group("n"))} if more else {})}}
    sm = re.match(r"^session (?P<what>opened|closed) for user (?P<user>[^\s(]+)(?:\(uid=\d+\))?(?: by (?P<by>\S*))?",
                  rest)
    if sm:
        by = (sm.group("by") or "").split("(", 1)[0] or None
        return {"event_type": "auth", "action": f"session_{sm.group('what')}", "outcome": "success",
                "source": {"host": host, "user": by}, "destination": {"host": host, "user": sm.group("user")},
                "unmapped": base}
    pm = re.match(r"^password changed for (?P<user>\S+)", rest)
    if pm:
        return {"event_type": "auth", "action": "password_change", "outcome": "success",
                "destination": {"host": host, "user": pm.group("user")}, "unmapped": base}
    return {"event_type": "auth", "action": "pam_message", "outcome": "unknown",
            "destination": {"host": host}, "unmapped": base}


def _pam(msg: str, host: str | None) -> Fields | None:
    """The current PAM form: ``pam_unix(sshd:auth): authentication failure; … rhost=… user=…``."""
    m = re.match(r"^(?P<module>pam_\w+)\((?P<svc>[\w\-]+):(?P<kind>\w+)\): (?P<rest>.*)$", msg)
    if not m:
        return None
    return _pam_rest(m.group("module"), m.group("svc"), m.group("kind"), m.group("rest"), host)


def _login(msg: str, host: str | None) -> Fields | None:
    """util-linux / shadow ``login``: FAILED LOGIN, TOO MANY LOGIN TRIES, ROOT LOGIN ON, LOGIN ON."""
    m = (re.match(r"^FAILED LOGIN (?P<n>\d{1,9}) FROM (?P<from>\S+) FOR (?P<user>[^,]*), (?P<reason>.*)$", msg)
         or re.match(r"^FAILED LOGIN SESSION FROM (?P<from>\S+) FOR (?P<user>[^,]*), (?P<reason>.*)$", msg)
         or re.match(r"^TOO MANY LOGIN TRIES \((?P<n>\d{1,9})\) FROM (?P<from>\S+) FOR (?P<user>[^,]*), "
                     r"(?P<reason>.*)$", msg)
         or re.match(r"^FAILED LOGIN \((?P<n>\d{1,9})\) on '(?P<tty>[^']*)'(?: from '(?P<from>[^']*)')? "
                     r"FOR '(?P<user>[^']*)', (?P<reason>.*)$", msg))
    if m:
        g = m.groupdict()
        source, extra = _login_origin(g.get("from"))
        return {"event_type": "auth", "action": "login", "outcome": "failure", "source": source,
                "destination": {"host": host, "user": g["user"] or None},
                "unmapped": {**extra, "tty": g.get("tty") or extra.get("tty"), "reason": g["reason"],
                             "failures": int(g["n"]) if g.get("n") else None,
                             "too_many_tries": True if msg.startswith("TOO MANY") else None}}
    m = (re.match(r"^(?P<root>ROOT) LOGIN ON (?P<tty>\S+)(?: FROM (?P<from>\S+))?$", msg)
         or re.match(r"^LOGIN ON (?P<tty>\S+) BY (?P<user>\S+)(?: FROM (?P<from>\S+))?$", msg))
    if m:
        g = m.groupdict()
        source, _ = _login_origin(g.get("from"))
        return {"event_type": "auth", "action": "login", "outcome": "success", "source": source,
                "destination": {"host": host, "user": "root" if g.get("root") else g["user"]},
                "unmapped": {"tty": g["tty"]}}
    return None


_FTP_PATTERNS: tuple[tuple[re.Pattern[str], str, str, str], ...] = tuple(
    (re.compile(p), event_type, action, outcome) for p, event_type, action, outcome in (
        # wu-ftpd / in.ftpd (RHEL's "ftpd")
        (r"^connection from (?P<ip>\S+) \((?P<name>[^()]*)\)(?: at (?P<at>.*))?$", "network", "ftp_connection",
         "unknown"),
        (r"^ANONYMOUS FTP LOGIN FROM (?P<name>\S+) \[(?P<ip>[^\]]*)\], (?P<anon_id>.*)$", "auth", "ftp_login",
         "success"),
        (r"^FTP LOGIN FROM (?P<name>\S+) \[(?P<ip>[^\]]*)\], (?P<user>\S+)$", "auth", "ftp_login", "success"),
        (r"^FTP LOGIN REFUSED \((?P<reason>[^()]*)\) FROM (?P<name>\S+) \[(?P<ip>[^\]]*)\], (?P<user>\S+)$", "auth",
         "ftp_login", "failure"),
        (r"^failed login from (?P<name>\S+) \[(?P<ip>[^\]]*)\](?:, (?P<user>\S+))?$", "auth", "ftp_login",
         "failure"),
        (r"^repeated login failures from (?P<name>\S+) \[(?P<ip>[^\]]*)\]$", "auth", "ftp_max_auth_exceeded",
         "failure"),
        # vsftpd (optionally with its own date and "[pid N]" prefix)
        (r"^(?:\w{3} \w{3} {1,2}\d{1,2} \d{2}:\d{2}:\d{2} \d{4} )?(?:\[pid \d{1,10}\] )?(?:\[(?P<user>[^\]]*)\] )?"
         r"(?P<verdict>OK|FAIL) LOGIN: Client \"(?P<ip>[^\"]*)\"(?:, (?P<reason>.*))?$", "auth", "ftp_login", ""),
        (r"^(?:\w{3} \w{3} {1,2}\d{1,2} \d{2}:\d{2}:\d{2} \d{4} )?(?:\[pid \d{1,10}\] )?"
         r"CONNECT: Client \"(?P<ip>[^\"]*)\"$", "network", "ftp_connection", "unknown"),
        # proftpd: "server (remotehost[remoteip]) - …"
        (r"^(?P<server>\S+) \((?P<name>[^\[\]\s()]*)\[(?P<ip>[^\]\s]*)\]\) - USER (?P<user>\S+) \(Login failed\): "
         r"(?P<reason>.*)$", "auth", "ftp_login", "failure"),
        (r"^(?P<server>\S+) \((?P<name>[^\[\]\s()]*)\[(?P<ip>[^\]\s]*)\]\) - USER (?P<user>[^\s:]+): "
         r"(?P<reason>no such user found.*)$", "auth", "ftp_login", "failure"),
        (r"^(?P<server>\S+) \((?P<name>[^\[\]\s()]*)\[(?P<ip>[^\]\s]*)\]\) - (?:USER|ANON) (?P<user>[^\s:]+): "
         r"Login successful\.?$", "auth", "ftp_login", "success"),
        (r"^(?P<server>\S+) \((?P<name>[^\[\]\s()]*)\[(?P<ip>[^\]\s]*)\]\) - Maximum login attempts "
         r"\((?P<n>\d{1,9})\) exceeded.*$", "auth", "ftp_max_auth_exceeded", "failure"),
        (r"^(?P<server>\S+) \((?P<name>[^\[\]\s()]*)\[(?P<ip>[^\]\s]*)\]\) - FTP session opened\.?$", "network",
         "ftp_connection", "unknown"),
        # pure-ftpd: "(?@1.2.3.4) [WARNING] Authentication failed for user [bob]"
        (r"^\((?P<who>[^@()\s]*)@(?P<ip>[^()\s]*)\) \[\w+\] Authentication failed for user \[(?P<user>[^\]]*)\]$",
         "auth", "ftp_login", "failure"),
        (r"^\((?P<who>[^@()\s]*)@(?P<ip>[^()\s]*)\) \[\w+\] (?P<user>\S+) is now logged in$", "auth", "ftp_login",
         "success"),
    ))


def _ftp(msg: str, host: str | None) -> Fields | None:
    """wu-ftpd/in.ftpd, vsftpd, proftpd and pure-ftpd connection and login lines."""
    for pattern, event_type, action, outcome in _FTP_PATTERNS:
        m = pattern.match(msg)
        if not m:
            continue
        g = m.groupdict()
        source = _remote(g.get("ip"))
        name = g.get("name")
        if name and name != g.get("ip") and "host" not in source:
            source["host"] = name  # the client's resolved name next to its address
        user = g.get("user") or ("anonymous" if g.get("anon_id") is not None else None)
        if outcome == "":
            outcome = "success" if g.get("verdict") == "OK" else "failure"
        return {"event_type": event_type, "action": action, "outcome": outcome, "source": source,
                "destination": {"host": host, "user": user or None},
                "unmapped": {"reason": g.get("reason"), "anonymous_id": g.get("anon_id"), "ftp_server": g.get("server"),
                             "failures": int(g["n"]) if g.get("n") else None}}
    return None


def _xinetd(msg: str, host: str | None) -> Fields | None:
    """xinetd START/FAIL lines: the remote that asked for a service (``START: ftp pid=1 from=1.2.3.4``)."""
    m = (re.match(r"^(?P<what>START): (?P<svc>\S+)(?: pid=\d{1,10})? from=(?P<ip>\S+)$", msg)
         or re.match(r"^(?P<what>FAIL): (?P<svc>\S+) (?P<reason>.*) from=(?P<ip>\S+)$", msg))
    if not m:
        return None
    failed = m.group("what") == "FAIL"
    return {"event_type": "network", "action": "xinetd_connection", "outcome": "failure" if failed else "success",
            "source": _remote(m.group("ip")), "destination": {"host": host},
            "unmapped": {"service": m.group("svc"), "reason": m.groupdict().get("reason")}}


def _account_mgmt(msg: str, host: str | None) -> Fields | None:
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


def _logind(msg: str, host: str | None) -> Fields | None:
    m = re.match(r"^New session (?P<id>\S+) of user (?P<user>[^.\s]+)\.?$", msg)
    if m:
        return {"event_type": "auth", "action": "session_opened", "outcome": "success",
                "destination": {"host": host, "user": m.group("user")}, "unmapped": {"session_id": m.group("id")}}
    m = re.match(r"^Removed session (?P<id>\S+?)\.?$", msg)
    if m:
        return {"event_type": "auth", "action": "session_closed", "outcome": "success",
                "destination": {"host": host}, "unmapped": {"session_id": m.group("id")}}
    return None


_PROGRAMS: dict[str, Handler] = {
    "sudo": _sudo, "su": _su, "systemd-logind": _logind, "login": _login, "xinetd": _xinetd,
    **{name: _ftp for name in ("ftpd", "in.ftpd", "wu-ftpd", "vsftpd", "proftpd", "pure-ftpd")},
}
_ACCOUNT_PROGRAMS = frozenset({"useradd", "userdel", "usermod", "groupadd", "groupdel", "gpasswd", "passwd",
                               "chpasswd", "groupmod"})


def program_name(program: str | None) -> str | None:
    """The program without a path (``/usr/sbin/cron`` → ``cron``)."""
    return program.rsplit("/", 1)[-1] or program if program else None


def auth_fields(program: str | None, sub: str | None, message: str, host: str | None) -> Fields | None:
    """The auth/remote-access fields of one non-sshd syslog message, or None when we do not model it.

    Tries, in order: the PAM message form (``pam_unix(svc:type): …``), the old PAM tag form
    (``svc(pam_unix)[pid]: …``, the module in the parenthesis), then the program's own handler.
    """
    msg = message.strip()
    name = program_name(program)
    fields = _pam(msg, host)
    if fields is None and name and sub and sub.startswith("pam_"):
        fields = _pam_rest(sub, name, None, msg, host)
    if fields is None and name in _PROGRAMS:
        fields = _PROGRAMS[name](msg, host)  # type: ignore[index]
    if fields is None and name in _ACCOUNT_PROGRAMS:
        fields = _account_mgmt(msg, host)
    return fields


def header_unmapped(header: SyslogHeader) -> dict[str, Any]:
    """What the tag carried besides the program and pid (old PAM module, login's user, version)."""
    out: dict[str, Any] = {}
    if header.sub:
        out["pam_module" if header.sub.startswith("pam_") else "program_sub"] = header.sub
    for key in ("tag_user", "program_version", "procid"):
        if header.meta.get(key) is not None:
            out[key] = header.meta[key]
    return out


def syslog_event(text: str, header: SyslogHeader, fields: Fields, *, dataset: str, vendor: str | None,
                 extra: dict[str, Any] | None = None) -> SecurityEvent:
    """Build the event of a parsed syslog line from handler ``fields``; every string bounded."""
    fields = dict(fields)
    name = program_name(header.program)
    unmapped: dict[str, Any] = {**(extra or {}), **header_unmapped(header),
                                **{k: v for k, v in fields.pop("unmapped", {}).items() if v is not None}}
    if name:
        unmapped["program"] = name
    if len(text) > MAX_RAW:
        unmapped["raw_truncated"] = True
    process = dict(fields.pop("process", None) or {})
    if name:
        process.setdefault("name", name[:MAX_NAME])
    if header.pid is not None:
        process.setdefault("pid", header.pid)
    try:
        return SecurityEvent(event_id=line_event_id(text), timestamp=header.timestamp,
                             message=clip(header.message, MAX_MESSAGE), process=process or None,
                             source=bound_endpoint(fields.pop("source", None)),
                             destination=bound_endpoint(fields.pop("destination", None)),
                             product=clip(name, MAX_PRODUCT), vendor=vendor, dataset=dataset,
                             unmapped=bound_unmapped(unmapped), raw=clip(text, MAX_RAW), **fields)
    except ValidationError as exc:
        raise NormalizationError(validation_reason(exc)) from None


def other_fields(host: str | None) -> Fields:
    """A syslog line whose message we do not model: kept as ``other`` (lossless)."""
    return {"event_type": "other", "action": "syslog_message", "outcome": "unknown", "destination": {"host": host}}


def normalize_linux_auth(line: str, *, year: int | None = None, tz: tzinfo = UTC) -> SecurityEvent:
    """One auth.log / secure line → event (RFC3164 lines need ``year``, see ``normalize_sshd``)."""
    text = line.rstrip("\r\n")
    if not text.strip():
        raise NormalizationError("empty line")
    header = parse_syslog_header(text, year, tz)
    if is_sshd(header.program):
        return sshd_event(text, header)
    fields = auth_fields(header.program, header.sub, header.message, header.host) or other_fields(header.host)
    return syslog_event(text, header, fields, dataset="linux.auth", vendor="linux")
