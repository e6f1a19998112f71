"""Keep the analyzer's long-lived heap (the loaded rules) out of the garbage collector's passes.

Why: a worker holds millions of long-lived objects (the compiled SigmaHQ corpus: plans, closures,
automata, memos) and every full collection walks all of them. On real Windows events with the
corpus loaded, full collections took ~17 % of the pipeline's wall time (``bench/pipeline.py --real
--stages``). ``gc.freeze`` moves what exists to a generation the collector never walks; frozen
objects are still freed by reference counting when the rules are replaced.

``settle`` runs when a worker starts and after a rule swap (one short collection first, so no
garbage is frozen); ``release`` when the worker stops, so a process that builds many workers
(tests, ``secustream up`` restarts) can still collect their cycles. Only a rule set with reference
cycles outlives a swap while frozen (the compiled rules have none).
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect, then freeze everything alive now (the rules just loaded or swapped in)."""
    gc.collect()
    gc.freeze()


def release() -> None:
    """Hand the frozen objects back to the collector (the oldest generation)."""
    gc.unfreeze()
