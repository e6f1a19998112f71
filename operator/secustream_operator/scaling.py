"""The builtin autoscaler's decision: pure functions of lag, bounds and time.

Why pure: the rules (clamp to bounds and partitions, up at once, down only after the
cooldown, keep replicas when lag is unknown) are the part worth testing exhaustively.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PartitionOffsets:
    """Offsets of one partition: log start, high watermark, the group's committed offset (<0: none)."""

    low: int
    high: int
    committed: int


def partition_lag(p: PartitionOffsets) -> int:
    """Lag of one partition, never negative.

    A missing commit counts everything still in the log (the analyzer reads from earliest).
    Brokers such as Tansu may report a high watermark that trails the committed offset;
    that must read as "no lag", not as negative lag.
    """
    start = p.committed if p.committed >= 0 else p.low
    return max(0, p.high - max(start, p.low))


def total_lag(partitions: Iterable[PartitionOffsets]) -> int:
    return sum(partition_lag(p) for p in partitions)


def target_replicas(lag: int, lag_threshold: int, lo: int, hi: int, partitions: int) -> int:
    """clamp(ceil(lag / lagThreshold), min, max, partitions); more consumers than partitions idle."""
    cap = max(0, min(hi, partitions))
    wanted = math.ceil(max(0, lag) / max(1, lag_threshold))
    return max(min(lo, cap), min(cap, max(lo, wanted)))


@dataclass(frozen=True)
class Decision:
    replicas: int
    changed: bool
    reason: str


def decide(*, current: int, lag: int | None, lag_threshold: int, lo: int, hi: int, partitions: int,
           now: float, last_scale_time: float | None, cooldown_seconds: float) -> Decision:
    """Next replica count.

    Up: at once. Down: only when ``cooldown_seconds`` have passed since the last scale. Unknown
    lag (broker unreachable): keep ``current``, except to bring it back inside the bounds.
    """
    cap = max(0, min(hi, partitions))
    in_bounds = max(min(lo, cap), min(cap, current))
    if lag is None:
        return Decision(in_bounds, in_bounds != current, "lag unknown; keeping replicas")
    target = target_replicas(lag, lag_threshold, lo, hi, partitions)
    if target > current:
        return Decision(target, True, f"lag {lag} needs {target} replicas; scaling up")
    if target == current:
        return Decision(current, False, f"lag {lag}; steady at {current}")
    cooled = last_scale_time is None or now - last_scale_time >= cooldown_seconds
    if cooled or current > cap:
        return Decision(target, True, f"lag {lag} needs {target} replicas; scaling down")
    return Decision(current, False, f"lag {lag} needs {target}; waiting for the {cooldown_seconds:g}s cooldown")


def lag_from_offsets(low: Mapping[int, int], high: Mapping[int, int], committed: Mapping[int, int]) -> int:
    """Total lag from per-partition maps (partition -> offset) as returned by the admin API."""
    return total_lag(PartitionOffsets(low.get(p, 0), high[p], committed.get(p, -1)) for p in high)
