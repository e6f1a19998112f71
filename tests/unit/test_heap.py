"""The analyzer's heap settling: loaded rules leave the collector's passes, and come back on release."""

from __future__ import annotations

import gc

from secustream.analyzer import heap
from secustream.analyzer.reload import HotReload


def test_settle_freezes_what_is_alive_and_release_hands_it_back() -> None:
    rules = [{"rule": i} for i in range(1000)]  # stands for a loaded rule set
    try:
        heap.settle()
        assert gc.get_freeze_count() >= len(rules)
        assert not gc.is_finalized(rules)  # still alive, only out of the collector's walks
    finally:
        heap.release()
    assert gc.get_freeze_count() == 0


def test_a_rule_swap_settles_the_new_set() -> None:
    versions = iter(["a", "b"])
    active: list[object] = []
    reload = HotReload("test", lambda: next(versions), lambda: [object() for _ in range(100)],
                       lambda loaded: active.append(loaded) or len(loaded), interval=1e-9)
    try:
        assert reload.maybe_reload()
        assert gc.get_freeze_count() > 0
    finally:
        heap.release()
