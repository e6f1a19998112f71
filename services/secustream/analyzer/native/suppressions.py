"""Analyst "false positive" feedback on a rule hit becomes a rule suppression detection honours.

A suppression is narrow on purpose: one rule, one entity (the field the rule groups by, else the
source address or host), so a false positive silences that rule for that entity only. The rows live
in ``storage/feedback.py``; this module decides what to suppress and answers "is this hit suppressed?".
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from sqlalchemy import Connection, Engine

from secustream.analyzer.native.schema import RuleSet
from secustream.events import get_field
from secustream.storage import feedback as feedback_store

log = logging.getLogger(__name__)

FALLBACK_FIELDS = ("source.ip", "source.host", "source.user")


def suppression_field(ruleset: RuleSet, rule_id: str, doc: dict[str, Any]) -> tuple[str, str] | None:
    fields: list[str] = []
    rule = next((r for r in ruleset.rules if r.id == rule_id), None)
    for alternatives in rule.group_by if rule is not None else ():
        fields.extend(alternatives)  # "source.ip|source.host": whichever of them the event has
    fields.extend(FALLBACK_FIELDS)
    for f in fields:
        value = get_field(doc, f)
        if value is not None:
            return f, str(value)
    return None


def suppress_false_positive(conn: Connection, event_id: uuid.UUID, user_id: int | None, note: str | None,
                            ruleset: RuleSet) -> int:
    """Suppress every rule that fired on ``event_id`` for the entity it fired on; returns rows created.

    Called by the API when an analyst marks a verdict false positive (and by ``sync_from_feedback``).
    Idempotent: an identical active suppression is never added twice.
    """
    found = feedback_store.fired_rules(conn, event_id)
    if found is None:
        return 0
    payload, rule_ids = found
    created = 0
    for rule_id in rule_ids:
        where = suppression_field(ruleset, rule_id, payload)
        if where is not None and feedback_store.add_suppression_once(
                conn, rule_id, where[0], where[1], note or "analyst marked a hit false positive", user_id, event_id):
            created += 1
    return created


def sync_from_feedback(engine: Engine, ruleset: RuleSet) -> int:
    """Create missing suppressions for every false-positive feedback on rule verdicts; returns how many."""
    created = 0
    with engine.begin() as conn:
        for event_id, user_id, note in feedback_store.false_positives(conn):
            created += suppress_false_positive(conn, event_id, user_id, note, ruleset)
    return created


class SuppressionIndex:
    """The ``suppressed(rule_id, doc)`` callable for the detectors; ``refresh()`` re-reads the active rows.

    The router calls ``refresh`` between batches; it reads the database at most every ``interval``.
    """

    def __init__(self, engine: Engine, interval: float = 10.0) -> None:
        self._engine = engine
        self._interval = interval
        self._next = 0.0
        self._by_rule: dict[str, list[tuple[str | None, str | None]]] = {}
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next:
            return
        self._next = now + self._interval
        try:
            self._by_rule = feedback_store.active_suppressions(self._engine)
        except Exception as exc:  # keep the last good index when the database blips
            log.warning("rule suppressions not refreshed: %s", exc)

    def __call__(self, rule_id: str, doc: dict[str, Any]) -> bool:
        for field, value in self._by_rule.get(rule_id, ()):
            if field is None:  # a whole-rule suppression
                return True
            got = get_field(doc, field)
            if got is not None and str(got) == value:
                return True
        return False
