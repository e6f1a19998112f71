"""Calls-per-minute budget and fingerprint cache, shared by every replica through Redis.

Why Redis: the budget protects a shared bill (or a shared in-cluster server), so all replicas must
draw from one counter; the cache makes a repeated pattern cost nothing on any replica. The memory
twins serve ``secustream up`` and single-process runs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import redis

_BUDGET_PREFIX = "secustream:llm:budget:"
_CACHE_PREFIX = "secustream:llm:cache:"

# INCR the minute's counter unless it is at the limit; expire it after two minutes. Atomic in Redis.
_ACQUIRE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then return -1 end
used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], 120) end
return tonumber(ARGV[1]) - used
"""


class CallBudget(Protocol):
    limit: int

    def try_acquire(self) -> bool: ...

    def remaining(self) -> int: ...


class VerdictCache(Protocol):
    def get_many(self, keys: Sequence[str]) -> list[dict[str, Any] | None]: ...

    def put(self, key: str, value: dict[str, Any]) -> None: ...


def _minute(clock: Callable[[], float]) -> int:
    return int(clock() // 60)


class RedisCallBudget:
    def __init__(self, client: redis.Redis, limit: int, clock: Callable[[], float] = time.time,
                 namespace: str = "") -> None:
        self._redis = client
        self.limit = limit
        self._clock = clock
        self._prefix = _BUDGET_PREFIX + namespace
        self._script = client.register_script(_ACQUIRE)

    def try_acquire(self) -> bool:
        return int(self._script(keys=[f"{self._prefix}{_minute(self._clock)}"], args=[self.limit])) >= 0

    def remaining(self) -> int:
        used = self._redis.get(f"{self._prefix}{_minute(self._clock)}")
        return max(0, self.limit - int(used or 0))


class MemoryCallBudget:
    def __init__(self, limit: int, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._minute = -1
        self._used = 0

    def _roll(self) -> None:
        minute = _minute(self._clock)
        if minute != self._minute:
            self._minute, self._used = minute, 0

    def try_acquire(self) -> bool:
        with self._lock:
            self._roll()
            if self._used >= self.limit:
                return False
            self._used += 1
            return True

    def remaining(self) -> int:
        with self._lock:
            self._roll()
            return max(0, self.limit - self._used)


class RedisVerdictCache:
    def __init__(self, client: redis.Redis, ttl_seconds: int) -> None:
        self._redis = client
        self._ttl = ttl_seconds

    def get_many(self, keys: Sequence[str]) -> list[dict[str, Any] | None]:
        if not keys:
            return []
        values = self._redis.mget([_CACHE_PREFIX + k for k in keys])
        return [json.loads(v) if v else None for v in values]

    def put(self, key: str, value: dict[str, Any]) -> None:
        if self._ttl > 0:
            self._redis.set(_CACHE_PREFIX + key, json.dumps(value), ex=self._ttl)


class MemoryVerdictCache:
    def __init__(self, ttl_seconds: int, clock: Callable[[], float] = time.monotonic, max_items: int = 50_000):
        self._ttl = ttl_seconds
        self._clock = clock
        self._max = max_items
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, dict[str, Any]]] = {}

    def get_many(self, keys: Sequence[str]) -> list[dict[str, Any] | None]:
        now = self._clock()
        with self._lock:
            out: list[dict[str, Any] | None] = []
            for k in keys:
                item = self._items.get(k)
                out.append(item[1] if item and item[0] > now else None)
            return out

    def put(self, key: str, value: dict[str, Any]) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            if len(self._items) >= self._max:
                self._items.pop(next(iter(self._items)))
            self._items[key] = (self._clock() + self._ttl, value)
