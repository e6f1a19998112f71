"""Evaluate Sigma rules against a batch of normalised events; correlations share Redis windows.

Why a prefilter: the SigmaHQ corpus has thousands of rules, but an event can only meet the few whose
logsource it satisfies (product/category/service tokens) and whose required literals it contains.
Per distinct logsource token set (built lazily, cached) the engine keeps, for every field the rules
constrain, one Aho-Corasick automaton over the rules' lower-cased literals (``CommandLine|contains:
mimikatz``), a table of pinned values (``EventID: 4624``) and the fields that must merely be present.
One pass over each field value finds every satisfied constraint; a rule is evaluated only when all
constraints of one of its alternatives (``plan.requirements``) hold. So the cost per event grows with
the event's size and the rules that nearly match, not with the rules loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick

from secustream.analyzer.filewatch import ChangeWatch
from secustream.analyzer.native.engine import RuleHit
from secustream.analyzer.sigma.fields import event_logsource, is_plain
from secustream.analyzer.sigma.loader import Correlation, DetectionRule, SigmaRuleSet
from secustream.analyzer.sigma.matcher import EventView
from secustream.analyzer.sigma.packs import SigmaSources
from secustream.analyzer.sigma.plan import KEYWORDS, Constraint
from secustream.events import SecurityEvent
from secustream.state import StateStore, WindowObservation

log = logging.getLogger(__name__)

Suppression = Callable[[str, dict[str, Any]], bool]
_MAX_CACHED_LOGSOURCES = 4096


def index_key(value: Any) -> str:
    """How a field value is looked up in the pinned-value table (same form as ``plan.requirements``)."""
    if value.__class__ is str:
        return value.lower()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).lower()


_ANCHOR_RANK = {"eq": 2, "sub": 1}


class _Literals:
    """The literals rules need in one field: which constraint ids a text satisfies.

    Aho-Corasick costs ~10 ns per character whatever the number of literals; ``str.__contains__``
    ~1 ns per character per literal. So a field with few literals is searched with ``in``, one with
    many with one automaton pass. Answers are memoised per raw value: real logs repeat values (call
    traces, image paths, registry keys) and a repeat then costs one dict lookup.
    """

    __slots__ = ("automaton", "guards", "memo", "needles")
    FEW = 8
    MEMO_SIZE = 8192

    def __init__(self, literals: dict[str, list[int]]) -> None:
        self.memo: dict[str, tuple[int, ...]] = {}
        self.needles: tuple[tuple[str, tuple[int, ...]], ...] = ()
        self.automaton: Any = None
        self.guards: tuple[str, ...] = ()
        if len(literals) <= self.FEW:
            self.needles = tuple((lit, tuple(cids)) for lit, cids in literals.items())
        else:
            self.automaton = ahocorasick.Automaton()
            for literal, cids in literals.items():
                self.automaton.add_word(literal, tuple(cids))
            self.automaton.make_automaton()
            self.guards = guards(list(literals), self.FEW // 2)

    def search(self, lowered: str) -> tuple[int, ...]:
        if self.guards:
            for guard in self.guards:
                if guard in lowered:
                    break
            else:
                return ()
        if self.automaton is None:
            found: list[int] = []
            for literal, cids in self.needles:
                if literal in lowered:
                    found.extend(cids)
            return tuple(found)
        return tuple({c for _end, cids in self.automaton.iter(lowered) for c in cids})

    def search_raw(self, value: str) -> tuple[int, ...]:
        found = self.memo.get(value)
        if found is None:
            found = self.search(value.lower())
            if len(self.memo) >= self.MEMO_SIZE:
                self.memo.clear()
            self.memo[value] = found
        return found


def guards(literals: list[str], most: int) -> tuple[str, ...]:
    """A few short substrings, one of which every literal contains (empty when more than ``most`` would be needed).

    A text holding none of them holds no literal either, and ``in`` over a few guards is far cheaper
    than an automaton pass (Mimikatz's 20 keywords share ``::``, ``kiwi`` and ``mimi``).
    """
    uncovered = set(literals)
    chosen: list[str] = []
    while uncovered:
        if len(chosen) == most:
            return ()
        grams: dict[str, int] = {}
        for literal in uncovered:
            for size in (2, 3, 4):
                for gram in {literal[i:i + size] for i in range(len(literal) - size + 1)}:
                    grams[gram] = grams.get(gram, 0) + 1
        best = max(grams, key=lambda g: (grams[g], len(g), g))
        chosen.append(best)
        uncovered = {lit for lit in uncovered if best not in lit}
    return tuple(chosen)


_Scan = tuple[dict[str, tuple[int, ...]] | None, _Literals | None, tuple[int, ...]]
"""For one field: pinned value → constraint ids, the literals it must contain, ids of "is present"."""


@dataclass(frozen=True)
class _Prefilter:
    """The constraints of the rules that apply to one logsource token set, ready for one scan per field."""

    always: frozenset[int]  # rules with an alternative that needs nothing
    direct: dict[str, _Scan]  # fields read straight from ``unmapped`` (most Windows fields)
    direct_names: frozenset[str]
    resolved: tuple[tuple[str, _Scan], ...]  # fields behind aliases or paths, resolved per event
    anchored: dict[int, tuple[tuple[int, frozenset[int]], ...]]  # constraint id → (rule, all its ids)
    count: int

    @classmethod
    def build(cls, rules: Sequence[DetectionRule], indices: Sequence[int]) -> _Prefilter:
        ids: dict[tuple[str, Constraint], int] = {}
        always: set[int] = set()
        anchored: dict[int, list[tuple[int, frozenset[int]]]] = {}
        for i in indices:
            for alternative in rules[i].requirement:
                if not alternative:
                    always.add(i)
                    break
                need = frozenset(ids.setdefault(pair, len(ids)) for pair in alternative)
                anchor = max(alternative, key=lambda pair: _anchor_score(pair[1]))
                anchored.setdefault(ids[anchor], []).append((i, need))
        values: dict[str, dict[str, list[int]]] = {}
        literals: dict[str, dict[str, list[int]]] = {}
        presence: dict[str, list[int]] = {}
        for (field, constraint), cid in ids.items():
            if constraint is None:
                presence.setdefault(field, []).append(cid)
            elif constraint[0] == "eq":
                table = values.setdefault(field, {})
                for value in constraint[1]:
                    table.setdefault(value, []).append(cid)
            else:
                found = literals.setdefault(field, {})
                for literal in constraint[1]:
                    found.setdefault(literal, []).append(cid)
        scans: dict[str, _Scan] = {}
        for field in {*values, *literals, *presence}:
            table = {v: tuple(c) for v, c in values[field].items()} if field in values else None
            scans[field] = (table, _Literals(literals[field]) if field in literals else None,
                            tuple(presence.get(field, ())))
        direct = {f: scan for f, scan in scans.items() if is_plain(f)}
        return cls(frozenset(always), direct, frozenset(direct),
                   tuple((f, scan) for f, scan in scans.items() if f not in direct),
                   {cid: tuple(found) for cid, found in anchored.items()}, len(indices))

    def select(self, view: EventView) -> list[int]:
        satisfied: set[int] = set()
        unmapped = view.doc.get("unmapped")
        if unmapped:
            direct = self.direct
            for field in self.direct_names.intersection(unmapped):
                if unmapped[field] is not None and unmapped[field] != "":
                    _scan(view, field, direct[field], satisfied)
        for field, scan in self.resolved:
            if field == KEYWORDS:
                if scan[1] is not None:
                    satisfied.update(scan[1].search(view.keyword_blob()))
            elif view.get(field) is not None:
                _scan(view, field, scan, satisfied)
        picked = set(self.always)
        anchored = self.anchored
        for cid in satisfied:
            for rule, need in anchored.get(cid, ()):
                if need <= satisfied:
                    picked.add(rule)
        return sorted(picked)


def _scan(view: EventView, field: str, scan: _Scan, satisfied: set[int]) -> None:
    """Add the ids of the constraints one present field value satisfies."""
    table, literals, present = scan
    if present:
        satisfied.update(present)
    if table is not None:
        value = view.get(field)
        if isinstance(value, list):
            for item in value:
                satisfied.update(table.get(index_key(item), ()))
        else:
            found = table.get(index_key(value))
            if found:
                satisfied.update(found)
    if literals is not None:
        value = view.get(field)
        if value.__class__ is str:
            satisfied.update(literals.search_raw(value))
            return
        text = view.lower(field)
        for item in (text,) if text.__class__ is str else text:
            satisfied.update(literals.search(item))


def _anchor_score(constraint: Constraint) -> tuple[int, int]:
    if constraint is None:
        return (0, 0)
    return (_ANCHOR_RANK[constraint[0]], min(len(v) for v in constraint[1]))


class _Index:
    def __init__(self, ruleset: SigmaRuleSet) -> None:
        self.ruleset = ruleset
        self.resolvers = dict(ruleset.resolvers)
        self.members: dict[int, tuple[tuple[Correlation, int], ...]] = {}
        for corr in ruleset.correlations:
            for position, rule_index in enumerate(corr.members):
                self.members[rule_index] = (*self.members.get(rule_index, ()), (corr, position))
        self._by_logsource: dict[frozenset[str], _Prefilter] = {}
        self.by_id: dict[str, DetectionRule | Correlation] = {r.rule_id: r for r in ruleset.rules}
        self.by_id.update((c.rule_id, c) for c in ruleset.correlations)

    def candidates(self, tokens: frozenset[str]) -> _Prefilter:
        found = self._by_logsource.get(tokens)
        if found is None:
            rules = self.ruleset.rules
            found = _Prefilter.build(rules, [i for i, r in enumerate(rules) if r.logsource <= tokens])
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
                 sources: SigmaSources | None = None, reload_interval: float = 0.0) -> None:
        self._state = state
        self._suppressed = suppressed
        self._sources = sources
        self._watch = ChangeWatch(sources.watch_fingerprint, reload_interval) if sources is not None else None
        self.replace_rules(ruleset)

    def replace_rules(self, ruleset: SigmaRuleSet) -> None:
        """Swap the active set atomically (one attribute write)."""
        self._index = _Index(ruleset)
        for issue in ruleset.issues:
            (log.warning if issue.level == "error" else log.info)("sigma rule %s", issue)

    @property
    def ruleset(self) -> SigmaRuleSet:
        return self._index.ruleset

    def find(self, rule_id: str) -> DetectionRule | Correlation | None:
        """A loaded rule or correlation by its ``sigma:`` id (title, author, references for attribution)."""
        return self._index.by_id.get(rule_id)

    def maybe_reload(self) -> bool:
        """Reload when the rules path or an installed pack changed (checked at most every ``reload_interval``)."""
        if self._watch is None or self._sources is None or not self._watch.changed():
            return False
        try:
            ruleset = self._sources.load()
        except OSError as exc:
            log.error("sigma reload failed, keeping %d rules: %s", len(self.ruleset.rules), exc)
            return False
        self.replace_rules(ruleset)
        log.info("sigma rules reloaded: %d rules, %d correlations, %d issues, %d left out by the pack filters",
                 len(ruleset.rules), len(ruleset.correlations), len(ruleset.issues), ruleset.filtered_out)
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
                if not rule.predicate(view):  # type: ignore[misc]
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
