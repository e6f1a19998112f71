"""The DLQ copy of a refused record: bounded in size, and always saying where and why.

Why: a record over the broker's size limit used to fail its own dead-lettering with
MSG_SIZE_TOO_LARGE, which failed the batch. The copy is now truncated to a bound, with the
original size and SHA-256 in headers, so the DLQ produce cannot fail on size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from secustream.messaging import headers as h

MAX_REASON_BYTES = 1000
_OWN_HEADERS = frozenset({h.ERROR, h.ERROR_STAGE, h.ORIGIN, h.ORIGINAL_SIZE, h.ORIGINAL_SHA256, h.TRUNCATED})


@dataclass(frozen=True, slots=True)
class DeadLetter:
    value: bytes
    key: bytes | str | None
    headers: list[tuple[str, bytes]]


def dead_letter(value: bytes | None, key: bytes | str | None, headers: Sequence[tuple[str, bytes | None]] | None,
                *, stage: str, reason: str, origin: str, max_bytes: int, original_size: int | None = None,
                original_sha256: str | None = None) -> DeadLetter:
    """The message to produce to the DLQ for ``value`` refused at ``stage`` because of ``reason``.

    ``original_size``/``original_sha256`` describe the whole record when ``value`` is already only
    a prefix of it (``ingest`` never holds more than 1 MiB of a line).
    """
    payload = value or b""
    size = original_size if original_size is not None else len(payload)
    extra: list[tuple[str, bytes]] = [
        (h.ERROR, reason.encode("utf-8", "backslashreplace")[:MAX_REASON_BYTES]),
        (h.ERROR_STAGE, stage.encode()), (h.ORIGIN, origin.encode("utf-8", "backslashreplace")),
    ]
    if size > max_bytes or size > len(payload):
        digest = original_sha256 or hashlib.sha256(payload).hexdigest()
        extra += [(h.ORIGINAL_SIZE, str(size).encode()), (h.ORIGINAL_SHA256, digest.encode()), (h.TRUNCATED, b"1")]
        payload = payload[:max_bytes]
    kept = [(k, v if v is not None else b"") for k, v in (headers or ()) if k not in _OWN_HEADERS]
    if isinstance(key, bytes) and len(key) > max_bytes:
        key = key[:max_bytes]
    return DeadLetter(payload, key, kept + extra)


def reason_kind(reason: str) -> str:
    """The low-cardinality part of a reason (before the first colon): a metric label, a summary group."""
    return reason.split(":", 1)[0][:60]
