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


def test_a_windows_event_says_where_it_was_logged_so_sysmon_and_security_twins_differ() -> None:
    start = {"process": {"command_line": "cmd.exe /c calc.exe"}}
    sysmon = {**start, "dataset": "windows.sysmon", "unmapped": {"EventID": 1}}
    security = {**start, "dataset": "windows.security", "unmapped": {"EventID": "4688"}}
    assert event_title(row(sysmon, destination_host="WS5")) == (
        "process_start · windows.sysmon 1 · WS5 · cmd.exe /c calc.exe")
    assert event_title(row(security, destination_host="WS5")) == (
        "process_start · windows.security 4688 · WS5 · cmd.exe /c calc.exe")
    assert event_title(row({**start, "unmapped": {"EventID": 7}})) == "process_start · event 7 · cmd.exe /c calc.exe"
    for odd in (True, "4688; DROP", "9" * 40, {"x": 1}, None, -1):  # hostile or absent codes add nothing
        assert event_title(row({**start, "dataset": "d", "unmapped": {"EventID": odd}})) == (
            "process_start · cmd.exe /c calc.exe")
    assert event_title(row({**start, "unmapped": ["not", "a dict"]})) == "process_start · cmd.exe /c calc.exe"


def test_otherwise_the_first_line_of_the_message_and_odd_payloads_never_fail() -> None:
    logon = {"message": "\r\n  An account was successfully logged on.\r\n\r\nSubject: ...", "process": {}}
    want = "logon · 10.0.0.5 · An account was successfully logged on."
    assert event_title(row(logon, "logon", source_ip="10.0.0.5")) == want
    assert event_title(row({}, None)) == "event"
    assert event_title(row(None, None, source_user="bob")) == "event · bob"
    assert event_title(row({"message": 7, "process": "not a dict"}, "x")) == "x"
    assert event_title(row({"process": {"command_line": "\x00" * 500}}, "x")) == ("x · " + "\x00" * 500)[:200]
