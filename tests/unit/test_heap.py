"""The analyzer's heap settling: loaded rules leave the collector's passes, and come back on release."""

from __future__ import annotations

import gc

import pytest

from secustream import heap
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


def test_tune_sets_the_young_threshold_and_keeps_the_older_ratios() -> None:
    before = gc.get_threshold()
    try:
        heap.tune(12_345)
        assert gc.get_threshold() == (12_345, before[1], before[2])
    finally:
        gc.set_threshold(*before)


def test_every_command_runs_with_the_configured_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    from secustream import cli

    before = gc.get_threshold()
    monkeypatch.setenv("GC_YOUNG_THRESHOLD", "4321")
    seen: list[int] = []
    monkeypatch.setattr(cli, "cmd_generate", lambda _s, _a: seen.append(gc.get_threshold()[0]) or 0)
    try:
        assert cli.main(["generate"]) == 0
    finally:
        gc.set_threshold(*before)
    assert seen == [4321]
