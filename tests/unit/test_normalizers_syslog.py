"""The syslog normaliser: every syslog line accepted (issue 11), auth lines mapped, brute force caught.

The sample ``tests/data/linux/messages`` is an old RHEL-style ``/var/log/messages`` (kernel, init
scripts, syslogd restarts, ``-- MARK --``, cron, PAM in the old ``sshd(pam_unix)[pid]:`` form, login,
ftpd, xinetd, su, gdm, named, snmpd …) followed by a relayed newer host in the current PAM form.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from secustream.analyzer.native import RulesEngine, RuleSet
from secustream.events import SecurityEvent, decode_event, encode_event, get_field
from secustream.normalizers import (
    NORMALIZERS,
    NormalizationError,
    iter_normalized,
    normalize_linux_auth,
    normalize_sshd,
    normalize_syslog,
)
from secustream.normalizers.base import MAX_MESSAGE, MAX_RAW
from secustream.normalizers.syslog import decode_pri, parse_structured_data
from secustream.state import MemoryState

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = (ROOT / "tests" / "data" / "linux" / "messages").read_text().splitlines()
RULES = ROOT / "services" / "secustream" / "rules" / "default.yaml"


def syslog(line: str, **kw: Any) -> SecurityEvent:
    kw.setdefault("year", 2005)
    return normalize_syslog(line, **kw)


def fields_of(event: SecurityEvent) -> dict[str, Any]:
    return event.model_dump(mode="json")


def assert_fields(event: SecurityEvent, expected: dict[str, Any]) -> None:
    doc = fields_of(event)
    for path, want in expected.items():
        assert get_field(doc, path) == want, f"{path} in {doc}"


# ------------------------------------------------------------------------------------------ the sample


def test_sample_is_fully_accepted_by_syslog_and_linux_auth() -> None:
    assert len(MESSAGES) >= 200
    for fmt in ("syslog", "linux-auth"):
        rows = list(iter_normalized(MESSAGES, fmt, year=2005))
        assert [(r.line_no, r.error.reason) for r in rows if r.error] == [], fmt
        assert len(rows) == len(MESSAGES)
    events = [r.event for r in iter_normalized(MESSAGES, "syslog", year=2005) if r.event is not None]
    assert len({e.event_id for e in events}) == len(events)
    for event, line in zip(events, MESSAGES, strict=True):
        assert event.raw == line and event.timestamp.year == 2005
        assert decode_event(encode_event(event)) == event
    actions = {e.action for e in events}
    assert actions >= {"ssh_pam_auth_failure", "pam_auth_failure", "ssh_login", "login", "ftp_login", "ftp_connection",
                       "xinetd_connection", "session_opened", "su", "sudo", "syslog_restart", "syslog_mark",
                       "service_started", "service_stopped", "kernel_boot", "syslog_message", "syslog_repeat"}
    programs = {e.process.name for e in events if e.process}
    assert programs >= {"kernel", "crond", "sshd", "login", "ftpd", "xinetd", "su", "gdm", "cups", "named", "snmpd",
                        "logrotate", "hald", "NetworkManager", "syslogd", "vsftpd"}


def test_sample_pam_failures_carry_user_and_remote() -> None:
    events = [r.event for r in iter_normalized(MESSAGES, "syslog", year=2005) if r.event is not None]
    pam = [e for e in events if e.action in ("pam_auth_failure", "ssh_pam_auth_failure")]
    assert len(pam) >= 80
    remote = defaultdict(int)
    for e in pam:
        assert e.outcome == "failure" and e.event_type == "auth"
        remote[e.source.ip or e.source.host] += 1
    assert remote["218.188.2.4"] == 12 and remote["ppp-61-218-55-10.dynamic.example.net"] == 11
    assert remote["dialup-41.isp.example.org"] == 10 and remote["scanner.bad.example.com"] == 11
    assert remote[None] == 4  # su, gdm and two console logins: local, nothing to group on


def test_sample_brute_force_sources_flagged_by_the_default_rules() -> None:
    """Every PAM brute-force source at or above 10 failures / 60 s is flagged, host-name-only ones too;
    the slower or smaller ones are not."""
    events = sorted((r.event for r in iter_normalized(MESSAGES, "syslog", year=2005) if r.event is not None),
                    key=lambda e: e.timestamp)
    engine = RulesEngine(RuleSet.load(RULES), MemoryState())
    flagged: dict[str, set[str | None]] = defaultdict(set)
    details: set[str] = set()
    for i in range(0, len(events), 64):
        batch = events[i:i + 64]
        for event, hits in zip(batch, engine.evaluate(batch), strict=True):
            for h in hits:
                flagged[h.rule_id].add(event.source.ip or event.source.host)
                details.add(h.detail)
    assert dict(flagged) == {
        # 12 in 22 s (old form, IP); 11 in 6 s and 10 in 45 s (old form, host name only); 10 in 45 s
        # (current form, IP); 11 in 20 s (current form, PAM gives the resolved name)
        "PAM-BRUTE-FORCE": {"218.188.2.4", "ppp-61-218-55-10.dynamic.example.net", "dialup-41.isp.example.org",
                            "203.0.113.77", "scanner.bad.example.com"},
        # sshd's own "Failed password" lines carry the address
        "SSH-BRUTE-FORCE": {"203.0.113.77", "198.51.100.200"},
    }
    # below the threshold: 9 in 40 s, 12 over 22 min, 5 by name, 3 in the current form, 2 telnet typos
    quiet = {"61.135.10.20", "82.252.162.81", "mail.partner.example.net", "192.0.2.55", "ws34.lan.example.com"}
    assert not quiet & set().union(*flagged.values())
    assert "11 events within 60s for source.host=scanner.bad.example.com" in details


# ------------------------------------------------------------------------------------------ header forms

TAG_CASES: list[tuple[str, dict[str, Any]]] = [
    ("Jun 14 15:16:01 combo sshd[19939]: Accepted password for bob from 10.0.0.5 port 4000 ssh2",
     {"process.name": "sshd", "process.pid": 19939, "destination.host": "combo", "action": "ssh_login"}),
    ("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: session opened for user bob by (uid=0)",
     {"process.name": "sshd", "process.pid": 19939, "unmapped.pam_module": "pam_unix", "action": "ssh_session_opened",
      "destination.user": "bob"}),
    ("Jun 14 15:16:01 combo cups: cupsd startup succeeded",
     {"process.name": "cups", "process.pid": None, "action": "service_started", "unmapped.service": "cupsd"}),
    ("Jun 14 15:16:01 combo crond(pam_unix)[2301]: session opened for user root by (uid=0)",
     {"process.name": "crond", "unmapped.pam_module": "pam_unix", "unmapped.pam_service": "crond",
      "action": "session_opened", "destination.user": "root"}),
    ("Jun 14 15:16:01 combo run-parts(/etc/cron.daily)[2344]: finished logrotate",
     {"process.name": "run-parts", "process.pid": 2344, "unmapped.program_sub": "/etc/cron.daily",
      "message": "finished logrotate", "action": "syslog_message"}),
    ("Sep 24 17:07:10 oddball gconfd (bill-1291): starting (version 1.0.9), pid 1291 user 'bill'",
     {"process.name": "gconfd", "unmapped.program_sub": "bill-1291", "message": "starting (version 1.0.9), pid 1291 "
      "user 'bill'"}),
    ("Jun 14 15:16:02 combo syslogd 1.4.1: restart.",
     {"process.name": "syslogd", "unmapped.program_version": "1.4.1", "event_type": "system",
      "action": "syslog_restart"}),
    ("Jun 19 04:20:04 combo -- MARK --",
     {"process": None, "destination.host": "combo", "message": "-- MARK --", "action": "syslog_mark"}),
    ("Sep 24 17:06:34 oddball last message repeated 2 times",
     {"process": None, "action": "syslog_repeat", "unmapped.repeat_count": 2}),
    ("Sep 24 17:50:11 oddball exiting on signal 15", {"process": None, "action": "syslog_stopped"}),
    ("Sep 24 17:50:07 oddball Font Server[1075]: terminating ",
     {"process": None, "destination.host": "oddball", "message": "Font Server[1075]: terminating ",
      "action": "syslog_message"}),
    ("Sep 24 17:56:51 oddball  -- root[1144]: ROOT LOGIN ON tty1",
     {"process.name": "login", "process.pid": 1144, "unmapped.tag_user": "root", "action": "login",
      "outcome": "success", "destination.user": "root", "unmapped.tty": "tty1"}),
    ("Mar  3 08:00:00 sshd[7]: Invalid user x from 1.2.3.4",  # no host at all
     {"destination.host": None, "process.name": "sshd", "process.pid": 7, "action": "ssh_invalid_user"}),
    ("Mar  3 08:00:00 host /usr/sbin/cron[12]: (root) CMD (run-parts /etc/cron.hourly)",
     {"process.name": "cron", "unmapped.program": "cron", "process.pid": 12}),
    ("Mar  3 08:00:00 host postfix/smtpd[77]: connect from unknown[192.0.2.1]",
     {"process.name": "smtpd", "process.pid": 77, "message": "connect from unknown[192.0.2.1]"}),
    ("Mar  3 08:00:00 host app[worker-3]: ready",
     {"process.name": "app", "process.pid": None, "unmapped.procid": "worker-3"}),
    ("Mar  3 08:00:00 host kernel:", {"process.name": "kernel", "message": ""}),
]


@pytest.mark.parametrize(("line", "expected"), TAG_CASES, ids=[f"tag{i}" for i in range(len(TAG_CASES))])
def test_tag_forms(line: str, expected: dict[str, Any]) -> None:
    event = syslog(line)
    assert_fields(event, expected)
    assert event.raw == line
    assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(("line", "when"), [
    ("Jun 14 15:16:01 h x: y", datetime(2005, 6, 14, 15, 16, 1, tzinfo=UTC)),
    ("Jun  4 15:16:01 h x: y", datetime(2005, 6, 4, 15, 16, 1, tzinfo=UTC)),  # 1-digit day, two spaces
    ("Jun 4 15:16:01 h x: y", datetime(2005, 6, 4, 15, 16, 1, tzinfo=UTC)),
    ("Jun 14 15:16:01.123456 h x: y", datetime(2005, 6, 14, 15, 16, 1, 123456, tzinfo=UTC)),
    ("Jun 14 2003 15:16:01 h x: y", datetime(2003, 6, 14, 15, 16, 1, tzinfo=UTC)),  # year in the header wins
    ("<13>Jun 14 15:16:01 h x: y", datetime(2005, 6, 14, 15, 16, 1, tzinfo=UTC)),
    ("2026-03-03T08:12:05.815453+0000 h x[1]: y", datetime(2026, 3, 3, 8, 12, 5, 815453, tzinfo=UTC)),
    ("2026-03-03T09:12:05.123456789+01:00 h x[1]: y", datetime(2026, 3, 3, 8, 12, 5, 123456, tzinfo=UTC)),
    ("2026-03-03 08:12:05 h x: y", datetime(2026, 3, 3, 8, 12, 5, tzinfo=UTC)),
    ("<38>1 2026-03-03T08:12:05.003Z h x 1 - - y", datetime(2026, 3, 3, 8, 12, 5, 3000, tzinfo=UTC)),
])
def test_timestamps(line: str, when: datetime) -> None:
    event = syslog(line)
    assert event.timestamp == when
    assert event.destination.host == "h"


def test_rfc3164_year_and_timezone_conventions() -> None:
    line = "Nov 25 08:01:02 h kernel: x"
    assert syslog(line, year=2024, tz=timezone(timedelta(hours=2))).timestamp == datetime(2024, 11, 25, 6, 1, 2,
                                                                                          tzinfo=UTC)
    ahead = datetime.now(UTC) + timedelta(days=40)
    assert normalize_syslog(f"{ahead:%b} {ahead.day:>2} 00:00:00 h kernel: x").timestamp.year == ahead.year - 1
    # "Feb 29" without a year: the most recent leap year, not a rejected line
    assert normalize_syslog("Feb 29 10:00:00 h kernel: x").timestamp.day == 29


def test_pri_is_decoded() -> None:
    event = syslog("<86>Jun 14 15:16:01 h su(pam_unix)[1]: session opened for user root by (uid=0)")
    assert event.unmapped["syslog"] == {"format": "rfc3164", "pri": 86, "facility": "authpriv", "severity": "info"}
    assert decode_pri(0) == {"pri": 0, "facility": "kern", "severity": "emerg"}
    assert decode_pri(191) == {"pri": 191, "facility": "local7", "severity": "debug"}
    assert syslog("<999>Jun 14 15:16:01 h x: y").unmapped["syslog"]["pri_invalid"] is True
    assert syslog("Jun 14 15:16:01 h x: y").unmapped["syslog"] == {"format": "rfc3164"}


def test_rfc5424_with_structured_data() -> None:
    line = ('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" '
            'eventSource="Application" eventID="1011"][examplePriority@32473 class="high" note="a \\"quoted\\" ]"] '
            '\ufeffAn application event log entry...')
    event = syslog(line)
    assert_fields(event, {"destination.host": "mymachine.example.com", "process.name": "evntslog",
                          "process.pid": None, "message": "An application event log entry...",
                          "unmapped.syslog.format": "rfc5424", "unmapped.syslog.facility": "local4",
                          "unmapped.syslog.severity": "notice", "unmapped.syslog.version": 1,
                          "unmapped.syslog.msgid": "ID47"})
    assert event.unmapped["syslog"]["structured_data"] == {
        "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"},
        "examplePriority@32473": {"class": "high", "note": 'a "quoted" ]'}}
    assert event.timestamp == datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC)


@pytest.mark.parametrize(("line", "expected"), [
    ("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed for lonvick on /dev/pts/8",
     {"process.name": "su", "message": "'su root' failed for lonvick on /dev/pts/8", "unmapped.syslog.severity": "crit",
      "unmapped.syslog.facility": "auth"}),
    ("<38>1 2026-03-03T08:12:05Z - - - - -", {"destination.host": None, "process": None, "message": ""}),
    ("<38>1 2026-03-03T08:12:05Z h sshd 1234 - - Failed password for root from 1.2.3.4 port 1 ssh2",
     {"action": "ssh_login", "source.ip": "1.2.3.4", "dataset": "sshd", "unmapped.syslog.format": "rfc5424"}),
    ('<38>1 2026-03-03T08:12:05Z h app 9 - [broken sd no close bracket hello',
     {"process.name": "app", "message": "[broken sd no close bracket hello", "action": "syslog_message"}),
])
def test_rfc5424_variants(line: str, expected: dict[str, Any]) -> None:
    assert_fields(syslog(line), expected)


def test_structured_data_parser_keeps_malformed_text() -> None:
    assert parse_structured_data('[a@1 x="1"][b@1]') == {"a@1": {"x": "1"}, "b@1": {}}
    assert parse_structured_data('[a@1 x="1"] junk') == '[a@1 x="1"] junk'


# ------------------------------------------------------------------------------------------ odd lines


def test_double_spaces_tabs_and_nul_are_kept() -> None:
    event = syslog("Jun 14 15:16:01  host  NetworkManager:  <information>\tstarting...\x00tail")
    assert_fields(event, {"destination.host": "host", "process.name": "NetworkManager"})
    assert event.message == " <information>\tstarting...\x00tail"
    assert "\x00" in (event.raw or "")
    assert decode_event(encode_event(event)) == event


def test_very_long_and_hostile_lines_stay_within_the_database_limits() -> None:
    big = "A" * (MAX_RAW * 2)
    lines = [
        f"Jun 14 15:16:01 host app[1]: {big}",
        f"Jun 14 15:16:01 {'h' * 5000} {'p' * 5000}[{'9' * 5000}]: x",
        "Jun 14 15:16:01 h sshd(pam_unix)[1]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser="
        f"{'r' * 900} rhost={'n' * 900}.example.com  user={'u' * 900}",
        "Jun 14 15:16:01 h vsftpd(pam_unix)[1]: authentication failure; logname= uid=0 euid=0 tty= ruser= "
        f"rhost=fe80::1%{'e' * 80}  user=x",
        f"Jun 14 15:16:01 h sudo: {'u' * 900} : TTY=pts/0 ; PWD=/ ; USER={'t' * 900} ; COMMAND=/bin/{'c' * MAX_RAW}",
        "Jun 14 15:16:01 h sshd[1]: message repeated 2 times: [ " * 3000,
        f"Jun 14 15:16:01 h login[1]: FAILED LOGIN 1 FROM {'f' * 2000} FOR {'u' * 2000}, x",
    ]
    for line in lines:
        event = syslog(line)
        assert len(event.raw or "") <= MAX_RAW and len(event.message or "") <= MAX_MESSAGE
        assert len(event.action or "") <= 128 and len(event.product or "") <= 128
        for part in (event.source, event.destination):
            for value in (part.host, part.user, part.domain):
                assert value is None or len(value) <= 256
            assert part.ip is None or len(part.ip) <= 45
        assert len(encode_event(event)) < 8 * MAX_RAW
    assert syslog(lines[0]).unmapped["raw_truncated"] is True
    assert syslog(lines[2]).source.host == ("n" * 900)[:256]
    assert syslog(lines[3]).source.ip is None and syslog(lines[3]).source.host is not None


def test_pathological_lines_are_parsed_in_linear_time() -> None:
    """Long runs of the characters the patterns repeat on (a ReDoS check): well under a second each."""
    lines = [
        "Jun 14 15:16:01 h syslogd " + "1." * 40_000 + "x",
        "Jun 14 15:16:01 h sshd[1]: Failed password for " + "x from 1 " * 8000,
        "Jun 14 15:16:01 h login[1]: FAILED LOGIN 1 FROM h FOR " + "u FOR " * 10_000,
        "Jun 14 15:16:01 h xinetd[1]: FAIL: ftp " + " from=" * 10_000,
        '<38>1 2026-03-03T08:12:05Z h app 9 - ' + '[a x="' * 10_000,
        "Jun 14 15:16:01 h proftpd[1]: s (" + "[" * 30_000,
    ]
    for line in lines:
        started = time.perf_counter()
        syslog(line)
        assert time.perf_counter() - started < 1.0, line[:60]


@pytest.mark.parametrize(("line", "reason"), [
    ("", "empty line"),
    ("this is not a syslog line at all", "not a syslog line"),
    ("Mar  3 08:1", "not a syslog line"),
    ('{"@timestamp": "2026-03-03T08:15:00Z"}', "not a syslog line"),
    ("Mar 33 08:16:00 h kernel: x", "bad timestamp"),
    ("Foo  3 08:16:00 h kernel: x", "unknown month"),
])
def test_only_lines_without_a_syslog_header_are_rejected(line: str, reason: str) -> None:
    with pytest.raises(NormalizationError) as info:
        normalize_syslog(line, year=2005)
    assert reason in info.value.reason


def test_an_rfc5424_line_without_a_timestamp_is_stamped_when_it_is_read() -> None:
    """RFC 5424 6.2.3.1: a sender without a clock sends the NILVALUE; receivers (rsyslog) use the reception time."""
    before = datetime.now(UTC)
    event = normalize_syslog("<38>1 - h app - - - no time", year=2005)
    assert before <= event.timestamp <= datetime.now(UTC)
    assert event.unmapped["syslog"]["time_received"] is True
    assert event.message == "no time" and event.destination.host == "h"
    assert "time_received" not in normalize_syslog("<38>1 2026-03-03T08:12:05Z h app - - - x").unmapped["syslog"]


@pytest.mark.parametrize(("line", "message", "pri", "header_error"), [
    ("<13>msg only", "msg only", 13, None),
    ("<189>123: *Mar  1 00:00:00.000: %SYS-5-CONFIG_I: Configured from console by vty0",  # Cisco IOS
     "123: *Mar  1 00:00:00.000: %SYS-5-CONFIG_I: Configured from console by vty0", 189, None),
    ("<13>", "", 13, None),
    ("<38>Mar 33 08:16:00 h kernel: x", "Mar 33 08:16:00 h kernel: x", 38, "bad timestamp: day is out of range"),
])
def test_a_valid_pri_without_a_timestamp_header_is_kept_as_a_relay_would(line: str, message: str, pri: int,
                                                                        header_error: str | None) -> None:
    """RFC 3164 §4.3.2: a relay that finds no valid TIMESTAMP after a valid PRI adds the time it received the
    line and leaves the rest alone, so the line is kept (stamped when read), not dead-lettered."""
    before = datetime.now(UTC)
    event = normalize_syslog(line, year=2005)
    assert before <= event.timestamp <= datetime.now(UTC)
    meta = event.unmapped["syslog"]
    assert (meta["format"], meta["pri"], meta["time_received"]) == ("pri_only", pri, True)
    assert event.message == message and event.raw == line and event.action == "syslog_message"
    assert (meta.get("header_error") or "").startswith(header_error or "")
    assert ("header_error" in meta) == (header_error is not None)


@pytest.mark.parametrize(("line", "octets"), [
    (" <13>Oct 11 22:14:15 host app: msg", None),  # a pasted line
    ("\t  Oct 11 22:14:15 host app: msg", None),
    ("\ufeff<13>Oct 11 22:14:15 host app: msg", None),  # a second file's BOM, after `cat a.log b.log`
    ("96 <13>1 2026-03-03T08:12:05Z host app - - - msg", 96),  # RFC 6587 octet counting, a TCP capture
])
def test_what_comes_before_the_header_is_passed_over(line: str, octets: int | None) -> None:
    event = normalize_syslog(line, year=2005)
    assert (event.message, event.destination.host, event.raw) == ("msg", "host", line)
    assert event.unmapped["syslog"].get("octet_count") == octets


@pytest.mark.parametrize("line", ["<192>x", "<1000>Oct 11 22:14:15 h app: x", "plain text", "<13 x", "42 plain"])
def test_without_a_valid_pri_a_headerless_line_is_still_refused(line: str) -> None:
    with pytest.raises(NormalizationError, match="not a syslog line"):
        normalize_syslog(line, year=2005)


def test_dates_at_the_edge_of_the_calendar_are_kept() -> None:
    """The event model clamps an instant outside datetime's range; the analyzer flags it later."""
    event = syslog("9999-12-31T23:59:59-01:00 h kernel: x")
    assert event.timestamp.year == 9999 and event.process is not None and event.process.name == "kernel"


def test_recognised_message_with_an_impossible_value_is_kept_as_plain_syslog() -> None:
    line = "Mar  3 08:00:14 h sshd[7]: Failed password for root from 1.2.3.4 port 99999 ssh2"
    with pytest.raises(NormalizationError):
        normalize_sshd(line, year=2024)
    event = syslog(line)
    assert (event.event_type, event.action, event.dataset) == ("other", "syslog_message", "syslog")
    assert "source.port" in event.unmapped["parse_error"]


def test_registered() -> None:
    assert NORMALIZERS["syslog"] is normalize_syslog


# ------------------------------------------------------------------------------------------ auth mapping

AUTH_CASES: list[tuple[str, dict[str, Any]]] = [
    # old PAM tag form, IP and host name (the 861 rejected lines of issue 11)
    ("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh "
     "ruser= rhost=218.188.2.4  user=root",
     {"event_type": "auth", "action": "ssh_pam_auth_failure", "outcome": "failure", "source.ip": "218.188.2.4",
      "source.host": None, "destination.user": "root", "destination.host": "combo", "unmapped.pam_module": "pam_unix"}),
    ("Jun 15 02:04:59 combo sshd(pam_unix)[20882]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh "
     "ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root",
     {"action": "ssh_pam_auth_failure", "source.ip": None, "source.host": "220-135-151-1.hinet-ip.hinet.net",
      "destination.user": "root"}),
    ("Jun 15 02:04:59 combo sshd(pam_unix)[20882]: 2 more authentication failures; logname= uid=0 euid=0 "
     "tty=NODEVssh ruser= rhost=61.1.2.3  user=root",
     {"action": "ssh_pam_auth_failure", "source.ip": "61.1.2.3", "unmapped.failures": 2}),
    # current PAM message form
    ("Mar  2 09:05:20 web01 sshd[2401]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
     "ruser= rhost=scanner.bad.example.com  user=root",
     {"action": "ssh_pam_auth_failure", "source.host": "scanner.bad.example.com", "destination.user": "root"}),
    ("Mar  2 09:05:30 web01 vsftpd[2450]: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 "
     "tty=ftp ruser=anonymous rhost=198.51.100.9",
     {"action": "pam_auth_failure", "source.ip": "198.51.100.9", "source.user": "anonymous",
      "unmapped.pam_service": "vsftpd", "unmapped.pam_type": "auth"}),
    # old form for other PAM services
    ("Jun 12 15:30:00 sunset vsftpd(pam_unix)[24085]: authentication failure; logname= uid=0 euid=0 tty= ruser= "
     "rhost=dialup-41.isp.example.org  user=admin",
     {"action": "pam_auth_failure", "source.host": "dialup-41.isp.example.org", "destination.user": "admin",
      "unmapped.pam_module": "pam_unix", "unmapped.pam_service": "vsftpd", "dataset": "linux.auth"}),
    ("Jun 12 05:30:11 sunset su(pam_unix)[2470]: authentication failure; logname=alice uid=500 euid=0 tty=pts/0 "
     "ruser=alice rhost=  user=root",
     {"action": "pam_auth_failure", "source.user": "alice", "source.ip": None, "source.host": None,
      "destination.user": "root", "unmapped.pam_service": "su"}),
    ("Jun 12 04:02:19 sunset login(pam_unix)[2099]: session opened for user root by LOGIN(uid=0)",
     {"action": "session_opened", "outcome": "success", "destination.user": "root", "unmapped.pam_service": "login"}),
    ("Jun 12 04:02:19 sunset su(pam_unix)[3403]: session closed for user news",
     {"action": "session_closed", "destination.user": "news"}),
    ("Jun 12 13:02:11 sunset login(pam_unix)[2211]: check pass; user unknown",
     {"action": "pam_message", "outcome": "unknown"}),
    # login
    ("Jul  1 09:00:55 combo login[123]: FAILED LOGIN 1 FROM host.example.com FOR root, Authentication failure",
     {"action": "login", "outcome": "failure", "source.host": "host.example.com", "destination.user": "root",
      "unmapped.failures": 1, "unmapped.reason": "Authentication failure"}),
    ("Jul  1 09:00:55 combo login[123]: FAILED LOGIN 2 FROM (null) FOR root, Authentication failure",
     {"action": "login", "outcome": "failure", "source.host": None, "source.ip": None}),
    ("Jul  1 09:00:55 combo login[123]: FAILED LOGIN 1 FROM tty2 FOR bob, Authentication failure",
     {"action": "login", "source.host": None, "unmapped.tty": "tty2", "destination.user": "bob"}),
    ("Jul  1 09:00:55 combo login[123]: FAILED LOGIN (1) on '/dev/tty1' FOR 'UNKNOWN', User not known",
     {"action": "login", "outcome": "failure", "destination.user": "UNKNOWN", "unmapped.tty": "/dev/tty1"}),
    ("Jul  1 09:00:55 combo login[123]: TOO MANY LOGIN TRIES (5) FROM 10.1.2.3 FOR root, Authentication failure",
     {"action": "login", "outcome": "failure", "source.ip": "10.1.2.3", "unmapped.too_many_tries": True}),
    ("Jul  1 09:00:55 combo login[123]: ROOT LOGIN ON tty1", {"action": "login", "outcome": "success",
                                                              "destination.user": "root"}),
    ("Jul  1 09:00:55 combo login[123]: LOGIN ON pts/1 BY bob FROM ws34.lan.example.com",
     {"action": "login", "outcome": "success", "destination.user": "bob", "source.host": "ws34.lan.example.com"}),
    # ftp daemons
    ("Jul 10 03:55:15 combo ftpd[24085]: connection from 83.116.207.11 () at Sun Jul 10 03:55:15 2005",
     {"event_type": "network", "action": "ftp_connection", "source.ip": "83.116.207.11", "source.host": None}),
    ("Jul 10 03:55:15 combo ftpd[24085]: connection from 82.252.162.81 (lns-vlq-45.example.net) at Sun Jul 10 "
     "03:55:15 2005",
     {"action": "ftp_connection", "source.ip": "82.252.162.81", "source.host": "lns-vlq-45.example.net"}),
    ("Jul 10 03:55:16 combo ftpd[24085]: ANONYMOUS FTP LOGIN FROM 84.102.20.2 [84.102.20.2], (anonymous)",
     {"event_type": "auth", "action": "ftp_login", "outcome": "success", "destination.user": "anonymous",
      "source.ip": "84.102.20.2"}),
    ("Jul 10 03:55:16 combo ftpd[24085]: FTP LOGIN FROM client.example.com [192.0.2.7], bob",
     {"action": "ftp_login", "outcome": "success", "destination.user": "bob", "source.ip": "192.0.2.7"}),
    ("Jul 10 03:55:16 combo ftpd[24085]: failed login from client.example.com [192.0.2.7]",
     {"action": "ftp_login", "outcome": "failure", "source.ip": "192.0.2.7"}),
    ("Jul 10 03:55:16 combo ftpd[24085]: FTP LOGIN REFUSED (username in denied-uid) FROM client.example.com "
     "[192.0.2.7], root",
     {"action": "ftp_login", "outcome": "failure", "destination.user": "root", "unmapped.reason":
      "username in denied-uid"}),
    ('Jul 10 03:55:16 h vsftpd[5]: Sun Jul 10 03:55:16 2005 [pid 5] [bob] FAIL LOGIN: Client "::ffff:192.0.2.8"',
     {"action": "ftp_login", "outcome": "failure", "destination.user": "bob", "source.ip": "192.0.2.8"}),
    ('Jul 10 03:55:16 h vsftpd[5]: [ftp] OK LOGIN: Client "192.0.2.8", anon password "?"',
     {"action": "ftp_login", "outcome": "success", "destination.user": "ftp"}),
    ('Jul 10 03:55:16 h vsftpd[5]: CONNECT: Client "192.0.2.8"',
     {"action": "ftp_connection", "source.ip": "192.0.2.8"}),
    ("Jul 10 03:55:16 h proftpd[9]: ftp.example.com (bad.example.net[192.0.2.9]) - USER admin (Login failed): "
     "Incorrect password.",
     {"action": "ftp_login", "outcome": "failure", "destination.user": "admin", "source.ip": "192.0.2.9",
      "source.host": "bad.example.net", "unmapped.ftp_server": "ftp.example.com"}),
    ("Jul 10 03:55:16 h proftpd[9]: ftp.example.com (bad.example.net[192.0.2.9]) - USER bob: Login successful.",
     {"action": "ftp_login", "outcome": "success", "destination.user": "bob"}),
    ("Jul 10 03:55:16 h proftpd[9]: ftp.example.com (bad.example.net[192.0.2.9]) - Maximum login attempts (3) "
     "exceeded, connection refused",
     {"action": "ftp_max_auth_exceeded", "outcome": "failure", "unmapped.failures": 3}),
    ("Jul 10 03:55:16 h pure-ftpd: (?@192.0.2.10) [WARNING] Authentication failed for user [admin]",
     {"action": "ftp_login", "outcome": "failure", "destination.user": "admin", "source.ip": "192.0.2.10"}),
    # xinetd, su, sudo
    ("Jul 10 03:55:15 combo xinetd[26482]: START: ftp pid=26483 from=83.116.207.11",
     {"event_type": "network", "action": "xinetd_connection", "source.ip": "83.116.207.11", "unmapped.service": "ftp"}),
    ("Jul 10 03:55:15 combo xinetd[26482]: FAIL: telnet libwrap from=::ffff:198.51.100.3",
     {"action": "xinetd_connection", "outcome": "failure", "source.ip": "198.51.100.3"}),
    ("Jul 10 03:55:15 combo su[1]: FAILED SU (to root) bob on pts/1",
     {"action": "su", "outcome": "failure", "source.user": "bob", "destination.user": "root"}),
    ("Jul 10 03:55:15 combo sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/sbin/service named "
     "reload", {"action": "sudo", "outcome": "success", "source.user": "alice", "destination.user": "root"}),
    ("Jul 10 03:55:15 combo su[1]: message repeated 2 times: [ pam_unix(su:auth): authentication failure; "
     "logname=bob uid=501 euid=0 tty=pts/1 ruser=bob rhost=  user=root]",
     {"action": "pam_auth_failure", "unmapped.repeat_count": 2, "destination.user": "root"}),
]


@pytest.mark.parametrize(("line", "expected"), AUTH_CASES, ids=[f"auth{i}" for i in range(len(AUTH_CASES))])
def test_auth_lines(line: str, expected: dict[str, Any]) -> None:
    assert_fields(syslog(line), expected)


@pytest.mark.parametrize("index", [0, 1, 3, 4, 5, 6, 10, 17, 23, 26, 30])
def test_linux_auth_maps_the_same_lines_alike(index: int) -> None:
    """``--format linux-auth`` shares the mapping (old tag forms included); only ``unmapped.syslog`` differs."""
    line = AUTH_CASES[index][0]
    via_syslog = fields_of(syslog(line))
    via_auth = fields_of(normalize_linux_auth(line, year=2005))
    via_syslog["unmapped"].pop("syslog")
    assert via_auth == via_syslog
