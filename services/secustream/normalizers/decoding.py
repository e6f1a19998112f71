"""Bytes → normalised event for every raw-line path (``secustream ingest`` and the analyzer's raw input).

Why: real logs hold invalid UTF-8 (a TLS handshake sent to an HTTP port lands verbatim in a Tomcat
access log). Such a line must neither crash the reader nor lose its bytes: it is decoded strictly
first; when that fails, every undecodable byte becomes the text ``\\xNN`` so the original stays
recoverable from the event's ``raw`` and the event is marked ``unmapped["invalid_utf8"] = True``.
A line that is a JSON object gets the escape JSON-escaped (``\\\\xNN``) so it still parses and the
field's value reads ``\\xNN``. Any exception a normaliser raises becomes one short reason.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import NamedTuple

from secustream.events import SecurityEvent
from secustream.normalizers.base import NormalizationError

INVALID_UTF8 = "invalid_utf8"
"""The ``unmapped`` key set on an event whose line was not valid UTF-8."""

_JSON_ESCAPE = "secustream-json-backslashreplace"


def _json_backslashreplace(exc: UnicodeError) -> tuple[str, int]:
    """Like ``backslashreplace`` for decoding, but with the backslash doubled (valid inside a JSON string)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(f"\\\\x{byte:02x}" for byte in bad), exc.end


codecs.register_error(_JSON_ESCAPE, _json_backslashreplace)


class DecodedLine(NamedTuple):
    text: str
    invalid_utf8: bool


def decode_line(data: bytes | str) -> DecodedLine:
    """Strict UTF-8; on failure every bad byte becomes ``\\xNN`` (``\\\\xNN`` in a JSON-object line).

    A ``str`` holding lone surrogates (read with ``surrogateescape``) is turned back into its bytes
    first, so it cannot fail later when the event is encoded.
    """
    if isinstance(data, str):
        try:
            data.encode("utf-8")
            return DecodedLine(data, False)
        except UnicodeEncodeError:
            data = data.encode("utf-8", errors="surrogateescape")
    try:
        return DecodedLine(data.decode("utf-8"), False)
    except UnicodeDecodeError:
        errors = _JSON_ESCAPE if data.lstrip()[:1] == b"{" else "backslashreplace"
        return DecodedLine(data.decode("utf-8", errors=errors), True)


def normalize_bytes(normalise: Callable[[str], SecurityEvent], data: bytes | str) -> SecurityEvent:
    """Decode ``data`` (see ``decode_line``), normalise it and mark it when its bytes were not UTF-8."""
    line = decode_line(data)
    event = normalise(line.text)
    if line.invalid_utf8:
        event.unmapped[INVALID_UTF8] = True
    return event


def failure_reason(exc: BaseException) -> str:
    """One short line for the DLQ header: the normaliser's own reason, else the exception's type and text."""
    if isinstance(exc, NormalizationError):
        return exc.reason
    text = str(exc).strip().splitlines()
    detail = text[0][:300] if text else ""
    if isinstance(exc, ValueError) and detail:
        return detail
    return f"normaliser error {type(exc).__name__}" + (f": {detail}" if detail else "")
