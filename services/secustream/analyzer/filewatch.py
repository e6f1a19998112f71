"""Cheap change detection for hot reload, shared by the native rules and the Sigma rules."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from pathlib import Path


def files_fingerprint(files: Iterable[Path]) -> str:
    """Names, sizes and mtimes of ``files`` (missing ones skipped), hashed: no file is read."""
    parts = []
    for f in files:
        try:
            st = f.stat()
        except FileNotFoundError:
            continue
        parts.append(f"{f}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


class ChangeWatch:
    """Says whether a fingerprint changed, recomputing it at most every ``interval`` seconds (0: never)."""

    def __init__(self, fingerprint: Callable[[], str], interval: float) -> None:
        self._fingerprint = fingerprint
        self.interval = interval
        self._seen = fingerprint()
        self._next_check = time.monotonic() + interval

    def changed(self) -> bool:
        if self.interval <= 0 or time.monotonic() < self._next_check:
            return False
        self._next_check = time.monotonic() + self.interval
        current = self._fingerprint()
        if current == self._seen:
            return False
        self._seen = current
        return True
