"""Build events that should satisfy a Sigma rule's plan (a "witness"), to prove every loaded rule can match.

Best effort by design: for each plan node it proposes a few field assignments (``and`` merges them,
``or`` offers each branch, ``not`` leaves the fields out, regexes get a sample string from their
parsed pattern). The caller checks each proposal with the rule's real predicate; the engine must then
pick the rule through its prefilter for every proposal the predicate accepts.
"""

from __future__ import annotations

import ipaddress
from typing import Any

try:  # Python 3.11+: the parser lives in re._parser
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_parse  # type: ignore[no-redef]

from secustream.analyzer.sigma.plan import KEYWORDS, Node, plan_fields

MAX = 12
Assignment = dict[str, Any]


def witnesses(node: Node) -> list[Assignment]:
    tag = node[0]
    if tag == "and":
        current: list[Assignment] = [{}]
        for child in node[1]:
            options = witnesses(child) or [{}]
            current = [_merge(a, b) for a in current for b in options][:MAX]
        return current
    if tag == "or":
        return [w for child in node[1] for w in witnesses(child)][:MAX]
    if tag in ("not", "null", "true"):
        return [{}]
    if tag == "exists":
        return [{node[1]: "present"}] if node[2] else [{}]
    if tag == "ref":
        field, other, mode = node[1], node[2], node[3]
        return [{field: {"eq": "same", "start": "sameXYZ", "end": "XYZsame"}[mode], other: "same"}]
    if tag == "s":
        return [{node[1]: v} for test in node[2] for v in _string_samples(test)][:MAX]
    if tag == "v":
        return [{node[1]: v} for test in node[2] for v in _value_samples(test)][:MAX]
    if tag == "kw":
        return [{KEYWORDS: v} for test in node[1] for v in _value_samples(test)][:MAX]
    return []


def _merge(a: Assignment, b: Assignment) -> Assignment:
    out = dict(a)
    for field, value in b.items():
        if field in out and out[field] != value and isinstance(value, str) and isinstance(out[field], str):
            out[field] = f"{out[field]} {value}"  # contains|all and start+end pairs survive a concatenation
        else:
            out[field] = value
    return out


def _string_samples(test: tuple[Any, ...]) -> list[str]:
    kind = test[0]
    if kind == "glob":
        return [_regex_sample(test[1]) or "x"]
    values = list(test[1])[:3]
    return {"eq": values, "contains": [f"x{v}x" for v in values], "start": [f"{v}x" for v in values],
            "end": [f"x{v}" for v in values]}[kind]


def _value_samples(test: tuple[Any, ...]) -> list[Any]:
    kind = test[0]
    if kind == "str":
        return _string_samples(test[2])
    if kind == "num":
        number = test[1]
        return [int(number) if float(number).is_integer() else number]
    if kind == "bool":
        return [test[1]]
    if kind == "re":
        sample = _regex_sample(test[1])
        return [sample] if sample is not None else []
    if kind == "cidr":
        network = ipaddress.ip_network(test[1], strict=False)
        return [str(network.network_address + (1 if network.num_addresses > 1 else 0))]
    if kind == "cmp":
        op, bound = test[1], test[2]
        return [{"lt": bound - 1, "lte": bound, "gt": bound + 1, "gte": bound, "neq": bound + 1}[op]]
    return []


def _regex_sample(pattern: str) -> str | None:
    try:
        return _sample(sre_parse.parse(pattern))
    except Exception:
        return None


_CATEGORY = {"CATEGORY_DIGIT": "1", "CATEGORY_SPACE": " ", "CATEGORY_WORD": "a", "CATEGORY_NOT_DIGIT": "a",
             "CATEGORY_NOT_SPACE": "a", "CATEGORY_NOT_WORD": "-"}


def _sample(parsed: Any) -> str:
    out = []
    for op, arg in parsed:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if chr(arg) != "a" else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_in_sample(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _high, inner = arg
            out.append(_sample(inner) * low)
        elif name == "SUBPATTERN":
            out.append(_sample(arg[-1]))
        elif name == "BRANCH":
            out.append(_sample(arg[1][0]))
        elif name in ("AT", "ASSERT", "ASSERT_NOT", "GROUPREF"):
            continue
        else:
            raise ValueError(name)
    return "".join(out)


def _in_sample(items: Any) -> str:
    for op, arg in items:
        name = str(op)
        if name == "NEGATE":
            return "a" if all(not (str(o) == "LITERAL" and a == ord("a")) for o, a in items) else "b"
        if name == "LITERAL":
            return chr(arg)
        if name == "RANGE":
            return chr(arg[0])
        if name == "CATEGORY":
            return _CATEGORY.get(str(arg), "a")
    return "a"


def variants(node: Node) -> list[Assignment]:
    """Each witness as is, and with every other field the plan reads set to a neutral value (a filter
    like ``CommandLine: null`` under NOT needs the field present)."""
    fields = plan_fields(node)
    out = []
    for assignment in witnesses(node):
        out.append(assignment)
        out.append({**{f: "zz-neutral" for f in fields}, **assignment})
    return out


def as_doc(assignment: Assignment) -> dict[str, Any]:
    """The event document a witness stands for: fields under ``unmapped`` (resolvers look there first)."""
    unmapped = {k: v for k, v in assignment.items() if k != KEYWORDS}
    doc: dict[str, Any] = {"unmapped": unmapped}
    if KEYWORDS in assignment:
        doc["message"] = str(assignment[KEYWORDS])
    return doc

