"""Labelled examples for the classifier: generator ground truth, analyst feedback, weak LLM labels.

Texts are rendered exactly as the model tier renders them (same burst context), so what the model
learns is what it later sees. Weak labels are flagged and weighted down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from secustream.analyzer.model.context import burst_counts
from secustream.analyzer.model.text import render_event
from secustream.events import SecurityEvent, ThreatClass
from secustream.feedback import FeedbackLabel
from secustream.generator import EventGenerator
from secustream.state import MemoryState
from secustream.storage.tables import Event, Feedback
from secustream.storage.tables import Verdict as VerdictRow

# Feedback labels an analyst can give (the API's vocabulary) and what class they imply.

WEAK_LABEL_WEIGHT = 0.5
BENIGN_LABELS = (FeedbackLabel.FALSE_POSITIVE, FeedbackLabel.BENIGN)


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str
    source: str  # "generator" | "feedback" | "llm_weak"
    weight: float = 1.0
    weak: bool = False


def render_stream(events: Sequence[SecurityEvent], chunk: int = 2000) -> list[str]:
    """Render events in stream order with burst context counted as the analyzer would."""
    state = MemoryState()
    texts: list[str] = []
    for start in range(0, len(events), chunk):
        part = events[start : start + chunk]
        texts.extend(render_event(e, b) for e, b in zip(part, burst_counts(part, state), strict=True))
    return texts


def generated_examples(seed: int, count: int, attack_ratio: float = 0.3,
                       start: datetime | None = None) -> list[Example]:
    """Ground truth from the simulator (a seed fixes the stream; evaluate uses a different seed)."""
    gen = EventGenerator(seed=seed, attack_ratio=attack_ratio, start=start or datetime(2026, 1, 1, tzinfo=UTC),
                         rate=50)
    batch = gen.next_batch(count)
    texts = render_stream([g.event for g in batch])
    return [Example(t, g.label.value, "generator") for t, g in zip(texts, batch, strict=True)]


def feedback_class(label: str, corrected: str | None, verdict_class: str | None) -> str | None:
    """The training class an analyst's feedback implies (None: no usable label)."""
    valid = {c.value for c in ThreatClass}
    if label == FeedbackLabel.CORRECTED_CLASS and corrected in valid:
        return corrected
    if label in BENIGN_LABELS:
        return ThreatClass.BENIGN.value
    if label == FeedbackLabel.TRUE_POSITIVE and verdict_class in valid:
        return verdict_class
    return None


def feedback_examples(engine: Engine) -> list[Example]:
    """Analyst feedback: a correction names the class; a false positive means benign; a confirmation
    keeps the stored verdict's class."""
    out: list[Example] = []
    stmt = (select(Feedback.label, Feedback.corrected_class, Event.payload, VerdictRow.threat_type)
            .join(Event, Event.id == Feedback.event_id)
            .outerjoin(VerdictRow, VerdictRow.event_id == Feedback.event_id))
    with Session(engine) as session:
        for label, corrected, payload, verdict_class in session.execute(stmt):
            cls = feedback_class(label, corrected, verdict_class)
            if cls is None:
                continue
            out.append(Example(render_event(SecurityEvent.model_validate(payload)), cls, "feedback", 2.0))
    return out


def weak_llm_examples(engine: Engine, min_confidence: float = 0.9, limit: int = 20_000) -> list[Example]:
    """High-confidence LLM verdicts as weak labels (flagged, down-weighted)."""
    stmt = (select(Event.payload, VerdictRow.threat_type)
            .join(VerdictRow, VerdictRow.event_id == Event.id)
            .where(VerdictRow.tier == "llm", VerdictRow.confidence >= min_confidence)
            .order_by(VerdictRow.analyzed_at.desc()).limit(limit))
    valid = {c.value for c in ThreatClass}
    with Session(engine) as session:
        return [Example(render_event(SecurityEvent.model_validate(p)), cls, "llm_weak", WEAK_LABEL_WEIGHT, True)
                for p, cls in session.execute(stmt) if cls in valid]


def split(examples: Sequence[Example], held_out: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Deterministic shuffle split."""
    import random

    items = list(examples)
    random.Random(seed).shuffle(items)
    cut = int(len(items) * (1 - held_out))
    return items[:cut], items[cut:]
