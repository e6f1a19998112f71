"""The alert hit: one event counted by one alert, and the entity rules every alert writer and reader shares.

Domain level (storage counts these; the alert stage makes them), so storage need not import the alert layer.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

# Values that name everybody, so they never join two alerts into one incident (they still group alerts).
COMMON_VALUES = {
    "user": {"root", "system", "administrator", "admin", "-", "unknown", "nobody", "local service",
             "network service", "anonymous logon", "www-data"},
    "ip": {"127.0.0.1", "::1", "0.0.0.0", "-"},
    "host": {"localhost", "-", "unknown"},
    "guid": {"{00000000-0000-0000-0000-000000000000}", "00000000-0000-0000-0000-000000000000"},
}

@dataclass(frozen=True, slots=True)
class AlertHit:
    """One event counted by one alert."""

    alert_id: uuid.UUID
    detection: str
    title: str
    level: str
    threat_type: str
    mitre_ids: tuple[str, ...]
    tactics: tuple[str, ...]
    entity_kind: str
    entity_value: str
    window_start: datetime
    window_seconds: int
    event_id: uuid.UUID
    event_time: datetime
    entities: tuple[tuple[str, str, str], ...]  # every (kind, value, role) of the event, for incident linking


def stable_id(*parts: object) -> uuid.UUID:
    """A UUID from the parts' text (the same everywhere, unlike uuid4)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return uuid.UUID(bytes=digest[:16], version=5)


ACTOR, TARGET = "actor", "target"
"""An entity's role in an event: who acted (source side, process, GUIDs) or what was acted on (destination)."""


def linkable(entity: tuple[str, ...]) -> bool:
    """May this entity join alerts into one incident? (not a value that names everybody)"""
    kind, value = entity[0], entity[1]
    return value.lower() not in COMMON_VALUES.get(kind, set()) and not value.strip("{}").startswith("00000000-")
