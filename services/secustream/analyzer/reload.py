"""Hot reload of rule files: cheap change check between batches, keep the old set on a bad edit."""

from __future__ import annotations

import logging
from pathlib import Path

from secustream.analyzer.filewatch import ChangeWatch
from secustream.analyzer.native import RuleError, RulesEngine, RuleSet
from secustream.analyzer.native.schema import path_fingerprint
from secustream.metrics import AnalyzerMetrics

log = logging.getLogger(__name__)


class RulesReloader:
    def __init__(self, path: Path, engine: RulesEngine, interval: float, metrics: AnalyzerMetrics | None = None):
        self.path = path
        self.engine = engine
        self.metrics = metrics
        self._watch = ChangeWatch(lambda: path_fingerprint(path), interval)
        if metrics:
            metrics.rules_loaded.set(len(engine.ruleset.rules))

    def maybe_reload(self) -> bool:
        """Reload when the files changed; returns True when a new rule set became active."""
        if not self._watch.changed():
            return False
        try:
            ruleset = RuleSet.load(self.path)
        except (RuleError, OSError) as exc:
            log.error("rule reload failed, keeping %d active rules: %s", len(self.engine.ruleset.rules), exc)
            if self.metrics:
                self.metrics.rules_reloads.labels(result="error").inc()
            return False
        self.engine.replace_rules(ruleset)
        log.info("rules reloaded from %s: %d rules (fingerprint %s)", self.path, len(ruleset.rules),
                 ruleset.fingerprint)
        if self.metrics:
            self.metrics.rules_reloads.labels(result="ok").inc()
            self.metrics.rules_loaded.set(len(ruleset.rules))
        return True
