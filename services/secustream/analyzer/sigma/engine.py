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
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from secustream.analyzer.hits import RuleHit, Suppression, hit, never_suppressed
from secustream.analyzer.reload import HotReload
from secustream.analyzer.sigma.fields import document_texts, event_logsource, first_value, is_plain, resolver_paths
from secustream.analyzer.sigma.literals import HYPERSCAN_AVAILABLE, Literals, full_text_guards
from secustream.analyzer.sigma.loader import Correlation, DetectionRule, SigmaRuleSet
from secustream.analyzer.sigma.matcher import EventView, as_text
from secustream.analyzer.sigma.packs import SigmaSources
from secustream.analyzer.sigma.plan import KEYWORDS, Constraint, vetoes
from secustream.analyzer.windows import WindowBatch, window_detail
from secustream.events import SecurityEvent
from secustream.metrics import AnalyzerMetrics
from secustream.state import StateStore

try:
    from secustream.analyzer.sigma._scan import gather as _native_gather
    from secustream.analyzer.sigma._scan import guard_table as _native_guard_table
    from secustream.analyzer.sigma._scan import pick as _native_pick
except ImportError:  # not built (no C compiler at install): the same loops in Python (docs/sigma.md "Prefilter")
    _native_gather = _native_pick = _native_guard_table = None

log = logging.getLogger(__name__)

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


class _FieldScan:
    """One field's constraints for one logsource group: pinned values, literals, presence.

    Answers for the raw string and int values of ``unmapped`` are memoised: real logs repeat values
    (channels, image paths, registry keys, event ids) and a repeat then costs one dict lookup; long values stay
    memoised too (docs/sigma.md Run P: leaving those over 256 characters out, and scanning them with Hyperscan
    instead, made a pass over unseen OTRF events slower). The string memo is bounded in characters as well as
    entries (``MEMO_CHARS``; a string over ``MEMO_LONGEST`` is not kept): 4,096 hostile values of 1 MB would
    otherwise hold 4 GB in one field's memo.
    """

    __slots__ = ("anchored", "literals", "memo", "memo_chars", "numbers", "present", "table")
    MEMO_SIZE = 4096
    MEMO_LONGEST = 65536
    MEMO_CHARS = 1 << 24

    def __init__(self, table: dict[str, tuple[int, ...]] | None, literals: Literals | None,
                 present: tuple[int, ...], anchored: Anchored = ()) -> None:
        self.table, self.literals, self.present, self.anchored = table, literals, present, anchored
        self.memo: dict[str, tuple[int, ...]] = {}
        self.memo_chars = 0  # characters of the memo's keys
        self.numbers: dict[int, tuple[int, ...]] = {}  # int values (EventID, ports, pids) apart: True == 1

    def text(self, value: str) -> tuple[int, ...]:
        """Ids satisfied by ``unmapped[field] == value`` (a string)."""
        found = self.memo.get(value)
        if found is None:
            found = self._lowered(value.lower()) if value else ()
            size = len(value)
            if size <= self.MEMO_LONGEST:
                if len(self.memo) >= self.MEMO_SIZE or self.memo_chars + size > self.MEMO_CHARS:
                    self.memo.clear()  # a full memo starts over (real logs' repeats come back at once)
                    self.memo_chars = 0
                self.memo[value] = found
                self.memo_chars += size
        return found

    def _lowered(self, lowered: str) -> tuple[int, ...]:
        ids = list(self.present)
        if self.table is not None:
            ids.extend(self.table.get(lowered, ()))
        if self.literals is not None:
            ids.extend(self.literals.search(lowered))
        for cid, start, literals in self.anchored:
            if lowered.startswith(literals) if start else lowered.endswith(literals):
                ids.append(cid)
        return tuple(ids)

    def value(self, value: Any) -> tuple[int, ...]:
        """Ids satisfied by a raw non-string value of ``unmapped`` (not None)."""
        return self.number(value) if value.__class__ is int else self.field(value)

    def number(self, value: int) -> tuple[int, ...]:
        """``field(value)`` for an int (class exactly ``int``), memoised like the strings."""
        found = self.numbers.get(value)
        if found is None:
            found = _remember(self.numbers, value, self.field(value), self.MEMO_SIZE)
        return found

    def field(self, value: Any) -> tuple[int, ...]:
        """Ids satisfied by the field's resolved value (any type, not None)."""
        if value.__class__ is str:
            return self._lowered(value.lower())
        ids = list(self.present)
        items = value if isinstance(value, list) else (value,)
        if self.table is not None:
            for item in items:
                ids.extend(self.table.get(index_key(item), ()))
        if self.literals is not None or self.anchored:
            for item in items:
                if item is None:
                    continue
                lowered = item.lower() if item.__class__ is str else as_text(item).lower()
                if self.literals is not None:
                    ids.extend(self.literals.search(lowered))
                for cid, start, literals in self.anchored:
                    if lowered.startswith(literals) if start else lowered.endswith(literals):
                        ids.append(cid)
        return tuple(ids)


def _remember(memo: dict[Any, Any], key: Any, found: Any, size: int) -> Any:
    """Store ``found`` under ``key``; a full memo starts over (real logs' repeats come back at once)."""
    if len(memo) >= size:
        memo.clear()
    memo[key] = found
    return found


class _KeywordScan:
    """Sigma ``keywords`` for one logsource group: ``fields.keyword_texts`` (the texts the predicates see)
    searched for the keyword literals.

    Why apart from the field scans: one keyword rule (SigmaHQ's "Mimikatz Use" is ``product: windows``)
    makes every string of every Windows event a candidate, ~30 values and ~3 KB of text per real event that no
    rule names. Where a few 4-character guards cover the literals (Mimikatz's 20 keywords: ``kiwi``, ``mimi``,
    ``sa::``, ``ros:``...; ``literals.guards``), each text is passed over once, where it is stored, for a folded
    guard (``_may_hold``, ``_scan.c`` ``may_hold``): nothing copied, hashed or encoded, and the rare text that
    holds one is searched exactly (docs/sigma.md "Keyword search" and Run T: remembering clean strings, then joining
    and encoding the rest for Hyperscan, took ~4.4 to 6 µs of the ~11 to 14 µs all-rules pass). Otherwise (the 90
    hack-tool names of the antivirus rules): an ASCII string shorter than the shortest keyword literal cannot
    hold one and is passed over; the strings found clean are kept in one set and each costs one membership test;
    the rest of all the batch's events are searched together (``Literals.search_texts``: one join, one encode,
    one Hyperscan pass where installed).
    """

    __slots__ = ("clean", "grams", "literals", "probe")
    CLEAN_SIZE = 16384
    CLEAN_LENGTH = 256

    def __init__(self, words: dict[str, list[int]]) -> None:
        self.literals = Literals(words, full_text=True)
        self.clean: set[str] = {""}  # "" holds no keyword (and ``keyword_texts`` leaves it out)
        shortest = min(map(len, words), default=0)  # ASCII lower-cases to as many characters: shorter holds none
        # guards where the C loops read them; in Python a pass per text costs more than the clean set saves
        self.grams = tuple(map(_fold, full_text_guards(list(words)))) if _native_guard_table is not None else ()
        packed = "".join(self.grams).encode("ascii")
        table = _native_guard_table(packed) if self.grams else b""
        self.probe: KeywordProbe = (self.clean, shortest, self.CLEAN_LENGTH, packed, table)  # ``gather_event`` asks

    def search(self, batch: Sequence[list[str]]) -> dict[int, set[int]]:
        """Keyword ids by event (its position in ``batch``) for the events whose texts hold any (few); without
        guards, texts holding none are remembered clean."""
        texts = [text for event in batch for text in event]
        found = self.literals.search_texts(texts)
        longest = self.CLEAN_LENGTH
        kept = [] if self.grams else [text for position, text in enumerate(texts)
                                      if len(text) <= longest and position not in found]
        if kept:
            clean = self.clean
            if len(clean) + len(kept) > self.CLEAN_SIZE:
                clean.clear()
                clean.add("")
            clean.update(kept)
        if not found:
            return {}
        owners = [event for event, held in enumerate(batch) for _text in held]
        hits: dict[int, set[int]] = {}
        for position, ids in found.items():
            hits.setdefault(owners[position], set()).update(ids)
        return hits


_FOLDED = {code: code | 0x20 for code in range(0x80) if code | 0x20 != code}
"""ASCII with bit 5 set: upper-case letters to lower-case (``_fold``)."""


def _fold(text: str) -> str:
    """``text`` with each ASCII character's bit 5 set: ``A`` to ``a``, and a few others onto others (``@`` onto
    a backquote), which can only let a text through to the exact search; other characters stay as they are, and no
    guard holds them. ``_scan.c`` ``FOLD`` is the same."""
    return text.translate(_FOLDED)


def _may_hold(text: str, grams: tuple[str, ...]) -> bool:
    """Whether ``text`` may hold a keyword literal that ``grams`` (folded guards) cover: every text whose lower-cased
    form holds a literal holds a guard folded, since ``str.lower`` gives ASCII only from ASCII, U+0130 and U+212A
    (``literals`` module docstring); a text with either of those two is searched whatever it holds."""
    if not text.isascii() and ("\u0130" in text or "\u212a" in text):
        return True
    folded = _fold(text)
    return any(gram in folded for gram in grams)


@dataclass(frozen=True)
class _Prefilter:
    """The constraints of the rules that apply to one logsource token set, ready for one scan per field.

    Every field is first read as ``unmapped[F]`` (``fields.compile_resolver``), so one pass over the
    event's ``unmapped`` items finds every field that is there; only fields with other places to look
    (aliases, dotted paths) and missing from ``unmapped`` are resolved one by one afterwards.
    """

    always: frozenset[int]  # rules with an alternative that needs nothing, and constraints taken as met
    entries: FieldEntries  # every constrained field, by name: its scan and the scan's memos (``gather_event``)
    fallback: Fallback  # fields with aliases or paths (``fields.resolver_paths``), when ``unmapped`` lacks them
    keywords: _KeywordScan | None  # keyword literals: every string of ``unmapped``, message, command line
    given: tuple[int, ...]  # keyword constraints other than literals: taken as met (the predicate decides)
    anchored: dict[int, tuple[tuple[int, frozenset[int]], ...]]  # constraint id → (rule, all its ids)
    vetoed: dict[int, frozenset[int]]  # rule → constraint ids any one of which proves it cannot match
    count: int

    @classmethod
    def build(cls, plans: _RulePlans, indices: Sequence[int]) -> _Prefilter:
        always: set[int] = set()
        anchored: dict[int, list[tuple[int, frozenset[int]]]] = {}
        used: set[int] = set()
        vetoed = {i: plans.vetoes[i] for i in indices if plans.vetoes[i]}
        for found_vetoes in vetoed.values():
            used.update(found_vetoes)
        for i in indices:
            alternatives = plans.alternatives[i]
            if alternatives is None:
                always.add(i)
                continue
            for need, anchor in alternatives:
                anchored.setdefault(anchor, []).append((i, need))
                used.update(need)
        values: dict[str, dict[str, list[int]]] = {}
        literals: dict[str, dict[str, list[int]]] = {}
        presence: dict[str, list[int]] = {}
        anchored_tests: dict[str, list[tuple[int, bool, tuple[str, ...]]]] = {}  # vetoes' startswith/endswith
        given: set[int] = set()  # keyword constraints other than literals: taken as met (the predicate decides)
        for cid in sorted(used):
            field, constraint = plans.constraints[cid]
            if field == KEYWORDS and (constraint is None or constraint[0] != "sub"):
                given.add(cid)
            elif constraint is None:
                presence.setdefault(field, []).append(cid)
            elif constraint[0] in ("start", "end"):
                anchored_tests.setdefault(field, []).append((cid, constraint[0] == "start", constraint[1]))
            elif constraint[0] == "eq":
                table = values.setdefault(field, {})
                for value in constraint[1]:
                    table.setdefault(value, []).append(cid)
            else:
                found = literals.setdefault(field, {})
                for literal in constraint[1]:
                    found.setdefault(literal, []).append(cid)
        words = literals.pop(KEYWORDS, None)
        scans = {field: _FieldScan({v: tuple(c) for v, c in values[field].items()} if field in values else None,
                                   Literals(literals[field]) if field in literals else None,
                                   tuple(presence.get(field, ())), tuple(anchored_tests.get(field, ())))
                 for field in sorted({*values, *literals, *presence, *anchored_tests})}
        fallback = tuple((f, resolver_paths(f)) for f in scans if not is_plain(f))
        entries = {field: (scan.memo, scan.numbers, scan) for field, scan in scans.items()}
        return cls(frozenset(always), entries, fallback, _KeywordScan(words) if words is not None else None,
                   tuple(given), {cid: tuple(found) for cid, found in anchored.items()}, vetoed, len(indices))

    def gather(self, view: EventView) -> tuple[set[int], list[str] | None]:
        """The constraint ids an event meets but its keyword literals, and its keyword texts not known clean
        (``None`` where no keyword literal applies): those are searched per batch (``select_all``)."""
        keywords = self.keywords
        satisfied: set[int] = set()
        if keywords is None:
            gather_event(view.doc, self.entries, satisfied, None, None, self.fallback, self.given)
            return satisfied, None
        fresh: list[str] = []
        gather_event(view.doc, self.entries, satisfied, fresh, keywords.probe, self.fallback, self.given)
        return satisfied, fresh

    def pick(self, satisfied: set[int]) -> list[int]:
        """The rules one of whose alternatives has every constraint in ``satisfied``, less those it vetoes."""
        return self.unvetoed(pick_rules(satisfied, self.anchored, self.always), satisfied)

    def unvetoed(self, picked: list[int], satisfied: AbstractSet[int]) -> list[int]:
        """``picked`` less the rules one of whose vetoes is in ``satisfied`` (``plan.vetoes``: a filter's literal
        found)."""
        vetoed = self.vetoed
        if not vetoed or not picked:  # most events pick nothing: no comprehension to run (~0.1 µs)
            return picked
        return [rule for rule in picked if rule not in vetoed or vetoed[rule].isdisjoint(satisfied)]

    def select(self, view: EventView) -> list[int]:
        """The candidate rules for one event alone (``select_all`` does a batch)."""
        return select_all([self], [view])[0]


FieldEntries = dict[str, tuple[dict[str, tuple[int, ...]], dict[int, tuple[int, ...]], _FieldScan]]
"""Per constrained field: its scan's string memo, its int memo and the scan (what ``gather_event`` reads)."""


Fallback = tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]
"""Per constrained field with other places to look than ``unmapped``: its name and ``fields.resolver_paths``."""

Anchored = tuple[tuple[int, bool, tuple[str, ...]], ...]
"""A field's startswith (True) or endswith (False) constraints: (constraint id, start, lower-cased literals)."""

KeywordProbe = tuple[set[str], int, int, bytes, bytes]
"""A keyword group's clean set, its shortest literal, the longest text the set keeps, its folded guards, 4 bytes
each (none where no few cover the literals), and them compiled for ``_scan.gather`` once per group (folded, first
and last bytes, bit table: ``_scan.guard_table``; empty where the extension is not built); ``_KeywordScan``."""


def gather_event_python(doc: dict[str, Any], fields: FieldEntries, satisfied: set[int],
                        fresh: list[str] | None, probe: KeywordProbe | None, fallback: Fallback,
                        given: tuple[int, ...]) -> None:
    """Add to ``satisfied`` the constraint ids event ``doc`` meets, but for its keyword literals, and ``given``;
    with a ``fresh`` list (keyword rules apply), also gather there every keyword text that may hold a literal and
    is not known clean: each string of ``unmapped`` as the values are passed, then ``fields.document_texts``
    (``_keyword_text``). A ``fallback`` field missing from ``unmapped`` is then resolved along its paths
    (``fields.first_value``), as the rules' resolvers do.

    The reference for ``_scan.gather`` (C), which the engine uses where it is built: the same logic, ~2x cheaper
    on real events with the full corpus (docs/sigma.md "Prefilter")."""
    unmapped = doc.get("unmapped") or {}
    if fresh is None:
        for key in unmapped.keys() & fields.keys():
            value = unmapped[key]
            if value is not None:
                satisfied.update(_answer(fields[key], value))
    else:
        assert probe is not None
        grams = probe[3]
        folded = tuple(grams[i:i + 4].decode("ascii") for i in range(0, len(grams), 4))
        get = fields.get
        for key, value in unmapped.items():
            if value.__class__ is str:
                if _keyword_text(value, probe, folded):
                    fresh.append(value)
            elif value is None:
                continue
            entry = get(key)
            if entry is not None:
                satisfied.update(_answer(entry, value))
        fresh.extend(text for text in document_texts(doc) if _keyword_text(text, probe, folded))
    satisfied.update(given)
    for field, paths in fallback:
        value = unmapped.get(field)
        if value is None or value == "":
            value = first_value(doc, paths)
            if value is not None:
                satisfied.update(_answer(fields[field], value))


def _keyword_text(text: str, probe: KeywordProbe, grams: tuple[str, ...]) -> bool:
    """Whether ``text`` is still to be searched for keywords: with guards (``grams``: the probe's, one string each),
    whether it may hold one (``_may_hold``);
    without, not an ASCII string shorter than the shortest literal, and not in the clean set (a string longer than
    the set keeps is never in it, so it is not hashed to ask)."""
    if grams:
        return _may_hold(text, grams)
    clean, shortest, longest, _guards, _table = probe
    if len(text) < shortest and text.isascii():
        return False
    return len(text) > longest or text not in clean


def _answer(entry: tuple[dict[str, tuple[int, ...]], dict[int, tuple[int, ...]], _FieldScan],
            value: Any) -> tuple[int, ...]:
    """The ids one field value (not None) satisfies, from the field's memos where they know it."""
    if value.__class__ is str:
        return entry[0].get(value) or entry[2].text(value)
    return entry[2].value(value)


def pick_rules_python(satisfied: AbstractSet[int], anchored: dict[int, tuple[tuple[int, frozenset[int]], ...]],
                      always: frozenset[int]) -> list[int]:
    """The rules of ``always`` and those one of whose alternatives (anchored on one of its constraints) has every
    constraint in ``satisfied``, sorted; the reference for ``_scan.pick`` (C)."""
    picked = set(always)
    for cid in satisfied:
        for rule, need in anchored.get(cid, ()):
            if need <= satisfied:
                picked.add(rule)
    return sorted(picked)


NATIVE_PREFILTER = _native_gather is not None and _native_pick is not None
gather_event = _native_gather if NATIVE_PREFILTER else gather_event_python
pick_rules = _native_pick if NATIVE_PREFILTER else pick_rules_python
"""Whether the C loops are in use (``secustream rules list`` and the analyzer's start log say so)."""


def select_all(prefilters: Sequence[_Prefilter], views: Sequence[EventView]) -> list[list[int]]:
    """The candidate rules of each event of a batch (``prefilters[i]``: its logsource group's): the field
    scans event by event, then one keyword search per group over the texts of all its events in the batch."""
    gathered = [prefilter.gather(view) for prefilter, view in zip(prefilters, views, strict=True)]
    waiting: dict[_KeywordScan, list[tuple[int, list[str]]]] = {}  # per group: (event position, its texts)
    for position, (prefilter, (_satisfied, fresh)) in enumerate(zip(prefilters, gathered, strict=True)):
        if fresh and prefilter.keywords is not None:
            waiting.setdefault(prefilter.keywords, []).append((position, fresh))
    for keywords, pending in waiting.items():
        for at, ids in keywords.search([texts for _p, texts in pending]).items():
            gathered[pending[at][0]][0].update(ids)
    return [prefilter.pick(satisfied) for prefilter, (satisfied, _fresh) in zip(prefilters, gathered, strict=True)]


def _anchor_score(constraint: Constraint) -> tuple[int, int]:
    if constraint is None:
        return (0, 0)
    return (_ANCHOR_RANK[constraint[0]], min(len(v) for v in constraint[1]))


@dataclass(frozen=True)
class _RulePlans:
    """Every rule's alternatives as constraint ids, computed once per rule set (each logsource group
    then only gathers the ids of its rules): ``None`` for a rule that needs nothing."""

    constraints: tuple[tuple[str, Constraint], ...]  # constraint id → (field, constraint)
    alternatives: tuple[tuple[tuple[frozenset[int], int], ...] | None, ...]  # per rule: (ids, anchor id)
    vetoes: tuple[frozenset[int], ...]  # per rule: ids any one of which proves it cannot match (``plan.vetoes``)

    @classmethod
    def of(cls, rules: Sequence[DetectionRule]) -> _RulePlans:
        ids: dict[tuple[str, Constraint], int] = {}
        per_rule: list[tuple[tuple[frozenset[int], int], ...] | None] = []
        for rule in rules:
            if any(not alternative for alternative in rule.requirement):
                per_rule.append(None)
                continue
            found = []
            for alternative in rule.requirement:
                need = frozenset(ids.setdefault(pair, len(ids)) for pair in alternative)
                anchor = max(alternative, key=lambda pair: _anchor_score(pair[1]))
                found.append((need, ids[anchor]))
            per_rule.append(tuple(found))
        vetoed = tuple(frozenset(ids.setdefault(pair, len(ids)) for pair in vetoes(rule.plan)) for rule in rules)
        return cls(tuple(ids), tuple(per_rule), vetoed)


class _Index:
    def __init__(self, ruleset: SigmaRuleSet) -> None:
        self.ruleset = ruleset
        self.resolvers = dict(ruleset.resolvers)
        self.members: dict[int, tuple[tuple[Correlation, int], ...]] = {}
        for corr in ruleset.correlations:
            for position, rule_index in enumerate(corr.members):
                self.members[rule_index] = (*self.members.get(rule_index, ()), (corr, position))
        self._by_logsource: dict[frozenset[str], _Prefilter] = {}  # an event's tokens → its group
        self._by_rule_tokens: dict[frozenset[str], _Prefilter] = {}  # the part of them rules name → the group
        self._rule_tokens = frozenset(token for rule in ruleset.rules for token in rule.logsource)
        self._plans = _RulePlans.of(ruleset.rules)
        self.by_id: dict[str, DetectionRule | Correlation] = {r.rule_id: r for r in ruleset.rules}
        self.by_id.update((c.rule_id, c) for c in ruleset.correlations)

    def candidates(self, tokens: frozenset[str]) -> _Prefilter:
        """The logsource group of an event's tokens. Groups are built per set of tokens that some rule names: a
        token no rule names (a syslog program's ``service:``, which anyone who can write to syslog picks) changes
        no rule's applicability, and building a group per distinct program took ~11 ms an event with the SigmaHQ
        corpus (a stream of unique program names: ~90 events/s)."""
        found = self._by_logsource.get(tokens)
        if found is None:
            named = tokens & self._rule_tokens  # rule.logsource <= tokens exactly when rule.logsource <= named
            found = self._by_rule_tokens.get(named)
            if found is None:
                rules = self.ruleset.rules
                found = _Prefilter.build(self._plans, [i for i, r in enumerate(rules) if r.logsource <= named])
                _remember(self._by_rule_tokens, named, found, _MAX_CACHED_LOGSOURCES)
            _remember(self._by_logsource, tokens, found, _MAX_CACHED_LOGSOURCES)
        return found


def attribution(rule: DetectionRule | Correlation) -> str:
    """Title, author and first reference: the Detection Rule License asks for attribution wherever a
    rule's output is shown, so every Sigma verdict's reason and analysis carry it."""
    parts = [f"by {rule.info.author}"] if rule.info.author else []
    if rule.info.references:
        parts.append(f"ref {rule.info.references[0]}")
    return f"'{rule.title}'" + (f" ({'; '.join(parts)})" if parts else "")


_OPS: dict[str, Callable[[int, int], bool]] = {
    "gte": lambda c, n: c >= n, "gt": lambda c, n: c > n, "eq": lambda c, n: c == n,
}


class SigmaEngine:
    """Sigma rules in process; correlation windows in the shared ``StateStore`` (one call per batch).

    A ``Detector`` (analyzer/detection.py), like the native ``RulesEngine``.
    """

    name = "sigma"

    def __init__(self, ruleset: SigmaRuleSet, state: StateStore, suppressed: Suppression | None = None,
                 sources: SigmaSources | None = None, reload_interval: float = 0.0,
                 metrics: AnalyzerMetrics | None = None) -> None:
        self._state = state
        self._suppressed = suppressed or never_suppressed
        log.info("sigma keyword search: %s; prefilter loops: %s",
                 "Hyperscan per batch, pyahocorasick where it cannot answer exactly" if HYPERSCAN_AVAILABLE
                 else "pyahocorasick (no hyperscan wheel for this platform; docs/sigma.md)",
                 "C" if NATIVE_PREFILTER else "Python (the C extension is not built: no compiler at install)")
        self.replace_rules(ruleset)
        self._reload = HotReload("sigma", sources.watch_fingerprint, sources.load, self._activate, reload_interval,
                                 metrics, active=len(ruleset.rules)) if sources is not None else None

    def _activate(self, ruleset: SigmaRuleSet) -> int:
        self.replace_rules(ruleset)
        log.info("sigma rules: %d rules, %d correlations, %d issues, %d left out by the pack filters",
                 len(ruleset.rules), len(ruleset.correlations), len(ruleset.issues), ruleset.filtered_out)
        return len(ruleset.rules)

    def replace_rules(self, ruleset: SigmaRuleSet) -> None:
        """Swap the active set atomically (one attribute write).

        A rule that could not load is a warning each; the validators' remarks on rules that did load
        (SigmaHQ's core pack has ~550) are one summary line, each remark at debug level.
        """
        self._index = _Index(ruleset)
        remarks = 0
        for issue in ruleset.issues:
            if issue.level == "error":
                log.warning("sigma rule %s", issue)
            else:
                remarks += 1
                log.debug("sigma rule %s", issue)
        if remarks:
            log.info("sigma rules: %d validator remarks on loaded rules (LOG_LEVEL=DEBUG logs them; "
                     "`secustream rules list --issues` lists them)", remarks)

    @property
    def ruleset(self) -> SigmaRuleSet:
        return self._index.ruleset

    @property
    def rule_count(self) -> int:
        return len(self._index.ruleset.rules)

    def find(self, rule_id: str) -> DetectionRule | Correlation | None:
        """A loaded rule or correlation by its ``sigma:`` id (title, author, references for attribution)."""
        return self._index.by_id.get(rule_id)

    def maybe_reload(self) -> bool:
        """Reload when the rules path or an installed pack changed (checked at most every ``reload_interval``);
        the router calls it between batches (``Router.reload``)."""
        return self._reload.maybe_reload() if self._reload is not None else False

    def evaluate(self, events: Sequence[SecurityEvent],
                 dumped: Sequence[dict[str, Any]] | None = None) -> list[list[RuleHit]]:
        """Hits per event, in input order (same contract as ``RulesEngine.evaluate``); reloads are the router's."""
        docs = list(dumped) if dumped is not None else [e.model_dump(mode="json") for e in events]
        index = self._index
        rules = index.ruleset.rules
        hits: list[list[RuleHit]] = [[] for _ in docs]
        windows: WindowBatch[Correlation] = WindowBatch()
        views = [EventView(doc, index.resolvers) for doc in docs]
        chosen = select_all([index.candidates(event_logsource(doc)) for doc in docs], views)
        for position, (event, doc, view, picked) in enumerate(zip(events, docs, views, chosen, strict=True)):
            for i in picked:
                rule = rules[i]
                if not rule.predicate(view):  # type: ignore[misc]
                    continue
                if self._suppressed(rule.rule_id, doc):
                    continue
                if rule.emits:
                    hits[position].append(hit(rule, f"matched Sigma rule {attribution(rule)}"))
                for corr, member in index.members.get(i, ()):
                    self._observe(windows, position, corr, member, view, event)
        fired: set[tuple[int, str]] = set()
        for position, corr, label, count in windows.counted(self._state):
            ok = count >= corr.count if corr.kind == "temporal" else _OPS[corr.op](count, corr.count)
            if ok and (position, corr.rule_id) not in fired:
                fired.add((position, corr.rule_id))
                what = {"event_count": "events", "value_count": f"distinct {corr.value_field}",
                        "temporal": "of the correlated rules"}[corr.kind]
                detail = f"{window_detail(count, what, corr.seconds, label)}: Sigma correlation {attribution(corr)}"
                hits[position].append(hit(corr, detail))
        return hits

    @staticmethod
    def _observe(windows: WindowBatch[Correlation], position: int, corr: Correlation, member: int, view: EventView,
                 event: SecurityEvent) -> None:
        fields = corr.group_by[member]
        group = [(f, view.get(f)) for f in fields]
        if any(g is None for _f, g in group):
            return
        if corr.kind == "value_count":
            value = view.get(corr.value_field or "")
            if value is None:
                return
            item, distinct = str(value), True
        elif corr.kind == "temporal":
            item, distinct = str(corr.members[member]), True
        else:
            item, distinct = str(event.event_id), False
        windows.add(position, corr, f"sigma:{corr.rule_id}", group, item, event.timestamp.timestamp(), corr.seconds,
                    distinct)
