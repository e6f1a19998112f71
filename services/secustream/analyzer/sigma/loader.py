"""Load Sigma rules (SigmaHQ YAML, unchanged) with pySigma's parser and validators, compile them once.

Why skip-and-report instead of failing the whole load: a third-party rule pack always contains a
few rules for log sources or constructs we cannot evaluate. Each such rule is left out with a
``LoadIssue`` naming the file, the rule and the reason (logged by the analyzer, printed by
``secustream rules test``), so nothing is ignored silently and the rest keep working.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import ValueListPlaceholderTransformation
from sigma.rule import SigmaRule
from sigma.validation import SigmaValidator
from sigma.validators.core import validators as core_validators

from secustream.analyzer.filewatch import files_fingerprint
from secustream.analyzer.sigma.fields import KNOWN_CATEGORIES, KNOWN_PRODUCTS, KNOWN_SERVICES, Resolver
from secustream.analyzer.sigma.filters import RuleFilter
from secustream.analyzer.sigma.mapping import DEFAULT_LEVEL, LEVELS, mitre_ids, threat_type
from secustream.analyzer.sigma.matcher import Compiler, Predicate
from secustream.analyzer.sigma.plan import Alternative, Node, UnsupportedSigma, build_plan, requirements
from secustream.verdict import RiskLevel

# Validators that download MITRE data at run time (analyzers have no internet); tags are checked here instead.
_OFFLINE_EXCLUDED = frozenset({"attacktag", "d3_fendtag"})
# Validator findings that change what a rule matches: such a rule is rejected, the rest are warnings.
_REJECTING_ISSUES = frozenset({
    "DanglingDetectionIssue", "DanglingConditionIssue", "AllWithoutContainsModifierIssue",
    "Base64OffsetWithoutContainsModifierIssue", "WindowsDashCombinedWithAllModifierIssue",
})
_SKIPPED_STATUS = frozenset({"deprecated", "unsupported"})
RULE_SUFFIXES = (".yml", ".yaml")
MAX_RULE_FILE = 2 * 1024 * 1024
"""Bytes a rule file may hold: ~7x SigmaHQ's largest (``driver_load_win_vuln_drivers.yml``, 295 KB). A larger
file is reported, not read: a 300 MB "rule" (300 KB as a zip) held an install for minutes and 1.3 GB."""


@dataclass(frozen=True)
class LoadIssue:
    origin: str
    rule: str
    level: Literal["error", "warning"]
    reason: str

    def __str__(self) -> str:
        return f"{self.level}: {self.origin}: {self.rule}: {self.reason}"


@dataclass(frozen=True)
class RuleInfo:
    """What a pack says about a rule beyond its logic: attribution (the DRL asks for it), what an analyst triages
    with (description, known false positives) and filter keys."""

    author: str = ""
    references: tuple[str, ...] = ()
    description: str = ""
    falsepositives: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    status: str = ""  # stable | test | experimental | "" (not given)
    level: str = ""  # informational | low | medium | high | critical
    logsource: tuple[tuple[str, str], ...] = ()  # (product|category|service, value) as the rule names them


@dataclass(frozen=True, eq=False)
class DetectionRule:
    rule_id: str  # "sigma:<name|id|title-slug>", what verdicts list in rule_ids
    title: str
    origin: str
    logsource: frozenset[str]  # required product:/category:/service: tokens
    plan: Node  # the compiled condition as data (plan.py); cached on disk
    requirement: tuple[Alternative, ...]  # what a matching event must contain (the prefilter's input)
    severity: RiskLevel
    confidence: float
    threat_type: str
    mitre: tuple[str, ...]
    emits: bool = True  # False when only correlations with `generate: false` use it
    refs: tuple[str, ...] = ()  # id and name, how correlations refer to it
    review: bool = False  # tagged secustream.review: ask for an LLM review of every hit
    info: RuleInfo = RuleInfo()
    predicate: Predicate | None = None  # compiled from ``plan`` when a rule set is built
    recommended_actions: ClassVar[tuple[str, ...]] = ()  # Sigma names no response actions (analyzer/hits.py HitSource)


@dataclass(frozen=True, eq=False)
class Correlation:
    rule_id: str
    title: str
    origin: str
    kind: Literal["event_count", "value_count", "temporal"]
    members: tuple[int, ...]  # indices into SigmaRuleSet.rules
    group_by: tuple[tuple[str, ...], ...]  # per member: the fields (aliases resolved) grouped by
    seconds: float
    op: str  # gte | gt | eq
    count: int
    value_field: str | None
    severity: RiskLevel
    confidence: float
    threat_type: str
    mitre: tuple[str, ...]
    review: bool = False
    info: RuleInfo = RuleInfo()
    recommended_actions: ClassVar[tuple[str, ...]] = ()  # Sigma names no response actions (analyzer/hits.py HitSource)


@dataclass(frozen=True)
class CompiledPack:
    """Everything a load produces that does not depend on filters, as plain data: the disk cache's unit."""

    rules: tuple[DetectionRule, ...]  # predicates not compiled yet (None)
    correlations: tuple[Correlation, ...]
    issues: tuple[LoadIssue, ...]
    fingerprint: str
    sources: tuple[str, ...] = ()
    filtered_out: int = 0  # rules and correlations a filter left out (``filter_pack``)


@dataclass(frozen=True)
class SigmaRuleSet:
    rules: tuple[DetectionRule, ...]
    correlations: tuple[Correlation, ...]
    issues: tuple[LoadIssue, ...]
    resolvers: Mapping[str, Resolver]
    fingerprint: str
    sources: tuple[str, ...] = ()
    filtered_out: int = 0  # rules of the pack the filters left out

    @property
    def errors(self) -> tuple[LoadIssue, ...]:
        return tuple(i for i in self.issues if i.level == "error")

    @classmethod
    def empty(cls) -> SigmaRuleSet:
        return cls((), (), (), MappingProxyType({}), "empty")

    @classmethod
    def from_yaml_text(cls, text: str, origin: str = "<text>") -> SigmaRuleSet:
        return build_ruleset([(origin, text)])

    @classmethod
    def load(cls, path: Path | str, keep: RuleFilter | None = None) -> SigmaRuleSet:
        """Every ``*.yml``/``*.yaml`` under ``path`` (recursive, sorted; ``examples/`` folders skipped)."""
        files = read_documents(path)
        return assemble(compile_documents(files.documents, files.unreadable), keep)


@dataclass(frozen=True)
class RuleDocuments:
    """A rules directory as read: each rule file's text, and each file that could not be read with the reason
    (too large, not UTF-8, an I/O error), which the load reports as an issue instead of failing on it."""

    documents: list[tuple[str, str]]  # (origin, text)
    unreadable: list[tuple[str, str]]  # (origin, reason)


def read_documents(path: Path | str) -> RuleDocuments:
    """The rule files under ``path`` (``rule_files``), each read whole only up to ``MAX_RULE_FILE``."""
    documents: list[tuple[str, str]] = []
    unreadable: list[tuple[str, str]] = []
    for file in rule_files(path):
        try:
            with file.open("rb") as fh:
                data = fh.read(MAX_RULE_FILE + 1)  # never more: the file may be huge, or grow while read
            if len(data) > MAX_RULE_FILE:
                unreadable.append((str(file), f"larger than {MAX_RULE_FILE:,} bytes, the most a rule file may hold"))
                continue
            documents.append((str(file), data.decode("utf-8")))
        except UnicodeDecodeError as exc:
            unreadable.append((str(file), f"not UTF-8 text ({exc.reason} at byte {exc.start:,})"))
        except OSError as exc:
            unreadable.append((str(file), f"cannot be read: {exc.strerror or exc}"))
    return RuleDocuments(documents, unreadable)


def rule_files(path: Path | str) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file()
                  and "examples" not in p.relative_to(path).parts[:-1])


def path_fingerprint(path: Path | str) -> str:
    """Cheap change detector for hot reload: names, sizes and mtimes of the rule files."""
    return files_fingerprint(rule_files(path))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "rule"


def _rule_id(rule: SigmaRule | SigmaCorrelationRule) -> str:
    return "sigma:" + (rule.name or (str(rule.id) if rule.id else _slug(rule.title or "")))


REVIEW_TAG = "secustream.review"  # a rule's request for an LLM review of its hits


def _tags(rule: SigmaRule | SigmaCorrelationRule) -> list[str]:
    return [f"{t.namespace}.{t.name}" for t in rule.tags or ()]


def _level(rule: SigmaRule | SigmaCorrelationRule) -> tuple[RiskLevel, float, str | None]:
    name = str(rule.level.name).lower() if rule.level else None
    if name in LEVELS:
        return (*LEVELS[name], None)
    return (*LEVELS[DEFAULT_LEVEL], f"no level given; treated as {DEFAULT_LEVEL}")


@dataclass
class _Build:
    issues: list[LoadIssue] = field(default_factory=list)
    rules: list[DetectionRule] = field(default_factory=list)
    by_ref: dict[str, int] = field(default_factory=dict)
    seen_ids: dict[str, str] = field(default_factory=dict)

    def issue(self, origin: str, rule: Any, level: Literal["error", "warning"], reason: str) -> None:
        name = rule if isinstance(rule, str) else (getattr(rule, "title", None) or str(rule))
        self.issues.append(LoadIssue(origin, name, level, reason))


def _parse(documents: Iterable[tuple[str, str]], build: _Build) -> list[tuple[str, SigmaRule | SigmaCorrelationRule]]:
    parsed: list[tuple[str, SigmaRule | SigmaCorrelationRule]] = []
    for origin, text in documents:
        try:
            collection = SigmaCollection.from_yaml(text, collect_errors=True, resolve_references=False)
        except (yaml.YAMLError, SigmaError) as exc:
            build.issue(origin, "(file)", "error", f"not loadable Sigma YAML: {str(exc).splitlines()[0]}")
            continue
        except Exception as exc:  # pySigma fails on YAML that is no mapping (a text, a list): report it, load the rest
            first = (str(exc).splitlines() or [""])[0]
            build.issue(origin, "(file)", "error", f"not a Sigma rule: pySigma failed on it ({type(exc).__name__}: "
                        f"{first[:200]})")
            continue
        if not collection.rules and not collection.errors:
            build.issue(origin, "(file)", "error", "holds no Sigma rule (empty)")
            continue
        per_rule = {id(e) for rule in collection.rules for e in rule.errors}
        for error in collection.errors:
            if id(error) not in per_rule:  # rule errors are reported once, with the rule below
                build.issue(origin, "(file)", "error", f"parse error: {error}")
        for rule in collection.rules:
            if rule.errors:
                build.issue(origin, rule, "error", "; ".join(str(e) for e in rule.errors))
                continue
            parsed.append((origin, rule))
    return parsed


def _validate(parsed: list[tuple[str, SigmaRule | SigmaCorrelationRule]], build: _Build) -> set[int]:
    """pySigma's core validators; returns ids of rules rejected because of a logic-changing finding."""
    classes = {cls for name, cls in core_validators.items() if name not in _OFFLINE_EXCLUDED}
    validator = SigmaValidator(classes)
    rejected: set[int] = set()
    for origin, rule in parsed:
        if not isinstance(rule, SigmaRule):
            continue
        try:
            found = validator.validate_rule(rule)
        except Exception as exc:  # a validator bug must not take the analyzer down
            build.issue(origin, rule, "warning", f"validator failed: {exc}")
            continue
        for item in found:
            kind = type(item).__name__
            if kind in _REJECTING_ISSUES:
                rejected.add(id(rule))
                build.issue(origin, rule, "error", f"validator {kind}: {item.description}")
            else:
                build.issue(origin, rule, "warning", f"validator {kind}: {item.description}")
    return rejected


def _logsource(rule: SigmaRule, origin: str, build: _Build) -> frozenset[str]:
    ls = rule.logsource
    tokens = {f"{part}:{str(value).lower()}" for part, value in
              (("product", ls.product), ("category", ls.category), ("service", ls.service)) if value}
    unknown = [t for t in tokens if (t.startswith("product:") and t[8:] not in KNOWN_PRODUCTS)
               or (t.startswith("category:") and t[9:] not in KNOWN_CATEGORIES)
               or (t.startswith("service:") and t[8:] not in KNOWN_SERVICES)]
    if unknown:
        build.issue(origin, rule, "warning", f"logsource {', '.join(sorted(unknown))} is not produced by any "
                    "normaliser or the generator; loaded, but it cannot fire until such events arrive")
    return frozenset(tokens)


def _info(rule: SigmaRule | SigmaCorrelationRule, tags: list[str]) -> RuleInfo:
    ls = getattr(rule, "logsource", None)
    logsource = tuple((part, str(value).lower()) for part, value in (
        ("product", getattr(ls, "product", None)), ("category", getattr(ls, "category", None)),
        ("service", getattr(ls, "service", None))) if value)
    return RuleInfo(author=str(rule.author or ""), references=tuple(str(r) for r in rule.references or ()),
                    description=str(rule.description or "").strip(),
                    falsepositives=tuple(str(f) for f in rule.falsepositives or () if f),
                    tags=tuple(tags), status=str(rule.status.name).lower() if rule.status else "",
                    level=str(rule.level.name).lower() if rule.level else "", logsource=logsource)


def _compile_rule(origin: str, rule: SigmaRule, build: _Build) -> None:
    if rule.status and str(rule.status.name).lower() in _SKIPPED_STATUS:
        build.issue(origin, rule, "warning", f"status {str(rule.status.name).lower()}: not loaded")
        return
    rule_id = _rule_id(rule)
    if rule_id in build.seen_ids:
        build.issue(origin, rule, "error", f"duplicate rule id {rule_id} (also in {build.seen_ids[rule_id]})")
        return
    try:
        trees = [c.parse() for c in rule.detection.parsed_condition]
        plans = [build_plan(t) for t in trees if t is not None]
        Compiler().compile(("or", tuple(plans)))  # proves every regex and value test compiles
    except UnsupportedSigma as exc:
        build.issue(origin, rule, "error", f"unsupported: {exc}")
        return
    except SigmaError as exc:
        build.issue(origin, rule, "error", f"condition error: {exc}")
        return
    if not plans:
        build.issue(origin, rule, "error", "empty condition")
        return
    plan = plans[0] if len(plans) == 1 else ("or", tuple(plans))  # a list of conditions is OR-ed (Sigma 1.0)
    severity, confidence, note = _level(rule)
    if note:
        build.issue(origin, rule, "warning", note)
    tags = _tags(rule)
    bad_tags = [t for t in tags if t.startswith("attack.t") and not mitre_ids([t])]
    if bad_tags:
        build.issue(origin, rule, "warning", f"ATT&CK tags not in attack.tNNNN[.NNN] form ignored: {bad_tags}")
    build.seen_ids[rule_id] = origin
    index = len(build.rules)
    refs = tuple(r for r in (str(rule.id) if rule.id else None, rule.name) if r)
    for ref in refs:
        build.by_ref[ref] = index
    build.rules.append(DetectionRule(
        rule_id=rule_id, title=rule.title, origin=origin, logsource=_logsource(rule, origin, build),
        plan=plan, requirement=tuple(requirements(plan)), severity=severity, confidence=confidence,
        threat_type=threat_type(tags).value, mitre=mitre_ids(tags), refs=refs, info=_info(rule, tags),
        review=REVIEW_TAG in tags,
    ))


_OPS = {SigmaCorrelationConditionOperator.GTE: "gte", SigmaCorrelationConditionOperator.GT: "gt",
        SigmaCorrelationConditionOperator.EQ: "eq"}


def _compile_correlation(origin: str, corr: SigmaCorrelationRule, build: _Build,
                         generate: dict[int, bool]) -> Correlation | None:
    def fail(reason: str) -> None:
        build.issue(origin, corr, "error", f"unsupported correlation: {reason}")

    kind = corr.type
    if kind not in (SigmaCorrelationType.EVENT_COUNT, SigmaCorrelationType.VALUE_COUNT, SigmaCorrelationType.TEMPORAL):
        return fail(f"type {kind} (supported: event_count, value_count, temporal)")
    condition = corr.condition
    op, count, value_field = "gte", 0, None
    if kind is SigmaCorrelationType.TEMPORAL:
        if condition is not None and not isinstance(condition, SigmaCorrelationCondition):
            return fail("extended temporal conditions (and/or/not over rules) are not supported")
    else:
        if not isinstance(condition, SigmaCorrelationCondition):
            return fail("missing condition")
        if condition.op not in _OPS:
            return fail(f"condition {condition.op.name.lower()} needs evaluation when a window closes; a streaming "
                        "window can only fire on gte/gt/eq")
        op, count = _OPS[condition.op], int(condition.count)
        if kind is SigmaCorrelationType.VALUE_COUNT:
            ref = condition.fieldref
            if isinstance(ref, list):
                if len(ref) != 1:
                    return fail("value_count over several fields")
                ref = ref[0]
            value_field = str(ref)
    members: list[int] = []
    for reference in corr.rules or ():
        index = build.by_ref.get(reference.reference)
        if index is None:
            target = getattr(reference, "rule", None)
            if isinstance(target, SigmaCorrelationRule):
                return fail(f"it refers to correlation {reference.reference}; correlations of correlations "
                            "are not supported")
            return fail(f"referenced rule {reference.reference} is not loaded (missing, or rejected above)")
        members.append(index)
    if not members:
        return fail("no rules referenced")
    aliases: dict[str, dict[int, str]] = {}
    for alias in corr.aliases:
        per_rule: dict[int, str] = {}
        for ref, fieldname in alias.mapping.items():
            idx = build.by_ref.get(ref.reference)
            if idx is not None:
                per_rule[idx] = fieldname
        aliases[alias.alias] = per_rule
    group_by: list[tuple[str, ...]] = []
    for index in members:
        group_by.append(tuple(aliases[g].get(index, g) if g in aliases else g for g in corr.group_by or ()))
    for index in members:
        generate[index] = generate.get(index, False) or bool(corr.generate)
    severity, confidence, note = _level(corr)
    if note:
        build.issue(origin, corr, "warning", note)
    own_tags = _tags(corr)
    inherited = tuple(dict.fromkeys(m for i in members for m in build.rules[i].mitre))
    return Correlation(
        rule_id=_rule_id(corr), title=corr.title, origin=origin, kind=str(kind).lower(),  # type: ignore[arg-type]
        members=tuple(members), group_by=tuple(group_by), seconds=float(corr.timespan.seconds), op=op,
        count=count if kind is not SigmaCorrelationType.TEMPORAL else len(set(members)), value_field=value_field,
        severity=severity, confidence=confidence,
        threat_type=threat_type(own_tags).value if own_tags else build.rules[members[0]].threat_type,
        mitre=mitre_ids(own_tags) or inherited, info=_info(corr, own_tags), review=REVIEW_TAG in own_tags,
    )


Placeholders = Mapping[str, Sequence[str]]
"""Values for Sigma placeholders by name (``%known_cdcs%`` of an ``|expand`` modifier), given with a pack."""


def placeholders_key(placeholders: Placeholders | None) -> str:
    """One canonical text of ``placeholders`` ("" for none): part of every fingerprint of what they change."""
    if not placeholders:
        return ""
    return "\0".join(f"{name}={chr(1).join(values)}" for name, values in sorted(placeholders.items()))


def _fill_placeholders(parsed: list[tuple[str, SigmaRule | SigmaCorrelationRule]], placeholders: Placeholders,
                       build: _Build) -> set[int]:
    """Each rule's placeholders that ``placeholders`` names, replaced by their values (pySigma's value-list
    transformation: an OR of the values, ``*`` a wildcard); returns ids of rules it failed on. Placeholders it does
    not name stay, and the plan reports them."""
    pipeline = ProcessingPipeline(
        items=[ProcessingItem(ValueListPlaceholderTransformation(include=sorted(placeholders)))],
        vars={name: list(values) for name, values in placeholders.items()})
    failed: set[int] = set()
    for origin, rule in parsed:
        if isinstance(rule, SigmaRule):
            try:
                pipeline.apply(rule)
            except Exception as exc:  # a pySigma failure on one rule must not fail the pack
                failed.add(id(rule))
                build.issue(origin, rule, "error", f"placeholder values not applied: {exc}")
    return failed


def compile_documents(documents: list[tuple[str, str]], unreadable: Sequence[tuple[str, str]] = (),
                      placeholders: Placeholders | None = None) -> CompiledPack:
    """Parse, validate and plan every rule; correlations after the rules they reference. Each ``unreadable``
    file (``read_documents``) is an issue; ``placeholders`` fill the rules' ``%name%`` placeholders."""
    build = _Build()
    digest = hashlib.sha256()
    for origin, text in documents:
        digest.update(origin.encode() + b"\0" + text.encode())
    for origin, reason in unreadable:
        digest.update(origin.encode() + b"\1" + reason.encode())
        build.issue(origin, "(file)", "error", f"not read: {reason}")
    if placeholders:
        digest.update(b"\2" + placeholders_key(placeholders).encode())
    parsed = _parse(documents, build)
    failed = _fill_placeholders(parsed, placeholders, build) if placeholders else set()
    rejected = _validate(parsed, build) | failed
    for origin, rule in parsed:
        if isinstance(rule, SigmaRule) and id(rule) not in rejected:
            _compile_rule(origin, rule, build)
    generate: dict[int, bool] = {}
    correlations: list[Correlation] = []
    for origin, rule in parsed:
        if isinstance(rule, SigmaCorrelationRule):
            compiled = _compile_correlation(origin, rule, build, generate)
            if compiled is not None:
                if compiled.rule_id in build.seen_ids:
                    build.issue(origin, rule, "error", f"duplicate rule id {compiled.rule_id}")
                    continue
                build.seen_ids[compiled.rule_id] = origin
                correlations.append(compiled)
    rules = tuple(replace(r, emits=generate[i]) if i in generate else r for i, r in enumerate(build.rules))
    return CompiledPack(rules, tuple(correlations), tuple(build.issues), digest.hexdigest()[:16],
                        tuple(o for o, _ in documents))


def filter_pack(pack: CompiledPack, keep: RuleFilter) -> CompiledPack:
    """The rules ``keep`` keeps. A correlation it keeps keeps its member rules too; members the filter
    left out only feed the correlation (they emit no hits of their own)."""
    kept_corr = tuple(c for c in pack.correlations if keep.keeps((c.rule_id,), c.info))
    needed = {m for c in kept_corr for m in c.members}
    own = [keep.keeps((r.rule_id, *r.refs), r.info) for r in pack.rules]
    chosen = [i for i in range(len(pack.rules)) if own[i] or i in needed]
    position = {old: new for new, old in enumerate(chosen)}
    rules = tuple(pack.rules[i] if own[i] else replace(pack.rules[i], emits=False) for i in chosen)
    correlations = tuple(replace(c, members=tuple(position[m] for m in c.members)) for c in kept_corr)
    return replace(pack, rules=rules, correlations=correlations,
                   filtered_out=pack.filtered_out + len(pack.rules) - len(chosen)
                   + len(pack.correlations) - len(kept_corr))


def assemble(pack: CompiledPack, keep: RuleFilter | None = None) -> SigmaRuleSet:
    """The runnable rule set: the filter applied, predicates and field resolvers compiled (fast: no pySigma)."""
    if keep is not None:
        pack = filter_pack(pack, keep)
    compiler = Compiler()
    rules = tuple(replace(r, predicate=compiler.compile(r.plan)) for r in pack.rules)
    for corr in pack.correlations:
        for name in (*(f for fields in corr.group_by for f in fields), corr.value_field):
            if name:
                compiler.field(name)
    return SigmaRuleSet(rules, pack.correlations, pack.issues, MappingProxyType(dict(compiler.resolvers)),
                        pack.fingerprint, pack.sources, pack.filtered_out)


def merge_packs(packs: Sequence[CompiledPack]) -> CompiledPack:
    """Several packs as one (correlation members re-indexed); a rule id seen in an earlier pack wins,
    the later one is reported."""
    rules: list[DetectionRule] = []
    correlations: list[Correlation] = []
    issues: list[LoadIssue] = []
    seen: dict[str, str] = {}
    for pack in packs:
        issues.extend(pack.issues)
        position: dict[int, int] = {}
        for i, rule in enumerate(pack.rules):
            if rule.rule_id in seen:
                issues.append(LoadIssue(rule.origin, rule.title, "error",
                                        f"duplicate rule id {rule.rule_id} (also in {seen[rule.rule_id]})"))
                continue
            seen[rule.rule_id] = rule.origin
            position[i] = len(rules)
            rules.append(rule)
        for corr in pack.correlations:
            if corr.rule_id in seen or any(m not in position for m in corr.members):
                issues.append(LoadIssue(corr.origin, corr.title, "error", f"duplicate rule id {corr.rule_id}"))
                continue
            seen[corr.rule_id] = corr.origin
            correlations.append(replace(corr, members=tuple(position[m] for m in corr.members)))
    if len(packs) == 1:
        return packs[0]
    digest = hashlib.sha256("|".join(p.fingerprint for p in packs).encode()).hexdigest()[:16]
    return CompiledPack(tuple(rules), tuple(correlations), tuple(issues), digest,
                        tuple(s for p in packs for s in p.sources), sum(p.filtered_out for p in packs))


def build_ruleset(documents: list[tuple[str, str]], keep: RuleFilter | None = None) -> SigmaRuleSet:
    return assemble(compile_documents(documents), keep)
