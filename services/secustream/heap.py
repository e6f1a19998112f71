"""How every long-running command treats Python's garbage collector: fewer young passes, a frozen old heap.

Why the young threshold: a batch of events is thousands of small dicts, lists and models alive at once.
With CPython's default (a young-generation pass every 700 allocations) the collector walks each batch
again and again while it is being built: normalising 500 real Windows events at a time cost ~26 µs an
event against ~20 µs for the same events dropped one by one (``bench/sigma_corpus.py``). A pass every
``GC_YOUNG_THRESHOLD`` allocations (default 10,000) removes that penalty. Events make no reference
cycles, so reference counting frees them as before; cyclic garbage (a cold pySigma load makes some)
waits longer for a pass (peak RSS of ``bench/sigma_corpus.py``: 413 MB against 388 MB with 700).

Why the freeze: a worker holds millions of long-lived objects (the compiled SigmaHQ corpus: plans,
closures, automata, memos; the API's routes and schemas) and every full collection walks all of them.
On real Windows events with the corpus loaded, full collections took ~17 % of the pipeline's wall time
(``bench/pipeline.py --real --stages``). ``gc.freeze`` moves what exists to a generation the collector
never walks; frozen objects are still freed by reference counting when the rules are replaced.

``tune`` runs once when a command starts (``cli.main``). ``settle`` runs when a worker or the API
starts and after a rule swap (one short collection first, so no garbage is frozen); ``release`` when
the worker stops, so a process that builds many workers (tests, ``secustream up`` restarts) can still
collect their cycles. Only a rule set with reference cycles outlives a swap while frozen (the compiled
rules have none).
"""

from __future__ import annotations

import gc

PYTHON_DEFAULT_YOUNG = 700


def tune(young: int) -> None:
    """Run a young-generation pass every ``young`` allocations (the older generations keep their ratios)."""
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, old)


def settle() -> None:
    """Collect, then freeze everything alive now (the rules just loaded or swapped in, the app just built)."""
    gc.collect()
    gc.freeze()


def release() -> None:
    """Hand the frozen objects back to the collector (the oldest generation)."""
    gc.unfreeze()
