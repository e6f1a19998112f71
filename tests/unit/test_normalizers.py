"""Normalisers: every sshd message type, ECS/own-schema JSON lines, and clear errors for the rest."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from secustream.events import EventType, Outcome, SecurityEvent, decode_event, encode_event, get_field
from secustream.generator import EventGenerator
from secustream.ingest import encoded
from secustream.normalizers import (
    NORMALIZERS,
    NormalizationError,
    iter_normalized,
    normalize_jsonl,
    normalize_sshd,
    normalize_windows,
)

DATA = Path(__file__).resolve().parents[1] / "data"
H = "Nov 25 08:01:02 bastion sshd[1234]: "

# (message after the syslog header, expected fields as dotted paths into the dumped event)
SSHD_CASES: list[tuple[str, dict[str, Any]]] = [
    ("Failed password for root from 203.0.113.7 port 51234 ssh2",
     {"event_type": "auth", "action": "ssh_login", "outcome": "failure", "source.ip": "203.0.113.7",
      "source.port": 51234, "destination.user": "root", "unmapped.ssh_auth_method": "password"}),
    ("Failed password for invalid user admin from 203.0.113.7 port 51234 ssh2",
     {"action": "ssh_login", "outcome": "failure", "destination.user": "admin", "unmapped.invalid_user": True}),
    ("Failed publickey for bob from 10.0.5.34 port 40022 ssh2: ECDSA SHA256:Rp1WnkI6eT4oxyZfI1F0cQ",
     {"action": "ssh_login", "outcome": "failure", "unmapped.ssh_auth_method": "publickey",
      "unmapped.key_type": "ECDSA", "unmapped.key_fingerprint": "SHA256:Rp1WnkI6eT4oxyZfI1F0cQ"}),
    ("Failed none for invalid user  from 203.0.113.8 port 1022 ssh2",
     {"action": "ssh_login", "outcome": "failure", "destination.user": None, "unmapped.ssh_auth_method": "none"}),
    ("Accepted password for alice from 10.0.5.21 port 52000 ssh2",
     {"event_type": "auth", "action": "ssh_login", "outcome": "success", "destination.user": "alice",
      "source.ip": "10.0.5.21"}),
    ("Accepted publickey for alice from 10.0.5.21 port 52000 ssh2: RSA SHA256:abcdEFGH1234",
     {"outcome": "success", "unmapped.key_type": "RSA", "unmapped.key_fingerprint": "SHA256:abcdEFGH1234"}),
    ("Invalid user oracle from 198.51.100.2 port 4444",
     {"event_type": "auth", "action": "ssh_invalid_user", "outcome": "failure", "destination.user": "oracle",
      "source.port": 4444}),
    ("Invalid user oracle from 198.51.100.2",
     {"action": "ssh_invalid_user", "source.ip": "198.51.100.2", "source.port": None}),
    ("Connection closed by 198.51.100.2 port 4444 [preauth]",
     {"event_type": "network", "action": "ssh_disconnect", "outcome": "failure",
      "unmapped.ssh_disconnect_kind": "connection_closed", "unmapped.preauth": True}),
    ("Connection closed by invalid user test 198.51.100.2 port 4444 [preauth]",
     {"action": "ssh_disconnect", "destination.user": "test", "unmapped.invalid_user": True}),
    ("Connection closed by authenticating user root 198.51.100.2 port 4444 [preauth]",
     {"action": "ssh_disconnect", "destination.user": "root", "unmapped.user_state": "authenticating"}),
    ("Connection reset by 167.94.138.45 port 41122",
     {"action": "ssh_disconnect", "unmapped.ssh_disconnect_kind": "connection_reset", "outcome": "unknown"}),
    ("Disconnected from authenticating user root 92.118.39.57 port 40220 [preauth]",
     {"event_type": "network", "action": "ssh_disconnect", "destination.user": "root", "outcome": "failure"}),
    ("Disconnected from invalid user nagios 193.32.162.2 port 58832 [preauth]",
     {"action": "ssh_disconnect", "destination.user": "nagios", "unmapped.invalid_user": True}),
    ("Disconnected from user alice 10.0.5.21 port 52000",
     {"action": "ssh_disconnect", "destination.user": "alice", "outcome": "success"}),
    ("Received disconnect from 203.0.113.7 port 5555:11: Bye Bye [preauth]",
     {"action": "ssh_disconnect", "unmapped.disconnect_code": 11, "unmapped.disconnect_reason": "Bye Bye",
      "source.port": 5555, "outcome": "failure"}),
    ("Received disconnect from 10.0.5.21 port 52000:11: disconnected by user",
     {"action": "ssh_disconnect", "outcome": "success", "unmapped.disconnect_reason": "disconnected by user"}),
    ("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7  user=root",
     {"event_type": "auth", "action": "ssh_pam_auth_failure", "outcome": "failure", "source.ip": "203.0.113.7",
      "destination.user": "root", "unmapped.pam.tty": "ssh"}),
    ("PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7  user=root",
     {"action": "ssh_pam_auth_failure", "unmapped.failures": 2, "source.ip": "203.0.113.7"}),
    ("error: maximum authentication attempts exceeded for root from 203.0.113.7 port 5 ssh2 [preauth]",
     {"event_type": "auth", "action": "ssh_max_auth_exceeded", "outcome": "failure", "destination.user": "root",
      "unmapped.level": "error"}),
    ("error: maximum authentication attempts exceeded for invalid user admin from 203.0.113.7 port 5 ssh2 [preauth]",
     {"action": "ssh_max_auth_exceeded", "destination.user": "admin", "unmapped.invalid_user": True}),
    ("Disconnecting authenticating user root 203.0.113.45 port 36416: Too many authentication failures [preauth]",
     {"action": "ssh_max_auth_exceeded", "destination.user": "root", "source.port": 36416}),
    ("error: kex_exchange_identification: Connection closed by remote host",
     {"event_type": "network", "action": "ssh_kex_error", "outcome": "failure", "source.ip": None,
      "unmapped.reason": "Connection closed by remote host"}),
    ("error: kex_exchange_identification: read: Connection reset by peer",
     {"action": "ssh_kex_error", "unmapped.reason": "read: Connection reset by peer"}),
    ("Did not receive identification string from 162.142.125.10 port 49152",
     {"event_type": "network", "action": "ssh_no_identification", "source.ip": "162.142.125.10"}),
    ("banner exchange: Connection from 71.6.199.23 port 52514: invalid format",
     {"event_type": "network", "action": "ssh_banner_error", "unmapped.reason": "invalid format"}),
    ("Bad protocol version identification 'GET / HTTP/1.1' from 71.6.199.23 port 52600",
     {"action": "ssh_banner_error", "unmapped.reason": "GET / HTTP/1.1"}),
    ("Protocol major versions differ for 80.82.77.139 port 60112: SSH-2.0-OpenSSH_9.6 vs. SSH-1.5-Server",
     {"action": "ssh_banner_error", "source.ip": "80.82.77.139"}),
    ("Unable to negotiate with 141.98.10.63 port 54400: no matching key exchange method found. "
     "Their offer: diffie-hellman-group1-sha1 [preauth]",
     {"action": "ssh_negotiation_failed", "outcome": "failure", "source.port": 54400}),
    ("Timeout before authentication for 92.118.39.56 port 48810", {"action": "ssh_timeout"}),
    ("fatal: Timeout before authentication for 92.118.39.56 port 48810",
     {"action": "ssh_timeout", "unmapped.level": "fatal"}),
    ("reverse mapping checking getaddrinfo for x.example.net [58.96.1.2] failed - POSSIBLE BREAK-IN ATTEMPT!",
     {"action": "ssh_reverse_mapping_failed", "source.ip": "58.96.1.2"}),
    ('Connection from 10.0.7.12 port 40000 on 10.0.0.5 port 22 rdomain ""',
     {"action": "ssh_connection", "unmapped.local_port": 22}),
    ("pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)",
     {"event_type": "auth", "action": "ssh_session_opened", "outcome": "success", "destination.user": "alice",
      "unmapped.uid": 1000}),
    ("pam_unix(sshd:session): session closed for user alice",
     {"action": "ssh_session_closed", "destination.user": "alice"}),
    ("Server listening on 0.0.0.0 port 22.", {"event_type": "system", "action": "sshd_started"}),
    ("Received signal 15; terminating.", {"event_type": "system", "action": "sshd_stopped", "unmapped.signal": 15}),
    ("message repeated 3 times: [ Failed password for root from 203.0.113.7 port 22 ssh2]",
     {"action": "ssh_login", "outcome": "failure", "unmapped.repeat_count": 3, "source.ip": "203.0.113.7"}),
    ("Connection closed by UNKNOWN port 65535",
     {"action": "ssh_disconnect", "source.ip": None, "unmapped.source_address": "UNKNOWN", "outcome": "unknown"}),
    ("pam_unix(sshd:auth): check pass; user unknown",
     {"event_type": "other", "action": "sshd_message", "outcome": "unknown"}),
]


@pytest.mark.parametrize(("message", "expected"), SSHD_CASES, ids=[c[0][:48] for c in SSHD_CASES])
def test_sshd_message_types(message: str, expected: dict[str, Any]) -> None:
    line = H + message
    event = normalize_sshd(line, year=2024)
    doc = event.model_dump(mode="json")
    for path, want in expected.items():
        assert get_field(doc, path) == want, f"{path} in {doc}"
    assert event.timestamp == datetime(2024, 11, 25, 8, 1, 2, tzinfo=UTC)
    assert event.destination.host == "bastion"
    assert event.process is not None and (event.process.name, event.process.pid) == ("sshd", 1234)
    assert event.raw == line
    assert event.message == message
    assert (event.product, event.dataset) == ("openssh", "sshd")
    # round trip through the wire format is lossless
    assert SecurityEvent.model_validate_json(encode_event(event)) == event


@pytest.mark.parametrize(
    ("line", "when", "prog", "pid"),
    [
        ("Mar  3 08:00:14 h sshd[7]: Failed password for root from 1.2.3.4 port 1 ssh2",
         datetime(2024, 3, 3, 8, 0, 14, tzinfo=UTC), "sshd", 7),
        ("<38>Mar  3 08:00:14 h sshd[7]: Failed password for root from 1.2.3.4 port 1 ssh2",
         datetime(2024, 3, 3, 8, 0, 14, tzinfo=UTC), "sshd", 7),
        ("2026-03-03T08:12:05.815453+0000 h sshd-session[4103]: Failed password for root from 1.2.3.4 port 1 ssh2",
         datetime(2026, 3, 3, 8, 12, 5, 815453, tzinfo=UTC), "sshd-session", 4103),
        ("2026-03-03T09:12:05+01:00 h sshd[9]: Failed password for root from 1.2.3.4 port 1 ssh2",
         datetime(2026, 3, 3, 8, 12, 5, tzinfo=UTC), "sshd", 9),
        ("2026-03-03 08:12:05,123 h sshd[9]: Failed password for root from 1.2.3.4 port 1 ssh2",
         datetime(2026, 3, 3, 8, 12, 5, 123000, tzinfo=UTC), "sshd", 9),
        ("<38>1 2026-03-03T08:12:05.003Z h sshd 1234 - - Failed password for root from 1.2.3.4 port 1 ssh2",
         datetime(2026, 3, 3, 8, 12, 5, 3000, tzinfo=UTC), "sshd", 1234),
        ('<38>1 2026-03-03T08:12:05.123456789Z h sshd 55 auth [origin ip="10.0.0.5"] Failed password for root '
         "from 1.2.3.4 port 1 ssh2", datetime(2026, 3, 3, 8, 12, 5, 123456, tzinfo=UTC), "sshd", 55),
        ("Mar  3 08:00:14 h /usr/sbin/sshd[7]: Failed password for root from 1.2.3.4 port 1 ssh2",
         datetime(2024, 3, 3, 8, 0, 14, tzinfo=UTC), "sshd", 7),
    ],
)
def test_sshd_header_formats(line: str, when: datetime, prog: str, pid: int) -> None:
    event = normalize_sshd(line, year=2024)
    assert event.timestamp == when
    assert event.process is not None and (event.process.name, event.process.pid) == (prog, pid)
    assert (event.action, event.outcome, event.source.ip) == ("ssh_login", Outcome.FAILURE, "1.2.3.4")


def test_sshd_ipv6_source_and_timezone_for_rfc3164() -> None:
    line = "Nov 25 08:01:02 h sshd[1]: Failed password for root from 2001:db8::66 port 22 ssh2"
    event = normalize_sshd(line, year=2024, tz=timezone(timedelta(hours=2)))
    assert event.source.ip == "2001:db8::66"
    assert event.timestamp == datetime(2024, 11, 25, 6, 1, 2, tzinfo=UTC)


def test_sshd_year_defaults_to_this_year_or_last_for_future_dates() -> None:
    now = datetime.now(UTC)
    recent = now - timedelta(days=1)
    line = f"{recent:%b} {recent.day:>2} 00:00:00 h sshd[1]: Invalid user x from 1.2.3.4 port 1"
    assert normalize_sshd(line).timestamp.year == recent.year
    ahead = now + timedelta(days=40)
    line = f"{ahead:%b} {ahead.day:>2} 00:00:00 h sshd[1]: Invalid user x from 1.2.3.4 port 1"
    assert normalize_sshd(line).timestamp.year == ahead.year - 1


def test_sshd_event_ids_are_stable_per_line() -> None:
    a = H + "Failed password for root from 203.0.113.7 port 51234 ssh2"
    b = H + "Failed password for root from 203.0.113.7 port 51235 ssh2"
    assert normalize_sshd(a).event_id == normalize_sshd(a).event_id
    assert normalize_sshd(a).event_id != normalize_sshd(b).event_id


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "empty line"),
        ("this is not a syslog line at all", "not a syslog line"),
        ("Mar  3 08:1", "not a syslog line"),
        ("Mar  3 08:14:09 h CRON[31337]: pam_unix(cron:session): session opened for user root", "not an sshd line"),
        ("Mar 33 08:16:00 h sshd[1]: Failed password for root from 1.2.3.4 port 1 ssh2", "bad timestamp"),
        ("Foo  3 08:16:00 h sshd[1]: Failed password for root from 1.2.3.4 port 1 ssh2", "unknown month"),
        ('{"@timestamp": "2026-03-03T08:15:00Z"}', "not a syslog line"),
        ("Mar  3 08:00:14 h sshd[7]: Failed password for root from 1.2.3.4 port 99999 ssh2", "source.port"),
    ],
)
def test_sshd_unparseable_lines_raise_with_reason(line: str, reason: str) -> None:
    with pytest.raises(NormalizationError) as info:
        normalize_sshd(line, year=2024)
    assert reason in info.value.reason
    assert isinstance(info.value, ValueError)


def test_sshd_sample_log() -> None:
    results = list(iter_normalized((DATA / "sshd_auth.log").read_text().splitlines(), "sshd", year=2026))
    errors = [r for r in results if r.error]
    events = [r.event for r in results if r.event]
    assert len(errors) == 5, [(r.line_no, r.error.reason) for r in errors if r.error]
    assert len(events) >= 230
    actions = Counter(e.action for e in events)
    for action in ("ssh_login", "ssh_invalid_user", "ssh_disconnect", "ssh_pam_auth_failure", "ssh_max_auth_exceeded",
                   "ssh_kex_error", "ssh_no_identification", "ssh_banner_error", "ssh_negotiation_failed",
                   "ssh_session_opened", "ssh_session_closed", "ssh_timeout", "sshd_started", "sshd_stopped"):
        assert actions[action] > 0, action
    failed = Counter(e.source.ip for e in events if e.action == "ssh_login" and e.outcome == Outcome.FAILURE)
    assert failed["203.0.113.45"] == 14 and failed["2001:db8:bad:1::66"] == 11 and failed["203.0.113.99"] == 9
    assert len({e.event_id for e in events}) == len(events)


# ------------------------------------------------------------------------------------------ JSON lines

def _ecs_sample() -> list[SecurityEvent | NormalizationError]:
    out: list[SecurityEvent | NormalizationError] = []
    for r in iter_normalized((DATA / "ecs_events.jsonl").read_text().splitlines(), "jsonl"):
        out.append(r.event if r.event is not None else r.error)  # type: ignore[arg-type]
    return out


def test_ecs_sample_maps_the_common_fields() -> None:
    items = _ecs_sample()
    auth, proc, flow, dns, web, file_, group, sudo, deny, alert, own, own_extra = items[:12]
    assert isinstance(auth, SecurityEvent)
    assert (auth.event_type, auth.action, auth.outcome) == (EventType.AUTH, "ssh_login", Outcome.FAILURE)
    assert (auth.source.ip, auth.source.port, auth.destination.user, auth.destination.host) == (
        "203.0.113.45", 36416, "root", "bastion01")
    assert auth.unmapped["system"]["auth"]["ssh"]["method"] == "password"
    assert auth.unmapped["source"]["geo"]["country_iso_code"] == "NL"
    assert auth.raw is not None and json.loads(auth.raw)["@timestamp"] == "2026-03-03T08:00:14.000Z"

    assert isinstance(proc, SecurityEvent) and proc.process is not None
    assert proc.event_type == EventType.PROCESS
    assert proc.process.parent_name == "WINWORD.EXE" and "-enc" in (proc.process.command_line or "")
    assert (proc.process.user, proc.source.host, proc.source.ip) == ("bob", "WS-1042", "10.20.0.52")
    assert (proc.vendor, proc.product) == ("Microsoft", "Sysmon")
    assert proc.unmapped["winlog"]["event_id"] == 1

    assert isinstance(flow, SecurityEvent) and flow.network is not None
    assert (flow.network.bytes_out, flow.network.bytes_in, flow.network.direction) == (734003200, 88211, "outbound")
    assert flow.destination.domain == "files-sync.xyz"

    assert isinstance(dns, SecurityEvent) and dns.dns is not None
    assert dns.event_type == EventType.DNS and dns.dns.record_type == "TXT" and dns.dns.answers == ['"ok"']

    assert isinstance(web, SecurityEvent) and web.http is not None
    assert web.event_type == EventType.HTTP
    assert (web.http.method, web.http.status_code, web.http.bytes) == ("POST", 401, 1214)
    assert web.http.url == "/wp-login.php?redirect_to=%2Fwp-admin"
    assert web.http.user_agent == "python-requests/2.31.0"
    assert (web.source.ip, web.source.host, web.destination.host) == ("198.51.100.10", None, "srv-web-01")

    assert isinstance(file_, SecurityEvent) and file_.file is not None
    assert file_.event_type == EventType.FILE and file_.file.name == "svc.exe" and file_.file.size == 356352

    assert isinstance(group, SecurityEvent)
    assert group.event_type == EventType.AUTH and group.unmapped["group"]["name"] == "Administrators"

    assert isinstance(sudo, SecurityEvent)  # dotted ECS keys
    assert (sudo.source.user, sudo.destination.user, sudo.destination.host) == ("www-data", "root", "srv-web-02")

    assert isinstance(deny, SecurityEvent)  # epoch-millisecond timestamp
    assert deny.timestamp == datetime(2026, 3, 3, 8, 5, tzinfo=UTC)
    assert (deny.vendor, deny.product) == ("Palo Alto Networks", "PAN-OS")

    assert isinstance(alert, SecurityEvent) and alert.event_type == EventType.MALWARE_ALERT

    assert isinstance(own, SecurityEvent) and str(own.event_id) == "6a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    assert isinstance(own_extra, SecurityEvent)
    assert own_extra.unmapped == {"source": {"mac": "00:16:3e:12:34:56"}, "sensor": "zeek-01"}


def test_ecs_sample_bad_lines_have_reasons() -> None:
    errors = [x for x in _ecs_sample() if isinstance(x, NormalizationError)]
    reasons = [e.reason for e in errors]
    assert len(reasons) == 4
    assert "source.ip" in reasons[0]
    assert "@timestamp" in reasons[1]
    assert "JSON object" in reasons[2]
    assert "malformed JSON" in reasons[3]


def test_own_schema_round_trips() -> None:
    for g in EventGenerator(seed=1, attack_ratio=0.3, start=datetime(2026, 1, 1, tzinfo=UTC)).next_batch(300):
        assert normalize_jsonl(encode_event(g.event).decode()) == g.event


def test_dotted_and_nested_ecs_keys_agree_and_ids_are_stable() -> None:
    nested = {"@timestamp": "2026-01-01T00:00:00Z", "event": {"category": "network"},
              "source": {"ip": "10.0.0.1", "port": 1}, "destination": {"ip": "8.8.8.8", "port": 53}}
    dotted = {"@timestamp": "2026-01-01T00:00:00Z", "event.category": "network", "source.ip": "10.0.0.1",
              "source.port": 1, "destination.ip": "8.8.8.8", "destination.port": 53}
    a, b = normalize_jsonl(json.dumps(nested)), normalize_jsonl(json.dumps(dotted))
    assert a.model_dump(exclude={"event_id", "raw"}) == b.model_dump(exclude={"event_id", "raw"})
    assert a.event_id == normalize_jsonl(json.dumps(nested)).event_id


def test_ecs_inference_without_category() -> None:
    event = normalize_jsonl(json.dumps({"@timestamp": "2026-01-01T00:00:00Z",
                                        "dns": {"question": {"name": "example.com"}}}))
    assert event.event_type == EventType.DNS and event.dns is not None and event.dns.query == "example.com"
    odd = normalize_jsonl(json.dumps({"@timestamp": "2026-01-01T00:00:00Z", "event": {"outcome": "partial"}}))
    assert odd.event_type == EventType.OTHER and odd.outcome == Outcome.UNKNOWN
    assert odd.unmapped["event"]["outcome"] == "partial"


def test_registry_and_iteration() -> None:
    assert set(NORMALIZERS) == {"jsonl", "sshd", "windows", "linux-auth", "auditd", "web-access", "syslog"}
    assert NORMALIZERS["sshd"] is normalize_sshd
    with pytest.raises(TypeError):
        NORMALIZERS["x"] = normalize_sshd  # type: ignore[index]
    rows = list(iter_normalized(["", "  ", "not json", '{"@timestamp": "2026-01-01T00:00:00Z"}'], "jsonl"))
    assert [r.line_no for r in rows] == [3, 4]
    assert rows[0].error is not None and rows[1].event is not None
    with pytest.raises(ValueError, match="unknown format"):
        list(iter_normalized(["x"], "csv"))


@pytest.mark.parametrize("normalise", [normalize_jsonl, normalize_windows])
def test_json_nested_past_the_parsers_depth_is_refused_with_a_reason_not_a_recursion_error(normalise) -> None:
    for depth in (1025, 200_000):  # orjson's limit is 1024; the stdlib parser would recurse until it crashed
        with pytest.raises(NormalizationError, match="nested deeper than 1024 levels"):
            normalise("[" * depth + "]" * depth)
        with pytest.raises(NormalizationError, match="nested deeper than 1024 levels"):
            normalise('{"a": ' * depth + "1" + "}" * depth)


def test_a_lone_surrogate_escape_is_published_escaped_not_refused() -> None:
    line = json.dumps({"EventID": 4688, "TimeCreated": "2026-03-02T09:20:00Z", "Computer": "WS01",
                       "Channel": "Security",
                       "CommandLine": "cmd /c \ud800 x"})  # json.dumps writes the \\ud800 escape
    event, value = encoded(normalize_windows(line))
    document = json.loads(value)
    assert document["process"]["command_line"] == "cmd /c \\ud800 x"
    assert document["unmapped"]["nul_escaped"]["process.command_line"] == "cmd /c \\ud800 x"
    assert decode_event(value) == event
    assert document["unmapped"]["sanitized"] == ["surrogate"]  # the repair made, not "nul"


def test_nul_and_a_lone_surrogate_are_both_listed() -> None:
    line = json.dumps({"EventID": 4688, "TimeCreated": "2026-03-02T09:20:00Z", "Computer": "WS01",
                       "Channel": "Security", "CommandLine": "cmd /c \ud800 x", "NewProcessName": "a\x00b"})
    _event, value = encoded(normalize_windows(line))
    document = json.loads(value)
    assert document["unmapped"]["sanitized"] == ["nul", "surrogate"]
    assert document["process"]["executable"] == "ab"
