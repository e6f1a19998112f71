"""An analyst's resolution of an alert feeds the existing feedback and suppression path.

Why: resolving an alert is the analyst's verdict on its events. "False positive" becomes feedback on the
alert's sample events (training reads it) and a proposed suppression of the rule for that entity (in
force once an admin approves it, lapsing after SUPPRESSION_PROPOSAL_DAYS otherwise; docs/api.md
"Security"); "benign" and "true positive" become feedback only.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection

from secustream.analyzer.native import RuleSet
from secustream.analyzer.native.suppressions import suppress_false_positive
from secustream.feedback import PROPOSAL_DAYS, FeedbackLabel
from secustream.storage import alerts as store
from secustream.storage import feedback as feedback_store
from secustream.storage import pages as page_store

FEEDBACK_SAMPLE = 50  # events of one alert that get the analyst's label


def feed_resolution(conn: Connection, alert: dict[str, Any], resolution: str, user_id: int, note: str | None,
                    ruleset: RuleSet, proposal_days: float = PROPOSAL_DAYS) -> dict[str, int]:
    """Label the alert's events and, for a false positive, propose suppressing its rule on its entity;
    returns counts."""
    label = FeedbackLabel(resolution)
    events: list[uuid.UUID] = store.sample_event_ids(conn, alert["id"], FEEDBACK_SAMPLE)
    for event_id in events:
        if page_store.event_exists(conn, event_id):
            feedback_store.upsert_feedback(conn, event_id, user_id, label.value, None, note)
    suppressed = 0
    if label is FeedbackLabel.FALSE_POSITIVE and events:
        suppressed = suppress_false_positive(conn, events[0], user_id, note or f"alert {alert['id']} false positive",
                                             ruleset, proposal_days)
    return {"feedback": len(events), "suppressions": suppressed}
