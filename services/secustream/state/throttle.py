"""Failed-login throttling per username and per client IP.

Why Redis: every API replica must see the same counters, or an attacker just spreads guesses over pods.
The in-memory twin serves `secustream up` (one process, no Redis). Keys hold hashes, never usernames or IPs.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Protocol

import redis

_PREFIX = "secustream:login:fail:"


def _key(kind: str, value: str) -> str:
    return _PREFIX + kind + ":" + hashlib.sha256(value.lower().encode()).hexdigest()[:32]


class LoginThrottle(Protocol):
    def blocked_for(self, username: str, client_ip: str) -> int:
        """Seconds until another attempt is allowed (0 = allowed now)."""
        ...

    def failed(self, username: str, client_ip: str) -> None: ...

    def succeeded(self, username: str) -> None: ...


class RedisLoginThrottle:
    """Fixed window per key: the first failure starts a window of ``window`` seconds; ``max_failures`` blocks."""

    def __init__(self, client: redis.Redis, max_failures: int, window: int) -> None:
        self._redis = client
        self.max_failures = max_failures
        self.window = window

    def blocked_for(self, username: str, client_ip: str) -> int:
        keys = [_key("user", username), _key("ip", client_ip)]
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
            pipe.pttl(key)
        replies = pipe.execute()
        wait = 0
        for i in range(len(keys)):
            count, ttl_ms = replies[2 * i], replies[2 * i + 1]
            if count is not None and int(count) >= self.max_failures:
                wait = max(wait, max(1, -(-int(ttl_ms) // 1000)) if ttl_ms and ttl_ms > 0 else 1)
        return wait

    def failed(self, username: str, client_ip: str) -> None:
        pipe = self._redis.pipeline(transaction=True)
        for key in (_key("user", username), _key("ip", client_ip)):
            pipe.incr(key)
            pipe.expire(key, self.window, nx=True)
        pipe.execute()

    def succeeded(self, username: str) -> None:
        self._redis.delete(_key("user", username))


class MemoryLoginThrottle:
    """Same semantics as the Redis version, for a single process."""

    def __init__(self, max_failures: int, window: int, clock: object = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    def _live(self, key: str, now: float) -> tuple[int, float] | None:
        entry = self._counts.get(key)
        if entry is not None and entry[1] <= now:
            del self._counts[key]
            return None
        return entry

    def blocked_for(self, username: str, client_ip: str) -> int:
        now = self._now()
        wait = 0.0
        with self._lock:
            for key in (_key("user", username), _key("ip", client_ip)):
                entry = self._live(key, now)
                if entry is not None and entry[0] >= self.max_failures:
                    wait = max(wait, entry[1] - now)
        return int(-(-wait // 1)) if wait > 0 else 0

    def failed(self, username: str, client_ip: str) -> None:
        now = self._now()
        with self._lock:
            for key in (_key("user", username), _key("ip", client_ip)):
                entry = self._live(key, now)
                self._counts[key] = (1, now + self.window) if entry is None else (entry[0] + 1, entry[1])

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._counts.pop(_key("user", username), None)
