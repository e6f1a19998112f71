"""Evaluate a batch of events against a rule set; thresholds go to shared state in one round trip."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from secustream.analyzer.hits import RuleHit, Suppression, hit, never_suppressed
from secustream.analyzer.native.prefilter import RuleFiling
from secustream.analyzer.native.schema import Rule, RuleSet, group_value
from secustream.analyzer.windows import WindowBatch, window_detail
from secustream.events import SecurityEvent, get_field
from secustream.state import StateStore


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


def file_rules(rules: Sequence[Rule]) -> tuple[dict[str, RuleFiling], RuleFiling]:
    """Each event type's rules (``index_by_event_type``) filed for ``RuleFiling.candidates``, and the untyped ones."""
    by_type, untyped = index_by_event_type(rules)
    return {kind: RuleFiling.of(bucket) for kind, bucket in by_type.items()}, RuleFiling.of(untyped)


class RulesEngine:
    """Stateless matching in process; stateful thresholds counted in the shared ``StateStore``.

    A ``Detector`` (analyzer/detection.py): ``watch`` attaches the hot reload (``reload.RulesReloader``).
    """

    name = "native"

    def __init__(self, ruleset: RuleSet, state: StateStore, suppressed: Suppression | None = None) -> None:
        self._state = state
        self._suppressed = suppressed or never_suppressed
        self._reload: Callable[[], bool] | None = None
        self.replace_rules(ruleset)

    def watch(self, reload: Callable[[], bool]) -> None:
        self._reload = reload

    def maybe_reload(self) -> bool:
        return self._reload() if self._reload is not None else False

    @property
    def rule_count(self) -> int:
        return len(self._index[0].rules)

    def replace_rules(self, ruleset: RuleSet) -> None:
        """Swap the active set atomically (one attribute write); the index is rebuilt with it."""
        self._index = (ruleset, file_rules(ruleset.rules))

    @property
    def ruleset(self) -> RuleSet:
        return self._index[0]

    def evaluate(
        self, events: Sequence[SecurityEvent], dumped: Sequence[dict[str, Any]] | None = None
    ) -> list[list[RuleHit]]:
        """Hits per event, in input order. ``dumped`` lets the caller reuse ``model_dump(mode="json")``."""
        docs = list(dumped) if dumped is not None else [e.model_dump(mode="json") for e in events]
        hits: list[list[RuleHit]] = [[] for _ in docs]
        windows: WindowBatch[Rule] = WindowBatch()
        _ruleset, (by_type, untyped) = self._index
        for index, (event, doc) in enumerate(zip(events, docs, strict=True)):
            for rule in by_type.get(doc.get("event_type"), untyped).candidates(doc):
                if not rule.matches(doc):
                    continue
                if self._suppressed(rule.id, doc):
                    continue
                threshold = rule.spec.threshold
                if threshold is None:
                    hits[index].append(hit(rule, "matched"))
                    continue
                group = [group_value(doc, alternatives) for alternatives in rule.group_by]
                if any(value is None for _path, value in group):
                    continue
                if threshold.distinct:
                    member = get_field(doc, threshold.distinct)
                    if member is None:
                        continue
                    member = str(member)
                else:
                    member = str(event.event_id)
                windows.add(index, rule, rule.id, group, member, event.timestamp.timestamp(),
                            threshold.window_seconds, threshold.distinct is not None)
        for index, rule, label, count in windows.counted(self._state):
            threshold = rule.spec.threshold
            assert threshold is not None
            if count >= threshold.count:
                what = f"distinct {threshold.distinct}" if threshold.distinct else "events"
                hits[index].append(hit(rule, window_detail(count, what, threshold.window_seconds, label)))
        return hits
