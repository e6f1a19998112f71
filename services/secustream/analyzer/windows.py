"""The one windowing helper of every detector: native thresholds and Sigma correlations alike.

Why one: both count events (or distinct values) per rule and group within a sliding window in
the shared state, one round trip per batch, and both describe a firing the same way. A detector
adds what it saw during its pass over the batch (``WindowBatch.add``); ``counted`` then asks the
state once and hands back every observation with its count, in the order added.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from secustream.state import StateStore, WindowObservation

Owner = TypeVar("Owner")  # what a detector needs back with the count: its rule, correlation, …


@dataclass
class WindowBatch(Generic[Owner]):
    observations: list[WindowObservation] = field(default_factory=list)
    pending: list[tuple[int, Owner, str]] = field(default_factory=list)

    def add(self, position: int, owner: Owner, key: str, group: Sequence[tuple[str, Any]], member: str, at: float,
            seconds: float, distinct: bool) -> None:
        """Event ``position`` adds ``member`` to window ``key:<group values>``; ``group`` is (field, value) pairs."""
        self.observations.append(WindowObservation(
            f"{key}:{'|'.join(str(v) for _f, v in group)}", member, at, seconds, distinct))
        self.pending.append((position, owner, group_label(group)))

    def counted(self, state: StateStore) -> Iterator[tuple[int, Owner, str, int]]:
        """(event position, owner, group label, count in the window) for every observation, one state call."""
        if not self.observations:
            return
        for (position, owner, label), count in zip(self.pending, state.observe_windows(self.observations),
                                                   strict=True):
            yield position, owner, label, count


def group_label(group: Sequence[tuple[str, Any]]) -> str:
    return ",".join(f"{f}={v}" for f, v in group) or "all events"


def window_detail(count: int, what: str, seconds: float, label: str) -> str:
    """How every window firing reads in a verdict: ``12 events within 60s for source.ip=10.0.0.5``."""
    return f"{count} {what} within {seconds:g}s for {label}"
