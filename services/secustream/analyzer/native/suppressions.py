"""Analyst "false positive" feedback on a rule hit becomes a *proposed* rule suppression; admins approve.

A suppression is narrow on purpose: one rule, one entity (the field the rule groups by, else the
source address or host), so a false positive silences that rule for that entity only. An analyst may
not silence detection on their own (``POST /suppressions`` is admin-only), so their false positive is a
proposal: not in force, and lapsing after ``SUPPRESSION_PROPOSAL_DAYS`` unless an admin approves (or
extends) it. Detection honours approved, active, unexpired suppressions only. The rows live in
``storage/feedback.py``; this module decides what to suppress and answers "is this hit suppressed?".
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from secustream.analyzer.native.schema import RuleSet
from secustream.events import get_field
from secustream.feedback import PROPOSAL_DAYS
from secustream.storage import audit
from secustream.storage import feedback as feedback_store
from secustream.storage import users as user_store
from secustream.storage.alerts import count_suppressed

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
                            ruleset: RuleSet, days: float = PROPOSAL_DAYS) -> int:
    """Propose suppressing every rule that fired on ``event_id`` for the entity it fired on, for ``days``;
    returns the proposals created (each also in the audit log).

    Called by the API when an analyst marks a verdict or an alert false positive (and by
    ``sync_from_feedback``). Idempotent: nothing is proposed where a live suppression (proposed or approved)
    already covers the rule and entity, nor twice from the same event (a rejected proposal stays rejected).
    """
    found = feedback_store.fired_rules(conn, event_id)
    if found is None:
        return 0
    payload, rule_ids = found
    user = user_store.get_user(conn, user_id) if user_id is not None else None
    created = 0
    for rule_id in rule_ids:
        where = suppression_field(ruleset, rule_id, payload)
        if where is None:
            continue
        new_id = feedback_store.propose_suppression(conn, rule_id, where[0], where[1],
                                                    note or "analyst marked a hit false positive", user_id,
                                                    event_id, days)
        if new_id is None:
            continue
        audit.record(conn, "suppression_proposed", actor=user["username"] if user else None,
                     target=f"suppression:{new_id}", rule_id=rule_id, field=where[0], value=where[1],
                     event_id=str(event_id), days=days)
        created += 1
    return created


def sync_from_feedback(engine: Engine, ruleset: RuleSet, days: float = PROPOSAL_DAYS) -> int:
    """Propose missing suppressions for every false-positive feedback on rule verdicts; returns how many."""
    created = 0
    with engine.begin() as conn:
        for event_id, user_id, note in feedback_store.false_positives(conn):
            created += suppress_false_positive(conn, event_id, user_id, note, ruleset, days)
    return created


class SuppressionIndex:
    """The ``suppressed(rule_id, doc)`` callable for the detectors; ``refresh()`` re-reads the approved rows.

    The router calls ``refresh`` between batches; it reads the database at most every ``interval``, and
    adds the hits each suppression stopped to its counter then (``flush``).
    """

    def __init__(self, engine: Engine, interval: float = 10.0) -> None:
        self._engine = engine
        self._interval = interval
        self._next = 0.0
        self._by_rule: dict[str, list[tuple[int, str | None, str | None]]] = {}
        self._hits: Counter[int] = Counter()  # hits stopped per suppression id, not yet added to its row
        self.refresh(force=True)

    def flush(self) -> None:
        """Add the hits stopped since the last flush to the suppressions' counters (nothing dropped silently)."""
        hits, self._hits = self._hits, Counter()
        if not hits:
            return
        try:
            with self._engine.begin() as conn:
                count_suppressed(conn, dict(hits), datetime.now(UTC))
        except Exception as exc:  # keep them for the next flush
            self._hits.update(hits)
            log.warning("suppressed-hit counts not written: %s", exc)

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next:
            return
        self._next = now + self._interval
        self.flush()
        try:
            self._by_rule = feedback_store.approved_suppressions(self._engine)
        except Exception as exc:  # keep the last good index when the database blips
            log.warning("rule suppressions not refreshed: %s", exc)

    def __call__(self, rule_id: str, doc: dict[str, Any]) -> bool:
        for suppression_id, field, value in self._by_rule.get(rule_id, ()):
            if field is None or ((got := get_field(doc, field)) is not None and str(got) == value):
                self._hits[suppression_id] += 1  # field None: a whole-rule suppression
                return True
        return False
