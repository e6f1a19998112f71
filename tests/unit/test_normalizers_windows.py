"""Windows normaliser: every listed Security/System/Sysmon event id, all three export shapes, clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from secustream.events import decode_event, encode_event, get_field
from secustream.normalizers import NORMALIZERS, NormalizationError, iter_normalized, normalize_windows
from secustream.normalizers.windows import SUPPORTED_EVENT_IDS

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "windows" / "samples.jsonl"
LINES = [line for line in SAMPLES.read_text().splitlines() if line.strip()]

# sample line number → expected normalised fields and Sigma-named fields that must survive in `unmapped`
CASES: list[tuple[int, dict[str, Any]]] = [
    (1, {"event_type": "auth", "action": "logon", "outcome": "success", "source.ip": "10.20.1.15",
         "source.port": 50522, "destination.user": "alice", "destination.host": "FS01.corp.example",
         "unmapped.EventID": 4624, "unmapped.LogonType": "3", "unmapped.Channel": "Security",
         "dataset": "windows.security"}),
    (2, {"action": "logon", "outcome": "failure", "source.ip": "198.51.100.23", "source.host": "KALI",
         "destination.user": "administrator", "unmapped.Status": "0xc000006d", "unmapped.EventID": 4625,
         "unmapped.export.agent.type": "winlogbeat"}),
    (3, {"action": "explicit_credentials_logon", "source.user": "alice", "destination.user": "svc_backup",
         "destination.host": "FS01.corp.example", "process.name": "runas.exe", "process.pid": 8000,
         "unmapped.EventID": 4648}),
    (4, {"action": "special_privileges_assigned", "destination.user": "Administrator", "unmapped.EventID": 4672}),
    (5, {"event_type": "process", "action": "process_start", "process.executable": "C:\\Windows\\System32\\whoami.exe",
         "process.name": "whoami.exe", "process.pid": 0x1A2C, "process.parent_pid": 0x0F10,
         "process.command_line": "whoami /all", "process.parent_name": "cmd.exe", "unmapped.EventID": 4688,
         "unmapped.Image": "C:\\Windows\\System32\\whoami.exe",
         "unmapped.ParentImage": "C:\\Windows\\System32\\cmd.exe",
         "unmapped.NewProcessName": "C:\\Windows\\System32\\whoami.exe"}),
    (6, {"action": "user_account_created", "source.user": "Administrator", "destination.user": "backdoor",
         "unmapped.EventID": 4720}),
    (7, {"action": "kerberos_preauth_failed", "outcome": "failure", "source.ip": "10.20.1.77",
         "destination.user": "bob", "unmapped.EventID": 4771, "unmapped.Status": "0x18"}),
    (8, {"event_type": "system", "action": "service_installed", "dataset": "windows.system",
         "unmapped.ServiceName": "PSEXESVC", "unmapped.ImagePath": "%SystemRoot%\\PSEXESVC.exe",
         "unmapped.EventID": 7045, "unmapped.Provider_Name": "Service Control Manager"}),
    (9, {"event_type": "process", "action": "process_start", "dataset": "windows.sysmon", "process.pid": 6244,
         "process.parent_name": "explorer.exe", "process.user": "CORP\\alice", "source.user": "alice",
         "source.domain": "CORP", "unmapped.User": "CORP\\alice",
         "file.sha256": "de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c",
         "unmapped.Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
         "unmapped.OriginalFileName": "PowerShell.EXE", "unmapped.ParentImage": "C:\\Windows\\explorer.exe",
         "unmapped.EventID": 1, "timestamp": "2026-03-02T09:41:00.555000Z"}),
    (10, {"event_type": "network", "action": "network_connection", "source.ip": "10.20.1.15", "source.port": 50133,
          "destination.ip": "93.184.216.34", "destination.port": 443, "network.direction": "outbound",
          "network.transport": "tcp", "unmapped.EventID": 3, "unmapped.DestinationPort": "443"}),
    (11, {"action": "image_load", "file.path": "C:\\Windows\\System32\\comsvcs.dll",
          "unmapped.ImageLoaded": "C:\\Windows\\System32\\comsvcs.dll", "unmapped.EventID": 7,
          "timestamp": "2026-03-02T09:43:00Z"}),
    (12, {"action": "process_access", "process.executable": "C:\\Windows\\System32\\svchost.exe",
          "unmapped.TargetImage": "C:\\Windows\\System32\\services.exe", "unmapped.GrantedAccess": "0x1000",
          "unmapped.EventID": 10}),
    (13, {"event_type": "file", "action": "file_create", "file.path": "C:\\Users\\alice\\Documents\\report-q1.docx",
          "file.name": "report-q1.docx", "unmapped.TargetFilename": "C:\\Users\\alice\\Documents\\report-q1.docx",
          "unmapped.EventID": 11}),
    (14, {"event_type": "registry", "action": "registry_set", "unmapped.EventType": "SetValue",
          "unmapped.TargetObject":
              "HKU\\S-1-5-21-1-2-3-1104\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\OneDrive",
          "unmapped.EventID": 13}),
    (15, {"event_type": "dns", "action": "dns_query", "dns.query": "www.example.com", "dns.answers": ["93.184.216.34"],
          "unmapped.QueryName": "www.example.com", "unmapped.EventID": 22}),
]


@pytest.mark.parametrize(("line_no", "expected"), CASES, ids=[f"line{n}" for n, _ in CASES])
def test_sample_round_trip(line_no: int, expected: dict[str, Any]) -> None:
    event = normalize_windows(LINES[line_no - 1])
    doc = event.model_dump(mode="json")
    for path, want in expected.items():
        assert get_field(doc, path) == want, path
    assert decode_event(encode_event(event)) == event  # survives the Kafka hop unchanged
    assert event.raw == LINES[line_no - 1] and event.product == "windows"
    assert normalize_windows(LINES[line_no - 1]).event_id == event.event_id  # idempotent ids


def test_every_listed_event_id_has_a_sample() -> None:
    ids = {json.loads(line).get("EventID") or json.loads(line).get("winlog", {}).get("event_id")
           or json.loads(line).get("Event", {}).get("System", {}).get("EventID") for line in LINES[:15]}
    listed = {4624, 4625, 4648, 4672, 4688, 4720, 4771, 7045, 1, 3, 7, 10, 11, 13}
    assert listed <= {int(i) for i in ids}
    assert listed <= set(SUPPORTED_EVENT_IDS["security"]) | set(SUPPORTED_EVENT_IDS["system"]) \
        | set(SUPPORTED_EVENT_IDS["sysmon"])


def test_the_three_export_shapes_give_the_same_event() -> None:
    data = {"TargetUserName": "alice", "LogonType": "3", "IpAddress": "10.0.0.5", "IpPort": "5000",
            "AuthenticationPackageName": "NTLM"}
    flat = {"EventID": 4624, "Channel": "Security", "Provider_Name": "Microsoft-Windows-Security-Auditing",
            "Computer": "FS01", "TimeCreated": "2026-03-02T10:00:00.0000000Z", **data}
    beat = {"@timestamp": "2026-03-02T10:00:00Z", "winlog": {"event_id": "4624", "channel": "Security",
            "provider_name": "Microsoft-Windows-Security-Auditing", "computer_name": "FS01", "event_data": data}}
    dump = {"Event": {"System": {"EventID": {"#text": 4624}, "Channel": "Security", "Computer": "FS01",
                                 "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
                                 "TimeCreated": {"#attributes": {"SystemTime": "2026-03-02T10:00:00Z"}}},
                      "EventData": data}}
    events = [normalize_windows(json.dumps(d)) for d in (flat, beat, dump)]
    keys = ("event_type", "action", "outcome", "timestamp", "source", "destination")
    dumped = [e.model_dump(include=set(keys)) for e in events]
    assert dumped[0] == dumped[1] == dumped[2]
    for event in events:
        assert {k: event.unmapped[k] for k in data} == data
        assert event.unmapped["EventID"] == 4624 and event.unmapped["Computer"] == "FS01"


def test_xmltodict_export_reads_attributes_and_named_data() -> None:
    """python-evtx + xmltodict: attributes are ``@Name`` keys and EventData is a list of named Data elements."""
    line = json.dumps({"Event": {
        "@xmlns": "http://schemas.microsoft.com/win/2004/08/events/event",
        "System": {"Provider": {"@Name": "Microsoft-Windows-Security-Auditing", "@Guid": "{5484}"},
                   "EventID": {"@Qualifiers": "", "#text": "4625"},
                   "TimeCreated": {"@SystemTime": "2026-03-02T10:00:00.1234567Z"},
                   "EventRecordID": "123", "Channel": "Security", "Computer": "dc01.corp"},
        "EventData": {"Data": [{"@Name": "TargetUserName", "#text": "bob"}, {"@Name": "IpAddress", "#text": "10.0.0.5"},
                               {"@Name": "IpPort", "#text": "51234"}, {"@Name": "WorkstationName"},
                               {"@Name": "Status", "#text": "0xc000006d"}]}}})
    event = normalize_windows(line)
    assert (event.action, event.outcome, event.destination.user) == ("logon", "failure", "bob")
    assert (event.source.ip, event.source.port) == ("10.0.0.5", 51234)
    assert event.timestamp == datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=UTC)
    assert event.unmapped["Provider_Name"] == "Microsoft-Windows-Security-Auditing"
    assert "WorkstationName" not in event.unmapped  # an empty Data element is absent, as in the other exports
    single = json.dumps({"Event": {"System": {"EventID": "4688", "Channel": "Security",
                                              "TimeCreated": {"@SystemTime": "2026-03-02T10:00:00Z"}},
                                   "EventData": {"Data": {"@Name": "NewProcessName", "#text": "C:\\x.exe"}}}})
    assert normalize_windows(single).process.executable == "C:\\x.exe"


def test_classic_event_id_with_qualifiers_is_kept() -> None:
    """Classic logs' ids can carry qualifiers in the high 16 bits (Get-EventLog's InstanceId): still an id."""
    event = normalize_windows(json.dumps({"EventID": 1073748860, "Channel": "System",
                                          "TimeCreated": "2026-03-02T10:00:00Z"}))
    assert event.unmapped["EventID"] == 1073748860


def test_unknown_event_id_is_kept_not_rejected() -> None:
    event = normalize_windows(json.dumps({"EventID": 4957, "Channel": "Security", "TimeCreated": "2026-03-02T10:00:00Z",
                                          "RuleId": "CoreNet-IPHTTPS-In"}))
    assert event.event_type == "other" and event.action == "windows_event_4957"
    assert event.unmapped["RuleId"] == "CoreNet-IPHTTPS-In"


def _security(event_id: int, **data: Any) -> Any:
    return normalize_windows(json.dumps({"EventID": event_id, "Channel": "Security", "Hostname": "DC01.corp.local",
                                         "TimeCreated": "2026-03-02T10:00:00Z", **data}))


def test_object_access_names_the_account_the_process_and_a_file_object() -> None:
    """4656/4658/4663 (18 % of the OTRF Security lines with 4690, 5156 ...): the account and the process, so an alert
    on them groups on a user and names the process; a file object is the event's file, a registry key stays put."""
    key = _security(4663, SubjectUserName="MORDORDC$", SubjectDomainName="MORDOR", ProcessName="C:\\W\\conhost.exe",
                    ProcessId="0x10ec", ObjectType="Key", ObjectName="\\REGISTRY\\MACHINE\\SYSTEM\\Lsa")
    assert (key.event_type, key.action, key.outcome) == ("other", "object_accessed", "success")
    assert (key.source.user, key.source.domain) == ("MORDORDC$", "MORDOR")
    assert (key.process.name, key.process.pid) == ("conhost.exe", 0x10EC)
    assert key.file is None and key.unmapped["ObjectName"] == "\\REGISTRY\\MACHINE\\SYSTEM\\Lsa"
    file = _security(4656, SubjectUserName="bob", ProcessName="C:\\x.exe", ObjectType="File",
                     ObjectName="C:\\Windows\\NTDS\\ntds.dit")
    assert file.action == "object_handle_requested" and file.file.name == "ntds.dit"


def test_share_firewall_and_enumeration_events_have_their_own_kinds() -> None:
    share = _security(5145, SubjectUserName="DC01$", IpAddress="fe80::1", IpPort="55438", ShareName="\\\\*\\SYSVOL",
                      RelativeTargetName="corp\\gpt.ini")
    assert share.action == "network_share_object_checked" and share.source.ip == "fe80::1"
    assert share.file.path == "\\\\*\\SYSVOL\\corp\\gpt.ini" and share.source.user == "DC01$"
    wfp = _security(5156, Application="\\device\\harddiskvolume2\\windows\\system32\\svchost.exe", ProcessId="976",
                    Direction="%%14593", SourceAddress="10.0.0.5", SourcePort="50001", DestAddress="10.0.0.1",
                    DestPort="445", Protocol="6")
    assert (wfp.event_type, wfp.action) == ("network", "firewall_connection_permitted")
    assert wfp.process.name == "svchost.exe" and wfp.unmapped["DestAddress"] == "10.0.0.1"
    assert (wfp.source.ip, wfp.source.port, wfp.source.host) == ("10.0.0.5", 50001, "DC01.corp.local")
    assert (wfp.destination.ip, wfp.destination.port, wfp.destination.host) == ("10.0.0.1", 445, None)
    assert (wfp.network.transport, wfp.network.direction) == ("tcp", "outbound")
    assert _security(5157).outcome == "failure"
    bind = _security(5158, Application="System", SourceAddress="0.0.0.0", SourcePort="137")
    assert bind.event_type == "other" and bind.source.ip is None  # a bind is no connection: 0.0.0.0 is no peer
    enum = _security(4799, SubjectUserName="Administrator", SubjectDomainName="PANDALAB",
                     CallerProcessName="C:\\Windows\\System32\\ntdsutil.exe", CallerProcessId="0xad4",
                     TargetUserName="Backup Operators")
    assert enum.action == "local_group_enumerated" and (enum.process.name, enum.process.pid) == ("ntdsutil.exe", 0xAD4)


def _powershell(event_id: int, channel: str, **data: Any) -> Any:
    return normalize_windows(json.dumps({"EventID": event_id, "Channel": channel, "Hostname": "WS5.corp.local",
                                         "TimeCreated": "2026-03-02T10:00:00Z", **data}))


def test_powershell_module_and_classic_events_name_the_host_application_and_the_user() -> None:
    """4103 (module logging: ContextInfo) and the classic engine (800 pipeline executed, 600 provider started: the
    message's details) carry the PowerShell command line and the user; the classic events' details are their
    ``Data`` where the export dropped it (NXLog's flat lines), which SigmaHQ's ps_classic_* rules read."""
    context = ("        Severity = Informational\n        Host Application = C:\\W\\powershell.exe -nop -enc SQBFAFgA\n"
               "        Connected User = CORP\\eve\n        User = CORP\\alice\n")  # a key must start its line
    module = _powershell(4103, "Microsoft-Windows-PowerShell/Operational", ContextInfo=context, Payload="x")
    assert (module.event_type, module.action) == ("other", "powershell_module_logged")
    assert (module.source.user, module.source.domain) == ("alice", "CORP")
    assert module.process.name == "powershell.exe" and module.process.command_line.endswith("-enc SQBFAFgA")
    details = ("Pipeline execution details for command line: . \r\n\r\nContext Information: \r\n\tUserId=CORP\\bob\r\n"
               "\tHostApplication=C:\\W\\PowerShell_ISE.exe\r\n\tEngineVersion=5.1\r\n")
    pipeline = _powershell(800, "Windows PowerShell", Message=details)
    assert pipeline.action == "powershell_pipeline_executed" and pipeline.unmapped["Data"] == pipeline.message
    assert (pipeline.source.user, pipeline.process.name) == ("bob", "PowerShell_ISE.exe")
    given = _powershell(600, "Windows PowerShell", Message="Provider started", Data="HostApplication=x.exe")
    assert given.unmapped["Data"] == "HostApplication=x.exe"  # the export's own Data is kept
    bare = _powershell(800, "Windows PowerShell")
    assert bare.action == "powershell_pipeline_executed" and "Data" not in bare.unmapped and bare.process is None


def _sysmon(event_id: int, **data: Any) -> Any:
    return normalize_windows(json.dumps({"EventID": event_id, "Channel": "Microsoft-Windows-Sysmon/Operational",
                                         "Hostname": "DC01.theshire.local", "TimeCreated": "2020-09-22T04:11:54Z",
                                         **data}))


def test_sysmon_raw_disk_reads_blocked_files_and_wmi_subscriptions_have_kinds_of_their_own() -> None:
    """The OTRF recordings hold 2,200 raw volume reads (Sysmon 9: an NTDS.dit copy), 453 file time changes and 140
    blocked shreddings; as ``windows_event_<id>`` they had no process, file or user, so their alerts named only
    the host and their titles the event's header."""
    image, user = "C:\\Windows\\System32\\esentutl.exe", "THESHIRE\\pgustavo"
    raw = _sysmon(9, Image=image, ProcessId="4242", Device="\\Device\\HarddiskVolume2", User=user)
    assert (raw.event_type, raw.action, raw.outcome) == ("file", "raw_access_read", "success")
    assert raw.process.name == "esentutl.exe" and raw.process.pid == 4242 and raw.process.user == user
    assert raw.file.path == "\\Device\\HarddiskVolume2" and raw.source.user == "pgustavo"
    assert raw.unmapped["Device"] == "\\Device\\HarddiskVolume2"  # Sigma's field stays where rules look
    blocked = _sysmon(28, Image=image, TargetFilename="C:\\Windows\\Temp\\ntds.dit", User=user)
    assert (blocked.action, blocked.outcome, blocked.file.path) == ("file_block_shredding", "failure",
                                                                    "C:\\Windows\\Temp\\ntds.dit")
    touched = _sysmon(2, Image=image, TargetFilename="C:\\x.dll", User=user)
    assert (touched.event_type, touched.action, touched.file.path) == ("file", "file_time_modified", "C:\\x.dll")
    wmi = _sysmon(20, Operation="Created", User=user, Name="Updater", Destination="cmd /c evil.exe")
    assert (wmi.event_type, wmi.action, wmi.source.user, wmi.process) == ("system", "wmi_event_consumer",
                                                                          "pgustavo", None)
    assert set(range(1, 30)) <= set(SUPPORTED_EVENT_IDS["sysmon"])  # every Sysmon 15 event id


@pytest.mark.parametrize(("line", "reason"), [
    ("", "empty line"),
    ("[1, 2]", "expected a JSON object"),
    ("{not json", "malformed JSON"),
    ('{"EventID": 4624, "Channel": "Security"}', "without a timestamp"),
    ('{"Channel": "Security", "TimeCreated": "2026-03-02T10:00:00Z"}', "no EventID"),
    ('{"EventID": 1e999, "TimeCreated": "2026-03-02T10:00:00Z"}', "EventID 'inf' is not an integer"),
    ('{"EventID": "abc", "TimeCreated": "2026-03-02T10:00:00Z"}', "EventID 'abc' is not an integer"),
    ('{"EventID": 4624.5, "TimeCreated": "2026-03-02T10:00:00Z"}', "is not an integer"),
    ('{"EventID": -5, "TimeCreated": "2026-03-02T10:00:00Z"}', "EventID -5 is outside 0..4294967295"),
    ('{"EventID": 4294967296, "TimeCreated": "2026-03-02T10:00:00Z"}', "is outside 0.."),
    ('{"EventID": 4624, "TimeCreated": "yesterday"}', "bad timestamp"),
    ('{"EventID": 3, "Channel": "Microsoft-Windows-Sysmon/Operational", "TimeCreated": "2026-03-02T10:00:00Z",'
     ' "SourcePort": "70000", "DestinationIp": "10.0.0.1"}', None),
])
def test_errors_are_clear(line: str, reason: str | None) -> None:
    if reason is None:  # an out-of-range port is dropped, not fatal
        assert normalize_windows(line).source.port is None
        return
    with pytest.raises(NormalizationError) as info:
        normalize_windows(line)
    assert reason in info.value.reason


def test_file_with_bad_lines_counts_them_and_continues() -> None:
    results = list(iter_normalized(SAMPLES.read_text().splitlines(), "windows"))
    assert sum(r.event is not None for r in results) == 15
    assert [r.line_no for r in results if r.error] == [16, 17, 18]
    assert "windows" in NORMALIZERS


@pytest.mark.parametrize(("stamp", "utc"), [
    ("2026-03-02T10:00:00.1234567Z", "2026-03-02T10:00:00.123456+00:00"),
    ("2026-03-02T15:00:00.123+05:00", "2026-03-02T10:00:00.123000+00:00"),  # the offset after a fraction counts
    ("2026-03-02 10:00:00.5-02:30", "2026-03-02T12:30:00.500000+00:00"),
    ("2026-03-02T10:00:00.1234567", "2026-03-02T10:00:00.123456+00:00"),  # naive means UTC
    ("2026-03-02T10:00:00.+01:00", "2026-03-02T09:00:00+00:00"),  # an empty fraction is no fraction
])
def test_timestamps_keep_their_offset(stamp: str, utc: str) -> None:
    event = normalize_windows(json.dumps({"EventID": 4624, "Channel": "Security", "TimeCreated": stamp}))
    assert event.timestamp.astimezone(UTC).isoformat() == utc


def test_a_sysmon_account_is_the_user_security_events_name() -> None:
    """Sysmon writes ``DOMAIN\\name``, Security events ``SubjectUserName`` and ``SubjectDomainName`` apart: both give
    ``source.user`` = name and ``source.domain`` = domain, so one account is one alert entity (real OTRF: "Mimikatz
    Use" hit theshire\\pgustavo on Sysmon and pgustavo on PowerShell, two alerts for one user before)."""
    from secustream.alert_hit import ACTOR, TARGET
    from secustream.alerts.hits import entities_of, grouping_entity

    sysmon = json.loads(LINES[11])  # Sysmon 10: SourceUser acts on TargetUser
    sysmon["EventData"].update(SourceUser="THESHIRE\\pgustavo", TargetUser="NT AUTHORITY\\SYSTEM")
    access = normalize_windows(json.dumps(sysmon))
    assert (access.source.user, access.source.domain) == ("pgustavo", "THESHIRE")
    assert (access.destination.user, access.destination.domain) == ("SYSTEM", "NT AUTHORITY")
    assert access.process is not None and access.process.user == "THESHIRE\\pgustavo"  # the log's own form
    assert access.unmapped["SourceUser"] == "THESHIRE\\pgustavo"  # what Sigma rules read, unchanged
    explicit = normalize_windows(json.dumps({  # 4648: SubjectUserName acts
        "EventID": 4648, "TimeCreated": "2026-03-02T09:44:00Z", "Computer": "WS042.corp.example", "Channel": "Security",
        "Provider": "Microsoft-Windows-Security-Auditing",
        "EventData": {"SubjectUserName": "pgustavo", "SubjectDomainName": "THESHIRE", "TargetUserName": "svc"}}))
    assert explicit.action == "explicit_credentials_logon"
    assert grouping_entity(access, None, ()) == grouping_entity(explicit, None, ()) == ("user", "pgustavo")
    # the process's user (the log's own DOMAIN\\name) is the same account entity, not a second one
    assert [e for e in entities_of(access) if e[0] == "user"] == [("user", "pgustavo", ACTOR),
                                                                  ("user", "system", TARGET)]
    for odd, user, domain in (("pgustavo", "pgustavo", None), ("\\pgustavo", "pgustavo", None),
                              ("THESHIRE\\", "THESHIRE\\", None), ("a\\b\\c", "c", "a\\b"),
                              ("alice@corp.example", "alice@corp.example", None)):
        sysmon["EventData"]["SourceUser"] = odd
        event = normalize_windows(json.dumps(sysmon))
        assert (event.source.user, event.source.domain) == (user, domain), odd


def test_connections_name_the_side_that_opened_them_first() -> None:
    """ECS's source is the initiator. Sysmon 3 and WFP record an inbound TCP connection that way, but an inbound UDP
    exchange from the local service's side (real OTRF domain controllers: dns.exe ``172.18.38.5:53 -> client:49713``,
    ``Initiated: false``); taken as recorded, a DNS server 'probed' its clients' ephemeral ports and PORT-SCAN fired.
    The local host and the process's account join the local side."""
    dns = _sysmon(3, Image="C:\\Windows\\System32\\dns.exe", User="NT AUTHORITY\\SYSTEM", Protocol="udp",
                  Initiated="false", SourceIp="172.18.38.5", SourcePort="53", DestinationIp="172.18.39.5",
                  DestinationPort="49713", DestinationHostname="-")
    assert (dns.source.ip, dns.source.port, dns.source.user) == ("172.18.39.5", 49713, None)
    assert (dns.destination.ip, dns.destination.port, dns.destination.user) == ("172.18.38.5", 53, "SYSTEM")
    assert (dns.destination.host, dns.source.host) == ("DC01.theshire.local", None)
    assert (dns.network.direction, dns.unmapped["SourcePort"]) == ("inbound", "53")  # Sigma reads the raw fields
    ldap = _sysmon(3, Image="C:\\Windows\\System32\\lsass.exe", User="NT AUTHORITY\\SYSTEM", Protocol="tcp",
                   Initiated="false", SourceIp="10.0.0.7", SourcePort="56256", DestinationIp="10.0.0.1",
                   DestinationPort="389")
    assert (ldap.source.ip, ldap.destination.port, ldap.destination.user) == ("10.0.0.7", 389, "SYSTEM")
    web = _sysmon(3, Image="C:\\x\\powershell.exe", User="CORP\\alice", Protocol="tcp", Initiated="true",
                  SourceIp="10.0.0.7", SourcePort="50100", DestinationIp="203.0.113.9", DestinationPort="443",
                  DestinationHostname="example.org")
    assert (web.source.ip, web.source.user, web.destination.host) == ("10.0.0.7", "alice", "example.org")
    assert web.network.direction == "outbound" and web.destination.user is None
    wfp = _security(5156, Direction="%%14592", SourceAddress="192.168.5.2", SourcePort="49246",
                    DestAddress="172.18.38.5", DestPort="53", Protocol="17")
    assert (wfp.source.ip, wfp.source.host, wfp.destination.port, wfp.destination.host) == (
        "192.168.5.2", None, 53, "DC01.corp.local")
    assert wfp.network.transport == "udp"


def test_an_access_list_of_codes_gets_windows_names_after_them() -> None:
    """SigmaHQ rules read ``AccessList`` as codes (``%%4417``) or as names (``WriteData``): both are there; codes
    Windows has no name for here stay as they are, a list with no code is untouched."""
    share = _security(5145, ShareName="\\\\*\\IPC$", RelativeTargetName="svcctl",
                      AccessList="%%1538\r\n\t\t\t\t%%4417\r\n\t\t\t\t%%9999\r\n\t\t\t\t")
    assert share.unmapped["AccessList"] == ("%%1538\r\n\t\t\t\t%%4417\r\n\t\t\t\t%%9999\r\n\t\t\t\tREAD_CONTROL"
                                            "\r\n\t\t\t\tWriteData (or AddFile)")
    assert _security(4663, AccessList="ReadData").unmapped["AccessList"] == "ReadData"
    assert _security(4663, AccessList="%%9999").unmapped["AccessList"] == "%%9999"
    long = "%%4417 " * 2000  # longer than the cache keeps: rendered all the same
    assert _security(4663, AccessList=long).unmapped["AccessList"].endswith("WriteData (or AddFile)")
