"""Hot reload for every detector: a cheap change check between batches, keep the old set on a bad edit.

One path for native YAML rules and Sigma rules/packs alike: each detector names how to fingerprint
its sources (no file read), how to load them, and how to swap the loaded set in; the metrics
(``secustream_rules_loaded``, ``secustream_rules_reloads_total``, by ``detector``) come from here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from secustream import heap
from secustream.analyzer.filewatch import ChangeWatch
from secustream.analyzer.native import RuleError, RulesEngine, RuleSet
from secustream.analyzer.native.schema import path_fingerprint
from secustream.metrics import AnalyzerMetrics

log = logging.getLogger(__name__)

Loaded = TypeVar("Loaded")


class HotReload(Generic[Loaded]):
    """``maybe_reload()``: when ``fingerprint`` changed (checked at most every ``interval`` s), ``load`` and
    ``apply`` (which returns how many rules are now active); a load that raises one of ``errors`` keeps the
    active set and counts an error."""

    def __init__(self, detector: str, fingerprint: Callable[[], str], load: Callable[[], Loaded],
                 apply: Callable[[Loaded], int], interval: float, metrics: AnalyzerMetrics | None = None,
                 errors: tuple[type[Exception], ...] = (OSError,), active: int = 0) -> None:
        self.detector = detector
        self._load = load
        self._apply = apply
        self._errors = errors
        self.metrics = metrics
        self._watch = ChangeWatch(fingerprint, interval)
        if metrics:
            metrics.rules_loaded.labels(detector=detector).set(active)

    def maybe_reload(self) -> bool:
        """Reload when the sources changed; True when a new rule set became active."""
        if not self._watch.changed():
            return False
        try:
            loaded = self._load()
        except self._errors as exc:
            log.error("%s rule reload failed, keeping the active rules: %s", self.detector, exc)
            if self.metrics:
                self.metrics.rules_reloads.labels(detector=self.detector, result="error").inc()
            return False
        active = self._apply(loaded)
        heap.settle()  # the new set joins the frozen heap; the old one was freed as it was replaced
        log.info("%s rules reloaded: %d active", self.detector, active)
        if self.metrics:
            self.metrics.rules_reloads.labels(detector=self.detector, result="ok").inc()
            self.metrics.rules_loaded.labels(detector=self.detector).set(active)
        return True


def RulesReloader(path: Path, engine: RulesEngine, interval: float,
                  metrics: AnalyzerMetrics | None = None) -> HotReload[RuleSet]:
    def apply(ruleset: RuleSet) -> int:
        engine.replace_rules(ruleset)
        return len(ruleset.rules)

    reload = HotReload("native", lambda: path_fingerprint(path), lambda: RuleSet.load(path), apply, interval, metrics,
                       (RuleError, OSError), len(engine.ruleset.rules))
    engine.watch(reload.maybe_reload)
    return reload
