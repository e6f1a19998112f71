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
    assert event_title(row({"process": {"command_line": "\x00" * 500}}, "x")) == ("x · " + "\x00" * 500)[:199] + "…"
    assert len(event_title(row({"process": {"command_line": "a" * 196}}, "x"))) == 200  # 200 fits: no mark


def test_an_event_without_a_command_line_shows_what_it_acted_on_not_its_message_header() -> None:
    """A real Sysmon message's first line is only the event's kind ("Registry value set:"): the title names the
    registry key and value, the file, the query or the process accessed instead."""
    header = "Registry value set:\r\nRuleName: -\r\nEventType: SetValue"
    registry = {"message": header, "dataset": "windows.sysmon",
                "unmapped": {"EventID": 13, "TargetObject": "HKLM\\Software\\X\\Run", "Details": "c:\\x.exe"}}
    assert event_title(row(registry, "registry_set", destination_host="WS5")) == (
        "registry_set · windows.sysmon 13 · WS5 · HKLM\\Software\\X\\Run = c:\\x.exe")
    access = {"message": "Process accessed:", "unmapped": {"SourceImage": "C:\\a.exe", "TargetImage": "C:\\lsass.exe"}}
    assert event_title(row(access, "process_access")) == "process_access · C:\\a.exe → C:\\lsass.exe"
    assert event_title(row({"unmapped": {"TargetImage": "C:\\lsass.exe"}}, "process_access")) == (
        "process_access · C:\\lsass.exe")
    assert event_title(row({"message": "Dns query:", "dns": {"query": "evil.example"}}, "dns_query")) == (
        "dns_query · evil.example")
    assert event_title(row({"message": "Image loaded:", "file": {"path": "C:\\w.dll"}}, "image_load")) == (
        "image_load · C:\\w.dll")
    shredding = {"message": "File Block Shredding:\r\nRuleName: -", "dataset": "windows.sysmon",
                 "unmapped": {"EventID": 28, "TargetFilename": "C:\\Windows\\Temp\\ntds_T1003\\ntds.dit"}}
    assert event_title(row(shredding, "windows_event_28", destination_host="DC01")) == (  # seen in a real incident
        "windows_event_28 · windows.sysmon 28 · DC01 · C:\\Windows\\Temp\\ntds_T1003\\ntds.dit")
    share = {"unmapped": {"ShareName": "\\\\*\\C$", "RelativeTargetName": "Windows\\x.exe"}}
    assert event_title(row(share, "x")) == "x · \\\\*\\C$\\Windows\\x.exe"
    # odd types and a value without its key fall through to the message
    odd = {"message": "Registry value set:", "unmapped": {"TargetObject": {"a": 1}, "Details": "v", "PipeName": True}}
    assert event_title(row(odd, "registry_set")) == "registry_set · Registry value set:"
