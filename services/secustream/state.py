"""Shared analyzer state: sliding windows, the capped recent-event feed and live pub/sub.

``RedisState`` lets every analyzer replica share threshold windows; ``MemoryState`` is its
in-process twin for ``secustream up`` and unit tests. Both implement ``StateStore``.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import redis


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

    def ping(self) -> bool: ...

    def close(self) -> None: ...


_WINDOW_PREFIX = "secustream:win:"


class RedisState:
    """Redis implementation: one sorted set per window (score = event time), pipelined per batch."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    @classmethod
    def from_url(cls, url: str) -> RedisState:
        return cls(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5))

    @property
    def client(self) -> redis.Redis:
        return self._redis

    def observe_windows(self, observations: Sequence[WindowObservation]) -> list[int]:
        if not observations:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for obs in observations:
            key = _WINDOW_PREFIX + obs.key
            if obs.distinct:
                pipe.zadd(key, {obs.member: obs.at}, gt=True)
            else:
                pipe.zadd(key, {obs.member: obs.at})
            # Keep two windows of history so slightly out-of-order events still count.
            pipe.zremrangebyscore(key, "-inf", f"({obs.at - 2 * obs.seconds}")
            pipe.zcount(key, f"({obs.at - obs.seconds}", obs.at)
            pipe.expire(key, int(2 * obs.seconds) + 60)
        replies = pipe.execute()
        return [int(replies[i * 4 + 2]) for i in range(len(observations))]

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

    def subscribe(self, channel: str, callback: Callable[[str], None]) -> None:
        with self._lock:
            self._subscribers[channel].append(callback)

    def publish(self, channel: str, payloads: Sequence[str]) -> None:
        with self._lock:
            callbacks = list(self._subscribers.get(channel, ()))
        for payload in payloads:
            for callback in callbacks:
                callback(payload)

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        return None


def make_state(redis_url: str | None) -> StateStore:
    """Redis when a URL is configured, else the in-process twin."""
    return RedisState.from_url(redis_url) if redis_url else MemoryState()


RECENT_EVENTS_STREAM = "secustream:recent:events"
RECENT_VERDICTS_STREAM = "secustream:recent:verdicts"
VERDICTS_CHANNEL = "secustream:verdicts"

