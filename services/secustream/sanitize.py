"""Make a decoded event safe for every sink, keeping what was changed recoverable.

Why: PostgreSQL refuses NUL in ``text`` and ``jsonb`` (one such record used to fail its whole
batch's COPY, forever), and an event dated in year 1 or 9999 would sort a newest-first page for
good. Both are real input, so they are kept: NUL characters are removed from the stored fields (the
original values stay in ``unmapped``, NUL escaped as ``\\x00``; ``raw`` itself keeps the escaped
line), and a timestamp outside the sane window is replaced by the time the analyzer saw it, with
the original and a flag in ``unmapped``. These are slow paths: ``payload_may_hold_nul`` is the
cheap test the analyzer runs on every message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from secustream.events import MAX_RAW, SecurityEvent
from secustream.native import json_may_hold_nul

NUL = "\x00"
NUL_ESCAPE = "\\x00"
SANITIZED_KEY = "sanitized"  # unmapped[...] = ["nul", "timestamp"]: what was changed
NUL_ORIGINALS_KEY = "nul_escaped"  # unmapped[...] = {"message": "a\\x00b", ...}
ORIGINAL_TIMESTAMP_KEY = "original_timestamp"
OUT_OF_RANGE_KEY = "timestamp_out_of_range"


def payload_may_hold_nul(payload: bytes | str | None) -> bool:
    """A JSON payload can only carry NUL as the ``\\u0000`` escape (a bare NUL is invalid JSON)."""
    if payload is None:
        return False
    if isinstance(payload, str):
        return "\\u0000" in payload or NUL in payload
    return json_may_hold_nul(bytes(payload))


def _escape(text: str) -> str:
    return text.replace(NUL, NUL_ESCAPE)


def _clean(value: Any, path: str, originals: dict[str, str], found: set[str]) -> Any:
    """``value`` without NUL and without lone surrogates; escaped originals recorded by path, and which of the
    two repairs were made in ``found`` (``nul``, ``surrogate``)."""
    if isinstance(value, str):
        cleaned = value
        if NUL in cleaned:
            originals[path] = _escape(value)[:MAX_RAW]
            cleaned = cleaned.replace(NUL, "")
            found.add("nul")
        try:
            cleaned.encode("utf-8")
        except UnicodeEncodeError:
            cleaned = cleaned.encode("utf-8", "backslashreplace").decode("utf-8")
            originals.setdefault(path, cleaned[:MAX_RAW])
            found.add("surrogate")
        return cleaned
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = _clean(k, f"{path}.<key>", originals, found) if isinstance(k, str) else k
            out[key] = _clean(v, f"{path}.{key}", originals, found)
        return out
    if isinstance(value, list):
        return [_clean(v, f"{path}[{i}]", originals, found) for i, v in enumerate(value)]
    return value


def _flag(unmapped: dict[str, Any], what: str) -> dict[str, Any]:
    flags = list(unmapped.get(SANITIZED_KEY) or [])
    if what not in flags:
        flags.append(what)
    return {**unmapped, SANITIZED_KEY: flags}


def strip_nul(event: SecurityEvent) -> SecurityEvent:
    """The event with NUL and lone surrogates (no UTF-8 form) removed from every string; unchanged (same object)
    when there was neither. ``unmapped.sanitized`` lists which repairs were made (``nul``, ``surrogate``)."""
    data = event.model_dump(mode="python")
    originals: dict[str, str] = {}
    found: set[str] = set()
    raw = data.pop("raw", None)
    cleaned = _clean(data, "", originals, found)
    if raw is not None:
        if NUL in raw:
            found.add("nul")
        escaped = _clean(_escape(raw), ".raw", {}, found)  # the original line, recoverable: NUL escaped
        cleaned["raw"] = escaped[:MAX_RAW]
    if not found:
        return event
    unmapped = dict(cleaned.get("unmapped") or {})
    if originals:
        unmapped[NUL_ORIGINALS_KEY] = {k.lstrip("."): v for k, v in originals.items()}
    for what in sorted(found):
        unmapped = _flag(unmapped, what)
    cleaned["unmapped"] = unmapped
    return SecurityEvent.model_validate(cleaned)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Event times accepted as they are; outside it the time is kept in ``unmapped`` and flagged."""

    earliest: datetime = datetime(1970, 1, 1, tzinfo=UTC)
    ahead: timedelta = timedelta(days=1)

    def contains(self, stamp: datetime, now: datetime) -> bool:
        return self.earliest <= stamp <= now + self.ahead


def bound_time(event: SecurityEvent, window: TimeWindow, now: datetime) -> SecurityEvent:
    """The event, re-timed to ``now`` and flagged when its own time is outside ``window``."""
    if window.contains(event.timestamp, now):
        return event
    unmapped = _flag(event.unmapped, "timestamp")
    unmapped[ORIGINAL_TIMESTAMP_KEY] = event.timestamp.isoformat()
    unmapped[OUT_OF_RANGE_KEY] = True
    return event.model_copy(update={"timestamp": now, "unmapped": unmapped})
