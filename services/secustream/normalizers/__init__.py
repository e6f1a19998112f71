"""Normalisers: raw log lines → ``SecurityEvent``, one pure function per input format.

``NORMALIZERS[fmt](line)`` returns an event or raises ``NormalizationError`` (its ``reason`` goes
to the DLQ; the caller counts it and carries on). ``iter_normalized`` does that over a file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from secustream.events import SecurityEvent
from secustream.normalizers.auditd import normalize_auditd
from secustream.normalizers.base import NormalizationError
from secustream.normalizers.jsonl import normalize_jsonl
from secustream.normalizers.linux_auth import normalize_linux_auth
from secustream.normalizers.sshd import normalize_sshd
from secustream.normalizers.syslog import normalize_syslog
from secustream.normalizers.web import normalize_web_access
from secustream.normalizers.windows import normalize_windows

Normalizer = Callable[[str], SecurityEvent]

NORMALIZERS: Mapping[str, Normalizer] = MappingProxyType({
    "jsonl": normalize_jsonl, "sshd": normalize_sshd, "windows": normalize_windows,
    "linux-auth": normalize_linux_auth, "auditd": normalize_auditd, "web-access": normalize_web_access,
    "syslog": normalize_syslog,
})
"""Read-only registry by ``--format`` name."""


class NormalizedLine(NamedTuple):
    line_no: int  # 1-based
    line: str
    event: SecurityEvent | None
    error: NormalizationError | None


def iter_normalized(lines: Iterable[str], fmt: str, **options: Any) -> Iterator[NormalizedLine]:
    """Normalise every non-blank line; failures come back as ``error`` instead of stopping the file.

    ``options`` go to the normaliser (e.g. ``year=2024`` for sshd/linux-auth/syslog RFC3164 lines).
    """
    try:
        normalize = NORMALIZERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(sorted(NORMALIZERS))}") from None
    for line_no, line in enumerate(lines, start=1):
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        try:
            yield NormalizedLine(line_no, text, normalize(text, **options), None)  # type: ignore[call-arg]
        except NormalizationError as exc:
            yield NormalizedLine(line_no, text, None, exc)


__all__ = ["NORMALIZERS", "NormalizationError", "NormalizedLine", "Normalizer", "iter_normalized",
           "normalize_auditd", "normalize_jsonl", "normalize_linux_auth", "normalize_sshd", "normalize_syslog",
           "normalize_web_access", "normalize_windows"]
