"""Evaluate a batch of events against a rule set; thresholds go to shared state in one round trip."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from secustream.analyzer.native.schema import Rule, RuleSet, group_value
from secustream.events import SecurityEvent, get_field
from secustream.state import StateStore, WindowObservation
from secustream.verdict import RiskLevel


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule_id: str
    severity: RiskLevel
    threat_type: str
    mitre: tuple[str, ...]
    confidence: float
    recommended_actions: tuple[str, ...]
    detail: str
    review: bool = False  # the rule asks for an LLM review of what it fired on


def _hit(rule: Rule, detail: str) -> RuleHit:
    spec = rule.spec
    return RuleHit(
        spec.id, spec.severity, spec.threat_type.value, tuple(spec.mitre), spec.confidence,
        tuple(spec.recommended_actions), detail, spec.review,
    )


def _event_types(rule: Rule) -> set[str] | None:
    """The event types a rule can match at all, from its ``event_type`` condition (None: any)."""
    spec = rule.spec.match.get("event_type")
    if isinstance(spec, str):
        return {spec.lower()}
    if isinstance(spec, list):
        return {str(v).lower() for v in spec}
    if isinstance(spec, dict) and set(spec) <= {"equals", "in"}:
        values = [spec["equals"]] if "equals" in spec else list(spec["in"])
        return {str(v).lower() for v in values}
    return None


def index_by_event_type(rules: Sequence[Rule]) -> tuple[dict[str, tuple[Rule, ...]], tuple[Rule, ...]]:
    """Rules bucketed by event type (plus the untyped ones in every bucket), in original order.

    Most rules pin an event type, so an event is only tested against the few that can match it.
    """
    typed = {r.id: _event_types(r) for r in rules}
    untyped = tuple(r for r in rules if typed[r.id] is None)
    kinds = {k for ks in typed.values() if ks for k in ks}
    by_type = {k: tuple(r for r in rules if typed[r.id] is None or k in typed[r.id]) for k in kinds}  # type: ignore[operator]
    return by_type, untyped


Suppression = Callable[[str, dict[str, Any]], bool]
"""(rule id, event dict) -> True when an analyst suppressed that rule for this kind of event."""


class RulesEngine:
    """Stateless matching in process; stateful thresholds counted in the shared ``StateStore``."""

    def __init__(self, ruleset: RuleSet, state: StateStore, suppressed: Suppression | None = None) -> None:
        self._state = state
        self._suppressed = suppressed
        self.replace_rules(ruleset)

    def replace_rules(self, ruleset: RuleSet) -> None:
        """Swap the active set atomically (one attribute write); the index is rebuilt with it."""
        self._index = (ruleset, index_by_event_type(ruleset.rules))

    @property
    def ruleset(self) -> RuleSet:
        return self._index[0]

    def evaluate(
        self, events: Sequence[SecurityEvent], dumped: Sequence[dict[str, Any]] | None = None
    ) -> list[list[RuleHit]]:
        """Hits per event, in input order. ``dumped`` lets the caller reuse ``model_dump(mode="json")``."""
        docs = list(dumped) if dumped is not None else [e.model_dump(mode="json") for e in events]
        hits: list[list[RuleHit]] = [[] for _ in docs]
        pending: list[tuple[int, Rule, str]] = []
        observations: list[WindowObservation] = []
        _ruleset, (by_type, untyped) = self._index
        for index, (event, doc) in enumerate(zip(events, docs, strict=True)):
            for rule in by_type.get(doc.get("event_type"), untyped):
                if not rule.matches(doc):
                    continue
                if self._suppressed is not None and self._suppressed(rule.id, doc):
                    continue
                threshold = rule.spec.threshold
                if threshold is None:
                    hits[index].append(_hit(rule, "matched"))
                    continue
                found = [group_value(doc, alternatives) for alternatives in rule.group_by]
                group = [value for _, value in found]
                if any(g is None for g in group):
                    continue
                if threshold.distinct:
                    member = get_field(doc, threshold.distinct)
                    if member is None:
                        continue
                    member = str(member)
                else:
                    member = str(event.event_id)
                group_label = ",".join(f"{path}={value}" for path, value in found)
                observations.append(
                    WindowObservation(
                        key=f"{rule.id}:{'|'.join(str(g) for g in group)}",
                        member=member,
                        at=event.timestamp.timestamp(),
                        seconds=threshold.window_seconds,
                        distinct=threshold.distinct is not None,
                    )
                )
                pending.append((index, rule, group_label))
        if observations:
            counts = self._state.observe_windows(observations)
            for (index, rule, group_label), count in zip(pending, counts, strict=True):
                threshold = rule.spec.threshold
                assert threshold is not None
                if count >= threshold.count:
                    what = f"distinct {threshold.distinct}" if threshold.distinct else "events"
                    detail = f"{count} {what} within {threshold.window_seconds:g}s for {group_label}"
                    hits[index].append(_hit(rule, detail))
        return hits
