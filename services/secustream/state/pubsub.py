"""Live pub/sub subscriptions: a Redis channel pumped by one thread, or in-process callbacks.

Why here: the live hub asks its state backend for a subscription and never looks at which backend
it has (one Redis subscription per API replica serves every dashboard).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis

log = logging.getLogger(__name__)


class Subscription(Protocol):
    def close(self) -> None: ...


class RedisSubscription:
    """Subscribes (confirmed before returning), then a daemon thread hands each message to ``callback``;
    a Redis error resubscribes after a second."""

    def __init__(self, client: redis.Redis, channel: str, callback: Callable[[str], None]) -> None:
        self._client = client
        self._channel = channel
        self._callback = callback
        self._stop = threading.Event()
        pubsub = client.pubsub()
        self._confirm(pubsub)
        self._thread = threading.Thread(target=self._pump, args=(pubsub,), name="live-hub", daemon=True)
        self._thread.start()

    def _confirm(self, pubsub: redis.client.PubSub, timeout: float = 5.0) -> None:
        pubsub.subscribe(self._channel)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = pubsub.get_message(timeout=0.5)
            if msg and msg.get("type") == "subscribe":
                return
        raise RuntimeError("redis subscription not confirmed")

    def _pump(self, pubsub: redis.client.PubSub) -> None:
        while not self._stop.is_set():
            try:
                msg = pubsub.get_message(timeout=1.0)
            except redis.RedisError as exc:
                log.warning("live stream: redis error (%s); resubscribing", type(exc).__name__)
                with contextlib.suppress(Exception):
                    pubsub.close()
                if self._stop.wait(1.0):
                    break
                try:
                    pubsub = self._client.pubsub()
                    self._confirm(pubsub)
                except (redis.RedisError, RuntimeError):
                    continue
                continue
            if msg and msg.get("type") == "message":
                data = msg["data"]
                self._callback(data.decode() if isinstance(data, bytes) else str(data))
        with contextlib.suppress(Exception):
            pubsub.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class MemorySubscription:
    def __init__(self, unsubscribe: Callable[[], None]) -> None:
        self._unsubscribe = unsubscribe

    def close(self) -> None:
        self._unsubscribe()
