"""RedisState and MemoryState must agree on window semantics (up uses one, clusters the other)."""

from __future__ import annotations

import random

from secustream.state import MemoryState, RedisState, WindowObservation


def test_window_counts_match_between_redis_and_memory(redis_url: str) -> None:
    rng = random.Random(7)
    observations = []
    t = 1_000_000.0
    for i in range(400):
        t += rng.uniform(0, 3)
        distinct = rng.random() < 0.5
        observations.append(WindowObservation(
            key=f"k{rng.randrange(3)}-{'d' if distinct else 'c'}",
            member=str(rng.randrange(20)) if distinct else f"e{i}", at=t - rng.uniform(0, 2), seconds=30,
            distinct=distinct))
    redis_state = RedisState.from_url(redis_url)
    try:
        assert redis_state.observe_windows(observations) == MemoryState().observe_windows(observations)
    finally:
        redis_state.close()


def test_recent_stream_is_capped_newest_first(redis_url: str) -> None:
    for state in (RedisState.from_url(redis_url), MemoryState()):
        state.push_recent("s", [str(i) for i in range(50)], maxlen=10)
        got = state.recent("s", 5)
        assert got == ["49", "48", "47", "46", "45"]
