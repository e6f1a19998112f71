"""Linux auth.log/secure and auditd normalisers: every message/record type listed, errors never fatal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from secustream.events import decode_event, encode_event, get_field
from secustream.normalizers import NormalizationError, iter_normalized, normalize_auditd, normalize_linux_auth

DATA = Path(__file__).resolve().parents[1] / "data" / "linux"
AUTH = (DATA / "auth.log").read_text().splitlines()
# not splitlines(): it also splits at \x1d, the ENRICHED-format separator inside a record
AUDIT = (DATA / "audit.log").read_text().rstrip("\n").split("\n")

AUTH_CASES: list[tuple[int, dict[str, Any]]] = [
    (1, {"action": "session_opened", "destination.user": "root", "unmapped.pam_service": "cron"}),
    (3, {"action": "ssh_login", "outcome": "success", "source.ip": "10.20.1.15", "dataset": "sshd"}),
    (5, {"action": "session_opened", "destination.user": "deploy", "unmapped.session_id": "41"}),
    (6, {"action": "sudo", "outcome": "success", "source.user": "deploy", "destination.user": "root",
         "process.command_line": "/usr/bin/systemctl restart nginx",
         "unmapped.COMMAND": "/usr/bin/systemctl restart nginx",
         "unmapped.TTY": "pts/0", "unmapped.USER": "root"}),
    (7, {"action": "session_opened", "source.user": "deploy", "destination.user": "root"}),
    (9, {"action": "sudo", "outcome": "failure", "source.user": "mallory",
         "unmapped.sudo_error": "user NOT in sudoers"}),
    (10, {"action": "sudo", "outcome": "failure", "unmapped.sudo_error": "3 incorrect password attempts"}),
    (11, {"action": "pam_auth_failure", "outcome": "failure", "destination.user": "deploy",
          "unmapped.pam_service": "sudo"}),
    (12, {"action": "su", "outcome": "success", "source.user": "deploy", "destination.user": "root"}),
    (14, {"action": "su", "outcome": "failure", "source.user": "mallory", "destination.user": "postgres"}),
    (15, {"action": "pam_auth_failure", "source.user": "mallory", "destination.user": "postgres",
          "unmapped.pam_service": "su"}),
    (16, {"action": "ssh_pam_auth_failure", "source.ip": "203.0.113.50", "destination.user": "root"}),
    (18, {"action": "pam_auth_failure", "source.ip": "198.51.100.9", "source.user": "anonymous",
          "unmapped.rhost": "198.51.100.9", "unmapped.pam_service": "vsftpd"}),
    (19, {"action": "group_created", "unmapped.group": "svcbackup"}),
    (20, {"action": "user_account_created", "destination.user": "svcbackup", "unmapped.name": "svcbackup",
          "unmapped.shell": "/bin/bash"}),
    (21, {"action": "group_member_added", "destination.user": "svcbackup", "unmapped.group": "sudo"}),
    (23, {"action": "password_change", "destination.user": "svcbackup"}),
    (24, {"action": "user_account_deleted", "destination.user": "olduser"}),
    (26, {"event_type": "other", "action": "syslog_message", "unmapped.program": "polkitd"}),
]


@pytest.mark.parametrize(("line_no", "expected"), AUTH_CASES, ids=[f"auth{n}" for n, _ in AUTH_CASES])
def test_auth_log_messages(line_no: int, expected: dict[str, Any]) -> None:
    event = normalize_linux_auth(AUTH[line_no - 1], year=2026)
    doc = event.model_dump(mode="json")
    for path, want in expected.items():
        assert get_field(doc, path) == want, path
    assert decode_event(encode_event(event)) == event
    assert event.timestamp.year == 2026 and event.raw == AUTH[line_no - 1]


def test_secure_iso_timestamps_and_bad_lines_are_counted() -> None:
    results = list(iter_normalized((DATA / "secure").read_text().splitlines(), "linux-auth"))
    assert all(r.event for r in results)
    assert results[4].event.action == "sudo" and results[4].event.destination.user == "postgres"  # type: ignore[union-attr]
    auth = list(iter_normalized(AUTH, "linux-auth", year=2026))
    assert [(r.line_no, r.error.reason[:20]) for r in auth if r.error] == [
        (27, "not a syslog line (e"), (28, "bad timestamp: day i")]


@pytest.mark.parametrize(("line", "expected"), [
    ("Jun 15 02:04:59 combo sshd(pam_unix)[20882]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh "
     "ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root",
     {"action": "ssh_pam_auth_failure", "source.host": "220-135-151-1.hinet-ip.hinet.net", "source.ip": None,
      "destination.user": "root", "unmapped.pam_module": "pam_unix", "dataset": "sshd"}),
    ("Jun 15 02:04:59 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)",
     {"action": "session_opened", "destination.user": "cyrus", "unmapped.pam_service": "su",
      "unmapped.pam_module": "pam_unix", "process.pid": 21416}),
    ("Jun 15 02:04:59 combo login(pam_unix)[2211]: authentication failure; logname=LOGIN uid=0 euid=0 tty=tty2 "
     "ruser= rhost= ", {"action": "pam_auth_failure", "source.host": None, "unmapped.pam_service": "login"}),
    ("Jun 15 02:04:59 combo -- MARK --", {"event_type": "other", "action": "syslog_message", "process": None}),
])
def test_old_pam_tag_forms(line: str, expected: dict[str, Any]) -> None:
    """The old ``prog(pam_module)[pid]:`` tag (RHEL 4 era /var/log/secure and messages) is understood."""
    doc = normalize_linux_auth(line, year=2005).model_dump(mode="json")
    for path, want in expected.items():
        assert get_field(doc, path) == want, path


AUDIT_CASES: list[tuple[int, dict[str, Any]]] = [
    (1, {"event_type": "process", "action": "execve_syscall", "process.pid": 2601, "process.parent_pid": 2210,
         "process.executable": "/usr/bin/curl", "unmapped.type": "SYSCALL", "unmapped.key": "exec",
         "unmapped.syscall": "59", "outcome": "success", "unmapped.audit_serial": 5501}),
    (2, {"action": "process_start", "process.command_line": "curl -s https://example.com/install.sh",
         "process.name": "curl", "unmapped.a2": "https://example.com/install.sh", "unmapped.type": "EXECVE",
         "timestamp": "2026-03-02T09:00:01.101000Z"}),
    (4, {"event_type": "file", "file.path": "/usr/bin/curl", "unmapped.type": "PATH"}),
    (5, {"action": "process_title", "process.command_line": "curl -s https://example.com/install.sh"}),
    (6, {"process.command_line": "bash -c echo hello world x", "unmapped.a2": "echo hello world",
         "source.host": "web01", "unmapped.node": "web01"}),
    (7, {"event_type": "auth", "action": "user_auth", "outcome": "failure", "source.ip": "203.0.113.50",
         "destination.user": "root", "unmapped.acct": "root", "unmapped.op": "PAM:authentication"}),
    (8, {"action": "user_auth", "outcome": "success", "destination.user": "deploy"}),
    (9, {"action": "user_login", "outcome": "success", "source.ip": "10.20.1.15"}),
    (10, {"action": "user_acct"}),
    (11, {"action": "credentials_acquired"}),
    (12, {"action": "session_opened"}),
    (13, {"action": "sudo", "process.command_line": "systemctl restart nginx", "source.user": "deploy",
          "unmapped.AUID": "deploy", "unmapped.cmd": "systemctl restart nginx"}),
    (14, {"action": "user_account_created", "unmapped.type": "ADD_USER"}),
    (15, {"action": "group_created"}),
    (16, {"event_type": "system", "action": "service_started", "unmapped.unit": "nginx"}),
    (17, {"action": "audit_config_change", "unmapped.op": "remove_rule"}),
    (19, {"event_type": "other", "action": "audit_newtype_from_future", "unmapped.foo": "bar"}),
]


@pytest.mark.parametrize(("line_no", "expected"), AUDIT_CASES, ids=[f"audit{n}" for n, _ in AUDIT_CASES])
def test_audit_records(line_no: int, expected: dict[str, Any]) -> None:
    event = normalize_auditd(AUDIT[line_no - 1])
    doc = event.model_dump(mode="json")
    for path, want in expected.items():
        assert get_field(doc, path) == want, path
    assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(("line", "reason"), [
    ("", "empty line"),
    ("audit(1.0:1): x=y", "not an audit record"),
    ('type=EXECVE msg=audit(notatime:1): argc=1 a0="x"', "not an audit record"),
])
def test_audit_errors(line: str, reason: str) -> None:
    with pytest.raises(NormalizationError) as info:
        normalize_auditd(line)
    assert reason in info.value.reason


def test_audit_file_counts_bad_records() -> None:
    results = list(iter_normalized(AUDIT, "auditd"))
    assert sum(r.event is not None for r in results) == 19 and [r.line_no for r in results if r.error] == [20, 21]
