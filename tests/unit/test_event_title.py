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


DCSYNC_4662 = {"EventID": 4662, "ObjectServer": "DS", "SubjectUserName": "pgustavo",
               "ObjectType": "%{19195a5b-6da0-11d0-afd3-00c04fd930c9}",
               "ObjectName": "%{d613d8a5-418b-4b7a-83b8-ae1511c502c4}",
               "Properties": "%%7688\r\n\t\t{1131f6ad-9c07-11d1-f79f-00c04fc2dcd2}\r\n\t"
                             "{19195a5b-6da0-11d0-afd3-00c04fd930c9}\r\n",
               "AccessList": "%%7688\r\n\t\t\t\tControl Access"}


def test_a_directory_object_access_names_who_which_right_on_which_class_not_the_objects_guid() -> None:
    """Security 4662 names everything by GUID: a DCSync alert's sample read ``%{d613d8a5-…}`` (windows_ad.py)."""
    payload = {"dataset": "windows.security", "unmapped": DCSYNC_4662}
    assert event_title(row(payload, "windows_event_4662", destination_host="MORDORDC.theshire.local")) == (
        "windows_event_4662 · windows.security 4662 · MORDORDC.theshire.local · "
        "pgustavo: DS-Replication-Get-Changes-All on domainDNS")
    unknown = {**DCSYNC_4662, "Properties": "%%7684\r\n{00000000-1111-2222-3333-444444444444}",
               "ObjectType": "%{bf967aba-0de6-11d0-a285-00aa003049e2}", "AccessList": "%%7684\r\n Read Property"}
    assert event_title(row({"unmapped": unknown}, "x")) == "x · event 4662 · pgustavo: Read Property on user"
    bare = {"ObjectServer": "ds", "ObjectType": "%{12345678-1111-2222-3333-444444444444}", "ObjectName": "n"}
    assert event_title(row({"unmapped": bare}, "x")) == "x · 12345678-1111-2222-3333-444444444444"
    lsa = {**DCSYNC_4662, "ObjectServer": "LSA", "ObjectName": "Policy\\Secrets\\$MACHINE.ACC"}  # not a directory
    assert event_title(row({"unmapped": lsa}, "x")) == "x · event 4662 · Policy\\Secrets\\$MACHINE.ACC"
    hostile = {**DCSYNC_4662, "Properties": "{1131f6ad-9c07-11d1-f79f-00c04fc2dcd2}" * 100_000, "SubjectUserName": 7}
    assert event_title(row({"unmapped": hostile}, "x")) == (
        "x · event 4662 · DS-Replication-Get-Changes-All on domainDNS")


def test_the_real_dcsync_events_read_as_the_rights_they_asked_for() -> None:
    import contextlib

    from secustream.normalizers import NormalizationError, normalize_windows
    from tests.corpora import OTRF, otrf_lines, require

    titles = []
    for line in otrf_lines(require(OTRF / "credential_access/host/empire_dcsync_dcerpc_drsuapi_DsGetNCChanges.zip")):
        with contextlib.suppress(NormalizationError):
            event = normalize_windows(line)
            if event.unmapped.get("EventID") == 4662 and event.unmapped.get("ObjectServer") == "DS":
                payload = event.model_dump(mode="json", exclude_none=True)
                titles.append(event_title(row(payload, event.action, destination_host=event.destination.host)).split(
                    " · ")[-1])
    assert "pgustavo: DS-Replication-Get-Changes-All on domainDNS" in titles
    assert all(" on domainDNS" in t and "%{" not in t for t in titles), titles
