"""How a Sigma field name or logsource finds its data in a normalised event.

Why a resolver and not a rename at ingest: normalisers already keep the source's own names
(``unmapped.Image``, ``unmapped.TargetUserName``, ``unmapped.cs-uri-query`` …), so rules written for the
real telemetry match it directly. Events that only carry our normalised fields (the generator, ECS
JSON, sshd) are reached through ``SIGMA_FIELD_ALIASES``. Resolution order for a field ``F``:

1. ``unmapped[F]`` (the source's own field);
2. the first non-empty alias path in ``SIGMA_FIELD_ALIASES[F]``;
3. ``F`` itself as a dotted path into the event (``source.ip``, ``action``, ``unmapped.pam.rhost``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from sigma.pipelines.common import windows_logsource_mapping

from secustream.normalizers.windows import SYSMON_ACTIONS

Resolver = Callable[[dict[str, Any]], Any]

SIGMA_FIELD_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    # process_creation / process events (Sysmon names)
    "Image": ("process.executable", "process.name"),
    "CommandLine": ("process.command_line",),
    "ParentImage": ("process.parent_name",),
    "ParentCommandLine": ("process.parent_command_line",),
    "ProcessId": ("process.pid",),
    "ParentProcessId": ("process.parent_pid",),
    "User": ("process.user", "source.user"),
    "OriginalFileName": ("process.name",),
    "Hashes": ("file.sha256",),
    # network_connection
    "SourceIp": ("source.ip",), "SourcePort": ("source.port",), "SourceHostname": ("source.host",),
    "DestinationIp": ("destination.ip",), "DestinationPort": ("destination.port",),
    "DestinationHostname": ("destination.host", "destination.domain"),
    "Protocol": ("network.transport",),
    # file_event / dns_query
    "TargetFilename": ("file.path",),
    "QueryName": ("dns.query",),
    # Windows Security logon fields
    "TargetUserName": ("destination.user",),
    "SubjectUserName": ("source.user",),
    "IpAddress": ("source.ip",),
    "WorkstationName": ("source.host",),
    "Computer": ("destination.host", "source.host"),
    "EventID": ("unmapped.event_code",),  # the generator's Windows events
    "ServiceName": ("unmapped.service_name",),
    # webserver / proxy (W3C names)
    "c-ip": ("source.ip",), "cs-method": ("http.method",), "c-uri": ("http.url",), "cs-uri": ("http.url",),
    "sc-status": ("http.status_code",), "cs-user-agent": ("http.user_agent",), "c-useragent": ("http.user_agent",),
    "cs-host": ("destination.domain", "destination.host"), "sc-bytes": ("http.bytes",),
    # Linux
    "exe": ("process.executable",), "comm": ("process.name",), "pid": ("process.pid",),
    "USER": ("destination.user",), "COMMAND": ("process.command_line",),
})
"""Sigma field name → our dotted paths, tried in order after ``unmapped[name]`` (documented in docs/sigma.md)."""

_TOP_LEVEL = frozenset({"event_type", "action", "outcome", "message", "product", "vendor", "dataset", "timestamp",
                        "event_id"})


def resolver_paths(name: str) -> tuple[tuple[str, ...], ...]:
    """Where a Sigma field is looked for after ``unmapped[name]``, in order (steps 2 and 3 of the module docstring):
    each a path of keys into the event."""
    paths = [tuple(p.split(".")) for p in SIGMA_FIELD_ALIASES.get(name, ())]
    if "." in name:
        paths.append(tuple(name.split(".")))
    elif name in _TOP_LEVEL:
        paths.append((name,))
    return tuple(paths)


def first_value(doc: dict[str, Any], paths: tuple[tuple[str, ...], ...]) -> Any:
    """The first value along ``paths`` that is neither missing, None nor "" (what a resolver answers when
    ``unmapped`` lacks the field): the rules' resolvers and the prefilter's Python reference (``_scan.gather`` walks
    the same paths in C)."""
    for path in paths:
        node: Any = doc
        for part in path:
            if not isinstance(node, dict):
                node = None
                break
            node = node.get(part)
        if node is not None and node != "":
            return node
    return None


def compile_resolver(name: str) -> Resolver:
    """The lookup for one Sigma field name (see the module docstring for the order)."""
    paths = resolver_paths(name)

    def resolve(doc: dict[str, Any]) -> Any:
        unmapped = doc.get("unmapped")
        if unmapped:
            value = unmapped.get(name)
            if value is not None and value != "":
                return value
        return first_value(doc, paths) if paths else None  # most names have no other place: no call

    return resolve


def is_plain(name: str) -> bool:
    """A field found only as ``unmapped[name]`` (no alias, no path): the prefilter reads it straight from there."""
    return (name not in SIGMA_FIELD_ALIASES and "." not in name and name not in _TOP_LEVEL
            and not name.startswith("\x00"))


def keyword_texts(doc: dict[str, Any]) -> list[str]:
    """What Sigma ``keywords`` search: ``document_texts`` and every non-empty string of ``unmapped``, the
    source's own fields (the prefilter's hot loop reads those as it passes them: ``engine._Prefilter.gather``)."""
    texts = document_texts(doc)
    for value in (doc.get("unmapped") or {}).values():
        if value.__class__ is str and value:  # JSON documents (``model_dump(mode="json")``): exact str
            texts.append(value)
    return texts


def document_texts(doc: dict[str, Any]) -> list[str]:
    """The keyword texts outside ``unmapped``: the message and the command line (``raw`` only when there
    is no message, so JSON escaping never hides a Windows path)."""
    texts: list[str] = []
    message = doc.get("message")
    if message:
        texts.append(message)
    elif doc.get("raw"):
        texts.append(doc["raw"])
    process = doc.get("process")
    if isinstance(process, dict) and process.get("command_line"):
        texts.append(process["command_line"])
    return texts


# ---------------------------------------------------------------- logsource → event kinds
SYSMON_EVENT_CATEGORIES: Mapping[int, str] = MappingProxyType({
    2: "file_change", 4: "sysmon_status", 9: "raw_access_thread", 16: "sysmon_status", 19: "wmi_event",
    20: "wmi_event", 21: "wmi_event", 24: "clipboard_capture", 25: "process_tampering", 27: "file_block_executable",
    28: "file_block_shredding", 29: "file_executable_detected", 255: "sysmon_error",
})
"""Sysmon event id → Sigma ``category``, SigmaHQ's Sysmon pipeline's ``sysmon_generic_logsource_eventid_mapping``.
Met by the normaliser's action for each id (``ACTION_CATEGORIES``), and by ``windows_event_<id>`` for events an
earlier ingest wrote that way and that may still wait on the topic (``WINDOWS_EVENT_CATEGORIES``)."""

ACTION_CATEGORIES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "process_start": ("process_creation",),
    "process_end": ("process_termination",),
    "process_access": ("process_access",),
    "image_load": ("image_load",),
    "driver_load": ("driver_load",),
    "create_remote_thread": ("create_remote_thread",),
    "file_create": ("file_event",),
    "file_write": ("file_event", "file_change"),
    "file_delete": ("file_delete",),  # not file_event: that is a file created (Sysmon 11), not deleted (23, 26)
    "file_stream_hash": ("create_stream_hash",),
    "registry_add_delete": ("registry_event", "registry_add", "registry_delete"),
    "registry_set": ("registry_event", "registry_set"),
    "registry_rename": ("registry_event", "registry_rename"),
    "pipe_created": ("pipe_created",),
    "pipe_connected": ("pipe_created",),
    "powershell_script_block": ("ps_script",),
    "powershell_module_logged": ("ps_module",),
    "powershell_engine_started": ("ps_classic_start",),
    "powershell_provider_started": ("ps_classic_provider_start",),
    "powershell_pipeline_executed": ("ps_classic_script",),
    "network_connection": ("network_connection",),
    # WFP connections (Security 5156/5157/5152) are network events, but SigmaHQ's network_connection rules read
    # Sysmon 3's fields and filters (Image as C:\ paths, Initiated): Sigma's firewall category alone
    "firewall_connection_permitted": ("firewall",),
    "firewall_connection_blocked": ("firewall",),
    "firewall_packet_dropped": ("firewall",),
    # Sysmon's other event kinds (2, 4, 9, 16, 19-21, 24, 25, 27-29, 255) by the normaliser's actions for them
    **{SYSMON_ACTIONS[event_id]: (category,) for event_id, category in SYSMON_EVENT_CATEGORIES.items()},
})
"""Our ``action`` → Sigma ``category`` (docs/sigma.md, "Logsources")."""

WINDOWS_EVENT_CATEGORIES: Mapping[tuple[str, str], tuple[str, ...]] = MappingProxyType({
    ("microsoft-windows-powershell/operational", "windows_event_4103"): ("ps_module",),
    ("powershellcore/operational", "windows_event_4103"): ("ps_module",),
    ("windows powershell", "windows_event_400"): ("ps_classic_start",),
    ("windows powershell", "windows_event_600"): ("ps_classic_provider_start",),
    ("windows powershell", "windows_event_800"): ("ps_classic_script",),
    **{("microsoft-windows-sysmon/operational", f"windows_event_{event_id}"): (category,)
       for event_id, category in SYSMON_EVENT_CATEGORIES.items()},
})
"""(Windows channel lower-cased, our ``action``) → Sigma ``category``, for the events the Windows normaliser has no
kind of its own for (``windows_event_<id>``): PowerShell module logging, the classic engine's events and the Sysmon
events above, as Sigma's taxonomy defines them. Without them SigmaHQ's 46 ``ps_module``/``ps_classic_*`` rules and
10 Sysmon rules (raw disk access, WMI subscriptions, Sysmon config changes, process tampering …) could never fire,
though the OTRF recordings hold such events (2,200 raw disk reads, 453 file time changes)."""

EVENT_TYPE_CATEGORIES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "network": ("network_connection", "firewall"),
    "dns": ("dns_query", "dns"),
    "file": ("file_event",),
    "registry": ("registry_event",),
})

WINDOWS_CHANNEL_SERVICES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    channel.lower(): tuple(s for s, cs in windows_logsource_mapping.items()
                           if channel in ((cs,) if isinstance(cs, str) else cs))
    for channels in windows_logsource_mapping.values() for channel in ((channels,) if isinstance(channels, str)
                                                                       else channels)
})
"""Windows event log channel (lower-cased) → Sigma ``service`` names: pySigma's own mapping, reversed."""

KNOWN_PRODUCTS = frozenset({"windows", "linux"})
KNOWN_CATEGORIES = frozenset(
    {c for cs in ACTION_CATEGORIES.values() for c in cs} | {c for cs in EVENT_TYPE_CATEGORIES.values() for c in cs}
    | {c for cs in WINDOWS_EVENT_CATEGORIES.values() for c in cs}
    | {"webserver", "proxy", "authentication"}
)
KNOWN_SERVICES = frozenset({
    "security", "system", "sysmon", "powershell", "auth", "sshd", "sudo", "su", "auditd", "cron", "syslog",
    "vsftpd", "useradd", "usermod", "groupadd", "passwd", "systemd-logind", *windows_logsource_mapping,
})

_LINUX_DATASETS = frozenset({"sshd", "auth", "linux.auth", "linux.auditd", "auditd"})


def event_logsource(doc: dict[str, Any]) -> frozenset[str]:
    """The ``product:``/``category:``/``service:`` tokens an event satisfies (one Sigma logsource
    matches when all its given parts are among them); memoised on the few fields that decide it."""
    unmapped = doc.get("unmapped") or {}
    channel, program = unmapped.get("Channel"), unmapped.get("program")
    return _logsource(str(doc.get("dataset") or "").lower(), str(doc.get("product") or "").lower(),
                      doc.get("action") or "", doc.get("event_type") or "", doc.get("vendor"),
                      channel if isinstance(channel, str) else None, program if isinstance(program, str) else None)


@lru_cache(maxsize=4096)
def _logsource(dataset: str, product: str, action: str, event_type: str, vendor: Any, channel: str | None,
               program: str | None) -> frozenset[str]:
    tokens: set[str] = set()
    categories = ACTION_CATEGORIES.get(action) or EVENT_TYPE_CATEGORIES.get(event_type, ())
    tokens.update(f"category:{c}" for c in categories)
    if event_type == "auth":
        tokens.add("category:authentication")
    if dataset.startswith("windows") or product in ("windows", "sysmon") or dataset == "sysmon":
        tokens.add("product:windows")
        kind = dataset.partition(".")[2] or ("sysmon" if "sysmon" in (dataset, product) else "")
        if kind:
            tokens.add(f"service:{kind}")
        if channel is not None:
            tokens.update(f"service:{s}" for s in WINDOWS_CHANNEL_SERVICES.get(channel.lower(), ()))
            tokens.update(f"category:{c}" for c in WINDOWS_EVENT_CATEGORIES.get((channel.lower(), action), ()))
    elif dataset in _LINUX_DATASETS or product in ("openssh", "sudo", "auditd") or vendor == "linux":
        tokens.add("product:linux")
        if dataset == "sshd":
            tokens.update(("service:sshd", "service:auth"))
        elif dataset in ("linux.auditd", "auditd") or product == "auditd":
            tokens.add("service:auditd")
        else:
            tokens.add("service:auth")
            program = program or product
            if program:
                tokens.add(f"service:{str(program).lower()}")
    if event_type == "http":
        tokens.add("category:proxy" if dataset == "proxy" else "category:webserver")
    return frozenset(tokens)
