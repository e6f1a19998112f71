"""Compact text rendering of an event for the classifier (and the LLM prompt and cache fingerprint).

Why abstract: identities (IPs, person names, hostnames with numbers, random blobs) carry no threat
signal on their own and would make every event unique; zones, host roles, ports, commands and byte
magnitudes do. Short texts also keep tokenisation and the forward pass cheap.
"""

from __future__ import annotations

import math
import re
from ipaddress import ip_address

from secustream.events import SecurityEvent

# first.last names; not file names (``whoami.exe``, ``win32u.dll``: the name of a binary is signal)
_PERSON = re.compile(r"\b[a-z]+\.(?!(?:exe|dll|sys|ps1|psm1|bat|cmd|vbs|js|hta|sct|msi|inf|cpl|scr|lnk|txt|log|dat"
                     r"|xml|xsl|json|ini|cfg|conf|sh|py|so|bin|tmp|evtx|dmp|zip|local|com|net|org)\b)[a-z]+\d*\b")
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_BLOB = re.compile(r"[A-Za-z0-9+/=_-]{24,}")
_LONGNUM = re.compile(r"\b\d{5,}\b")
_WIN_USERDIR = re.compile(r"(?i)(c:\\users\\)[^\\\s\"']+")
_HOME = re.compile(r"(/home/)[^/\s]+")


def ip_zone(ip: str | None) -> str:
    """``internal`` / ``public`` / ``local`` / ``""``: where an address lives is what matters."""
    if not ip:
        return ""
    try:
        addr = ip_address(ip)
    except ValueError:
        return "unknown"
    if addr.is_loopback:
        return "local"
    if addr.is_private or addr.is_link_local:
        return "internal"
    return "public"


def host_role(host: str | None) -> str:
    """``WS-1023`` → ``workstation``; ``srv-web-03`` → ``srv web``; ``dc01`` → ``dc``;
    ``WORKSTATION6.mordor.local`` → ``workstation`` (the domain of an FQDN says nothing of the role)."""
    if not host:
        return ""
    h = host.lower()
    if "." in h and not _IPV4.fullmatch(h):
        h = h.split(".", 1)[0]
    if h.startswith("ws-") or h.startswith("lx-"):
        return "workstation"
    h = re.sub(r"[-_.]?\d+$", "", h)
    return h.replace("-", " ")


def user_kind(user: str | None) -> str:
    if not user:
        return ""
    return "staff" if _PERSON.fullmatch(user.lower()) else user.lower()


def magnitude(n: int | None) -> str:
    """Order of magnitude of a byte count (``1e6``): the scale is the signal, not the digits."""
    if n is None:
        return ""
    return "0" if n <= 0 else f"1e{int(math.log10(n))}"


def scrub(text: str, limit: int = 160) -> str:
    """Strip identities and blobs from free text (command lines, messages, queries)."""
    text = _WIN_USERDIR.sub(r"\1user", text)
    text = _HOME.sub(r"\1user", text)
    text = _PERSON.sub("staff", text)
    text = _IPV4.sub(lambda m: f"{ip_zone(m.group(0))}-ip", text)
    text = _BLOB.sub(lambda m: f"blob{len(m.group(0)) // 10 * 10}", text)
    text = _LONGNUM.sub("num", text)
    return text[:limit]


# Unmapped fields that identify one record, process, session or moment (ids, GUIDs, times, shipper
# bookkeeping) make every event unique and carry no threat signal; the event id and the rest stay.
_NOISE_KEY = re.compile(r"(?i)(guid|id$|^@|time|record|keywords|rulename|version|^tags$|port$|^host|hostname|"
                        r"severity|opcode|^task$|^level$|sourcemodule|^computer$|^message$|^export$|truncated|"
                        r"logon|^channel$|^provider|accounttype|^domain$|accountname|^user$)")
_FIRST_KEYS = ("EventID", "event_code")


def _signal_keys(unmapped: dict[str, object], limit: int = 4) -> list[str]:
    first = [k for k in _FIRST_KEYS if k in unmapped]
    rest = [k for k in unmapped if k not in _FIRST_KEYS and not _NOISE_KEY.search(k)]
    return (first + rest)[:limit]


def _domain(query: str) -> str:
    labels = query.split(".")
    longest = max((len(x) for x in labels), default=0)
    tld = labels[-1] if len(labels) > 1 else ""
    base = ".".join(labels[-2:])
    return f"{base} tld {tld} labels {len(labels)} longest {longest // 10 * 10}"


def render_event(event: SecurityEvent, burst: int | None = None) -> str:
    """One line per event; ``burst`` is how many similar events this source sent recently (context)."""
    parts: list[str] = [event.event_type.value, event.action or "", event.outcome.value]
    src, dst = event.source, event.destination
    parts.append(f"src {ip_zone(src.ip)} {host_role(src.host)} {user_kind(src.user)}")
    dst_bits = f"dst {ip_zone(dst.ip)} {host_role(dst.host)} {user_kind(dst.user)}"
    if dst.port is not None:
        dst_bits += f" port {dst.port}"
    if dst.domain:
        dst_bits += f" domain {_domain(dst.domain)}"
    parts.append(dst_bits)
    if burst is not None:
        parts.append(f"burst {min(burst, 20)}")
    if event.process:
        p = event.process
        bits = f"proc {(p.name or '').lower()}"
        if p.parent_name:
            bits += f" parent {p.parent_name.lower()}"
        if p.user:
            bits += f" as {user_kind(p.user)}"
        if p.command_line:
            bits += f" cmd {scrub(p.command_line)}"
        parts.append(bits)
    if event.network:
        n = event.network
        parts.append(f"net {n.direction or ''} out {magnitude(n.bytes_out)} in {magnitude(n.bytes_in)}")
    if event.dns and event.dns.query:
        parts.append(f"dns {event.dns.record_type or ''} {_domain(event.dns.query)} answers {len(event.dns.answers)}")
    if event.file:
        parts.append(f"file {event.file.action or ''} {scrub(event.file.path or '', 80)}")
    if event.http:
        hp = event.http
        parts.append(f"http {hp.method or ''} {hp.status_code or ''} bytes {magnitude(hp.bytes)}")
    if event.unmapped:
        keys = " ".join(f"{k} {scrub(str(event.unmapped[k]), 30)}" for k in _signal_keys(event.unmapped))
        if keys:
            parts.append(keys)
    if event.message and not event.process and event.event_type.value not in ("dns", "network", "http"):
        parts.append(scrub(event.message, 80))
    return re.sub(r"\s+", " ", " ".join(parts)).strip()
