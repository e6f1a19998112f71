"""Which native rules an event can match: one look per filed field, not every rule's conditions.

Why: the native rules were tested one by one, condition by condition, on every event of their type; on real Windows
events (OTRF) the 34 default rules cost 10-30 µs an event, more than the Sigma engine with 3,752 rules, though
nearly every test failed on a field the event lacks (``process.command_line`` on a registry event) or a value it
does not have (``action: sudo``). Each rule is now filed under one of its ``match`` conditions, all of which must
hold: an equality (``equals``/``in`` on scalars) under its values, else a condition no absent field meets
(``predicate(None)`` is false) under its path; a rule whose ``match`` has neither (only ``event_type``) is filed
under a key of each of its ``any`` blocks, one of which must hold. An event then looks up each filed path once; the
rules it can match are those of the values and paths it has, and the rules with no key, which are tested on every
event of the type. The candidates are then tested in full, in file order, so a verdict is the same as testing every
rule (``tests/unit/test_native_prefilter.py`` holds the two equal on real, generated and hostile events).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from secustream.analyzer.native.schema import Condition, Rule, lowered, value_at

Path = tuple[str, ...]

_BUCKET_PATH: Path = ("event_type",)  # the rules are bucketed by it already (``engine.index_by_event_type``)


def _needs_presence(condition: Condition) -> bool:
    """Whether the condition fails wherever its field is absent (the predicate decides: no list of operators)."""
    try:
        return not condition.predicate(None)
    except Exception:  # a predicate that cannot take None is not filed by presence
        return False


Key = tuple[Path, frozenset[Any] | None]
"""Where a rule is filed: (path, the values one of which it needs there), or (path, None): it needs the path present."""


def condition_key(conditions: Sequence[Condition]) -> Key | None:
    """The key of conditions that must all hold: the first equality, else the first needing its field present."""
    conditions = [c for c in conditions if c.path != _BUCKET_PATH]
    for condition in conditions:
        if condition.values is not None:
            return condition.path, condition.values
    for condition in conditions:
        if _needs_presence(condition):
            return condition.path, None
    return None


def filing(rule: Rule) -> tuple[Key, ...]:
    """The keys a rule is filed under: its ``match``'s (``condition_key``), else, where it has ``any`` blocks (one of
    which must hold), one per block; none (tested on every event of its type) where a block has no key either."""
    key = condition_key(rule.match)
    if key is not None:
        return (key,)
    if not rule.any_of:
        return ()
    keys = [condition_key(block) for block in rule.any_of]
    if any(k is None for k in keys):
        return ()
    return tuple(dict.fromkeys(keys))  # type: ignore[arg-type]


@dataclass(frozen=True)
class RuleFiling:
    """One event type's rules (in file order), filed by ``filing``."""

    rules: tuple[Rule, ...]
    always: tuple[int, ...]  # positions of the rules tested on every event
    by_value: tuple[tuple[Path, dict[Any, tuple[int, ...]]], ...]  # path -> lower-cased value -> positions
    by_presence: tuple[tuple[Path, tuple[int, ...]], ...]  # path -> positions of the rules needing it present

    @classmethod
    def of(cls, rules: Sequence[Rule]) -> RuleFiling:
        always: list[int] = []
        values: dict[Path, dict[Any, list[int]]] = {}
        presence: dict[Path, list[int]] = {}
        for position, rule in enumerate(rules):
            keys = filing(rule)
            if not keys:
                always.append(position)
            for path, wanted in keys:
                if wanted is None:
                    presence.setdefault(path, []).append(position)
                else:
                    table = values.setdefault(path, {})
                    for value in wanted:
                        table.setdefault(value, []).append(position)
        return cls(tuple(rules), tuple(always),
                   tuple((path, {v: tuple(p) for v, p in table.items()}) for path, table in values.items()),
                   tuple((path, tuple(p)) for path, p in presence.items()))

    def candidates(self, doc: dict[str, Any]) -> list[Rule]:
        """The rules ``doc`` may match, in file order (the others fail one of their ``match`` conditions)."""
        found = list(self.always)
        for path, table in self.by_value:
            try:
                found.extend(table.get(lowered(value_at(doc, path)), ()))
            except TypeError:  # a list or a mapping: it equals no scalar
                continue
        for path, positions in self.by_presence:
            if value_at(doc, path) is not None:
                found.extend(positions)
        if len(found) > 1:
            found = sorted(set(found))  # a rule filed under several ``any`` blocks' keys is tested once
        rules = self.rules
        return [rules[position] for position in found]
