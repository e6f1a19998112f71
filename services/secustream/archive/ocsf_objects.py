"""Small OCSF objects every event mapping builds (user, file, process, device), in one place.

Shared by the generic mapping (``ocsf_events``) and the Windows one (``ocsf_windows``), so that a file or a
process looks the same whichever class it sits in.
"""

from __future__ import annotations

from typing import Any

_I64 = (-(1 << 63), (1 << 63) - 1)
FILE_TYPES = {1: "Regular File", 4: "Block Device", 6: "Named Pipe"}


def i64(value: int | None) -> int | None:
    """A count the schema does not bound, if Parquet's int64 holds it (raw_data keeps the exact value)."""
    return value if value is None or _I64[0] <= value <= _I64[1] else None


def basename(path: str | None) -> str | None:
    if not path:
        return None
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or None


def user(name: str | None, domain: str | None = None) -> dict[str, Any]:
    return {"name": name, "domain": domain}


def named_user(name: str | None, domain: str | None = None) -> dict[str, Any] | None:
    """A user, or None when nothing names one (OCSF's user needs at least a name, a uid or an account)."""
    return user(name, domain) if name else None


def file(path: str | None, name: str | None = None, sha256: str | None = None, size: int | None = None,
         type_id: int = 1) -> dict[str, Any]:
    hashes = [{"algorithm_id": 3, "algorithm": "SHA-256", "value": sha256}] if sha256 else None
    return {"name": name or basename(path), "path": path, "type_id": type_id, "type": FILE_TYPES[type_id],
            "size": i64(size), "hashes": hashes}


def process(name: str | None, pid: int | None, executable: str | None, cmd_line: str | None = None,
            user_name: str | None = None, uid: str | None = None) -> dict[str, Any] | None:
    """A process as an actor carries it (no parent), or None when neither its pid nor its uid is known."""
    if i64(pid) is None and not uid:
        return None
    image = file(executable) if basename(executable) else None
    return {"name": name or basename(executable), "pid": i64(pid), "uid": uid, "cmd_line": cmd_line, "file": image,
            "user": named_user(user_name)}


def device(hostname: str | None, ip: str | None = None, domain: str | None = None) -> dict[str, Any]:
    return {"type_id": 0, "type": "Unknown", "hostname": hostname, "ip": ip, "domain": domain}
