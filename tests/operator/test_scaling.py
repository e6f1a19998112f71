"""The builtin autoscaler's pure decision and lag math."""

from __future__ import annotations

import pytest

from secustream_operator.scaling import PartitionOffsets, decide, lag_from_offsets, partition_lag, target_replicas


@pytest.mark.parametrize(("lag", "threshold", "lo", "hi", "partitions", "expected"), [
    (0, 100, 1, 12, 12, 1),          # idle -> min
    (1, 100, 1, 12, 12, 1),
    (101, 100, 1, 12, 12, 2),        # ceil
    (1000, 100, 1, 12, 12, 10),
    (10_000, 100, 1, 12, 12, 12),    # max
    (10_000, 100, 1, 12, 4, 4),      # partitions cap below max
    (10_000, 100, 6, 12, 4, 4),      # min above partitions: partitions win
    (0, 100, 0, 5, 5, 0),            # scale to zero allowed when min is 0
    (-50, 100, 1, 5, 5, 1),          # negative lag treated as none
])
def test_target_replicas(lag: int, threshold: int, lo: int, hi: int, partitions: int, expected: int) -> None:
    assert target_replicas(lag, threshold, lo, hi, partitions) == expected


def test_partition_lag_tolerates_trailing_watermark() -> None:
    assert partition_lag(PartitionOffsets(low=0, high=100, committed=40)) == 60
    assert partition_lag(PartitionOffsets(low=0, high=1, committed=216)) == 0, "Tansu: hwm behind commit"
    assert partition_lag(PartitionOffsets(low=0, high=50, committed=-1001)) == 50, "no commit: all unread"
    assert partition_lag(PartitionOffsets(low=30, high=50, committed=10)) == 20, "retention moved log start"
    assert lag_from_offsets({0: 0, 1: 0}, {0: 10, 1: 5}, {0: 4}) == 11


def kw(**over: object) -> dict[str, object]:
    base: dict[str, object] = dict(current=2, lag=0, lag_threshold=100, lo=1, hi=10, partitions=8, now=1000.0,
                                   last_scale_time=990.0, cooldown_seconds=60)
    base.update(over)
    return base


def test_scale_up_is_immediate() -> None:
    d = decide(**kw(lag=700, last_scale_time=999.0))  # type: ignore[arg-type]
    assert (d.replicas, d.changed) == (7, True)


def test_scale_up_capped_by_partitions() -> None:
    assert decide(**kw(lag=10**6)).replicas == 8  # type: ignore[arg-type]


def test_scale_down_waits_for_cooldown() -> None:
    waiting = decide(**kw(current=5, lag=0, last_scale_time=990.0))  # type: ignore[arg-type]
    assert (waiting.replicas, waiting.changed) == (5, False) and "cooldown" in waiting.reason
    cooled = decide(**kw(current=5, lag=0, last_scale_time=900.0))  # type: ignore[arg-type]
    assert (cooled.replicas, cooled.changed) == (1, True)
    never_scaled = decide(**kw(current=5, lag=0, last_scale_time=None))  # type: ignore[arg-type]
    assert never_scaled.replicas == 1


def test_unknown_lag_keeps_replicas_but_enforces_bounds() -> None:
    keep = decide(**kw(current=5, lag=None))  # type: ignore[arg-type]
    assert (keep.replicas, keep.changed) == (5, False)
    over = decide(**kw(current=20, lag=None))  # type: ignore[arg-type]
    assert (over.replicas, over.changed) == (8, True)
    under = decide(**kw(current=0, lag=None, lo=2))  # type: ignore[arg-type]
    assert under.replicas == 2


def test_over_cap_scales_down_without_cooldown() -> None:
    d = decide(**kw(current=12, lag=10**6, partitions=4, last_scale_time=999.0))  # type: ignore[arg-type]
    assert (d.replicas, d.changed) == (4, True)


def test_steady() -> None:
    d = decide(**kw(current=3, lag=250))  # type: ignore[arg-type]
    assert (d.replicas, d.changed) == (3, False)
