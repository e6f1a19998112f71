"""Fan-out of published verdicts to the live-stream clients of one API process.

Why one hub per app: a single Redis subscription per replica serves any number of dashboards; each client
gets a bounded asyncio queue (a slow client loses old rows, it never stalls the others).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from secustream.state import StateStore
from secustream.state.pubsub import Subscription

QUEUE_SIZE = 256


class LiveHub:
    def __init__(self, state: StateStore, channel: str) -> None:
        self._state = state
        self._channel = channel
        self._lock = threading.Lock()
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = set()
        self._subscription: Subscription | None = None

    # --- source side

    def ensure_started(self) -> None:
        """Subscribe to the channel once; returns after the subscription is confirmed."""
        with self._lock:
            if self._subscription is None:
                self._subscription = self._state.subscribe(self._channel, self.dispatch)

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
        with self._lock:
            subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.close()


def _offer(queue: asyncio.Queue[str], payload: str) -> None:
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(payload)
