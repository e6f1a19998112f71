"""Kafka header names. Ground truth rides only here (``LABEL``/``CAMPAIGN``), never in the payload."""

from __future__ import annotations

from collections.abc import Sequence

LABEL = "x-secustream-label"
CAMPAIGN = "x-secustream-campaign"
PRODUCED_AT = "x-secustream-produced-at"  # producer wall clock, seconds since epoch as text
SOURCE_FORMAT = "x-secustream-format"
ERROR = "x-secustream-error"
ERROR_STAGE = "x-secustream-error-stage"
ORIGIN = "x-secustream-origin"  # topic/partition/offset of a DLQ'd message
ORIGINAL_SIZE = "x-secustream-original-size"  # bytes of a DLQ'd payload that was truncated
ORIGINAL_SHA256 = "x-secustream-original-sha256"  # hex digest of the untruncated payload
TRUNCATED = "x-secustream-truncated"  # "1" when the DLQ copy is a truncated prefix

Headers = list[tuple[str, bytes]]


def header_value(headers: Sequence[tuple[str, bytes | None]] | None, name: str) -> bytes | None:
    for key, value in headers or ():
        if key == name:
            return value
    return None


def produced_at(headers: Sequence[tuple[str, bytes | None]] | None) -> float | None:
    raw = header_value(headers, PRODUCED_AT)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None
