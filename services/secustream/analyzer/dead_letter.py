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
                *, stage: str, reason: str, origin: str, max_bytes: int) -> DeadLetter:
    """The message to produce to the DLQ for ``value`` refused at ``stage`` because of ``reason``."""
    payload = value or b""
    extra: list[tuple[str, bytes]] = [
        (h.ERROR, reason.encode("utf-8", "backslashreplace")[:MAX_REASON_BYTES]),
        (h.ERROR_STAGE, stage.encode()), (h.ORIGIN, origin.encode("utf-8", "backslashreplace")),
    ]
    if len(payload) > max_bytes:
        extra += [(h.ORIGINAL_SIZE, str(len(payload)).encode()),
                  (h.ORIGINAL_SHA256, hashlib.sha256(payload).hexdigest().encode()), (h.TRUNCATED, b"1")]
        payload = payload[:max_bytes]
    kept = [(k, v if v is not None else b"") for k, v in (headers or ()) if k not in _OWN_HEADERS]
    if isinstance(key, bytes) and len(key) > max_bytes:
        key = key[:max_bytes]
    return DeadLetter(payload, key, kept + extra)


def reason_kind(reason: str) -> str:
    """The low-cardinality part of a reason (before the first colon), the metric's label."""
    return reason.split(":", 1)[0][:40]
