"""Evaluate Sigma rules against a batch of normalised events; correlations share Redis windows.

Why the two-level index: a rule pack has hundreds of rules but an event can only meet the few whose
logsource it satisfies (product/category/service tokens, cached per distinct token set) and, among
those, only rules whose required field is present — or whose pinned value it has (``EventID: 4624``).
So the cost per event grows with the rules that can apply, not with the rules loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from secustream.analyzer.filewatch import ChangeWatch
from secustream.analyzer.native.engine import RuleHit
from secustream.analyzer.sigma.fields import event_logsource
from secustream.analyzer.sigma.loader import Correlation, DetectionRule, SigmaRuleSet, path_fingerprint
from secustream.analyzer.sigma.matcher import EventView
from secustream.events import SecurityEvent
from secustream.state import StateStore, WindowObservation

log = logging.getLogger(__name__)

Suppression = Callable[[str, dict[str, Any]], bool]
_MAX_CACHED_LOGSOURCES = 4096


def index_key(value: Any) -> str:
    """How a field value is looked up in the pinned-value index (same form as ``requirements``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).lower()


def _trigrams(text: str) -> set[str]:
    return {text[i:i + 3] for i in range(len(text) - 2)}


@dataclass(frozen=True)
class _Candidates:
    """Rules that apply to one logsource token set, each filed under its most selective anchor:
    a pinned value (``EventID: 4624``), a trigram of a literal its field must contain
    (``CommandLine|contains: mimikatz`` → ``mim``), a field that must be present, or nothing."""

    always: tuple[int, ...]
    by_value: tuple[tuple[str, dict[str, tuple[int, ...]]], ...]
    by_gram: tuple[tuple[str, dict[str, tuple[int, ...]]], ...]
    by_presence: tuple[tuple[str, tuple[int, ...]], ...]
    count: int

    @classmethod
    def build(cls, rules: Sequence[DetectionRule], indices: Sequence[int]) -> _Candidates:
        always: list[int] = []
        by_value: dict[str, dict[str, list[int]]] = {}
        by_gram: dict[str, dict[str, list[int]]] = {}
        by_presence: dict[str, list[int]] = {}
        gram_use: dict[str, int] = {}
        value_use: dict[tuple[str, str], int] = {}
        for i in indices:
            for field, constraint in rules[i].requirement.items():
                if constraint is None:
                    continue
                if constraint[0] == "eq":
                    for value in constraint[1]:
                        value_use[(field, value)] = value_use.get((field, value), 0) + 1
                else:
                    for literal in constraint[1]:
                        for gram in _trigrams(literal):
                            gram_use[(field, gram)] = gram_use.get((field, gram), 0) + 1  # type: ignore[index]

        def best_gram(field: str, literal: str) -> str:  # the literal's least shared trigram
            return min(_trigrams(literal), key=lambda g: (gram_use[(field, g)], g))  # type: ignore[index]

        def cost(field: str, constraint: tuple[str, frozenset[str]]) -> int:
            """How many rules share the buckets this anchor would put the rule in (smaller is better)."""
            kind, values = constraint
            if kind == "eq":
                return sum(value_use[(field, v)] for v in values)
            return sum(gram_use[(field, best_gram(field, lit))] for lit in values)  # type: ignore[index]

        for i in indices:
            req = rules[i].requirement
            anchors = [(cost(f, c), f, c) for f, c in req.items() if c is not None]
            if anchors:
                _cost, field, (kind, values) = min(anchors, key=lambda a: (a[0], a[1]))
                if kind == "eq":
                    table = by_value.setdefault(field, {})
                    for value in values:
                        table.setdefault(value, []).append(i)
                else:
                    grams = by_gram.setdefault(field, {})
                    for literal in values:
                        grams.setdefault(best_gram(field, literal), []).append(i)
            elif req:
                by_presence.setdefault(min(req), []).append(i)
            else:
                always.append(i)
        freeze = lambda d: tuple((f, {k: tuple(v) for k, v in t.items()}) for f, t in d.items())  # noqa: E731
        return cls(tuple(always), freeze(by_value), freeze(by_gram),
                   tuple((f, tuple(v)) for f, v in by_presence.items()), len(indices))

    def select(self, view: EventView) -> list[int]:
        picked = list(self.always)
        for field, table in self.by_value:
            value = view.get(field)
            if value is None:
                continue
            if isinstance(value, list):
                for item in value:
                    picked.extend(table.get(index_key(item), ()))
            else:
                picked.extend(table.get(index_key(value), ()))
        for field, table in self.by_gram:
            text = view.lower(field)
            if text is None:
                continue
            for item in text if isinstance(text, list) else (text,):
                for gram in _trigrams(item):
                    found = table.get(gram)
                    if found:
                        picked.extend(found)
        for field, indices in self.by_presence:
            if view.get(field) is not None:
                picked.extend(indices)
        if len(picked) > 1:
            picked = sorted(set(picked))  # rule order, once each
        return picked


class _Index:
    def __init__(self, ruleset: SigmaRuleSet) -> None:
        self.ruleset = ruleset
        self.resolvers = dict(ruleset.resolvers)
        self.members: dict[int, tuple[tuple[Correlation, int], ...]] = {}
        for corr in ruleset.correlations:
            for position, rule_index in enumerate(corr.members):
                self.members[rule_index] = (*self.members.get(rule_index, ()), (corr, position))
        self._by_logsource: dict[frozenset[str], _Candidates] = {}

    def candidates(self, tokens: frozenset[str]) -> _Candidates:
        found = self._by_logsource.get(tokens)
        if found is None:
            rules = self.ruleset.rules
            found = _Candidates.build(rules, [i for i, r in enumerate(rules) if r.logsource <= tokens])
            if len(self._by_logsource) >= _MAX_CACHED_LOGSOURCES:
                self._by_logsource.clear()
            self._by_logsource[tokens] = found
        return found


def _hit(rule: DetectionRule | Correlation, detail: str) -> RuleHit:
    return RuleHit(rule.rule_id, rule.severity, rule.threat_type, rule.mitre, rule.confidence, (), detail, rule.review)


_OPS: dict[str, Callable[[int, int], bool]] = {
    "gte": lambda c, n: c >= n, "gt": lambda c, n: c > n, "eq": lambda c, n: c == n,
}


class SigmaEngine:
    """Sigma rules in process; correlation windows in the shared ``StateStore`` (one call per batch)."""

    def __init__(self, ruleset: SigmaRuleSet, state: StateStore, suppressed: Suppression | None = None,
                 reload_path: Path | None = None, reload_interval: float = 0.0) -> None:
        self._state = state
        self._suppressed = suppressed
        self._reload_path = reload_path
        self._watch = (ChangeWatch(lambda: path_fingerprint(reload_path), reload_interval)
                       if reload_path is not None else None)
        self.replace_rules(ruleset)

    def replace_rules(self, ruleset: SigmaRuleSet) -> None:
        """Swap the active set atomically (one attribute write)."""
        self._index = _Index(ruleset)
        for issue in ruleset.issues:
            (log.warning if issue.level == "error" else log.info)("sigma rule %s", issue)

    @property
    def ruleset(self) -> SigmaRuleSet:
        return self._index.ruleset

    def maybe_reload(self) -> bool:
        """Reload the rules directory when its files changed (checked at most every ``reload_interval``)."""
        if self._watch is None or self._reload_path is None or not self._watch.changed():
            return False
        try:
            ruleset = SigmaRuleSet.load(self._reload_path)
        except OSError as exc:
            log.error("sigma reload failed, keeping %d rules: %s", len(self.ruleset.rules), exc)
            return False
        self.replace_rules(ruleset)
        log.info("sigma rules reloaded from %s: %d rules, %d correlations, %d issues", self._reload_path,
                 len(ruleset.rules), len(ruleset.correlations), len(ruleset.issues))
        return True

    def evaluate(self, events: Sequence[SecurityEvent],
                 dumped: Sequence[dict[str, Any]] | None = None) -> list[list[RuleHit]]:
        """Hits per event, in input order (same contract as ``RulesEngine.evaluate``)."""
        docs = list(dumped) if dumped is not None else [e.model_dump(mode="json") for e in events]
        index = self._index
        rules = index.ruleset.rules
        hits: list[list[RuleHit]] = [[] for _ in docs]
        pending: list[tuple[int, Correlation, str]] = []
        observations: list[WindowObservation] = []
        for position, (event, doc) in enumerate(zip(events, docs, strict=True)):
            view = EventView(doc, index.resolvers)
            for i in index.candidates(event_logsource(doc)).select(view):
                rule = rules[i]
                if not rule.predicate(view):
                    continue
                if self._suppressed is not None and self._suppressed(rule.rule_id, doc):
                    continue
                if rule.emits:
                    hits[position].append(_hit(rule, f"matched Sigma rule '{rule.title}'"))
                for corr, member in index.members.get(i, ()):
                    obs = self._observation(corr, member, view, event)
                    if obs is not None:
                        observations.append(obs[0])
                        pending.append((position, corr, obs[1]))
        if observations:
            fired: set[tuple[int, str]] = set()
            for (position, corr, label), count in zip(pending, self._state.observe_windows(observations), strict=True):
                ok = count >= corr.count if corr.kind == "temporal" else _OPS[corr.op](count, corr.count)
                if ok and (position, corr.rule_id) not in fired:
                    fired.add((position, corr.rule_id))
                    what = {"event_count": "events", "value_count": f"distinct {corr.value_field}",
                            "temporal": "of the correlated rules"}[corr.kind]
                    hits[position].append(_hit(corr, f"{count} {what} within {corr.seconds:g}s for {label}"))
        return hits

    @staticmethod
    def _observation(corr: Correlation, member: int, view: EventView,
                     event: SecurityEvent) -> tuple[WindowObservation, str] | None:
        fields = corr.group_by[member]
        group = [view.get(f) for f in fields]
        if any(g is None for g in group):
            return None
        if corr.kind == "value_count":
            value = view.get(corr.value_field or "")
            if value is None:
                return None
            item, distinct = str(value), True
        elif corr.kind == "temporal":
            item, distinct = str(corr.members[member]), True
        else:
            item, distinct = str(event.event_id), False
        key = f"sigma:{corr.rule_id}:" + "|".join(str(g) for g in group)
        label = ",".join(f"{f}={g}" for f, g in zip(fields, group, strict=True)) or "all events"
        return WindowObservation(key, item, event.timestamp.timestamp(), corr.seconds, distinct), label
