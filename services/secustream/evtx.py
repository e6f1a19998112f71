"""How Windows event exports write values: one reading shared by the normaliser and the OCSF archive.

Why in the domain layer: both the Windows normaliser (normalizers/) and the archive's Windows mapping
(archive/, a lower layer) read the same EventData fields, and must agree on what "absent", "an id", "an address" and
which side of a connection opened it mean.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any


def evtx_text(value: Any) -> str | None:
    """EVTX placeholders (``-``, empty) mean absent."""
    if value.__class__ is str:  # nearly every value: no str() call
        text = value.strip()
    elif value is None:
        return None
    else:
        text = str(value).strip()
    return text if text and text != "-" else None


def evtx_int(value: Any) -> int | None:
    """Decimal or ``0x``-hex ids (Security log pids are hex)."""
    if value.__class__ is int:  # what the text round trip below gives back (a bool is not an int here)
        return value
    text = evtx_text(value)
    if text is None:
        return None
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


def evtx_ip(value: Any) -> str | None:
    """An address as exports write it (``[fe80::1]``, ``::ffff:10.0.0.5``), canonical; None where it is none."""
    text = evtx_text(value)
    return None if text is None else _ip_text(text)


@lru_cache(maxsize=4096)  # the same few addresses recur; ipaddress is slow
def _ip_text(text: str) -> str | None:
    try:
        addr = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)  # Kerberos events write ::ffff:10.0.0.5
    return str(addr)


def evtx_port(value: Any) -> int | None:
    port = evtx_int(value)
    return port if port is not None and 0 < port <= 65535 else None


Endpoint = dict[str, Any]
"""An endpoint as the readers below give it: ``ip`` and ``port`` (the normaliser adds ``host`` and others)."""

WELL_KNOWN_PORTS = 1024


def initiator_first(source: Endpoint, destination: Endpoint, inbound: bool | None) -> tuple[Endpoint, Endpoint]:
    """A connection's recorded endpoints as ECS and OCSF have them: the side that opened it first.

    Sysmon 3 and WFP 5156/5157 record an inbound TCP connection that way (a client's ephemeral port to the local
    service's), but an inbound UDP exchange from the local service's side: real OTRF DNS servers log dns.exe's
    ``SourceIp:53 -> client:49713`` with ``Initiated: false``. Taken as recorded, every DNS server "probed" its
    clients' ephemeral ports: the native PORT-SCAN rule fired 50 times on three recordings' domain controller. So an
    inbound record from a well-known port to an ephemeral one is turned around. (Microsoft's 5156 example shows an
    inbound record with the local side as Source; the OTRF recordings hold 1,437 inbound WFP connections from an
    ephemeral port to a well-known one and 2 the other way.)"""
    src_port, dst_port = source.get("port"), destination.get("port")
    if inbound and src_port is not None and dst_port is not None and src_port < WELL_KNOWN_PORTS <= dst_port:
        return destination, source
    return source, destination


IP_PROTOCOLS = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp"}
"""IANA protocol numbers as WFP events write them (``Protocol``) → names: the normaliser's ``network.transport`` and
the OCSF archive's ``protocol_name``."""

_WFP_DIRECTIONS = {"%%14592": True, "inbound": True, "%%14593": False, "outbound": False}


def wfp_connection(data: dict[str, Any]) -> tuple[Endpoint, Endpoint, bool | None]:
    """The endpoints (initiator first: ``initiator_first``) and direction (True: inbound; ``Direction`` is ``%%14592``
    inbound, ``%%14593`` outbound) of a WFP connection record's fields (5156, 5157, 5152): the normaliser's network
    event and the OCSF archive's Network Activity, which reads a stored event's ``unmapped``."""
    inbound = _WFP_DIRECTIONS.get(str(data.get("Direction", "")).lower())
    recorded = ({"ip": evtx_ip(data.get("SourceAddress")), "port": evtx_port(data.get("SourcePort"))},
                {"ip": evtx_ip(data.get("DestAddress")), "port": evtx_port(data.get("DestPort"))})
    return *initiator_first(*recorded, inbound), inbound
