"""Canonical bytes of a table row and an order-free digest of many, so an archive can be checked by reading it back.

Rows arrive from the database (UUIDs, aware datetimes, JSON documents); the archive stores them as this
canonical JSON text, so a row and its round trip through Parquet have the same bytes. The digest is the sum
of the rows' SHA-256 values modulo 2**256: independent of order, because one day's rows are spread over
several class files and read back class by class.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from secustream.archival import load_json

_MOD = 1 << 256
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def _text(value: Any) -> str:
    """Datetimes as ISO text in UTC (naive ones are UTC), whatever the session's zone; UUIDs as text."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=_text, option=_OPTIONS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits (JSONB keeps any): the standard library can
        return json.dumps(value, default=_text, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical_json(row: Mapping[str, Any]) -> bytes:
    """Sorted keys, UTC datetimes, UUIDs as text: the same bytes for a row and for its JSON round trip."""
    return _dumps(row)


def document_json(value: Any) -> bytes:
    """A JSON document (an event payload) with sorted keys; accepts the text or the parsed document."""
    if isinstance(value, bytes | bytearray | memoryview | str):
        value = load_json(value)  # json.loads's result (any integer size), mostly by orjson
    return _dumps(value)


class RowDigest:
    """Count and order-free digest of canonical rows (add them in any order, get the same hex)."""

    __slots__ = ("_sum", "rows")

    def __init__(self) -> None:
        self.rows = 0
        self._sum = 0

    def add(self, canonical: bytes) -> None:
        self.rows += 1
        self._sum = (self._sum + int.from_bytes(hashlib.sha256(canonical).digest(), "big")) % _MOD

    def add_sum(self, rows: int, digest: int) -> None:
        """Fold in the count and digest sum of rows hashed elsewhere (a batch mapped in a worker)."""
        self.rows += rows
        self._sum = (self._sum + digest) % _MOD

    def hexdigest(self) -> str:
        return self._sum.to_bytes(32, "big").hex()
