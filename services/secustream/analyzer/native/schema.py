"""Rule definitions parsed and validated up front, so a bad rule file fails at load with its id."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from secustream.analyzer.filewatch import files_fingerprint
from secustream.analyzer.regex import compile_pattern
from secustream.events import ThreatClass, get_field
from secustream.verdict import RiskLevel


class RuleError(ValueError):
    """A rule file or rule that cannot be loaded; the message names the file and rule id."""


Predicate = Callable[[Any], bool]

OPERATORS = (
    "equals", "not_equals", "in", "not_in", "contains", "contains_any", "startswith", "endswith",
    "not_contains", "not_startswith", "not_endswith", "regex", "gt", "gte", "lt", "lte", "cidr", "not_cidr", "exists",
)


def lowered(value: Any) -> Any:
    """A string lower-cased, anything else as it is: how conditions compare values."""
    return value.lower() if isinstance(value, str) else value


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _in_networks(value: Any, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    if value is None:
        return False
    try:
        addr = ipaddress.ip_address(str(value))
    except ValueError:
        return False
    return any(addr in net for net in networks)


def _number(op: str, bound: Any) -> Predicate:
    if not isinstance(bound, int | float) or isinstance(bound, bool):
        raise RuleError(f"operator {op!r} needs a number, got {bound!r}")
    compare = {
        "gt": lambda v: v > bound, "gte": lambda v: v >= bound,
        "lt": lambda v: v < bound, "lte": lambda v: v <= bound,
    }[op]
    return lambda v: isinstance(v, int | float) and not isinstance(v, bool) and compare(v)


def compile_operator(op: str, arg: Any) -> Predicate:
    """Turn ``{op: arg}`` into a predicate over the field's value (None when absent)."""
    if op == "equals":
        want = lowered(arg)
        return lambda v: v is not None and lowered(v) == want
    if op == "not_equals":
        want = lowered(arg)
        return lambda v: lowered(v) != want
    if op in ("in", "not_in"):
        options = {lowered(a) for a in _as_list(arg)}

        def member(v: Any) -> bool:
            try:
                return lowered(v) in options
            except TypeError:  # a list or a mapping (hostile input): it equals none of the options
                return False

        return member if op == "in" else (lambda v: not member(v))
    if op in ("contains", "contains_any", "startswith", "endswith"):
        needles = [str(a).lower() for a in _as_list(arg)]
        if op == "startswith":
            return lambda v: isinstance(v, str) and v.lower().startswith(tuple(needles))
        if op == "endswith":
            return lambda v: isinstance(v, str) and v.lower().endswith(tuple(needles))
        return lambda v: isinstance(v, str) and any(n in v.lower() for n in needles)
    if op in ("not_contains", "not_startswith", "not_endswith"):  # like not_equals: an absent field holds
        held = compile_operator(op.removeprefix("not_"), arg)
        return lambda v: not held(v)
    if op == "regex":
        try:
            search = compile_pattern(str(arg), re.IGNORECASE).search  # linear time on hostile text (analyzer/regex.py)
        except re.error as exc:
            raise RuleError(f"bad regex {arg!r}: {exc}") from None
        return lambda v: v is not None and search(str(v))
    if op in ("gt", "gte", "lt", "lte"):
        return _number(op, arg)
    if op in ("cidr", "not_cidr"):
        try:
            networks = [ipaddress.ip_network(str(a), strict=False) for a in _as_list(arg)]
        except ValueError as exc:
            raise RuleError(f"bad cidr {arg!r}: {exc}") from None
        if op == "cidr":
            return lambda v: _in_networks(v, networks)
        return lambda v: v is not None and not _in_networks(v, networks)
    if op == "exists":
        if not isinstance(arg, bool):
            raise RuleError(f"'exists' takes true or false, got {arg!r}")
        return (lambda v: v is not None) if arg else (lambda v: v is None)
    raise RuleError(f"unknown operator {op!r}; known: {', '.join(OPERATORS)}")


@dataclass(frozen=True, slots=True)
class Condition:
    path: tuple[str, ...]
    predicate: Predicate
    values: frozenset[Any] | None = None  # equals / in: the lower-cased values, one of which holds (``prefilter``)

    def holds(self, event: dict[str, Any]) -> bool:
        return self.predicate(value_at(event, self.path))


def value_at(event: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value a condition on ``path`` tests: None where a part is missing or not a mapping."""
    node: Any = event
    for part in path:
        node = node.get(part) if node.__class__ is dict else None
        if node is None:
            break
    return node


_SCALARS = (str, int, float)  # bool is an int


def equality_values(op: str, arg: Any) -> frozenset[Any] | None:
    """The lower-cased values an ``equals`` / ``in`` condition holds for, where a lookup by the event's value
    answers it exactly: scalars only, no null (``equals`` never holds for an absent field; ``in: [null]`` does)."""
    if op not in ("equals", "in"):
        return None
    items = _as_list(arg) if op == "in" else [arg]
    if not items or not all(isinstance(item, _SCALARS) for item in items):
        return None
    return frozenset(lowered(item) for item in items)


def compile_block(block: dict[str, Any]) -> tuple[Condition, ...]:
    conditions = []
    for path, spec in block.items():
        if isinstance(spec, dict):
            if not spec:
                raise RuleError(f"field {path!r}: empty operator mapping")
            conditions.extend(Condition(tuple(path.split(".")), compile_operator(op, arg), equality_values(op, arg))
                              for op, arg in spec.items())
        elif isinstance(spec, list):
            conditions.append(Condition(tuple(path.split(".")), compile_operator("in", spec),
                                        equality_values("in", spec)))
        else:
            conditions.append(Condition(tuple(path.split(".")), compile_operator("equals", spec),
                                        equality_values("equals", spec)))
    return tuple(conditions)


def group_alternatives(entry: str) -> tuple[str, ...]:
    """``source.ip|source.host`` → ``("source.ip", "source.host")``: the group value is the first present."""
    return tuple(part.strip() for part in entry.split("|"))


def group_value(event: dict[str, Any], alternatives: tuple[str, ...]) -> tuple[str, Any]:
    """(the path that had a value, the value) for one ``group_by`` entry; (first path, None) when none has."""
    for path in alternatives:
        value = get_field(event, path)
        if value is not None:
            return path, value
    return alternatives[0], None


class ThresholdSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(ge=2)
    window_seconds: float = Field(gt=0, le=7 * 86400)
    group_by: list[str] = Field(min_length=1)
    distinct: str | None = None

    @field_validator("group_by")
    @classmethod
    def _group_paths(cls, entries: list[str]) -> list[str]:
        """Each entry is a dotted path, or alternatives ``a|b`` (the first one present groups the event)."""
        out = []
        for entry in entries:
            parts = group_alternatives(entry)
            if not all(parts):
                raise ValueError(f"group_by entry {entry!r} has an empty field path")
            out.append("|".join(parts))
        return out


class RuleSpec(BaseModel):
    """The YAML shape of one rule (documented in docs/events.md)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")
    description: str
    severity: RiskLevel
    threat_type: ThreatClass
    mitre: list[str] = Field(default_factory=list)
    confidence: float = Field(default=0.9, ge=0, le=1)
    enabled: bool = True
    match: dict[str, Any] = Field(default_factory=dict)
    any: list[dict[str, Any]] = Field(default_factory=list)
    threshold: ThresholdSpec | None = None
    recommended_actions: list[str] = Field(default_factory=list)
    review: bool = False  # ask for an LLM review of every hit (the router decides if it gets one)
    kind: Literal["native"] = "native"

    @field_validator("mitre")
    @classmethod
    def _mitre_ids(cls, ids: list[str]) -> list[str]:
        for mitre_id in ids:
            if not re.fullmatch(r"T\d{4}(\.\d{3})?", mitre_id):
                raise ValueError(f"{mitre_id!r} is not a MITRE ATT&CK technique id like T1110 or T1110.001")
        return ids


@dataclass(frozen=True)
class Rule:
    spec: RuleSpec
    match: tuple[Condition, ...]
    any_of: tuple[tuple[Condition, ...], ...] = field(default=())
    group_by: tuple[tuple[str, ...], ...] = field(init=False)  # threshold.group_by, alternatives split

    def __post_init__(self) -> None:
        threshold = self.spec.threshold
        groups = tuple(group_alternatives(g) for g in threshold.group_by) if threshold else ()
        object.__setattr__(self, "group_by", groups)

    @property
    def id(self) -> str:
        return self.spec.id

    rule_id = id  # what a hit tells about its rule (analyzer/hits.py HitSource), from here on

    @property
    def severity(self) -> RiskLevel:
        return self.spec.severity

    @property
    def threat_type(self) -> str:
        return self.spec.threat_type.value

    @property
    def mitre(self) -> tuple[str, ...]:
        return tuple(self.spec.mitre)

    @property
    def confidence(self) -> float:
        return self.spec.confidence

    @property
    def recommended_actions(self) -> tuple[str, ...]:
        return tuple(self.spec.recommended_actions)

    @property
    def review(self) -> bool:
        return self.spec.review

    def matches(self, event: dict[str, Any]) -> bool:
        # Plain loops, not all()/any() over generators: this runs per event x candidate rule.
        for condition in self.match:
            if not condition.holds(event):
                return False
        if not self.any_of:
            return True
        for block in self.any_of:
            for condition in block:
                if not condition.holds(event):
                    break
            else:
                return True
        return False


def compile_rule(raw: Any, origin: str) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError(f"{origin}: each rule must be a mapping, got {type(raw).__name__}")
    rule_id = raw.get("id", "?")
    try:
        spec = RuleSpec.model_validate(raw)
        if not spec.match and not spec.any:
            raise RuleError("needs 'match' or 'any' conditions")
        return Rule(spec, compile_block(spec.match), tuple(compile_block(b) for b in spec.any))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise RuleError(f"{origin}: rule {rule_id}: {where}: {err['msg']}") from None
    except RuleError as exc:
        raise RuleError(f"{origin}: rule {rule_id}: {exc}") from None


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    fingerprint: str
    sources: tuple[str, ...] = ()

    @classmethod
    def from_yaml_text(cls, text: str, origin: str = "<text>") -> RuleSet:
        return cls._build([(origin, text)])

    @classmethod
    def load(cls, path: Path | str) -> RuleSet:
        """Load a YAML file or every *.yaml/*.yml in a directory (sorted, non-recursive)."""
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        elif path.is_file():
            files = [path]
        else:
            raise RuleError(f"rules path {path} does not exist")
        return cls._build([(str(p), p.read_text()) for p in files])

    @classmethod
    def _build(cls, documents: list[tuple[str, str]]) -> RuleSet:
        rules: list[Rule] = []
        seen: dict[str, str] = {}
        digest = hashlib.sha256()
        for origin, text in documents:
            digest.update(origin.encode() + b"\0" + text.encode())
            try:
                data = yaml.safe_load(text) or {}
            except yaml.YAMLError as exc:
                raise RuleError(f"{origin}: invalid YAML: {exc}") from None
            items = data.get("rules", []) if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise RuleError(f"{origin}: expected a top-level 'rules:' list")
            for raw in items:
                rule = compile_rule(raw, origin)
                if rule.id in seen:
                    raise RuleError(f"{origin}: duplicate rule id {rule.id} (also in {seen[rule.id]})")
                seen[rule.id] = origin
                if rule.spec.enabled:
                    rules.append(rule)
        return cls(tuple(rules), digest.hexdigest()[:16], tuple(o for o, _ in documents))


def path_fingerprint(path: Path | str) -> str:
    """Cheap change detector for hot reload: names, sizes and mtimes of the rule files."""
    path = Path(path)
    return files_fingerprint(sorted(path.glob("*.y*ml")) if path.is_dir() else [path])
