"""Per-source burst counts: the context a single event lacks (one failed login is noise, ten are an attack).

Counted in the shared ``StateStore`` (Redis across replicas) so every analyzer sees the same bursts,
and computed the same way for training, evaluation and serving.
"""

from __future__ import annotations

from collections.abc import Sequence

from secustream.events import EventType, SecurityEvent
from secustream.state import StateStore, WindowObservation

BURST_WINDOW_SECONDS = 60.0


def burst_key(event: SecurityEvent) -> str | None:
    """Only authentication attempts get a burst count: that is where single events are ambiguous."""
    if event.event_type != EventType.AUTH or not event.source.ip:
        return None
    return f"ctx:burst:{event.action}:{event.outcome.value}:{event.source.ip}"


def burst_counts(events: Sequence[SecurityEvent], state: StateStore,
                 window: float = BURST_WINDOW_SECONDS) -> list[int | None]:
    """How many matching events the same source sent in the window up to each event (one round trip)."""
    keys = [burst_key(e) for e in events]
    observations = [
        WindowObservation(key=k, member=str(e.event_id), at=e.timestamp.timestamp(), seconds=window)
        for e, k in zip(events, keys, strict=True) if k is not None
    ]
    counts = iter(state.observe_windows(observations) if observations else [])
    return [next(counts) if k is not None else None for k in keys]
