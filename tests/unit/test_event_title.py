"""One line per stored event in an alert's samples and an incident's timeline (storage.alerts.event_title)."""

from __future__ import annotations

from typing import Any

from secustream.storage.alerts import event_title


def row(payload: Any, action: str | None = "process_start", **columns: str | None) -> dict[str, Any]:
    base = {"action": action, "source_ip": None, "source_user": None, "source_host": None, "destination_host": None}
    return {**base, **columns, "payload": payload}


def test_a_process_event_shows_its_command_line_not_the_message_boilerplate() -> None:
    sysmon = {"message": "Process Create:\r\nRuleName: -\r\nUtcTime: 2020-09-04 16:09:55.123",
              "process": {"command_line": "  powershell.exe -nop -w hidden -enc SQBFAFgA  "}}
    assert (event_title(row(sysmon, destination_host="WORKSTATION5.theshire.local"))
            == "process_start · WORKSTATION5.theshire.local · powershell.exe -nop -w hidden -enc SQBFAFgA")


def test_otherwise_the_first_line_of_the_message_and_odd_payloads_never_fail() -> None:
    logon = {"message": "\r\n  An account was successfully logged on.\r\n\r\nSubject: ...", "process": {}}
    want = "logon · 10.0.0.5 · An account was successfully logged on."
    assert event_title(row(logon, "logon", source_ip="10.0.0.5")) == want
    assert event_title(row({}, None)) == "event"
    assert event_title(row(None, None, source_user="bob")) == "event · bob"
    assert event_title(row({"message": 7, "process": "not a dict"}, "x")) == "x"
    assert event_title(row({"process": {"command_line": "\x00" * 500}}, "x")) == ("x · " + "\x00" * 500)[:200]
