"""Fan-out of published verdicts to the live-stream clients of one API process.

Why one hub per app: a single Redis subscription per replica serves any number of dashboards; each client
gets a bounded asyncio queue (a slow client loses old rows, it never stalls the others).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time

import redis

from secustream.state import StateStore

log = logging.getLogger(__name__)

QUEUE_SIZE = 256


class LiveHub:
    def __init__(self, state: StateStore, channel: str) -> None:
        self._state = state
        self._channel = channel
        self._lock = threading.Lock()
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = set()
        self._started = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- source side

    def ensure_started(self) -> None:
        """Subscribe to the channel once; returns after the subscription is confirmed."""
        with self._lock:
            if self._started:
                return
            client = getattr(self._state, "client", None)
            if isinstance(client, redis.Redis):
                pubsub = client.pubsub()
                self._confirm(pubsub)
                self._thread = threading.Thread(target=self._pump, args=(client, pubsub), name="live-hub",
                                                daemon=True)
                self._thread.start()
            elif hasattr(self._state, "subscribe"):
                self._state.subscribe(self._channel, self.dispatch)
            else:
                raise RuntimeError("state store offers no pub/sub")
            self._started = True

    def _confirm(self, pubsub: redis.client.PubSub, timeout: float = 5.0) -> None:
        pubsub.subscribe(self._channel)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = pubsub.get_message(timeout=0.5)
            if msg and msg.get("type") == "subscribe":
                return
        raise RuntimeError("redis subscription not confirmed")

    def _pump(self, client: redis.Redis, pubsub: redis.client.PubSub) -> None:
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
                    pubsub = client.pubsub()
                    self._confirm(pubsub)
                except (redis.RedisError, RuntimeError):
                    continue
                continue
            if msg and msg.get("type") == "message":
                data = msg["data"]
                self.dispatch(data.decode() if isinstance(data, bytes) else str(data))
        with contextlib.suppress(Exception):
            pubsub.close()

    def dispatch(self, payload: str) -> None:
        with self._lock:
            targets = list(self._subscribers)
        for loop, queue in targets:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(_offer, queue, payload)

    # --- client side

    def subscribe(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        with self._lock:
            self._subscribers.add((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        with self._lock:
            self._subscribers = {(lp, q) for lp, q in self._subscribers if q is not queue}

    @property
    def client_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _offer(queue: asyncio.Queue[str], payload: str) -> None:
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(payload)
