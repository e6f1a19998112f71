"""Windows event log JSON (Security, System, Sysmon, PowerShell) → ``SecurityEvent``.

Why one module for three shapes: shippers export the same EVTX record as a Winlogbeat/ECS document
(``winlog.event_data``), a flat EVTX→JSON object (``EventID``, ``Channel``, EventData fields at the
top level or under ``EventData``; NXLog, EvtxECmd, Splunk UF), or evtx_dump's ``Event.System`` /
``Event.EventData`` tree. All three become the same event.

Sigma/Sysmon field names stay available: every EventData field is copied into ``unmapped`` under
its own name (``unmapped.Image``, ``unmapped.CommandLine``, ``unmapped.TargetObject`` …) together
with ``EventID``, ``Channel``, ``Provider_Name`` and ``Computer``. Security 4688 also gets the
Sysmon-style ``Image``/``ParentImage``/``User`` names, so generic ``process_creation`` Sigma rules
match it (SigmaHQ's Windows pipelines do the same mapping).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from secustream.events import (
    MAX_NAME,
    DnsInfo,
    Endpoint,
    EventType,
    FileInfo,
    NetworkInfo,
    Outcome,
    ProcessInfo,
    SecurityEvent,
    aware_utc,
    endpoint_ip,
    split_account,
    trusted_builder,
)
from secustream.evtx import (
    IP_PROTOCOLS,
    evtx_int,
    evtx_ip,
    evtx_port,
    evtx_text,
    initiator_first,
    wfp_connection,
)
from secustream.native import any_none, any_spaced_key, take_first
from secustream.normalizers.base import (
    MAX_ACTION,
    MAX_MESSAGE,
    MAX_RAW,
    NormalizationError,
    clip,
    line_event_id,
    parse_json_object_strict,
    validation_reason,
)

SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"
POWERSHELL_CHANNEL = "Microsoft-Windows-PowerShell/Operational"

Doc = dict[str, Any]


_s, _int, _ip, _port = evtx_text, evtx_int, evtx_ip, evtx_port  # short names for this module's many field reads


def _base(path: str | None) -> str | None:
    return path.replace("/", "\\").rsplit("\\", 1)[-1] if path else None


# ---------------------------------------------------------------- per event id: type, action, outcome, fields
Mapper = Callable[[Doc, Doc, str | None], None]
"""(EventData, event doc being built, computer) → fills the doc's normalised fields."""


def _logon(data: Doc, doc: Doc, computer: str | None) -> None:
    doc["source"] = {"ip": _ip(data.get("IpAddress")), "port": _port(data.get("IpPort")),
                     "host": _s(data.get("WorkstationName"))}
    doc["destination"] = {"host": computer, "user": _s(data.get("TargetUserName")),
                          "domain": _s(data.get("TargetDomainName"))}
    if _s(data.get("ProcessName")):
        doc["process"] = {"executable": _s(data.get("ProcessName")), "name": _base(_s(data.get("ProcessName"))),
                          "pid": _int(data.get("ProcessId"))}


def _explicit(data: Doc, doc: Doc, computer: str | None) -> None:
    _logon(data, doc, computer)
    doc["source"]["user"] = _s(data.get("SubjectUserName"))
    doc["source"]["host"] = computer
    doc["destination"]["host"] = _s(data.get("TargetServerName")) or computer


def _subject_side(data: Doc, computer: str | None) -> Doc:
    """The acting account of a Security event (``SubjectUserName``/``SubjectDomainName``) on its host."""
    return {"host": computer, "user": _s(data.get("SubjectUserName")), "domain": _s(data.get("SubjectDomainName"))}


def _subject(data: Doc, doc: Doc, computer: str | None) -> None:
    doc["destination"] = _subject_side(data, computer)


def _account(data: Doc, doc: Doc, computer: str | None) -> None:
    doc["source"] = {"host": computer, "user": _s(data.get("SubjectUserName"))}
    member = _s(data.get("MemberName"))
    target = _s(data.get("TargetUserName"))
    if member:  # group membership: TargetUserName is the group, MemberName the DN of the member
        doc["destination"] = {"host": computer, "user": member.split(",", 1)[0].removeprefix("CN=")}
        doc.setdefault("unmapped", {})["group"] = target
    else:
        doc["destination"] = {"host": computer, "user": target, "domain": _s(data.get("TargetDomainName"))}


def _kerberos(data: Doc, doc: Doc, computer: str | None) -> None:
    doc["source"] = {"ip": _ip(data.get("IpAddress")), "port": _port(data.get("IpPort"))}
    doc["destination"] = {"host": computer, "user": _s(data.get("TargetUserName")),
                          "domain": _s(data.get("TargetDomainName"))}
    status = _s(data.get("Status"))
    if status is not None and doc.get("outcome") is None:
        doc["outcome"] = Outcome.SUCCESS if _int(status) == 0 else Outcome.FAILURE


def _proc_4688(data: Doc, doc: Doc, computer: str | None) -> None:
    image, parent = _s(data.get("NewProcessName")), _s(data.get("ParentProcessName"))
    doc["process"] = {"executable": image, "name": _base(image), "pid": _int(data.get("NewProcessId")),
                      "command_line": _s(data.get("CommandLine")), "parent_name": _base(parent),
                      "parent_pid": _int(data.get("ProcessId")),
                      "user": _s(data.get("TargetUserName")) or _s(data.get("SubjectUserName"))}
    doc["source"] = {"host": computer, "user": _s(data.get("SubjectUserName"))}
    # the Sysmon names generic process_creation rules use (Sigma's windows pipeline mapping)
    for sigma, ours in (("Image", image), ("ParentImage", parent), ("User", doc["process"]["user"]),
                        ("ProcessId", doc["process"]["pid"]), ("ParentProcessId", doc["process"]["parent_pid"])):
        if ours is not None and sigma not in data:
            doc.setdefault("unmapped", {})[sigma] = ours


def _service(data: Doc, doc: Doc, computer: str | None) -> None:
    path = _s(data.get("ImagePath")) or _s(data.get("ServiceFileName"))
    doc["source"] = {"host": computer, "user": _s(data.get("AccountName")) or _s(data.get("SubjectUserName"))}
    doc["destination"] = {"host": computer}
    if path:
        doc["process"] = {"command_line": path}
    name = _s(data.get("ServiceName"))
    doc["message"] = doc.get("message") or f"A service was installed in the system. Service Name: {name}"


def _task(data: Doc, doc: Doc, computer: str | None) -> None:
    """Security 4698-4702: the account that registered, changed or removed the task (the task stays
    ``unmapped.TaskName``, its XML ``TaskContent``/``TaskContentNew``)."""
    doc["source"] = _subject_side(data, computer)


def _host_only(data: Doc, doc: Doc, computer: str | None) -> None:
    doc["source"] = {"host": computer, "user": _s(data.get("SubjectUserName"))}


def _account_endpoint(computer: str | None, account: str | None) -> Doc:
    """An endpoint for a Sysmon ``User`` (``THESHIRE\\pgustavo``, ``NT AUTHORITY\\SYSTEM``): user and domain apart,
    as Security events name them (``SubjectUserName``, ``SubjectDomainName``), so one account is one user entity
    (one alert, one entity page) whichever log names it; ``process.user`` keeps the log's own form."""
    user, domain = split_account(account)
    if domain is None:
        return {"host": computer, "user": user}
    return {"host": computer, "user": user, "domain": domain or None}


def _sysmon_process(data: Doc, doc: Doc, computer: str | None) -> None:
    image, parent = _s(data.get("Image")), _s(data.get("ParentImage"))
    doc["process"] = {"executable": image, "name": _base(image), "pid": _int(data.get("ProcessId")),
                      "command_line": _s(data.get("CommandLine")), "user": _s(data.get("User")),
                      "parent_name": _base(parent), "parent_pid": _int(data.get("ParentProcessId")),
                      "parent_command_line": _s(data.get("ParentCommandLine"))}
    doc["source"] = _account_endpoint(computer, _s(data.get("User")))
    sha = _hash(data.get("Hashes"), "SHA256")
    if sha and image:
        doc["file"] = {"path": image, "name": _base(image), "sha256": sha}


def _hash(hashes: Any, kind: str) -> str | None:
    for part in str(hashes or "").split(","):
        name, _, value = part.partition("=")
        if name.strip().upper() == kind and value.strip():
            return value.strip().lower()
    return None


def _sysmon_image(data: Doc, doc: Doc, computer: str | None) -> None:
    image, user = _s(data.get("Image")), _s(data.get("User"))
    doc["process"] = {"executable": image, "name": _base(image), "pid": _int(data.get("ProcessId")), "user": user}
    doc["source"] = _account_endpoint(computer, user)


def _sysmon_network(data: Doc, doc: Doc, computer: str | None) -> None:
    _sysmon_image(data, doc, computer)  # the process, and its host and account as the local side
    initiated = str(data.get("Initiated", "")).lower()
    inbound = False if initiated == "true" else True if initiated == "false" else None
    recorded = ({"ip": _ip(data.get("SourceIp")), "port": _port(data.get("SourcePort")),
                 "host": _s(data.get("SourceHostname"))},
                {"ip": _ip(data.get("DestinationIp")), "port": _port(data.get("DestinationPort")),
                 "host": _s(data.get("DestinationHostname"))})
    _connection(doc, doc["source"], *recorded, inbound, _s(data.get("Protocol")))


def _connection(doc: Doc, local: Doc, source: Doc, destination: Doc, inbound: bool | None,
                transport: str | None) -> None:
    """The event's ``source``, ``destination`` (``initiator_first``) and ``network``. The local host (and the account
    of a Sysmon process) joins the side that is local: the source of an outbound connection, the destination of an
    inbound one (unknown direction: the source, as recorded). The raw fields stay in ``unmapped`` for Sigma rules."""
    source, destination = initiator_first(source, destination, inbound)
    if inbound:
        destination = {**destination, **{k: v for k, v in local.items() if v is not None}}
    else:
        source = {**source, **{k: v for k, v in local.items() if v is not None}}
    doc["source"], doc["destination"] = source, destination
    doc["network"] = {"transport": transport,
                      "direction": "inbound" if inbound else "outbound" if inbound is False else None}


def _sysmon_access(data: Doc, doc: Doc, computer: str | None) -> None:
    source, user = _s(data.get("SourceImage")), _s(data.get("SourceUser"))
    doc["process"] = {"executable": source, "name": _base(source), "pid": _int(data.get("SourceProcessId")),
                      "user": user}
    doc["source"] = _account_endpoint(computer, user)
    doc["destination"] = _account_endpoint(computer, _s(data.get("TargetUser")))


def _sysmon_file(data: Doc, doc: Doc, computer: str | None) -> None:
    _sysmon_image(data, doc, computer)
    target = _s(data.get("TargetFilename")) or _s(data.get("ImageLoaded"))
    if target:
        doc["file"] = {"path": target, "name": _base(target), "action": doc.get("action"),
                       "sha256": _hash(data.get("Hashes"), "SHA256")}


def _sysmon_dns(data: Doc, doc: Doc, computer: str | None) -> None:
    _sysmon_image(data, doc, computer)
    answers = [ip for a in str(data.get("QueryResults") or "").replace(";", " ").split() if (ip := _ip(a))]
    doc["dns"] = {"query": _s(data.get("QueryName")), "answers": answers}


def _sysmon_raw_access(data: Doc, doc: Doc, computer: str | None) -> None:
    """Sysmon 9: a process read a volume directly (``\\Device\\HarddiskVolume2``: NTDS.dit or SAM copies)."""
    _sysmon_image(data, doc, computer)
    device = _s(data.get("Device"))
    if device:
        doc["file"] = {"path": device, "name": _base(device), "action": doc.get("action")}


def _sysmon_account(data: Doc, doc: Doc, computer: str | None) -> None:
    """Sysmon events without a process (WMI subscriptions, Sysmon's own state): the account that acted."""
    doc["source"] = _account_endpoint(computer, _s(data.get("User")))


def _script(data: Doc, doc: Doc, computer: str | None) -> None:
    doc["source"] = {"host": computer}
    doc["process"] = {"name": "powershell.exe", "command_line": clip(_s(data.get("ScriptBlockText")), MAX_MESSAGE)}


def _subject_process(data: Doc, doc: Doc, computer: str | None) -> None:
    """Security events about what a process did under an account (object access, privileges, token rights, group
    enumeration): the account (``Subject*``) and the process (``ProcessName``/``CallerProcessName``); a file
    object's path as the file (a registry key stays ``ObjectName`` in ``unmapped``)."""
    doc["source"] = _subject_side(data, computer)
    image = _s(data.get("ProcessName")) or _s(data.get("CallerProcessName"))
    if image:
        doc["process"] = {"executable": image, "name": _base(image),
                          "pid": _int(data.get("ProcessId")) or _int(data.get("CallerProcessId"))}
    target = _s(data.get("ObjectName"))
    if target and _s(data.get("ObjectType")) == "File":
        doc["file"] = {"path": target, "name": _base(target)}


def _share(data: Doc, doc: Doc, computer: str | None) -> None:
    """5140/5145: a network share reached from an address by an account; the share's path and the file in it."""
    doc["source"] = {"ip": _ip(data.get("IpAddress")), "port": _port(data.get("IpPort")),
                     "user": _s(data.get("SubjectUserName")), "domain": _s(data.get("SubjectDomainName"))}
    doc["destination"] = {"host": computer}
    share, relative = _s(data.get("ShareName")), _s(data.get("RelativeTargetName"))
    if share:
        path = f"{share}\\{relative}" if relative else share
        doc["file"] = {"path": path, "name": _base(path)}


def _firewall(data: Doc, doc: Doc, computer: str | None) -> None:
    """Windows Filtering Platform listen and bind (5154, 5158): the application (a device path) and its host; the
    local address stays in ``unmapped`` (``SourceAddress``, often ``0.0.0.0``: no endpoint of a connection)."""
    doc["source"] = {"host": computer}
    application = _s(data.get("Application"))
    if application:
        doc["process"] = {"executable": application, "name": _base(application), "pid": _int(data.get("ProcessId"))}


def _firewall_connection(data: Doc, doc: Doc, computer: str | None) -> None:
    """WFP connections permitted or blocked and packets dropped (5156, 5157, 5152): a network event
    (``wfp_connection``), the IP protocol by name (``evtx.IP_PROTOCOLS``, else its number)."""
    _firewall(data, doc, computer)  # the application, and the host as the local side
    protocol = _s(data.get("Protocol"))
    source, destination, inbound = wfp_connection(data)
    _connection(doc, doc["source"], source, destination, inbound,
                IP_PROTOCOLS.get(_int(protocol), protocol) if protocol else None)


_POWERSHELL_CONTEXT_CHARS = 16384  # the context is at the start of ContextInfo and of a classic event's details


def _context_value(text: str, keys: tuple[str, ...]) -> str | None:
    """The value after the first of ``keys`` that starts a line (blanks before it allowed) in the first
    ``_POWERSHELL_CONTEXT_CHARS`` characters: ``Host Application = ...`` (4103) or ``HostApplication=...`` (classic).
    ``str.find``, not a multi-line regex: a regex tried at every position cost ~16 us per real PowerShell event."""
    for key in keys:
        at = text.find(key, 0, _POWERSHELL_CONTEXT_CHARS)
        while at >= 0:
            blank = at
            while blank > 0 and text[blank - 1] in " \t":  # back over this line's indent only: linear in the text
                blank -= 1
            if blank == 0 or text[blank - 1] in "\r\n":
                end = text.find("\n", at)
                return text[at + len(key):end if end >= 0 else len(text)].strip()
            at = text.find(key, at + 1, _POWERSHELL_CONTEXT_CHARS)
    return None


def _powershell(data: Doc, doc: Doc, computer: str | None) -> None:
    """PowerShell module logging (4103: ``ContextInfo``) and the classic engine's events (400, 403, 600, 800: the
    message's details): the host application (the ``powershell.exe ...`` command line) and the user who ran it."""
    text = _s(data.get("ContextInfo")) or _s(data.get("Data")) or ""
    doc["source"] = _account_endpoint(computer, _context_value(text, ("User =", "UserId=")) or None)
    command = _context_value(text, ("Host Application =", "HostApplication="))
    if command:
        end = command.lower().find(".exe")
        image = command[:end + 4].strip('"') if end >= 0 else command.split(" ", 1)[0]
        doc["process"] = {"executable": image, "name": _base(image), "command_line": command}


_CLASSIC_POWERSHELL = frozenset({400, 403, 600, 800})


def _classic_details(kind: str, event_id: int, fields: Doc, event_data: Doc) -> str | None:
    """A classic PowerShell event's ``Data`` where the export dropped it: its message.

    Why: the classic engine (400 engine started, 403 stopped, 600 provider started, 800 pipeline executed) writes
    its details (``HostApplication=...``, ``EngineVersion=...``, ``UserId=...``) as unnamed data, which SigmaHQ's
    ``ps_classic_*`` rules read as ``Data``. The flat exports of the OTRF recordings (NXLog) keep none of it; the
    rendered message holds the same ``key=value`` lines, so without it those rules could never fire there."""
    if kind != "powershell" or event_id not in _CLASSIC_POWERSHELL or event_data.get("Data") is not None:
        return None
    return clip(_s(fields.get("Message")), MAX_MESSAGE)


ACCESS_NAMES: Mapping[str, str] = MappingProxyType({
    # standard rights
    "%%1537": "DELETE", "%%1538": "READ_CONTROL", "%%1539": "WRITE_DAC", "%%1540": "WRITE_OWNER",
    "%%1541": "SYNCHRONIZE", "%%1542": "ACCESS_SYS_SEC",
    # files, directories, pipes
    "%%4416": "ReadData (or ListDirectory)", "%%4417": "WriteData (or AddFile)",
    "%%4418": "AppendData (or AddSubdirectory or CreatePipeInstance)", "%%4419": "ReadEA", "%%4420": "WriteEA",
    "%%4421": "Execute/Traverse", "%%4422": "DeleteChild", "%%4423": "ReadAttributes", "%%4424": "WriteAttributes",
    # registry keys
    "%%4432": "Query key value", "%%4433": "Set key value", "%%4434": "Create sub-key", "%%4435": "Enumerate sub-keys",
    "%%4436": "Notify about changes to keys", "%%4437": "Create Link",
    # processes
    "%%4480": "Force process termination", "%%4481": "Create new thread in process",
    "%%4482": "Set process session ID", "%%4483": "Perform virtual memory operation",
    "%%4484": "Read from process memory", "%%4485": "Write to process memory",
    "%%4486": "Duplicate handle into or out of process", "%%4487": "Create a subprocess of process",
    "%%4488": "Set process quotas", "%%4489": "Set process information", "%%4490": "Query process information",
    "%%4491": "Set process termination port",
    # SAM server, domain, group, alias, user
    "%%5376": "ConnectToServer", "%%5377": "ShutdownServer", "%%5378": "InitializeServer", "%%5379": "CreateDomain",
    "%%5380": "EnumerateDomains", "%%5381": "LookupDomain", "%%5392": "ReadPasswordParameters",
    "%%5393": "WritePasswordParameters", "%%5394": "ReadOtherParameters", "%%5395": "WriteOtherParameters",
    "%%5396": "CreateUser", "%%5397": "CreateGlobalGroup", "%%5398": "CreateLocalGroup",
    "%%5399": "GetLocalGroupMembership", "%%5400": "ListAccounts", "%%5401": "LookupIDs", "%%5402": "AdministerServer",
    "%%5408": "ReadInformation", "%%5409": "WriteAccount", "%%5410": "AddMember", "%%5411": "RemoveMember",
    "%%5412": "ListMembers", "%%5424": "AddMember", "%%5425": "RemoveMember", "%%5426": "ListMembers",
    "%%5427": "ReadInformation", "%%5428": "WriteAccount", "%%5440": "ReadGeneralInformation",
    "%%5441": "ReadPreferences", "%%5442": "WritePreferences", "%%5443": "ReadLogon", "%%5444": "ReadAccount",
    "%%5445": "WriteAccount", "%%5446": "ChangePassword (with knowledge of old password)",
    "%%5447": "SetPassword (without knowledge of old password)", "%%5448": "ListGroups",
    "%%5449": "ReadGroupMembership", "%%5450": "ChangeGroupMembership",
    # LSA secrets, service control manager, services, directory objects
    "%%5649": "Query secret value", "%%7168": "Connect to service controller", "%%7169": "Create a new service",
    "%%7170": "Enumerate services", "%%7171": "Lock service database for exclusive access",
    "%%7172": "Query service database lock state", "%%7173": "Set last-known-good state of service database",
    "%%7184": "Query service configuration information", "%%7185": "Set service configuration information",
    "%%7186": "Query status of service", "%%7187": "Enumerate dependencies of service", "%%7188": "Start the service",
    "%%7189": "Stop the service", "%%7191": "Query information from service", "%%7688": "Control Access",
})
"""Windows' names for the access rights an ``AccessList`` holds as message-table codes (``%%4417``), as the Security
events' rendered messages give them: every pair here was read off the OTRF recordings' own messages (the codes of
23,579 events' AccessLists against their messages' "Accesses:" lines), DeleteChild (``%%4422``) added."""

_ACCESS_CODE = re.compile(r"%%\d+")
_ACCESS_LIST_CACHED = 1024  # longer lists (none real) are rendered each time, never kept


def _access_list(value: Any) -> str | None:
    """An ``AccessList`` of codes with Windows' names for them after the codes, one per line as the message shows
    them (None where there is nothing to add).

    Why both: SigmaHQ's rules read this field in either form, written against XML exports
    (``AccessList|contains: '%%4417'``: Defender exclusions, GPO startup scripts) or against rendered ones
    (``AccessList|contains: 'WriteData'``: remote service creation over the svcctl pipe, remote scheduled tasks over
    atsvc, desktop.ini writes). Exports like the OTRF recordings' keep the codes only, so the second kind could never
    fire: the four SharpSC recordings (a service created, queried, stopped on a remote host over svcctl) raised
    nothing."""
    if value.__class__ is not str or "%%" not in value:
        return None
    return _rendered_access(value) if len(value) <= _ACCESS_LIST_CACHED else _render_access(value)


@lru_cache(maxsize=1024)  # a host's lists repeat: a handful of distinct ones per kind of object
def _rendered_access(value: str) -> str | None:
    return _render_access(value)


def _render_access(value: str) -> str | None:
    names = [name for code in _ACCESS_CODE.findall(value) if (name := ACCESS_NAMES.get(code))]
    return f"{value.rstrip()}\r\n\t\t\t\t" + "\r\n\t\t\t\t".join(names) if names else None


# (channel kind, event id) → (event_type, action, outcome or None, mapper)
_EVENTS: dict[tuple[str, int], tuple[EventType, str, Outcome | None, Mapper]] = {
    ("security", 4624): (EventType.AUTH, "logon", Outcome.SUCCESS, _logon),
    ("security", 4625): (EventType.AUTH, "logon", Outcome.FAILURE, _logon),
    ("security", 4634): (EventType.AUTH, "logoff", Outcome.SUCCESS, _subject),
    ("security", 4648): (EventType.AUTH, "explicit_credentials_logon", Outcome.SUCCESS, _explicit),
    ("security", 4672): (EventType.AUTH, "special_privileges_assigned", Outcome.SUCCESS, _subject),
    ("security", 4688): (EventType.PROCESS, "process_start", Outcome.SUCCESS, _proc_4688),
    ("security", 4697): (EventType.SYSTEM, "service_installed", Outcome.SUCCESS, _service),
    ("security", 4698): (EventType.SYSTEM, "scheduled_task_created", Outcome.SUCCESS, _task),
    ("security", 4699): (EventType.SYSTEM, "scheduled_task_deleted", Outcome.SUCCESS, _task),
    ("security", 4700): (EventType.SYSTEM, "scheduled_task_enabled", Outcome.SUCCESS, _task),
    ("security", 4701): (EventType.SYSTEM, "scheduled_task_disabled", Outcome.SUCCESS, _task),
    ("security", 4702): (EventType.SYSTEM, "scheduled_task_updated", Outcome.SUCCESS, _task),
    ("security", 4720): (EventType.AUTH, "user_account_created", Outcome.SUCCESS, _account),
    ("security", 4722): (EventType.AUTH, "user_account_enabled", Outcome.SUCCESS, _account),
    ("security", 4724): (EventType.AUTH, "password_reset", Outcome.SUCCESS, _account),
    ("security", 4725): (EventType.AUTH, "user_account_disabled", Outcome.SUCCESS, _account),
    ("security", 4726): (EventType.AUTH, "user_account_deleted", Outcome.SUCCESS, _account),
    ("security", 4738): (EventType.AUTH, "user_account_changed", Outcome.SUCCESS, _account),
    # computer accounts: a domain controller logs them; 4742 by ANONYMOUS LOGON is Zerologon (CVE-2020-1472)
    ("security", 4741): (EventType.AUTH, "computer_account_created", Outcome.SUCCESS, _account),
    ("security", 4742): (EventType.AUTH, "computer_account_changed", Outcome.SUCCESS, _account),
    ("security", 4743): (EventType.AUTH, "computer_account_deleted", Outcome.SUCCESS, _account),
    ("security", 4728): (EventType.AUTH, "group_member_added", Outcome.SUCCESS, _account),
    ("security", 4732): (EventType.AUTH, "group_member_added", Outcome.SUCCESS, _account),
    ("security", 4756): (EventType.AUTH, "group_member_added", Outcome.SUCCESS, _account),
    ("security", 4740): (EventType.AUTH, "account_locked_out", Outcome.SUCCESS, _account),
    ("security", 4768): (EventType.AUTH, "kerberos_tgt_request", None, _kerberos),
    ("security", 4769): (EventType.AUTH, "kerberos_service_ticket", None, _kerberos),
    ("security", 4771): (EventType.AUTH, "kerberos_preauth_failed", Outcome.FAILURE, _kerberos),
    ("security", 4776): (EventType.AUTH, "ntlm_validation", None, _kerberos),
    ("security", 1102): (EventType.SYSTEM, "audit_log_cleared", Outcome.SUCCESS, _host_only),
    # the kinds real hosts log most that had none (every 10th OTRF line: 28 % of all events, 0.9 % left); their type
    # stays ``other`` so no rule or Sigma category meant for process starts or connections meets them
    ("security", 4656): (EventType.OTHER, "object_handle_requested", None, _subject_process),
    ("security", 4658): (EventType.OTHER, "object_handle_closed", Outcome.SUCCESS, _subject_process),
    ("security", 4663): (EventType.OTHER, "object_accessed", Outcome.SUCCESS, _subject_process),
    ("security", 4690): (EventType.OTHER, "object_handle_duplicated", Outcome.SUCCESS, _subject_process),
    ("security", 4673): (EventType.OTHER, "privileged_service_called", None, _subject_process),
    ("security", 4674): (EventType.OTHER, "privileged_object_operation", None, _subject_process),
    ("security", 4703): (EventType.OTHER, "token_rights_adjusted", Outcome.SUCCESS, _subject_process),
    ("security", 4799): (EventType.OTHER, "local_group_enumerated", Outcome.SUCCESS, _subject_process),
    ("security", 5379): (EventType.OTHER, "credential_manager_read", Outcome.SUCCESS, _subject_process),
    ("security", 5140): (EventType.OTHER, "network_share_accessed", Outcome.SUCCESS, _share),
    ("security", 5145): (EventType.OTHER, "network_share_object_checked", None, _share),
    ("security", 5154): (EventType.OTHER, "firewall_listen_permitted", Outcome.SUCCESS, _firewall),
    ("security", 5156): (EventType.NETWORK, "firewall_connection_permitted", Outcome.SUCCESS, _firewall_connection),
    ("security", 5157): (EventType.NETWORK, "firewall_connection_blocked", Outcome.FAILURE, _firewall_connection),
    ("security", 5152): (EventType.NETWORK, "firewall_packet_dropped", Outcome.FAILURE, _firewall_connection),
    ("security", 5158): (EventType.OTHER, "firewall_bind_permitted", Outcome.SUCCESS, _firewall),
    ("security", 5447): (EventType.OTHER, "firewall_filter_changed", Outcome.SUCCESS, _host_only),
    ("system", 7045): (EventType.SYSTEM, "service_installed", Outcome.SUCCESS, _service),
    ("system", 7036): (EventType.SYSTEM, "service_state_changed", Outcome.SUCCESS, _service),
    ("system", 104): (EventType.SYSTEM, "event_log_cleared", Outcome.SUCCESS, _host_only),
    ("sysmon", 1): (EventType.PROCESS, "process_start", Outcome.SUCCESS, _sysmon_process),
    ("sysmon", 2): (EventType.FILE, "file_time_modified", Outcome.SUCCESS, _sysmon_file),
    ("sysmon", 3): (EventType.NETWORK, "network_connection", Outcome.SUCCESS, _sysmon_network),
    ("sysmon", 4): (EventType.SYSTEM, "sysmon_state_changed", Outcome.SUCCESS, _sysmon_account),
    ("sysmon", 5): (EventType.PROCESS, "process_end", Outcome.SUCCESS, _sysmon_image),
    ("sysmon", 6): (EventType.SYSTEM, "driver_load", Outcome.SUCCESS, _sysmon_file),
    ("sysmon", 7): (EventType.PROCESS, "image_load", Outcome.SUCCESS, _sysmon_file),
    ("sysmon", 8): (EventType.PROCESS, "create_remote_thread", Outcome.SUCCESS, _sysmon_access),
    ("sysmon", 9): (EventType.FILE, "raw_access_read", Outcome.SUCCESS, _sysmon_raw_access),
    ("sysmon", 10): (EventType.PROCESS, "process_access", Outcome.SUCCESS, _sysmon_access),
    ("sysmon", 11): (EventType.FILE, "file_create", Outcome.SUCCESS, _sysmon_file),
    ("sysmon", 12): (EventType.REGISTRY, "registry_add_delete", Outcome.SUCCESS, _sysmon_image),
    ("sysmon", 13): (EventType.REGISTRY, "registry_set", Outcome.SUCCESS, _sysmon_image),
    ("sysmon", 14): (EventType.REGISTRY, "registry_rename", Outcome.SUCCESS, _sysmon_image),
    ("sysmon", 15): (EventType.FILE, "file_stream_hash", Outcome.SUCCESS, _sysmon_file),
    ("sysmon", 16): (EventType.SYSTEM, "sysmon_config_changed", Outcome.SUCCESS, _sysmon_account),
    ("sysmon", 17): (EventType.PROCESS, "pipe_created", Outcome.SUCCESS, _sysmon_image),
    ("sysmon", 18): (EventType.PROCESS, "pipe_connected", Outcome.SUCCESS, _sysmon_image),
    ("sysmon", 19): (EventType.SYSTEM, "wmi_event_filter", Outcome.SUCCESS, _sysmon_account),
    ("sysmon", 20): (EventType.SYSTEM, "wmi_event_consumer", Outcome.SUCCESS, _sysmon_account),
    ("sysmon", 21): (EventType.SYSTEM, "wmi_consumer_to_filter", Outcome.SUCCESS, _sysmon_account),
    ("sysmon", 22): (EventType.DNS, "dns_query", Outcome.SUCCESS, _sysmon_dns),
    ("sysmon", 23): (EventType.FILE, "file_delete", Outcome.SUCCESS, _sysmon_file),
    ("sysmon", 24): (EventType.PROCESS, "clipboard_change", Outcome.SUCCESS, _sysmon_image),
    ("sysmon", 25): (EventType.PROCESS, "process_tampering", Outcome.SUCCESS, _sysmon_image),
    ("sysmon", 26): (EventType.FILE, "file_delete", Outcome.SUCCESS, _sysmon_file),
    ("sysmon", 27): (EventType.FILE, "file_block_executable", Outcome.FAILURE, _sysmon_file),  # Sysmon refused it
    ("sysmon", 28): (EventType.FILE, "file_block_shredding", Outcome.FAILURE, _sysmon_file),
    ("sysmon", 29): (EventType.FILE, "file_executable_detected", Outcome.SUCCESS, _sysmon_file),
    ("sysmon", 255): (EventType.SYSTEM, "sysmon_error", Outcome.FAILURE, _sysmon_account),
    ("powershell", 4104): (EventType.PROCESS, "powershell_script_block", Outcome.SUCCESS, _script),
    ("powershell", 4103): (EventType.OTHER, "powershell_module_logged", Outcome.SUCCESS, _powershell),
    ("powershell", 4105): (EventType.OTHER, "powershell_script_block_started", Outcome.SUCCESS, _host_only),
    ("powershell", 4106): (EventType.OTHER, "powershell_script_block_stopped", Outcome.SUCCESS, _host_only),
    ("powershell", 400): (EventType.OTHER, "powershell_engine_started", Outcome.SUCCESS, _powershell),
    ("powershell", 403): (EventType.OTHER, "powershell_engine_stopped", Outcome.SUCCESS, _powershell),
    ("powershell", 600): (EventType.OTHER, "powershell_provider_started", Outcome.SUCCESS, _powershell),
    ("powershell", 800): (EventType.OTHER, "powershell_pipeline_executed", Outcome.SUCCESS, _powershell),
}
SUPPORTED_EVENT_IDS = {kind: sorted(i for k, i in _EVENTS if k == kind) for kind in ("security", "system", "sysmon")}
SYSMON_ACTIONS = {i: spec[1] for (kind, i), spec in _EVENTS.items() if kind == "sysmon"}
"""Sysmon event id → our ``action`` (the Sigma evaluator maps Sysmon's own categories through it)."""


_DATASETS = {kind: f"windows.{kind}" for kind in ("security", "system", "sysmon", "powershell")}


@lru_cache(maxsize=1024)  # a handful of (channel, provider) pairs recur on every event
def _channel_kind(channel: str | None, provider: str | None) -> str:
    text = f"{channel or ''}|{provider or ''}".lower()
    if "sysmon" in text:
        return "sysmon"
    if "powershell" in text:
        return "powershell"
    if (channel or "").lower() == "system" or "service control manager" in text:
        return "system"
    return "security" if "security" in text else (channel or "other").lower()


# ---------------------------------------------------------------- the three input shapes
def _present(event_data: Doc) -> Doc:
    """The fields that go to ``unmapped``: all but the None ones (the mappers still see those)."""
    return {k: v for k, v in event_data.items() if v is not None}


def _attr(node: Any, *names: str) -> Any:
    """evtx_dump writes attributes as ``{"#attributes": {...}}`` and text as ``{"#text": …}``; xmltodict (python-evtx
    exports) writes attributes as ``{"@Name": …}``."""
    if isinstance(node, dict):
        if "#text" in node:
            return node["#text"]
        attrs = node.get("#attributes") or node
        for name in names:
            if name in attrs:
                return attrs[name]
            if f"@{name}" in node:
                return node[f"@{name}"]
        return None
    return node


def _named_data(event_data: Any) -> Any:
    """xmltodict's ``EventData: {"Data": [{"@Name": "TargetUserName", "#text": "bob"}, …]}`` → the named values, as
    evtx_dump and Winlogbeat give them (a Data element without text is None); anything else as it is."""
    if not isinstance(event_data, dict):
        return event_data
    data = event_data.get("Data")
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(item, dict) and isinstance(item.get("@Name"), str) for item in items):
        return event_data
    named = {k: v for k, v in event_data.items() if k != "Data" and not k.startswith("@")}
    for item in items:
        named[item["@Name"]] = item.get("#text")
    return named


def _from_evtx_dump(data: Doc) -> tuple[Doc, Doc, Doc, Doc]:
    event = data["Event"]
    system = event.get("System") or {}
    fields = {
        "EventID": _attr(system.get("EventID")), "Channel": system.get("Channel"),
        "Provider_Name": _attr(system.get("Provider"), "Name"), "Computer": system.get("Computer"),
        "TimeCreated": _attr(system.get("TimeCreated"), "SystemTime"),
        "EventRecordID": system.get("EventRecordID"), "Level": system.get("Level"),
    }
    event_data = _named_data(event.get("EventData")) or _user_data(event.get("UserData")) or {}
    rest = {k: v for k, v in event.items() if k not in ("System", "EventData", "UserData")}
    event_data = dict(event_data) if isinstance(event_data, dict) else {"Data": event_data}
    return fields, event_data, rest, _present(event_data)


def _user_data(node: Any) -> Any:
    """``UserData`` wraps its fields in one provider element (``Operation_ClientFailure: {...}``):
    its fields are the event's, as Sigma rules name them."""
    if isinstance(node, dict) and len(node) == 1:
        (inner,) = node.values()
        if isinstance(inner, dict):
            return {k: v for k, v in inner.items() if k != "#attributes"}
    return node


_ECS_HANDLED = ("@timestamp", "winlog", "message")


def _from_winlogbeat(data: Doc) -> tuple[Doc, Doc, Doc, Doc]:
    winlog = data["winlog"]
    event = data.get("event") if isinstance(data.get("event"), dict) else {}
    fields = {
        "EventID": winlog.get("event_id", event.get("code")), "Channel": winlog.get("channel"),
        "Provider_Name": winlog.get("provider_name", event.get("provider")),
        "Computer": winlog.get("computer_name") or (data.get("host") or {}).get("name"),
        "TimeCreated": data.get("@timestamp"), "EventRecordID": winlog.get("record_id"),
        "Message": data.get("message"),
    }
    event_data = dict(winlog.get("event_data") or {})
    for key, value in (winlog.get("user_data") or {}).items():
        event_data.setdefault(key, value)
    rest = {k: v for k, v in data.items() if k not in _ECS_HANDLED}
    extra_winlog = {k: v for k, v in winlog.items() if k not in (
        "event_id", "channel", "provider_name", "computer_name", "record_id", "event_data", "user_data")}
    if extra_winlog:
        rest["winlog"] = extra_winlog
    return fields, event_data, rest, _present(event_data)


_FLAT_SYSTEM = (
    ("EventID", ("EventID", "EventId", "event_id", "EventCode")),
    ("Channel", ("Channel", "channel", "LogName")),
    ("Provider_Name", ("Provider_Name", "ProviderName", "Provider", "SourceName")),
    ("Computer", ("Computer", "Hostname", "ComputerName", "computer_name")),
    ("TimeCreated", ("TimeCreated", "SystemTime", "EventTime", "TimeGenerated", "@timestamp", "timestamp")),
    ("EventRecordID", ("EventRecordID", "RecordNumber", "RecordId")),
    ("Message", ("Message", "message")),
)


def _system_attr(value: Doc) -> Any:
    return _attr(value, "Name", "SystemTime")


def _from_flat(data: Doc) -> tuple[Doc, Doc, Doc, Doc]:
    nested = data.get("EventData")
    # flat exports put EventData fields next to the System ones (None values mean absent). Without a
    # None or a nested EventData, the parsed line (ours) less its System fields is the EventData, and
    # unmapped starts as the same dict: no copy.
    in_place = not isinstance(nested, dict) and not any_none(data)
    event_data = data if in_place else dict(data)  # less the System fields, taken out below
    fields = take_first(event_data, _FLAT_SYSTEM, _system_attr)
    event_data.pop("System", None)
    event_data.pop("EventData", None)
    if in_place:
        return fields, event_data, {}, event_data
    event_data = {k: v for k, v in event_data.items() if v is not None}
    if isinstance(nested, dict):
        event_data = {**event_data, **nested}
        return fields, event_data, {}, _present(event_data)
    return fields, event_data, {}, event_data


def _timestamp(fields: Doc, event_data: Doc) -> datetime:
    value = fields.get("TimeCreated") or event_data.get("UtcTime")
    text = value
    if value.__class__ is not str:  # nearly every export writes a string
        if value is None:
            raise NormalizationError("Windows event without a timestamp (TimeCreated, @timestamp or UtcTime)")
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
        text = str(value)
    try:
        return _stamp(text)
    except ValueError:
        raise NormalizationError(f"bad timestamp {value!r}") from None


@lru_cache(maxsize=4096)  # consecutive events share their second (EventTime): most lines hit
def _stamp(text: str) -> datetime:
    # Python 3.11's fromisoformat reads every form exports write: "Z", a space for "T", 7 fractional digits
    # (EVTX; it keeps 6), a "," for the ".", basic ISO; only blanks around the stamp need stripping
    ts = datetime.fromisoformat(text.strip())
    if ts.tzinfo:
        return ts
    # naive means UTC; the same as ts.replace(tzinfo=UTC) (fold is 0 here), at half its cost on 3.11
    return datetime(ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second, ts.microsecond, UTC)


MAX_EVENT_ID = 2**32 - 1  # classic logs' ids carry their qualifiers in the high 16 bits (Get-EventLog InstanceId)


def _event_id(value: Any) -> int:
    """The event id, or why the line is refused: missing, not an integer, or outside 0..2³²-1 (a Windows id is
    unsigned; nothing that large or negative is an event any rule or mapping knows)."""
    if value is None:
        raise NormalizationError("not a Windows event: no EventID (winlog.event_id, EventID or Event.System.EventID)")
    event_id = _int(value)
    if event_id is None:
        raise NormalizationError(f"not a Windows event: EventID {str(value)[:40]!r} is not an integer")
    if not 0 <= event_id <= MAX_EVENT_ID:
        raise NormalizationError(f"not a Windows event: EventID {str(event_id)[:40]} is outside 0..{MAX_EVENT_ID}")
    return event_id


def normalize_windows(line: str) -> SecurityEvent:
    """One exported Windows event (JSON object) → event; unknown event ids are kept as ``other``."""
    text = line.strip()
    data, strict = parse_json_object_strict(text)
    if isinstance(data.get("Event"), dict):
        fields, event_data, rest, unmapped = _from_evtx_dump(data)
    elif isinstance(data.get("winlog"), dict):
        fields, event_data, rest, unmapped = _from_winlogbeat(data)
    else:
        fields, event_data, rest, unmapped = _from_flat(data)
    event_id = _event_id(fields.get("EventID"))
    channel, provider = _s(fields.get("Channel")), _s(fields.get("Provider_Name"))
    computer = _s(fields.get("Computer"))
    kind = _channel_kind(channel, provider)
    known = _EVENTS.get((kind, event_id))
    event_type, action, outcome, mapper = known or (EventType.OTHER, f"windows_event_{event_id}", None, _host_only)
    values: Doc = {"event_type": event_type, "action": action}
    if outcome:
        values["outcome"] = outcome
    # the mapper and the timestamp read event_data before unmapped (maybe the same dict) grows;
    # what the mapper puts in unmapped goes there last, as if it had written into it
    classic = _classic_details(kind, event_id, fields, event_data)
    access = _access_list(event_data.get("AccessList")) if kind == "security" else None
    mapper(event_data if classic is None else {**event_data, "Data": classic}, values, computer)
    mapped = values.pop("unmapped", None)
    message = values.get("message") or _s(fields.get("Message"))
    values["event_id"] = line_event_id(text)
    values["timestamp"] = _timestamp(fields, event_data)
    values["message"] = clip(message, MAX_MESSAGE)
    values["product"], values["vendor"] = "windows", "microsoft"
    values["dataset"] = _DATASETS.get(kind, "windows")
    values["raw"] = clip(text, MAX_RAW)
    values["unmapped"] = unmapped
    unmapped["EventID"] = event_id
    if any_spaced_key(unmapped):  # Defender's "Source Name": Sigma rules say SourceName
        for key in [k for k in unmapped if " " in k]:
            unmapped.setdefault(key.replace(" ", ""), unmapped[key])
    for key in ("Channel", "Provider_Name", "Computer", "EventRecordID", "Level"):
        if fields.get(key) is not None:
            unmapped[key] = fields[key]
    if rest:
        unmapped["export"] = rest  # shipper metadata (agent, ecs, host …), kept but out of the Sigma namespace
    if mapped:
        unmapped.update(mapped)
    if classic is not None:
        unmapped.setdefault("Data", classic)
    if access is not None:
        unmapped["AccessList"] = access
    if len(text) > MAX_RAW:
        unmapped["raw_truncated"] = True
    values["outcome"] = values.get("outcome") or Outcome.UNKNOWN
    # strict: orjson read the line, so no string holds a lone surrogate and no number is NaN
    event = _built(values) if strict else None
    if event is not None:
        return event
    try:
        return SecurityEvent(**values)
    except ValidationError as exc:
        raise NormalizationError(validation_reason(exc)) from None


_EVENT, _ENDPOINT = trusted_builder(SecurityEvent), trusted_builder(Endpoint)
_PARTS = tuple((name, trusted_builder(model)) for name, model in (
    ("process", ProcessInfo), ("file", FileInfo), ("network", NetworkInfo), ("dns", DnsInfo)))


def _built(values: Doc) -> SecurityEvent | None:
    """The event ``SecurityEvent(**values)`` would make, built without validating (a third of the cost
    of normalising), or None where a value may not pass as it is: then the caller validates, for the
    same event or the schema's own reason. What is checked here is all the schema could refuse or
    change in what the mappers produce: their types (enum members, str, int, canonical ``_ip``
    text, ports in range) hold by construction; the bounded strings and the IPs are checked.
    """
    if len(values["action"]) > MAX_ACTION:
        return None
    source, destination = values.get("source"), values.get("destination")
    for endpoint in (source, destination):
        if endpoint:
            for value in endpoint.values():  # ip, port, host, user, domain: the mappers' keys
                if value.__class__ is str and len(value) > MAX_NAME:
                    return None
            if endpoint.get("ip") is not None:
                try:
                    endpoint["ip"] = endpoint_ip(endpoint["ip"])
                except ValueError:
                    return None
    if source is not None:
        values["source"] = _ENDPOINT(source)
    if destination is not None:
        values["destination"] = _ENDPOINT(destination)
    for name, build in _PARTS:
        if name in values:
            values[name] = build(values[name])
    values["timestamp"] = aware_utc(values["timestamp"])
    return _EVENT(values)
