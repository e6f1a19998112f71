"""Raw log lines on the events topic: normalised in the analyzer when the message names its format.

Why: shippers (Vector, Fluent Bit, Winlogbeat's Kafka output) can publish raw lines straight to
Kafka. A message that is not a ``SecurityEvent`` but carries the ``x-secustream-format`` header
(``windows``, ``linux-auth``, ``auditd``, ``web-access``, ``sshd``, ``jsonl``) is normalised here; if
that fails too, the caller dead-letters it with the normaliser's reason. Bytes are decoded as
``secustream ingest`` decodes them (``normalizers.decoding``): invalid UTF-8 is escaped and marked,
and no exception from a normaliser escapes.
"""

from __future__ import annotations

from collections.abc import Sequence

from secustream.events import SecurityEvent
from secustream.messaging import headers as h
from secustream.normalizers import NORMALIZERS
from secustream.normalizers.decoding import failure_reason, normalize_bytes


def normalize_raw_message(payload: bytes | str | None, headers: Sequence[tuple[str, bytes | None]] | None,
                          decode_reason: str) -> tuple[SecurityEvent | None, str]:
    """(event, "") when the format header names a normaliser that accepts the payload, else (None, reason)."""
    raw_format = h.header_value(headers, h.SOURCE_FORMAT)
    fmt = raw_format.decode(errors="replace") if raw_format else None
    if fmt is None or fmt not in NORMALIZERS or payload is None:
        return None, decode_reason
    try:
        return normalize_bytes(NORMALIZERS[fmt], payload), ""
    except Exception as exc:  # any normaliser failure dead-letters this one message, never the batch
        return None, f"{fmt} normaliser: {failure_reason(exc)}"
