"""A Sigma condition tree as plain data (nested tuples of str/int/float), built once from pySigma.

Why a plan between pySigma and the closures: pySigma objects are slow to build and closures cannot
be pickled. The plan is the compiled form of a rule that can be cached on disk (keyed by the pack
fingerprint), turned into closures in milliseconds (``matcher.compile_plan``), and read by the
prefilter (``requirements``) to learn which literals a matching event must contain.

Node shapes (the first item names the node):

- ``("and", (node, ...))`` / ``("or", (node, ...))`` / ``("not", node)`` / ``("true",)``
- ``("null", field)``: the field is absent; ``("exists", field, want)``
- ``("ref", field, other, mode)``: field equals / starts with / ends with another field (``eq|start|end``)
- ``("s", field, tests)``: case-insensitive string tests over the lower-cased field value
- ``("v", field, tests)``: tests over the raw field value (numbers, regex, cidr, cased strings …)
- ``("kw", tests)``: Sigma ``keywords`` over the event's texts (``fields.keyword_texts``)

String tests are ``("eq"|"contains"|"start"|"end", (values, ...))`` or ``("glob", regex, longest literal)``; one
``("s", …)`` node holds every alternative of an OR on one field, so ``Image|endswith: [a, b, c]``
becomes one ``str.endswith(tuple)`` call. Raw tests are ``("str", cased, string_test)``,
``("num", n)``, ``("bool", b)``, ``("re", pattern, flags)``, ``("cidr", network)``,
``("cmp", op, bound)``, ``("ts", part, n)``.
"""

from __future__ import annotations

import re
from re import _constants as re_constants  # type: ignore[attr-defined]
from re import _parser as re_parser  # type: ignore[attr-defined]
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
)

Node = tuple[Any, ...]
StringTest = tuple[Any, ...]


class UnsupportedSigma(ValueError):
    """A construct the in-process evaluator cannot run; the message is the reason shown at load."""


KEYWORDS = "\x00keywords"
"""Pseudo field: the event's keyword texts (Sigma ``keywords``), so the prefilter can file keyword rules too."""

_FLAGS = {SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE, SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
          SigmaRegularExpressionFlag.DOTALL: re.DOTALL}
_CMP = {CompareOperators.LT: "lt", CompareOperators.LTE: "lte", CompareOperators.GT: "gt",
        CompareOperators.GTE: "gte", CompareOperators.NEQ: "neq"}


def build_plan(node: Any) -> Node:
    """pySigma condition tree → plan (raises ``UnsupportedSigma`` with the reason)."""
    if isinstance(node, ConditionAND | ConditionOR):
        tag = "and" if isinstance(node, ConditionAND) else "or"
        parts: list[Node] = []
        for arg in node.args:
            part = build_plan(arg)
            parts.extend(part[1] if part[0] == tag else (part,))  # flatten nested and/and, or/or
        if tag == "or":
            parts = _merge_string_tests(parts)
        return parts[0] if len(parts) == 1 else (tag, tuple(parts))
    if isinstance(node, ConditionNOT):
        return ("not", build_plan(node.args[0]))
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _field_value(node.field, node.value)
    if isinstance(node, ConditionValueExpression):
        return ("kw", _keyword_tests(node.value))
    raise UnsupportedSigma(f"condition element {type(node).__name__} is not supported")


def _merge_string_tests(parts: list[Node]) -> list[Node]:
    """OR of string tests on one field → one node (so it compiles to one C-level call per kind)."""
    merged: dict[str, list[StringTest]] = {}
    out: list[Node] = []
    for part in parts:
        if part[0] == "s":
            if part[1] not in merged:
                merged[part[1]] = []
                out.append(("s", part[1], None))  # placeholder, keeps the first position
            merged[part[1]].extend(part[2])
        else:
            out.append(part)
    return [("s", p[1], _normal_tests(merged[p[1]])) if p[0] == "s" and p[2] is None else p for p in out]


def _normal_tests(tests: list[StringTest]) -> tuple[StringTest, ...]:
    by_kind: dict[str, list[str]] = {}
    globs: list[StringTest] = []
    for test in tests:
        if test[0] == "glob":
            globs.append(test)
        else:
            by_kind.setdefault(test[0], []).extend(test[1])
    kinds = [(k, tuple(dict.fromkeys(by_kind[k]))) for k in ("eq", "start", "end", "contains") if k in by_kind]
    return (*kinds, *dict.fromkeys(globs))


def _field_value(field: str, value: Any) -> Node:
    if isinstance(value, SigmaNull):
        return ("null", field)
    if isinstance(value, SigmaExists):
        return ("exists", field, bool(value.exists))
    if isinstance(value, SigmaFieldReference):
        mode = "start" if value.starts_with else "end" if value.ends_with else "eq"
        return ("ref", field, value.field, mode)
    if _is_case_insensitive_string(value):
        return ("s", field, (string_test(value, cased=False),))
    if isinstance(value, SigmaExpansion) and all(_is_case_insensitive_string(v) for v in value.values):
        return ("s", field, _normal_tests([string_test(v, cased=False) for v in value.values]))
    return ("v", field, _value_tests(value))


def _is_case_insensitive_string(value: Any) -> bool:
    return isinstance(value, SigmaString) and not isinstance(value, SigmaCasedString)


def string_test(value: SigmaString, cased: bool) -> StringTest:
    """A string test over the field text (lower-cased unless ``cased``)."""
    parts = list(value.s)
    if any(isinstance(p, Placeholder) for p in parts):
        names = [p.name for p in parts if isinstance(p, Placeholder)]
        raise UnsupportedSigma(f"placeholder %{'%, %'.join(names)}% (expand modifier) has no values: give them with "
                               f"the pack, secustream rules install SOURCE --placeholder {names[0]}=VALUE[,VALUE...] "
                               f"(docs/sigma.md \"Placeholders\")")
    norm = (lambda s: s) if cased else str.lower
    multi, single = SpecialChars.WILDCARD_MULTI, SpecialChars.WILDCARD_SINGLE
    if not any(isinstance(p, SpecialChars) for p in parts):
        return ("eq", (norm("".join(parts)),))
    if single not in parts:
        if len(parts) == 3 and parts[0] is multi and parts[2] is multi and isinstance(parts[1], str):
            return ("contains", (norm(parts[1]),))
        if len(parts) == 2 and isinstance(parts[0], str) and parts[1] is multi:
            return ("start", (norm(parts[0]),))
        if len(parts) == 2 and parts[0] is multi and isinstance(parts[1], str):
            return ("end", (norm(parts[1]),))
        if parts == [multi]:
            return ("glob", ".*", "")
    longest = max((norm(p) for p in parts if isinstance(p, str)), key=len, default="")
    return ("glob", "".join(".*" if p is multi else "." if p is single else re.escape(norm(p)) for p in parts), longest)


def _value_tests(value: Any) -> tuple[Node, ...]:
    if isinstance(value, SigmaExpansion):
        return tuple(t for v in value.values for t in _value_tests(v))
    if _is_case_insensitive_string(value):
        return (("str", False, string_test(value, cased=False)),)
    if isinstance(value, SigmaCasedString):
        return (("str", True, string_test(value, cased=True)),)
    if isinstance(value, SigmaTimestampPart):
        return (("ts", value.timestamp_part.name, value.number),)
    if isinstance(value, SigmaNumber):
        return (("num", value.number),)
    if isinstance(value, SigmaBool):
        return (("bool", value.boolean),)
    if isinstance(value, SigmaRegularExpression):
        return (_regex(value),)
    if isinstance(value, SigmaCIDRExpression):
        return (("cidr", str(value.network)),)
    if isinstance(value, SigmaCompareExpression):
        return (("cmp", _CMP[value.op], value.number.number),)
    if isinstance(value, SigmaQueryExpression):
        raise UnsupportedSigma("query expressions are backend-specific and cannot be evaluated in-process")
    raise UnsupportedSigma(f"value of type {type(value).__name__} is not supported")


def _regex(value: SigmaRegularExpression) -> Node:
    flags = 0
    for flag in value.flags:
        flags |= _FLAGS[flag]
    try:
        re.compile(str(value.regexp), flags)
    except re.error as exc:
        raise UnsupportedSigma(f"regular expression {str(value.regexp)!r} is not valid in Python: {exc}") from None
    return ("re", str(value.regexp), flags)


def _keyword_tests(value: Any) -> tuple[Node, ...]:
    """Keyword search: SigmaHQ keywords match anywhere in the text, so plain values are substrings."""
    if isinstance(value, SigmaExpansion):
        return tuple(t for v in value.values for t in _keyword_tests(v))
    if isinstance(value, SigmaRegularExpression):
        return (_regex(value),)
    if _is_case_insensitive_string(value):
        parts = list(value.s)
        if not any(isinstance(p, SpecialChars) for p in parts):
            parts = [SpecialChars.WILDCARD_MULTI, *parts, SpecialChars.WILDCARD_MULTI]
        wrapped = SigmaString()
        wrapped.s = tuple(parts)
        return (("str", False, string_test(wrapped, cased=False)),)
    if isinstance(value, SigmaNumber | SigmaBool):
        text = value.number if isinstance(value, SigmaNumber) else value.boolean
        needle = ("true" if text else "false") if isinstance(text, bool) else str(text).lower()
        return (("str", False, ("contains", (needle,))),)
    raise UnsupportedSigma(f"keyword value of type {type(value).__name__} is not supported")


def plan_fields(node: Node) -> set[str]:
    """Every field a plan reads (``KEYWORDS`` for keyword searches)."""
    tag = node[0]
    if tag in ("and", "or"):
        return set().union(*(plan_fields(n) for n in node[1]))
    if tag == "not":
        return plan_fields(node[1])
    if tag == "kw":
        return {KEYWORDS}
    if tag == "ref":
        return {node[1], node[2]}
    if tag == "true":
        return set()
    return {node[1]}


# ---------------------------------------------------------------- what a matching event must contain
Constraint = tuple[str, tuple[str, ...]] | None
"""``("eq", values)``: the lower-cased field equals one of them; ``("sub", literals)``: one of the
lower-cased literals occurs in it; None: the field is merely present; ``("start" | "end", literals)``: it starts
or ends with one of them (only vetoes, ``vetoes``, are these)."""
Alternative = tuple[tuple[str, Constraint], ...]
"""Constraints that all hold on a matching event (AND), as (field, constraint) pairs."""

MIN_LITERAL = 3  # shorter literals occur almost everywhere: they would not narrow the candidates
MAX_ALTERNATIVES = 32


def _narrows(literal: str) -> bool:
    """Whether a literal is worth a prefilter constraint: three characters or more, or any character outside ASCII
    (SigmaHQ's four emoji rules name ~900 single emoji each: taken as mere presence of the command line, each ran
    its predicate on every process creation, ~25 µs on a real one)."""
    return len(literal) >= MIN_LITERAL or (literal != "" and not literal.isascii())


def _literals(test: StringTest) -> tuple[str, ...] | None:
    """Literals one of which a value passing ``test`` contains (None: no usable literal)."""
    kind = test[0]
    if kind == "glob":  # the longest literal piece between the wildcards
        return (test[2],) if _narrows(test[2]) else None
    values = test[1]
    return values if all(map(_narrows, values)) else None


def regex_literal(pattern: str, flags: int) -> tuple[str, ...] | None:
    """Lower-cased literals one of which every match of ``pattern`` holds, once the matched text is lower-cased: the
    longest run of plain ASCII characters every match contains (None: none).

    So a regex rule (``CommandLine|re: '\\w+`(?:\\w+|-|.)`'``) is evaluated only on values holding that run, not
    on every value of the field. Under IGNORECASE three ASCII letters also match other characters in Python's ``re``
    (RE2 matches fewer): ``k`` the KELVIN SIGN, which ``str.lower`` makes ``k``; ``s`` the LATIN SMALL LETTER LONG S
    (U+017F), which it leaves; ``i`` the DOTLESS I (U+0131), which it leaves, and the DOTTED CAPITAL I (U+0130), which
    it makes ``i`` and a combining dot. So a run with ``s`` or ``i`` stands for each of its spellings (``set``: ``set``
    and ``\u017fet``; at most ``MOST_SPELLINGS``, else the longest run without them): the prefilter compares
    lower-cased text and must never miss a match. SigmaHQ's "Invoke-Obfuscation Via Stdin"
    (``(?i)(set).*&&\\s?set.*...``) could only use ``et`` and ran on every PowerShell payload holding it.
    """
    try:
        parsed = re_parser.parse(pattern, flags)
    except re.error:
        return None
    items = list(parsed)
    if not (flags | parsed.state.flags) & re.IGNORECASE:
        best = _longest_run(items, frozenset())
        return (best.lower(),) if best else None
    best = _longest_run(items, frozenset()).lower()
    spellings = _spellings(best)
    if len(spellings) > MOST_SPELLINGS:
        best = _longest_run(items, _SPELLED).lower()
        spellings = (best,)
    return spellings if best else None


_SPELLINGS = {"s": ("s", "\u017f"), "i": ("i", "\u0131", "i\u0307")}
"""What ``str.lower`` makes of each character an IGNORECASE ``s`` or ``i`` matches (``k``: all of them ``k``)."""
_SPELLED = frozenset("siSI")
MOST_SPELLINGS = 16


def _spellings(run: str) -> tuple[str, ...]:
    """Every lower-cased text an IGNORECASE match of ``run`` (lower-cased) can be (``_SPELLINGS``)."""
    found = [""]
    for char in run:
        found = [prefix + spelling for prefix in found for spelling in _SPELLINGS.get(char, (char,))]
        if len(found) > MOST_SPELLINGS:
            break
    return tuple(found)


_REPEATS = (re_constants.MAX_REPEAT, re_constants.MIN_REPEAT, re_constants.POSSESSIVE_REPEAT)


def _longest_run(items: list[Any], excluded: frozenset[str]) -> str:
    runs: list[str] = []
    current: list[str] = []
    for op, arg in _flat(items):
        if op is re_constants.LITERAL and arg < 128 and chr(arg) not in excluded:
            current.append(chr(arg))
            continue
        runs.append("".join(current))
        current = []
        if op in _REPEATS and arg[0] >= 1:  # a body repeated at least once occurs in every match
            runs.append(_longest_run(list(arg[2]), excluded))
    runs.append("".join(current))
    return max(runs, key=len)


def _flat(items: list[Any]) -> list[Any]:
    """A sequence with its groups of plain content (no scoped flags) read inline, anchors dropped."""
    out: list[Any] = []
    for op, arg in items:
        if op is re_constants.SUBPATTERN and not arg[1] and not arg[2]:
            out.extend(_flat(list(arg[3])))
        elif op is not re_constants.AT:
            out.append((op, arg))
    return out


def _string_constraint(tests: tuple[StringTest, ...]) -> Constraint:
    if len(tests) == 1 and tests[0][0] == "eq":
        return ("eq", tests[0][1])
    found: list[str] = []
    for test in tests:
        literals = _literals(test)
        if literals is None:
            return None
        found.extend(literals)
    return ("sub", tuple(dict.fromkeys(found)))


def _value_constraint(tests: tuple[Node, ...]) -> Constraint:
    values: list[str] = []
    literals: list[str] = []
    for test in tests:
        if test[0] == "num" and float(test[1]).is_integer():
            values.append(str(int(test[1])))
        elif test[0] == "re":
            spellings = regex_literal(test[1], test[2])
            if spellings is None:
                return None
            literals.extend(spellings)
        elif test[0] == "str":
            string = test[2] if not test[1] else (test[2][0], tuple(v.lower() for v in test[2][1])) \
                if test[2][0] != "glob" else None
            found = _literals(string) if string is not None else None
            if found is None:
                return None
            literals.extend(found)
        else:
            return None
    if values and not literals:
        return ("eq", tuple(values))
    if literals and not values:
        return ("sub", tuple(dict.fromkeys(literals)))
    return None


def _leaf(node: Node) -> list[Alternative]:
    tag = node[0]
    if tag == "s":
        return [((node[1], _string_constraint(node[2])),)]
    if tag == "v":
        return [((node[1], _value_constraint(node[2])),)]
    if tag == "exists" and node[2]:
        return [((node[1], None),)]
    if tag == "ref":
        return [((node[1], None), (node[2], None))]
    if tag == "kw":
        strings = [t[2] for t in node[1] if t[0] == "str" and not t[1]]
        constraint = _string_constraint(tuple(strings)) if len(strings) == len(node[1]) else None
        return [((KEYWORDS, constraint),)] if constraint is not None else [()]
    return [()]  # null, exists:false, not …: nothing a matching event must contain


def requirements(node: Node) -> list[Alternative]:
    """Alternatives (OR) of constraints (AND) one of which every matching event satisfies.

    Conservative: NOT, null and exists:false add nothing; an OR too wide to expand keeps only what
    all its branches share. ``[()]`` means "no requirement" (the rule is a candidate for every event).
    """
    tag = node[0]
    if tag == "and":
        product: list[Alternative] = [()]
        for child in node[1]:
            options = requirements(child)
            if len(product) * len(options) > MAX_ALTERNATIVES:
                options = [_common(options)]
            product = [tuple(dict.fromkeys(a + b)) for a in product for b in options]
        return product
    if tag == "or":
        options = [alt for child in node[1] for alt in requirements(child)]
        if any(not alt for alt in options):
            return [()]
        return options if len(options) <= MAX_ALTERNATIVES else [_common(options)]
    return _leaf(node)


VETO_KINDS = {"contains": "sub", "start": "start", "end": "end"}
"""The string tests a veto may stand for, and the constraint each becomes (``vetoes``)."""


def vetoes(node: Node) -> tuple[tuple[str, tuple[str, tuple[str, ...]]], ...]:
    """(field, constraint) pairs any one of which, holding on its field's lower-cased value, proves the rule cannot
    match: the ``contains``, ``startswith`` and ``endswith`` tests of each ``not`` part of a top-level AND
    (``selection and not 1 of filter_*``), as ``("sub" | "start" | "end", literals)``.

    Why: the prefilter picks a rule when its selection's constraints hold, but on real events a rule's filters are
    what decide it: SigmaHQ's "Alternate PowerShell Hosts" selects every PowerShell module event (ContextInfo
    present) and its filters drop 837 of the 890 it met in the OTRF sample, each after ~9 µs of predicate (lower-
    casing ~1 KB of ContextInfo); "Signed DLL Loaded With Missing PE Version Metadata" met 1,434 image loads, all
    from ``C:\\Windows\\System32\\``, which its filter drops. The prefilter answers each such constraint exactly on
    the field's lower-cased value, once per distinct value (``engine._FieldScan``): a literal found is that
    ``contains`` test true, a ``startswith``/``endswith`` is tested as such; so the filter holds and the AND is false.
    An ``eq`` test, an OR's other parts and an AND inside a filter are passed over (fewer vetoes, never a wrong one),
    and so are keywords (their texts are searched per batch, not per field)."""
    if node[0] == "not":
        parts: tuple[Node, ...] = (node,)
    elif node[0] == "and":
        parts = node[1]
    else:
        return ()
    found: list[tuple[str, tuple[str, tuple[str, ...]]]] = []
    for part in parts:
        if part[0] != "not":
            continue
        inner = part[1]
        for branch in inner[1] if inner[0] == "or" else (inner,):
            if branch[0] != "s" or branch[1] == KEYWORDS:
                continue
            for test in branch[2]:
                literals = tuple(dict.fromkeys(literal for literal in test[1] if literal)) if test[0] in VETO_KINDS \
                    else ()
                if literals:
                    found.append((branch[1], (VETO_KINDS[test[0]], literals)))
    return tuple(found)


def _common(options: list[Alternative]) -> Alternative:
    """One alternative implied by all of ``options``: fields every option constrains, constraints OR-ed."""
    per_option = [dict(_merge_same_field(alt)) for alt in options]
    common = set(per_option[0]).intersection(*per_option[1:]) if per_option else set()
    return tuple((f, _or_constraints([o[f] for o in per_option])) for f in sorted(common))


def _merge_same_field(alt: Alternative) -> list[tuple[str, Constraint]]:
    best: dict[str, Constraint] = {}
    for field, constraint in alt:
        if field not in best or (best[field] is None and constraint is not None):
            best[field] = constraint
    return list(best.items())


def _or_constraints(constraints: list[Constraint]) -> Constraint:
    if any(c is None for c in constraints):
        return None
    if all(c[0] == "eq" for c in constraints):  # type: ignore[index]
        return ("eq", tuple(dict.fromkeys(v for c in constraints for v in c[1])))  # type: ignore[index]
    literals: list[str] = []
    for kind, values in constraints:  # type: ignore[misc]
        if kind == "eq" and any(len(v) < MIN_LITERAL for v in values):
            return None
        literals.extend(values)
    return ("sub", tuple(dict.fromkeys(literals)))
