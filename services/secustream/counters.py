"""Expiring counters and blocks (the login throttle's state): Redis, an in-process twin, and a fallback.

Why Redis: every API replica must see the same counters, or an attacker spreads guesses over pods.
Why the twin: `secustream up` has no Redis, and when Redis is down the API keeps throttling in-process
(``FallbackCounters``: a warning, a metric, never a 500) instead of refusing every login.

A counter counts hits until ``window`` seconds pass without one (sliding expiry). A block is a flag that
lives for a given number of seconds. Keys are opaque strings chosen by the caller (hashes, never names).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import redis

log = logging.getLogger(__name__)
T = TypeVar("T")


class Counters(Protocol):
    def read(self, counters: Sequence[str], blocks: Sequence[str]) -> tuple[list[int], list[float]]:
        """Current counts, and seconds left on each block (0 = not blocked)."""
        ...

    def hit(self, keys: Sequence[str], window: int) -> list[int]:
        """Count one hit on each key (each expires ``window`` s after its last hit); returns the new counts."""
        ...

    def block(self, key: str, seconds: float) -> None:
        """Block ``key`` for ``seconds`` from now (replacing what was left of an earlier block)."""
        ...

    def delete(self, keys: Sequence[str]) -> None:
        """Delete these counters and blocks."""
        ...

    def clear(self, prefixes: Sequence[str]) -> int:
        """Delete every counter and block whose key starts with one of ``prefixes``; returns how many.

        A scan: for rare admin actions, never per request."""
        ...


class RedisCounters:
    """One Redis key per counter (INCR + EXPIRE) and per block (SET PX); one pipelined round trip per call."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def read(self, counters: Sequence[str], blocks: Sequence[str]) -> tuple[list[int], list[float]]:
        pipe = self._redis.pipeline(transaction=False)
        for key in counters:
            pipe.get(key)
        for key in blocks:
            pipe.pttl(key)
        replies = pipe.execute()
        counts = [int(r) if r is not None else 0 for r in replies[:len(counters)]]
        left = [max(0, int(ms)) / 1000 for ms in replies[len(counters):]]  # -2 absent, -1 no expiry: not blocked
        return counts, left

    def hit(self, keys: Sequence[str], window: int) -> list[int]:
        pipe = self._redis.pipeline(transaction=True)
        for key in keys:
            pipe.incr(key)
            pipe.expire(key, window)
        replies = pipe.execute()
        return [int(replies[2 * i]) for i in range(len(keys))]

    def block(self, key: str, seconds: float) -> None:
        self._redis.set(key, b"1", px=max(1, int(seconds * 1000)))

    def delete(self, keys: Sequence[str]) -> None:
        if keys:
            self._redis.delete(*keys)

    def clear(self, prefixes: Sequence[str]) -> int:
        keys = [k for p in prefixes for k in self._redis.scan_iter(match=_glob_escape(p) + "*", count=500)]
        return int(self._redis.delete(*keys)) if keys else 0


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class MemoryCounters:
    """In-process twin of ``RedisCounters`` (same expiry semantics), thread-safe, bounded by expiry sweeps."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (count, expires at)
        self._blocks: dict[str, float] = {}  # key -> blocked until
        self._next_sweep = 0.0

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + 60
        self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        self._blocks = {k: v for k, v in self._blocks.items() if v > now}

    def read(self, counters: Sequence[str], blocks: Sequence[str]) -> tuple[list[int], list[float]]:
        now = self._clock()
        with self._lock:
            counts = [c if exp > now else 0 for c, exp in (self._counts.get(k, (0, 0.0)) for k in counters)]
            left = [max(0.0, self._blocks.get(k, 0.0) - now) for k in blocks]
        return counts, left

    def hit(self, keys: Sequence[str], window: int) -> list[int]:
        now = self._clock()
        out = []
        with self._lock:
            self._sweep(now)
            for key in keys:
                count, expires = self._counts.get(key, (0, 0.0))
                count = count + 1 if expires > now else 1
                self._counts[key] = (count, now + window)
                out.append(count)
        return out

    def block(self, key: str, seconds: float) -> None:
        now = self._clock()
        with self._lock:
            self._blocks[key] = now + seconds

    def delete(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._counts.pop(key, None)
                self._blocks.pop(key, None)

    def clear(self, prefixes: Sequence[str]) -> int:
        with self._lock:
            doomed = [k for k in (*self._counts, *self._blocks) if k.startswith(tuple(prefixes))]
            for key in doomed:
                self._counts.pop(key, None)
                self._blocks.pop(key, None)
        return len(doomed)


class FallbackCounters:
    """Redis first; while Redis fails, the in-process twin (per replica: weaker, but never an outage).

    After a failure Redis is not tried again for ``retry_seconds`` (no connect timeout per login during an
    outage). ``on_fallback`` is called for every operation served in-process (the API counts them in
    ``secustream_login_throttle_fallback_total``); the first of an outage is logged as a warning.
    """

    def __init__(self, primary: Counters, fallback: Counters, on_fallback: Callable[[], None] = lambda: None,
                 retry_seconds: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.primary, self.fallback = primary, fallback
        self._on_fallback = on_fallback
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._down_until = 0.0
        self._degraded = False

    @property
    def degraded(self) -> bool:
        return self._degraded

    def _call(self, op: Callable[[Counters], T]) -> T:
        if self._clock() >= self._down_until:
            try:
                result = op(self.primary)
            except redis.RedisError as exc:
                self._down_until = self._clock() + self._retry_seconds
                if not self._degraded:
                    log.warning("login throttle: Redis unavailable (%s); counting in-process until it is back",
                                type(exc).__name__)
                self._degraded = True
            else:
                if self._degraded:
                    log.warning("login throttle: Redis is back; counting there again")
                self._degraded = False
                return result
        self._on_fallback()
        return op(self.fallback)

    def read(self, counters: Sequence[str], blocks: Sequence[str]) -> tuple[list[int], list[float]]:
        return self._call(lambda c: c.read(counters, blocks))

    def hit(self, keys: Sequence[str], window: int) -> list[int]:
        return self._call(lambda c: c.hit(keys, window))

    def block(self, key: str, seconds: float) -> None:
        self._call(lambda c: c.block(key, seconds))

    def delete(self, keys: Sequence[str]) -> None:
        self.fallback.delete(keys)  # what was counted in-process during an outage goes too
        self._call(lambda c: c.delete(keys))

    def clear(self, prefixes: Sequence[str]) -> int:
        # An unlock also reaches what was counted in-process during an outage.
        return self.fallback.clear(prefixes) + self._call(lambda c: c.clear(prefixes))
