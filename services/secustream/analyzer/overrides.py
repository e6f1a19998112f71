"""The admins' rule overrides (``PUT /rules/{id}``), re-read between batches and handed to detection.

Why a poll: the API and the analyzers share only the database; every ``interval`` seconds the router's
reload step reads the table once and swaps the detection step's override map (one attribute write).
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import Engine

from secustream.analyzer.detection import Detection, RuleOverride
from secustream.storage import rules as rule_store
from secustream.verdict import RiskLevel

log = logging.getLogger(__name__)


class OverrideWatch:
    def __init__(self, engine: Engine, detection: Detection, interval: float) -> None:
        self._engine = engine
        self._detection = detection
        self._interval = interval
        self._next = 0.0
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> bool:
        """Re-read the overrides once ``interval`` has passed; True when the detection step got new ones."""
        now = time.monotonic()
        if not force and now < self._next:
            return False
        self._next = now + self._interval
        try:
            rows = rule_store.current_overrides(self._engine)
        except Exception as exc:  # keep the last good overrides when the database blips (or predates them)
            log.warning("rule overrides not refreshed: %s", exc)
            return False
        overrides = {rule_id: RuleOverride(enabled, RiskLevel(level) if level else None)
                     for rule_id, (enabled, level) in rows.items()}
        if overrides == self._detection.overrides:
            return False
        self._detection.overrides = overrides
        log.info("rule overrides now in force: %d", len(overrides))
        return True
