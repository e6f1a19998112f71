"""Compile a pySigma condition tree into one Python predicate over a normalised event.

pySigma has already applied every value modifier when it parsed the rule (``contains`` became
wildcards, ``base64offset``/``windash`` became ``SigmaExpansion`` alternatives, ``re`` a
``SigmaRegularExpression``, ``all`` an AND, ``neq`` a NOT …). What is left is a small set of typed
values; each compiles once into a closure here, so evaluation never touches pySigma objects.
Anything we cannot evaluate raises ``UnsupportedSigma`` with the reason, which the loader reports.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaQueryExpression,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
    TimestampPart,
)

from secustream.analyzer.sigma.fields import Resolver, compile_resolver, keyword_texts


class UnsupportedSigma(ValueError):
    """A construct the in-process evaluator cannot run; the message is the reason shown at load."""


KEYWORDS = "\x00keywords"
"""Pseudo field: the event's keyword texts (Sigma ``keywords``), so the index can file keyword rules too."""


class EventView:
    """One event as rules see it: field values resolved once per event, lower-cased once."""

    __slots__ = ("_lower", "_raw", "_resolvers", "_texts", "doc")

    def __init__(self, doc: dict[str, Any], resolvers: dict[str, Resolver]) -> None:
        self.doc = doc
        self._resolvers = resolvers
        self._raw: dict[str, Any] = {}
        self._lower: dict[str, Any] = {}
        self._texts: list[str] | None = None

    def get(self, name: str) -> Any:
        try:
            return self._raw[name]
        except KeyError:
            value = self._raw[name] = self._resolvers[name](self.doc)
            return value

    def lower(self, name: str) -> Any:
        """``str(value).lower()`` (a list of them for list values), None when absent."""
        try:
            return self._lower[name]
        except KeyError:
            if name == KEYWORDS:
                return self.texts()
            value = self.get(name)
            if value is None:
                low = None
            elif isinstance(value, list):
                low = [_text(v).lower() for v in value if v is not None]
            else:
                low = _text(value).lower()
            self._lower[name] = low
            return low

    def texts(self) -> list[str]:
        if self._texts is None:
            self._texts = [t.lower() for t in keyword_texts(self.doc)]
        return self._texts


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


Predicate = Callable[[EventView], bool]
StrTest = Callable[[str], bool]


class Compiler:
    """Compiles conditions of one rule set; shares the field resolvers between its rules."""

    def __init__(self) -> None:
        self.resolvers: dict[str, Resolver] = {}

    def _field(self, name: str) -> str:
        if name not in self.resolvers:
            self.resolvers[name] = compile_resolver(name)
        return name

    # ---- condition tree
    def condition(self, node: Any) -> Predicate:
        if isinstance(node, ConditionAND):
            parts = [self.condition(a) for a in node.args]
            if len(parts) == 2:
                a, b = parts
                return lambda v: a(v) and b(v)
            return lambda v: all(p(v) for p in parts)
        if isinstance(node, ConditionOR):
            parts = [self.condition(a) for a in node.args]
            if len(parts) == 2:
                a, b = parts
                return lambda v: a(v) or b(v)
            return lambda v: any(p(v) for p in parts)
        if isinstance(node, ConditionNOT):
            inner = self.condition(node.args[0])
            return lambda v: not inner(v)
        if isinstance(node, ConditionFieldEqualsValueExpression):
            return self.field_value(node.field, node.value)
        if isinstance(node, ConditionValueExpression):
            return self.keyword(node.value)
        raise UnsupportedSigma(f"condition element {type(node).__name__} is not supported")

    # ---- field = value
    def field_value(self, field: str, value: Any) -> Predicate:
        name = self._field(field)
        if isinstance(value, SigmaNull):
            return lambda v: v.get(name) is None
        if isinstance(value, SigmaExists):
            want = bool(value.exists)
            return lambda v: (v.get(name) is not None) is want
        if isinstance(value, SigmaFieldReference):
            return self._fieldref(name, value)
        if _is_case_insensitive_string(value):
            test = self.string_test(value, cased=False)
            return lambda v: (x := v.lower(name)) is not None and (
                any(test(i) for i in x) if isinstance(x, list) else test(x))
        match = self.value_test(value)

        def pred(v: EventView) -> bool:
            x = v.get(name)
            if x is None:
                return False
            if isinstance(x, list):
                return any(i is not None and match(i) for i in x)
            return match(x)

        return pred

    def _fieldref(self, name: str, ref: SigmaFieldReference) -> Predicate:
        other = self._field(ref.field)
        if ref.starts_with:
            return lambda v: (a := v.lower(name)) is not None and (b := v.lower(other)) is not None \
                and isinstance(a, str) and isinstance(b, str) and a.startswith(b)
        if ref.ends_with:
            return lambda v: (a := v.lower(name)) is not None and (b := v.lower(other)) is not None \
                and isinstance(a, str) and isinstance(b, str) and a.endswith(b)
        return lambda v: (a := v.lower(name)) is not None and a == v.lower(other)

    def keyword(self, value: Any) -> Predicate:
        """Keyword search: SigmaHQ keywords match anywhere in the text, so plain values are substrings."""
        if isinstance(value, SigmaExpansion):
            parts = [self.keyword(x) for x in value.values]
            return lambda v: any(p(v) for p in parts)
        if isinstance(value, SigmaRegularExpression):
            pattern = _regex(value)
            return lambda v: any(pattern.search(t) for t in v.texts())
        if isinstance(value, SigmaString) and not isinstance(value, SigmaCasedString):
            parts = list(value.s)
            if not any(isinstance(p, SpecialChars) for p in parts):
                parts = [SpecialChars.WILDCARD_MULTI, *parts, SpecialChars.WILDCARD_MULTI]
            wrapped = SigmaString()
            wrapped.s = parts
            test = self.string_test(wrapped, cased=False)
            return lambda v: any(test(t) for t in v.texts())
        if isinstance(value, SigmaNumber | SigmaBool):
            needle = _text(value.number if isinstance(value, SigmaNumber) else value.boolean).lower()
            return lambda v: any(needle in t for t in v.texts())
        raise UnsupportedSigma(f"keyword value of type {type(value).__name__} is not supported")

    # ---- values
    def string_test(self, value: SigmaString, cased: bool) -> StrTest:
        """A test over the (already lower-cased unless ``cased``) field text."""
        parts = list(value.s)
        if any(isinstance(p, Placeholder) for p in parts):
            names = ", ".join(p.name for p in parts if isinstance(p, Placeholder))
            raise UnsupportedSigma(f"placeholder %{names}% (expand modifier) needs a processing pipeline")
        norm = (lambda s: s) if cased else str.lower
        multi, single = SpecialChars.WILDCARD_MULTI, SpecialChars.WILDCARD_SINGLE
        if not any(isinstance(p, SpecialChars) for p in parts):
            want = norm("".join(parts))
            return lambda x: x == want
        if single not in parts:
            if len(parts) == 3 and parts[0] is multi and parts[2] is multi and isinstance(parts[1], str):
                needle = norm(parts[1])
                return lambda x: needle in x
            if len(parts) == 2 and isinstance(parts[0], str) and parts[1] is multi:
                prefix = norm(parts[0])
                return lambda x: x.startswith(prefix)
            if len(parts) == 2 and parts[0] is multi and isinstance(parts[1], str):
                suffix = norm(parts[1])
                return lambda x: x.endswith(suffix)
            if parts == [multi]:
                return lambda x: True
        regex = "".join(".*" if p is multi else "." if p is single else re.escape(norm(p)) for p in parts)
        pattern = re.compile(regex, re.DOTALL)
        return lambda x: pattern.fullmatch(x) is not None

    def value_test(self, value: Any) -> Callable[[Any], bool]:
        """A test over one raw (not lower-cased) field value."""
        if isinstance(value, SigmaExpansion):
            tests = [self._any_value_test(x) for x in value.values]
            return lambda x: any(t(x) for t in tests)
        if isinstance(value, SigmaCasedString):
            test = self.string_test(value, cased=True)
            return lambda x: test(_text(x))
        if isinstance(value, SigmaTimestampPart):
            return _timestamp_part(value)
        if isinstance(value, SigmaNumber):
            number = value.number
            return lambda x: _as_number(x) == number
        if isinstance(value, SigmaBool):
            want = value.boolean
            return lambda x: x is want or _text(x).lower() == ("true" if want else "false")
        if isinstance(value, SigmaRegularExpression):
            pattern = _regex(value)
            return lambda x: pattern.search(_text(x)) is not None
        if isinstance(value, SigmaCIDRExpression):
            network = value.network
            return lambda x: _in_network(x, network)
        if isinstance(value, SigmaCompareExpression):
            return _compare(value)
        if isinstance(value, SigmaQueryExpression):
            raise UnsupportedSigma("query expressions are backend-specific and cannot be evaluated in-process")
        raise UnsupportedSigma(f"value of type {type(value).__name__} is not supported")

    def _any_value_test(self, value: Any) -> Callable[[Any], bool]:
        if _is_case_insensitive_string(value):
            test = self.string_test(value, cased=False)
            return lambda x: test(_text(x).lower())
        return self.value_test(value)


def _is_case_insensitive_string(value: Any) -> bool:
    return isinstance(value, SigmaString) and not isinstance(value, SigmaCasedString)


def _regex(value: SigmaRegularExpression) -> re.Pattern[str]:
    flags = 0
    for flag in value.flags:
        flags |= {SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE, SigmaRegularExpressionFlag.MULTILINE:
                  re.MULTILINE, SigmaRegularExpressionFlag.DOTALL: re.DOTALL}[flag]
    try:
        return re.compile(str(value.regexp), flags)
    except re.error as exc:
        raise UnsupportedSigma(f"regular expression {str(value.regexp)!r} is not valid in Python: {exc}") from None


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


def _compare(value: SigmaCompareExpression) -> Callable[[Any], bool]:
    bound = value.number.number
    op = {
        CompareOperators.LT: lambda n: n < bound, CompareOperators.LTE: lambda n: n <= bound,
        CompareOperators.GT: lambda n: n > bound, CompareOperators.GTE: lambda n: n >= bound,
        CompareOperators.NEQ: lambda n: n != bound,
    }[value.op]
    return lambda x: (n := _as_number(x)) is not None and op(n)


def _in_network(x: Any, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.ip_address(str(x).strip("[]")) in network
    except ValueError:
        return False


def _timestamp_part(value: SigmaTimestampPart) -> Callable[[Any], bool]:
    part, want = value.timestamp_part, value.number

    def test(x: Any) -> bool:
        try:
            ts = x if isinstance(x, datetime) else datetime.fromisoformat(str(x).replace("Z", "+00:00"))
        except ValueError:
            return False
        got = {TimestampPart.MINUTE: ts.minute, TimestampPart.HOUR: ts.hour, TimestampPart.DAY: ts.day,
               TimestampPart.WEEK: ts.isocalendar().week, TimestampPart.MONTH: ts.month,
               TimestampPart.YEAR: ts.year}[part]
        return got == want

    return test


# ---------------------------------------------------------------- what a rule needs (for the index)
Constraint = tuple[str, frozenset[str]] | None
"""What a matching event's field must satisfy: ``("eq", values)`` it equals one of the lower-cased values,
``("sub", literals)`` one of the lower-cased literals is a substring of it, None it is merely present."""
Requirement = dict[str, Constraint]

MIN_LITERAL = 3  # the index looks literals up by one of their trigrams


def _literal(value: Any) -> frozenset[str] | None:
    """Lower-cased literal(s) one of which a value matching ``value`` must contain, if there are any."""
    if isinstance(value, SigmaExpansion):
        parts = [_literal(v) for v in value.values]
        return None if any(p is None for p in parts) else frozenset().union(*parts)  # type: ignore[arg-type]
    if isinstance(value, SigmaString) and not value.contains_placeholder():
        pieces = [p for p in value.s if isinstance(p, str)]
        longest = max(pieces, key=len, default="").lower()
        return frozenset({longest}) if len(longest) >= MIN_LITERAL else None
    return None


def _leaf(field: str, value: Any) -> Requirement:
    if isinstance(value, SigmaNull) or (isinstance(value, SigmaExists) and not value.exists):
        return {}
    if _is_case_insensitive_string(value) and not value.contains_special() and not value.contains_placeholder():
        return {field: ("eq", frozenset({str(value.to_plain_regex()).lower()}))}
    if isinstance(value, SigmaNumber) and not isinstance(value, SigmaTimestampPart) \
            and float(value.number).is_integer():
        return {field: ("eq", frozenset({str(int(value.number))}))}
    literals = _literal(value)
    return {field: ("sub", literals) if literals else None}


def _as_sub(constraint: Constraint) -> frozenset[str] | None:
    if constraint is None:
        return None
    kind, values = constraint
    if kind == "eq" and any(len(v) < MIN_LITERAL for v in values):
        return None
    return values


def _or(constraints: list[Constraint]) -> Constraint:
    if any(c is None for c in constraints):
        return None
    if all(c[0] == "eq" for c in constraints):  # type: ignore[index]
        return "eq", frozenset().union(*(c[1] for c in constraints))  # type: ignore[index]
    subs = [_as_sub(c) for c in constraints]
    return None if any(s is None for s in subs) else ("sub", frozenset().union(*subs))  # type: ignore[arg-type]


_RANK = {"eq": 2, "sub": 1}


def requirements(node: Any) -> Requirement:
    """Fields every matching event must have, with the strongest constraint the rule implies.

    Conservative: anything under NOT, null/exists:false tests and keywords add no requirement.
    """
    if isinstance(node, ConditionAND):
        out: Requirement = {}
        for arg in node.args:
            for field, constraint in requirements(arg).items():
                current = out.get(field)
                if field not in out or (constraint is not None and (
                        current is None or _RANK[constraint[0]] > _RANK[current[0]])):
                    out[field] = constraint
        return out
    if isinstance(node, ConditionOR):
        reqs = [requirements(a) for a in node.args]
        common = set(reqs[0]).intersection(*reqs[1:]) if reqs else set()
        return {field: _or([r[field] for r in reqs]) for field in common}
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _leaf(node.field, node.value)
    if isinstance(node, ConditionValueExpression):  # keywords: a literal must occur in one of the texts
        literals = _literal(node.value)
        return {KEYWORDS: ("sub", literals)} if literals else {}
    return {}
