"""Windows events → the OCSF 1.1.0 class their channel and event id fit (docs/storage.md "Windows events").

Why by event id and not by ``event_type``: the normaliser's types are coarse (an image load, a process access
and a remote thread are all ``process``; an account change is ``auth``; most Security events are ``other``),
while the stored event keeps ``EventID``, ``Channel`` and every EventData field in ``unmapped``. Each handler
reads only that and the normalised fields, and returns (class key, activity, class attributes); an event id
without a handler (or a handler that finds too little) falls back to the generic mapping by event type.
PowerShell script blocks (4104) and WMI events (Sysmon 19/20/21) have no class in 1.1.0: Base Event.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from typing import Any

from secustream.archive.ocsf_objects import device, file, i64, process
from secustream.archive.ocsf_objects import named_user as user
from secustream.events import SecurityEvent
from secustream.evtx import IP_PROTOCOLS, wfp_connection
from secustream.evtx import evtx_int as _int  # the normaliser's reading of EVTX ids: 0x hex
from secustream.evtx import evtx_text as _s  # EVTX text: "-" is absent

Activity = tuple[int, str]
WinClass = tuple[str, Activity, dict[str, Any]]
Fields = Mapping[str, Any]
Handler = Callable[[SecurityEvent, Fields, int], WinClass | None]
TASKS_DIR = "%SystemRoot%\\System32\\Tasks"  # where Task Scheduler keeps a task's definition file

_SHA256 = re.compile(r"SHA256=([0-9A-Fa-f]{64})")
_COMMAND = re.compile(r"<Command>(.*?)</Command>", re.S)
_ARGUMENTS = re.compile(r"<Arguments>(.*?)</Arguments>", re.S)
_REG_TYPES = {"DWORD": (2, "REG_DWORD"), "QWORD": (8, "REG_QWORD"), "Binary Data": (1, "REG_BINARY")}


def _kind(u: Fields) -> str:
    text = f"{u.get('Channel') or ''}|{u.get('Provider_Name') or ''}".lower()
    for kind in ("sysmon", "powershell", "taskscheduler", "wmi"):
        if kind in text:
            return kind
    return "security" if str(u.get("Channel") or "").lower() == "security" else "other"


def _device(event: SecurityEvent, u: Fields) -> dict[str, Any]:
    return device(_s(u.get("Computer")) or event.source.host)


def _account(u: Fields, prefix: str) -> dict[str, Any] | None:
    """``<prefix>UserName``/``DomainName``/``UserSid`` (or ``Sid``) as a user with its SID; None if neither."""
    name, uid = _s(u.get(f"{prefix}UserName")), _s(u.get(f"{prefix}UserSid")) or _s(u.get(f"{prefix}Sid"))
    return {"name": name, "domain": _s(u.get(f"{prefix}DomainName")), "uid": uid} if name or uid else None


def _actor(who: dict[str, Any] | None, proc: dict[str, Any] | None) -> dict[str, Any] | None:
    """An actor is a user or a process (OCSF needs one of them): None when neither is known."""
    return {"user": who, "process": proc} if who or proc else None


def _sysmon_actor(u: Fields, prefix: str = "", who: str = "User") -> dict[str, Any] | None:
    """The process Sysmon names (``Image``/``ProcessId``/``ProcessGuid``, or ``SourceImage``… for prefix Source)."""
    proc = process(None, _int(u.get(f"{prefix}ProcessId")), _s(u.get(f"{prefix}Image")),
                   uid=_s(u.get(f"{prefix}ProcessGuid")) or _s(u.get(f"{prefix}ProcessGUID")))
    return _actor(user(_s(u.get(who))), proc)


def _security_actor(u: Fields) -> dict[str, Any] | None:
    proc = process(None, _int(u.get("ProcessId")), _s(u.get("ProcessName")))
    return _actor(user(_s(u.get("SubjectUserName")), _s(u.get("SubjectDomainName"))), proc)


# ------------------------------------------------- registry (Sysmon 12/13/14, Security 4657, 4656/4663 on keys)
def _split_value(target: str) -> tuple[str, str]:
    key, _, name = target.rpartition("\\")
    return key or target, name or "(Default)"


def _reg_value(path: str, name: str, data: str | None) -> dict[str, Any]:
    kind = next((v for k, v in _REG_TYPES.items() if data and data.startswith(k)), (None, None))
    return {"path": path, "name": name, "type_id": kind[0], "type": kind[1], "data": data}


def _sysmon_registry(event: SecurityEvent, u: Fields, eid: int) -> WinClass | None:
    target, actor = _s(u.get("TargetObject")), _sysmon_actor(u)
    if target is None or actor is None:
        return None
    op = next((t for t in (_s(u.get("EventType")), _s(u.get("EventTypeOrignal"))) if t and t != "INFO"), None)
    base = {"actor": actor, "device": _device(event, u)}
    if eid == 13 or op in ("SetValue", "DeleteValue", "CreateValue"):
        path, name = _split_value(target)
        activity = {"DeleteValue": (4, "Delete"), "CreateValue": (2, "Set"), "SetValue": (2, "Set")}.get(
            op or "", (2, "Set") if eid == 13 else (0, "Unknown"))
        data = _s(u.get("Details")) if eid == 13 else None
        return "registry_value_activity", activity, {**base, "reg_value": _reg_value(path, name, data),
                                                      "prev_reg_value": None}
    if eid == 14:
        new = _s(u.get("NewName"))
        return "registry_key_activity", (5, "Rename"), {
            **base, "reg_key": {"path": new or target}, "prev_reg_key": {"path": target} if new else None,
            "access_mask": None}
    activity = {"CreateKey": (1, "Create"), "DeleteKey": (4, "Delete")}.get(op or "", (0, "Unknown"))
    return "registry_key_activity", activity, {**base, "reg_key": {"path": target}, "prev_reg_key": None,
                                               "access_mask": None}


_VALUE_OPERATIONS = {"%%1904": (2, "Set"), "%%1905": (3, "Modify"), "%%1906": (4, "Delete")}


def _security_registry_value(event: SecurityEvent, u: Fields, _eid: int) -> WinClass | None:
    path, name, actor = _s(u.get("ObjectName")), _s(u.get("ObjectValueName")), _security_actor(u)
    if path is None or actor is None:
        return None
    name = name or "(Default)"
    old = _s(u.get("OldValue"))
    return "registry_value_activity", _VALUE_OPERATIONS.get(_s(u.get("OperationType")) or "", (99, "Other")), {
        "actor": actor, "device": _device(event, u),
        "reg_value": _reg_value(path, name, _s(u.get("NewValue"))),
        "prev_reg_value": _reg_value(path, name, old) if old is not None else None}


# Access mask bits, most telling first: (bit, file activity, registry key activity). Files: 0x1 ReadData,
# 0x2 WriteData, 0x4 AppendData, 0x80/0x100 Read/WriteAttributes; keys: 0x1 QueryValue, 0x2 SetValue,
# 0x4 CreateSubKey, 0x8 EnumerateSubKeys; both: DELETE, READ_CONTROL, WRITE_DAC, WRITE_OWNER.
_ACCESS = ((0x10000, (4, "Delete"), (4, "Delete")), (0x40000, (7, "Set Security"), (6, "Set Security")),
           (0x80000, (7, "Set Security"), (6, "Set Security")), (0x2, (3, "Update"), (3, "Modify")),
           (0x4, (3, "Update"), (3, "Modify")), (0x100, (6, "Set Attributes"), None),
           (0x1, (2, "Read"), (2, "Read")), (0x8, None, (2, "Read")), (0x80, (8, "Get Attributes"), None),
           (0x20000, (9, "Get Security"), (2, "Read")))


def _by_mask(mask: int | None, column: int) -> Activity:
    for bit, *activities in _ACCESS:
        if mask is not None and mask & bit and activities[column] is not None:
            return activities[column]
    return 99, "Other"


def _object_access(event: SecurityEvent, u: Fields, eid: int) -> WinClass | None:
    """4656 (handle requested) and 4663 (object accessed) on a file or a registry key; other objects stay base."""
    kind, name, mask = _s(u.get("ObjectType")), _s(u.get("ObjectName")), _int(u.get("AccessMask"))
    actor = _security_actor(u)
    if name is None or actor is None:
        return None
    base = {"actor": actor, "device": _device(event, u)}
    if kind == "File":
        activity = (14, "Open") if eid == 4656 else _by_mask(mask, 0)
        return "file_activity", activity, {**base, "file": file(name)}
    if kind == "Key":
        activity = (99, "Other") if eid == 4656 else _by_mask(mask, 1)
        return "registry_key_activity", activity, {**base, "reg_key": {"path": name}, "prev_reg_key": None,
                                                   "access_mask": i64(mask)}
    return None


# ---------------------------------------------------------------- processes, modules, files
def _process_access(event: SecurityEvent, u: Fields, eid: int) -> WinClass | None:
    """Sysmon 8 (CreateRemoteThread: Inject) and 10 (ProcessAccess: Open): the target is the process."""
    actor = _sysmon_actor(u, "Source", "SourceUser")
    target = process(None, _int(u.get("TargetProcessId")), _s(u.get("TargetImage")),
                     uid=_s(u.get("TargetProcessGuid")) or _s(u.get("TargetProcessGUID")))
    if target is None or actor is None:
        return None
    activity = (4, "Inject") if eid == 8 else (3, "Open")
    return "process_activity", activity, {"process": {**target, "parent_process": None}, "actor": actor,
                                          "device": _device(event, u)}


def _process_end(event: SecurityEvent, u: Fields, eid: int) -> WinClass | None:
    """Sysmon 5 and Security 4689: the process that ended, its user as the actor."""
    if eid == 5:
        who = user(_s(u.get("User")))
        proc = process(None, _int(u.get("ProcessId")), _s(u.get("Image")), user_name=_s(u.get("User")),
                       uid=_s(u.get("ProcessGuid")))
    else:
        who = user(_s(u.get("SubjectUserName")), _s(u.get("SubjectDomainName")))
        proc = process(None, _int(u.get("ProcessId")), _s(u.get("ProcessName")))
    if proc is None:
        return None
    actor = _actor(who, None if who else dict(proc))  # nobody named: the process itself, as it ended
    return "process_activity", (2, "Terminate"), {"process": {**proc, "parent_process": None}, "actor": actor,
                                                  "device": _device(event, u)}


def _image_load(event: SecurityEvent, u: Fields, _eid: int) -> WinClass | None:
    loaded, actor = _s(u.get("ImageLoaded")), _sysmon_actor(u)
    if loaded is None or actor is None:
        return None
    sha = _SHA256.search(str(u.get("Hashes") or ""))
    module = {"file": file(loaded, sha256=sha.group(1).lower() if sha else None), "load_type_id": 0,
              "load_type": "Unknown"}  # Sysmon does not say how the image was mapped
    return "module_activity", (1, "Load"), {"module": module, "actor": actor, "device": _device(event, u)}


# Sysmon file events: event id → (field naming the file, activity, file type)
_SYSMON_FILES = {2: ("TargetFilename", (6, "Set Attributes"), 1), 9: ("Device", (2, "Read"), 4),
                 11: ("TargetFilename", (1, "Create"), 1), 15: ("TargetFilename", (1, "Create"), 1),
                 17: ("PipeName", (1, "Create"), 6), 18: ("PipeName", (14, "Open"), 6),
                 23: ("TargetFilename", (4, "Delete"), 1), 26: ("TargetFilename", (4, "Delete"), 1)}


def _sysmon_file(event: SecurityEvent, u: Fields, eid: int) -> WinClass | None:
    """File events, raw volume reads (9: the device, a block device) and named pipes (17/18)."""
    field, activity, type_id = _SYSMON_FILES[eid]
    name, actor = _s(u.get(field)), _sysmon_actor(u)
    if name is None or actor is None:
        return None
    sha = _SHA256.search(str(u.get("Hashes") or ""))
    target = file(name, name=name if type_id != 1 else None, sha256=sha.group(1).lower() if sha else None,
                  type_id=type_id)
    return "file_activity", activity, {"file": target, "actor": actor, "device": _device(event, u)}


# ---------------------------------------------------------------- network (Windows Filtering Platform)
def _wfp(_event: SecurityEvent, u: Fields, eid: int) -> WinClass | None:
    """5156 permitted (Open), 5157 blocked (Refuse), 5152 dropped packet (Refuse).

    OCSF's src_endpoint, like ECS's source, is the side that initiated: the endpoints are the normaliser's reading of
    the record (``evtx.wfp_connection``: real logs name the initiator Source, an inbound exchange from
    a well-known port to an ephemeral one excepted), from ``unmapped``, so rows stored by earlier versions read alike.
    """
    source, destination, inbound = wfp_connection(u)
    if source["ip"] is None or destination["ip"] is None:
        return None
    protocol = _int(u.get("Protocol"))
    connection = {"protocol_name": IP_PROTOCOLS.get(protocol) if protocol is not None else None,
                  "direction_id": 1 if inbound else 2, "direction": "Inbound" if inbound else "Outbound"}
    activity = (1, "Open") if eid == 5156 else (5, "Refuse")
    return "network_activity", activity, {
        "src_endpoint": _endpoint(source), "dst_endpoint": _endpoint(destination),
        "connection_info": connection, "traffic": None}


def _endpoint(side: Mapping[str, Any]) -> dict[str, Any]:
    return {"ip": side["ip"], "port": side["port"], "hostname": None, "domain": None}


# ---------------------------------------------------------------- identity: accounts, groups, privileges
_ACCOUNT = {4720: (1, "Create"), 4722: (2, "Enable"), 4723: (3, "Password Change"), 4724: (4, "Password Reset"),
            4725: (5, "Disable"), 4726: (6, "Delete"), 4738: (99, "Other"), 4740: (9, "Lock"), 4767: (99, "Other"),
            4781: (99, "Other"), 4741: (1, "Create"), 4742: (99, "Other"), 4743: (6, "Delete")}
"""User and computer accounts (4741-4743: a domain's machine accounts) alike."""


def _account_change(_event: SecurityEvent, u: Fields, eid: int) -> WinClass | None:
    target, subject = _account(u, "Target"), _account(u, "Subject")
    if target is None:
        return None
    return "account_change", _ACCOUNT[eid], {"user": target, "actor": {"user": subject} if subject else None}


_GROUP = {**dict.fromkeys((4727, 4731, 4754), (6, "Create")), **dict.fromkeys((4730, 4734, 4758), (5, "Delete")),
          **dict.fromkeys((4728, 4732, 4756), (3, "Add User")), **dict.fromkeys((4729, 4733, 4757), (4, "Remove User")),
          **dict.fromkeys((4735, 4737, 4755), (99, "Other"))}


def _group_management(_event: SecurityEvent, u: Fields, eid: int) -> WinClass | None:
    group = _account(u, "Target")
    if group is None:
        return None
    member_dn, member_sid = _s(u.get("MemberName")), _s(u.get("MemberSid"))
    member = None
    if member_dn or member_sid:
        name = member_dn.split(",", 1)[0].removeprefix("CN=") if member_dn else None
        member = {"name": name, "domain": None, "uid": member_sid}
    return "group_management", _GROUP[eid], {"group": group, "user": member}


def _privileges(_event: SecurityEvent, u: Fields, eid: int) -> WinClass | None:
    """4672 (special privileges assigned to a new logon) and 4627 (its group membership)."""
    who = _account(u, "Subject" if eid == 4672 else "Target")
    if who is None:
        return None
    if eid == 4672:
        privileges = (_s(u.get("PrivilegeList")) or "").split() or None
        logon = _s(u.get("SubjectLogonId"))
        return "authorize_session", (1, "Assign Privileges"), {
            "user": who, "privileges": privileges, "session": {"uid": logon} if logon else None}
    logon = _s(u.get("TargetLogonId"))  # the groups (SIDs) stay in raw_data: OCSF's one group object can't hold them
    return "authorize_session", (2, "Assign Groups"), {"user": who, "privileges": None,
                                                       "session": {"uid": logon} if logon else None}


# ---------------------------------------------------------------- scheduled tasks (Security 4698-4702, TaskScheduler)
_TASK = {("security", 4698): (1, "Create"), ("security", 4699): (3, "Delete"), ("security", 4700): (4, "Enable"),
         ("security", 4701): (5, "Disable"), ("security", 4702): (2, "Update"),
         ("taskscheduler", 106): (1, "Create"), ("taskscheduler", 140): (2, "Update"),
         ("taskscheduler", 141): (3, "Delete"), ("taskscheduler", 100): (6, "Start"),
         ("taskscheduler", 129): (6, "Start"), ("taskscheduler", 200): (6, "Start"),
         ("taskscheduler", 102): (99, "Other"), ("taskscheduler", 201): (99, "Other")}


def _task_command(u: Fields) -> str | None:
    content = _s(u.get("TaskContentNew")) or _s(u.get("TaskContent"))
    if content is None:
        return _s(u.get("Path"))  # TaskScheduler 129: the program it launched
    text = html.unescape(content)
    command, arguments = _COMMAND.search(text), _ARGUMENTS.search(text)
    if command is None:
        return None
    return f"{command.group(1).strip()} {arguments.group(1).strip()}" if arguments else command.group(1).strip()


def _scheduled_job(event: SecurityEvent, u: Fields, eid: int) -> WinClass | None:
    name = _s(u.get("TaskName"))
    if name is None:
        return None
    job = {"name": name, "file": file(f"{TASKS_DIR}{name if name.startswith(chr(92)) else chr(92) + name}"),
           "cmd_line": _task_command(u)}
    who = user(_s(u.get("SubjectUserName")) or _s(u.get("UserContext")) or _s(u.get("UserName")),
               _s(u.get("SubjectDomainName")))
    return "scheduled_job_activity", _TASK[(_kind(u), eid)], {
        "job": job, "actor": {"user": who, "process": None} if who else None, "device": _device(event, u)}


def _base_event(_event: SecurityEvent, _u: Fields, _eid: int) -> WinClass | None:
    """No class in OCSF 1.1.0 (a script block's text, a WMI subscription): Base Event, whole in raw_data."""
    return "base_event", (99, "Other"), {}


_HANDLERS: dict[tuple[str, int], Handler] = {
    **{("sysmon", i): _sysmon_registry for i in (12, 13, 14)},
    **{("sysmon", i): _sysmon_file for i in _SYSMON_FILES},
    ("sysmon", 5): _process_end, ("security", 4689): _process_end,
    ("sysmon", 7): _image_load, ("sysmon", 8): _process_access, ("sysmon", 10): _process_access,
    **{("sysmon", i): _base_event for i in (19, 20, 21)}, ("powershell", 4104): _base_event,
    ("security", 4657): _security_registry_value,
    ("security", 4656): _object_access, ("security", 4663): _object_access,
    **{("security", i): _wfp for i in (5152, 5156, 5157)},
    **{("security", i): _account_change for i in _ACCOUNT},
    **{("security", i): _group_management for i in _GROUP},
    ("security", 4672): _privileges, ("security", 4627): _privileges,
    **{key: _scheduled_job for key in _TASK},
}


def windows_mapping(event: SecurityEvent) -> WinClass | None:
    """(class key, activity, class attributes) of a Windows event whose id has a handler, else None."""
    if event.product != "windows":
        return None
    u = event.unmapped
    eid = _int(u.get("EventID"))
    handler = _HANDLERS.get((_kind(u), eid)) if eid is not None else None
    return handler(event, u, eid) if handler is not None and eid is not None else None

