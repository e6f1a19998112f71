"""The shared-state backend: sliding windows, the recent feed, live pub/sub, LLM budget and cache, counters.

``RedisState`` lets every replica share them; ``MemoryState`` is its in-process twin for ``secustream up``
and unit tests. Both implement ``StateStore``, and ``make_state`` is the one place that chooses between
them: every other module asks its backend for what it needs and never inspects which one it has.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import redis

from secustream.counters import Counters, FallbackCounters, MemoryCounters, RedisCounters
from secustream.state.limits import (
    CallBudget,
    MemoryCallBudget,
    MemoryVerdictCache,
    RedisCallBudget,
    RedisVerdictCache,
    VerdictCache,
)
from secustream.state.pubsub import MemorySubscription, RedisSubscription, Subscription


@dataclass(frozen=True, slots=True)
class WindowObservation:
    """Add ``member`` at event time ``at`` to window ``key``; count what lies in (at - seconds, at]."""

    key: str
    member: str
    at: float
    seconds: float
    distinct: bool = False


class StateStore(Protocol):
    def observe_windows(self, observations: Sequence[WindowObservation]) -> list[int]: ...

    def push_recent(self, stream: str, payloads: Sequence[str], maxlen: int) -> None: ...

    def recent(self, stream: str, count: int) -> list[str]: ...

    def publish(self, channel: str, payloads: Sequence[str]) -> None: ...

    def feed(self, stream: str, channel: str, payloads: Sequence[str], maxlen: int) -> None:
        """``push_recent`` + ``publish`` in one round trip (the analyzer's per-batch hot path)."""
        ...

    def subscribe(self, channel: str, callback: Callable[[str], None]) -> Subscription:
        """``callback(payload)`` for every message published on ``channel`` until the subscription is closed."""
        ...

    def call_budget(self, per_minute: int) -> CallBudget:
        """The LLM calls/minute budget every replica on this backend draws from."""
        ...

    def verdict_cache(self, ttl_seconds: int) -> VerdictCache:
        """The LLM answer cache every replica on this backend shares."""
        ...

    def counters(self, on_fallback: Callable[[], None] = lambda: None) -> Counters:
        """Expiring counters and blocks every API replica on this backend shares (the login throttle's);
        ``on_fallback`` is called for each operation served in-process while a shared backend is down."""
        ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...


_WINDOW_PREFIX = "secustream:win:"

# One round trip per batch: every window observation of the batch in a single script call.
# Keeps two windows of history so slightly out-of-order events (other replicas) still count.
_OBSERVE_LUA = """
local out = {}
for i, key in ipairs(KEYS) do
  local b = (i - 1) * 4
  local member, at, secs = ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  if ARGV[b + 4] == '1' then
    redis.call('ZADD', key, 'GT', ARGV[b + 2], member)
  else
    redis.call('ZADD', key, ARGV[b + 2], member)
  end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%.6f', at - 2 * secs))
  out[i] = redis.call('ZCOUNT', key, '(' .. string.format('%.6f', at - secs), ARGV[b + 2])
  redis.call('EXPIRE', key, math.floor(2 * secs) + 60)
end
return out
"""

_FEED_LUA = """
for i = 3, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'data', ARGV[i])
  redis.call('PUBLISH', ARGV[2], ARGV[i])
end
return #ARGV - 2
"""


class RedisState:
    """Redis implementation: one sorted set per window (score = event time), pipelined per batch."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._observe = client.register_script(_OBSERVE_LUA)
        self._feed = client.register_script(_FEED_LUA)

    @classmethod
    def from_url(cls, url: str) -> RedisState:
        return cls(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5))

    @property
    def client(self) -> redis.Redis:
        return self._redis

    def subscribe(self, channel: str, callback: Callable[[str], None]) -> Subscription:
        return RedisSubscription(self._redis, channel, callback)

    def call_budget(self, per_minute: int) -> CallBudget:
        return RedisCallBudget(self._redis, per_minute)

    def verdict_cache(self, ttl_seconds: int) -> VerdictCache:
        return RedisVerdictCache(self._redis, ttl_seconds)

    def counters(self, on_fallback: Callable[[], None] = lambda: None) -> Counters:
        return FallbackCounters(RedisCounters(self._redis), MemoryCounters(), on_fallback=on_fallback)

    def observe_windows(self, observations: Sequence[WindowObservation]) -> list[int]:
        if not observations:
            return []
        keys = [_WINDOW_PREFIX + o.key for o in observations]
        args: list[str] = []
        for o in observations:
            args.extend((o.member, f"{o.at:.6f}", f"{o.seconds:g}", "1" if o.distinct else "0"))
        return [int(c) for c in self._observe(keys=keys, args=args)]

    def push_recent(self, stream: str, payloads: Sequence[str], maxlen: int) -> None:
        if not payloads:
            return
        pipe = self._redis.pipeline(transaction=False)
        for payload in payloads:
            pipe.xadd(stream, {"data": payload}, maxlen=maxlen, approximate=True)
        pipe.execute()

    def recent(self, stream: str, count: int) -> list[str]:
        rows = self._redis.xrevrange(stream, count=count)
        return [fields[b"data"].decode() for _id, fields in rows]

    def publish(self, channel: str, payloads: Sequence[str]) -> None:
        if not payloads:
            return
        pipe = self._redis.pipeline(transaction=False)
        for payload in payloads:
            pipe.publish(channel, payload)
        pipe.execute()

    def feed(self, stream: str, channel: str, payloads: Sequence[str], maxlen: int) -> None:
        if payloads:
            self._feed(keys=[stream], args=[str(maxlen), channel, *payloads])

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self._redis.close()


class MemoryState:
    """In-process twin of ``RedisState`` (same window semantics), thread-safe for ``secustream up``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, dict[str, float]] = defaultdict(dict)
        self._streams: dict[str, deque[str]] = {}
        self._subscribers: dict[str, list[Callable[[str], None]]] = defaultdict(list)

    def observe_windows(self, observations: Sequence[WindowObservation]) -> list[int]:
        counts: list[int] = []
        with self._lock:
            for obs in observations:
                window = self._windows[obs.key]
                previous = window.get(obs.member)
                if not (obs.distinct and previous is not None and previous >= obs.at):
                    window[obs.member] = obs.at
                floor = obs.at - 2 * obs.seconds
                for member in [m for m, at in window.items() if at <= floor]:
                    del window[member]
                low = obs.at - obs.seconds
                counts.append(sum(1 for at in window.values() if low < at <= obs.at))
        return counts

    def push_recent(self, stream: str, payloads: Sequence[str], maxlen: int) -> None:
        with self._lock:
            buf = self._streams.get(stream)
            if buf is None or buf.maxlen != maxlen:
                buf = self._streams[stream] = deque(buf or (), maxlen=maxlen)
            buf.extend(payloads)

    def recent(self, stream: str, count: int) -> list[str]:
        with self._lock:
            buf = self._streams.get(stream, deque())
            return list(reversed(buf))[:count]

    def subscribe(self, channel: str, callback: Callable[[str], None]) -> Subscription:
        with self._lock:
            self._subscribers[channel].append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers[channel]:
                    self._subscribers[channel].remove(callback)

        return MemorySubscription(unsubscribe)

    def call_budget(self, per_minute: int) -> CallBudget:
        return MemoryCallBudget(per_minute)

    def verdict_cache(self, ttl_seconds: int) -> VerdictCache:
        return MemoryVerdictCache(ttl_seconds)

    def counters(self, on_fallback: Callable[[], None] = lambda: None) -> Counters:
        return MemoryCounters()

    def publish(self, channel: str, payloads: Sequence[str]) -> None:
        with self._lock:
            callbacks = list(self._subscribers.get(channel, ()))
        for payload in payloads:
            for callback in callbacks:
                callback(payload)

    def feed(self, stream: str, channel: str, payloads: Sequence[str], maxlen: int) -> None:
        self.push_recent(stream, payloads, maxlen)
        self.publish(channel, payloads)

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        return None


def make_state(redis_url: str | None) -> StateStore:
    """The one backend factory: Redis when a URL is configured, else the in-process twin."""
    return RedisState.from_url(redis_url) if redis_url else MemoryState()


RECENT_EVENTS_STREAM = "secustream:recent:events"
RECENT_VERDICTS_STREAM = "secustream:recent:verdicts"
VERDICTS_CHANNEL = "secustream:verdicts"

