"""Turn a rule's plan (``plan.py``) into one Python predicate over a normalised event.

Each plan node becomes a closure once; evaluation never touches pySigma objects. String tests run
on values lower-cased once per event (``EventView.lower``), and an OR of tests on one field is one
C-level call where Python has one (``x in frozenset``, ``x.startswith(tuple)``, ``x.endswith(tuple)``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import ahocorasick

from secustream.analyzer.regex import compile_pattern
from secustream.analyzer.sigma.fields import Resolver, compile_resolver, keyword_texts
from secustream.analyzer.sigma.plan import KEYWORDS, Node, StringTest, UnsupportedSigma

_UNSET: Any = object()  # a field not resolved yet (None is a resolved, absent field)
_NOTHING: Mapping[str, Any] = MappingProxyType({})  # an event without ``unmapped``


class EventView:
    """One event as rules see it: field values resolved once per event, lower-cased once.

    Every resolver looks in ``unmapped`` first (``fields.compile_resolver``), and on real events that is where
    nearly every field a rule reads is found; so a read looks there itself and calls the resolver only when
    ``unmapped`` lacks the field (None or ""). Three Python calls fewer: a first read of a present field took
    ~0.5 µs instead of ~0.8 on the bench's real events, and a candidate rule reads ~10 fields.
    """

    __slots__ = ("_lower", "_raw", "_resolvers", "_texts", "_unmapped", "doc")

    def __init__(self, doc: dict[str, Any], resolvers: dict[str, Resolver]) -> None:
        self.doc = doc
        self._resolvers = resolvers
        self._unmapped: Mapping[str, Any] = doc.get("unmapped") or _NOTHING
        self._raw: dict[str, Any] = {}
        self._lower: dict[str, Any] = {}
        self._texts: list[str] | None = None

    def get(self, name: str) -> Any:
        value = self._raw.get(name, _UNSET)  # not try/except: a field is mostly read once, and a raise costs ~3x
        if value is _UNSET:
            value = self._unmapped.get(name)  # the resolver's first step, without the call
            if value is None or value == "":
                value = self._resolvers[name](self.doc)
            self._raw[name] = value
        return value

    def lower(self, name: str) -> Any:
        """``str(value).lower()`` (a list of them for list values), None when absent."""
        low = self._lower.get(name, _UNSET)
        if low is not _UNSET:
            return low
        if name == KEYWORDS:
            return self.texts()
        value = self._unmapped.get(name)
        if value.__class__ is str and value:  # the common case: the resolver would answer this string
            low = value.lower()
        else:
            if value is None or value == "":  # the resolver's other places (aliases, paths), through ``get``'s cache
                value = self.get(name)
            if value is None:
                low = None
            elif value.__class__ is str:
                low = value.lower()
            elif isinstance(value, list):
                low = [as_text(v).lower() for v in value if v is not None]
            else:
                low = as_text(value).lower()
        self._lower[name] = low
        return low

    def texts(self) -> list[str]:
        """The keyword texts (``fields.keyword_texts``), lower-cased once."""
        if self._texts is None:
            self._texts = [t.lower() for t in keyword_texts(self.doc)]
        return self._texts


def as_text(value: Any) -> str:
    """A field value as string tests see it (before lower-casing)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


Predicate = Callable[[EventView], bool]
StrTest = Callable[[str], bool]


class Compiler:
    """Compiles plans of one rule set; shares the field resolvers between its rules."""

    def __init__(self) -> None:
        self.resolvers: dict[str, Resolver] = {}

    def field(self, name: str) -> str:
        if name not in self.resolvers:
            self.resolvers[name] = compile_resolver(name)
        return name

    def compile(self, node: Node) -> Predicate:
        tag = node[0]
        if tag == "and":
            parts = tuple(self.compile(n) for n in node[1])
            if len(parts) == 2:
                a, b = parts
                return lambda v: a(v) and b(v)

            def all_of(v: EventView) -> bool:
                for p in parts:  # noqa: SIM110 (a loop is ~2x faster than any() over a generator)
                    if not p(v):
                        return False
                return True

            return all_of
        if tag == "or":
            parts = tuple(self.compile(n) for n in node[1])
            if len(parts) == 2:
                a, b = parts
                return lambda v: a(v) or b(v)

            def any_of(v: EventView) -> bool:
                for p in parts:  # noqa: SIM110 (a loop is ~2x faster than any() over a generator)
                    if p(v):
                        return True
                return False

            return any_of
        if tag == "not":
            inner = self.compile(node[1])
            return lambda v: not inner(v)
        if tag == "true":
            return lambda v: True
        if tag == "kw":
            test = _any_test([_raw_test(t) for t in node[1]])
            return lambda v: any(test(t) for t in v.texts())
        name = self.field(node[1])
        if tag == "null":
            return lambda v: v.get(name) is None
        if tag == "exists":
            want = node[2]
            return lambda v: (v.get(name) is not None) is want
        if tag == "ref":
            return _fieldref(name, self.field(node[2]), node[3])
        if tag == "s":
            test = string_test(node[2])

            def on_lower(v: EventView) -> bool:
                x = v.lower(name)
                if x is None:
                    return False
                if x.__class__ is str:
                    return test(x)
                return any(test(i) for i in x)

            return on_lower
        if tag == "v":
            match = _any_test([_raw_test(t) for t in node[2]])

            def on_raw(v: EventView) -> bool:
                x = v.get(name)
                if x is None:
                    return False
                if isinstance(x, list):
                    return any(i is not None and match(i) for i in x)
                return match(x)

            return on_raw
        raise UnsupportedSigma(f"plan node {tag!r} is not known")


def _fieldref(name: str, other: str, mode: str) -> Predicate:
    if mode == "start":
        return lambda v: (a := v.lower(name)) is not None and (b := v.lower(other)) is not None \
            and isinstance(a, str) and isinstance(b, str) and a.startswith(b)
    if mode == "end":
        return lambda v: (a := v.lower(name)) is not None and (b := v.lower(other)) is not None \
            and isinstance(a, str) and isinstance(b, str) and a.endswith(b)
    return lambda v: (a := v.lower(name)) is not None and a == v.lower(other)


def _any_test(tests: list[Callable[[Any], bool]]) -> Callable[[Any], bool]:
    if len(tests) == 1:
        return tests[0]

    def any_test(x: Any) -> bool:
        for t in tests:  # noqa: SIM110 (a loop is ~2x faster than any() over a generator)
            if t(x):
                return True
        return False

    return any_test


def string_test(tests: tuple[StringTest, ...]) -> StrTest:
    """One test for an OR of string tests (``plan.StringTest``) over one text."""
    compiled: list[StrTest] = []
    for test in tests:
        kind = test[0]
        if kind == "glob":
            if test[1] == ".*":
                return lambda x: True
            compiled.append(compile_pattern(test[1], re.DOTALL).fullmatch)  # linear time: analyzer/regex.py
            continue
        values = test[1]
        if kind == "eq":
            if len(values) == 1:
                compiled.append(values[0].__eq__)
            else:
                compiled.append(frozenset(values).__contains__)
        elif kind == "start":
            compiled.append(lambda x, p=values: x.startswith(p))
        elif kind == "end":
            compiled.append(lambda x, s=values: x.endswith(s))
        elif len(values) == 1:
            needle = values[0]
            compiled.append(lambda x, n=needle: n in x)
        elif len(values) > MOST_NEEDLES and all(values):
            compiled.append(_contains_any_of(values))
        else:
            def contains_any(x: str, needles: tuple[str, ...] = values) -> bool:
                for n in needles:  # noqa: SIM110 (a loop is ~2x faster than any() over a generator)
                    if n in x:
                        return True
                return False

            compiled.append(contains_any)
    return _any_test(compiled)  # type: ignore[arg-type]


MOST_NEEDLES = 16
"""Above this many ``contains`` literals one Aho-Corasick pass replaces an ``in`` per literal: SigmaHQ's emoji rules
name ~900 each, and a loop over them cost ~25 µs per command line."""


def _contains_any_of(needles: tuple[str, ...]) -> StrTest:
    """Whether a text holds one of ``needles`` (none empty), in one pass (pyahocorasick)."""
    automaton = ahocorasick.Automaton()
    for needle in needles:
        automaton.add_word(needle, None)
    automaton.make_automaton()

    def contains_any_of(x: str) -> bool:
        for _found in automaton.iter(x):
            return True
        return False

    return contains_any_of


def _raw_test(test: Node) -> Callable[[Any], bool]:
    """A test over one raw (not lower-cased) field value."""
    kind = test[0]
    if kind == "str":
        cased, inner = test[1], string_test((test[2],))
        if cased:
            return lambda x: inner(as_text(x))
        return lambda x: inner(as_text(x).lower())
    if kind == "num":
        number = test[1]
        return lambda x: _as_number(x) == number
    if kind == "bool":
        want = test[1]
        return lambda x: x is want or as_text(x).lower() == ("true" if want else "false")
    if kind == "re":
        search = compile_pattern(test[1], test[2]).search  # linear time: analyzer/regex.py
        return lambda x: search(as_text(x))
    if kind == "cidr":
        network = ipaddress.ip_network(test[1], strict=False)
        return lambda x: _in_network(x, network)
    if kind == "cmp":
        return _compare(test[1], test[2])
    if kind == "ts":
        return _timestamp_part(test[1], test[2])
    raise UnsupportedSigma(f"value test {kind!r} is not known")


def _as_number(x: Any) -> float | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, int | float):
        return x
    try:
        text = str(x).strip()
        return int(text, 16) if text.lower().startswith("0x") else float(text)
    except ValueError:
        return None


_CMP: dict[str, Callable[[float, float], bool]] = {
    "lt": lambda n, b: n < b, "lte": lambda n, b: n <= b, "gt": lambda n, b: n > b,
    "gte": lambda n, b: n >= b, "neq": lambda n, b: n != b,
}


def _compare(op: str, bound: float) -> Callable[[Any], bool]:
    check = _CMP[op]
    return lambda x: (n := _as_number(x)) is not None and check(n, bound)


def _in_network(x: Any, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.ip_address(str(x).strip("[]")) in network
    except ValueError:
        return False


_PARTS: dict[str, Callable[[datetime], int]] = {
    "MINUTE": lambda t: t.minute, "HOUR": lambda t: t.hour, "DAY": lambda t: t.day,
    "WEEK": lambda t: t.isocalendar().week, "MONTH": lambda t: t.month, "YEAR": lambda t: t.year,
}


def _timestamp_part(part: str, want: int) -> Callable[[Any], bool]:
    get = _PARTS[part]

    def test(x: Any) -> bool:
        try:
            ts = x if isinstance(x, datetime) else datetime.fromisoformat(str(x).replace("Z", "+00:00"))
        except ValueError:
            return False
        return get(ts) == want

    return test
