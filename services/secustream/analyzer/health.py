"""Is the analyzer making progress? The answer behind ``/healthz`` and the stall gauge.

Why: a stuck partition used to answer 200 with lag reading ~0. Here the analyzer is unhealthy
when records are waiting (uncommitted lag, or a batch in hand) and nothing has been committed for
``stall_seconds`` since they started waiting. An idle analyzer with nothing to do stays healthy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class ProgressHealth:
    def __init__(self, stall_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_seconds = stall_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._last_commit = clock()
        self._waiting_since: float | None = None
        self._lag = 0
        self._busy = False

    def committed(self) -> None:
        with self._lock:
            self._last_commit = self._clock()
            self._busy = False
            self._refresh()

    def lag(self, waiting: int) -> None:
        with self._lock:
            self._lag = waiting
            self._refresh()

    def busy(self) -> None:
        """A batch is in hand (consumed, not yet committed)."""
        with self._lock:
            self._busy = True
            self._refresh()

    def idle(self) -> None:
        with self._lock:
            self._busy = False
            self._refresh()

    def _refresh(self) -> None:
        waiting = self._busy or self._lag > 0
        if waiting and self._waiting_since is None:
            self._waiting_since = self._clock()
        elif not waiting:
            self._waiting_since = None

    def stalled_for(self) -> float:
        """Seconds without progress while records wait (0 when idle or progressing)."""
        with self._lock:
            if self._waiting_since is None:
                return 0.0
            return max(0.0, self._clock() - max(self._last_commit, self._waiting_since))

    def check(self) -> tuple[bool, str]:
        stalled = self.stalled_for()
        if stalled > self.stall_seconds:
            return False, (f"stalled: no batch committed for {stalled:.0f}s while {self._lag} records wait "
                           f"(limit {self.stall_seconds:.0f}s)")
        return True, "ok"
