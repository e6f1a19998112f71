"""Rule regression examples: events that must fire a rule and events that must not (``secustream rules test``).

Why beside the rules: detection content rots silently (a normaliser renames a field, a rule edit
narrows a selection). Each ``examples/*.yml`` file under a rules directory names a rule and lists
``fires`` and ``quiet`` cases; a case is one item or a ``sequence`` of items evaluated in order on a
fresh in-memory state (so correlations can be exercised). An item is one of:

- ``line: <text>``: a raw log line, normalised with the file's (or the item's) ``format``;
- ``doc: {...}``: a JSON document (Windows event, ECS …), serialised and normalised with ``format``;
- ``event: {...}``: an event already in our schema; ``repeat: N`` (with ``every: seconds``,
  default 1, and ``vary: [field …]`` to suffix values with the copy number) makes N copies.

A ``fires`` case passes when the rule hits on any of its events; a ``quiet`` case when it hits on none.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from secustream.analyzer.sigma.engine import SigmaEngine
from secustream.analyzer.sigma.loader import SigmaRuleSet
from secustream.events import SecurityEvent
from secustream.normalizers import NORMALIZERS, NormalizationError
from secustream.state import MemoryState


@dataclass
class ExampleResult:
    origin: str
    rule: str
    kind: str  # fires | quiet
    index: int
    ok: bool
    detail: str = ""


@dataclass
class ExampleReport:
    results: list[ExampleResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # unreadable example files, unknown rules, load errors
    untested: list[str] = field(default_factory=list)  # loaded rules without any fires example

    @property
    def failed(self) -> list[ExampleResult]:
        return [r for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.problems

    def summary(self) -> str:
        lines = [f"{'ok  ' if r.ok else 'FAIL'} {r.rule} {r.kind}[{r.index}]" + (f": {r.detail}" if r.detail else "")
                 for r in self.results]
        lines += [f"ERROR {p}" for p in self.problems]
        lines += [f"note: no fires example for {u}" for u in self.untested]
        passed = sum(r.ok for r in self.results)
        lines.append(f"{passed}/{len(self.results)} examples passed, {len(self.problems)} problems, "
                     f"{len(self.untested)} rules without a positive example")
        return "\n".join(lines)


def _events(items: list[Any], fmt: str | None) -> list[SecurityEvent]:
    out: list[SecurityEvent] = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError(f"an example item must be a mapping, got {item!r}")
        item_fmt = item.get("format", fmt)
        if "line" in item or "doc" in item:
            if item_fmt not in NORMALIZERS:
                raise ValueError(f"item needs a known 'format' (one of {', '.join(sorted(NORMALIZERS))})")
            text = item["line"] if "line" in item else json.dumps(item["doc"])
            out.append(NORMALIZERS[item_fmt](text))
        elif "event" in item:
            base = SecurityEvent.model_validate(item["event"])
            repeat, every = int(item.get("repeat", 1)), float(item.get("every", 1))
            vary = list(item.get("vary", []))
            for n in range(repeat):
                data = base.model_dump(mode="json")
                data["event_id"] = str(uuid.uuid4())
                data["timestamp"] = (base.timestamp + timedelta(seconds=n * every)).isoformat()
                for path in vary:
                    node = data
                    *parents, leaf = path.split(".")
                    for p in parents:
                        node = node.setdefault(p, {})
                    node[leaf] = f"{node.get(leaf, '')}{n}"
                out.append(SecurityEvent.model_validate(data))
        else:
            raise ValueError("an example item needs 'line', 'doc' or 'event'")
    return out


def _case_events(case: Any, fmt: str | None) -> list[SecurityEvent]:
    if isinstance(case, dict) and "sequence" in case:
        return _events(list(case["sequence"]), case.get("format", fmt))
    return _events([case], fmt)


def run_examples(rules_dir: Path | str, ruleset: SigmaRuleSet | None = None) -> ExampleReport:
    """Run every example under ``rules_dir/**/examples/*.y*ml`` against the rules loaded from ``rules_dir``."""
    rules_dir = Path(rules_dir)
    report = ExampleReport()
    ruleset = ruleset or SigmaRuleSet.load(rules_dir)
    report.problems.extend(str(i) for i in ruleset.errors)
    known = {r.rule_id for r in ruleset.rules} | {c.rule_id for c in ruleset.correlations}
    emitting = {r.rule_id for r in ruleset.rules if r.emits} | {c.rule_id for c in ruleset.correlations}
    tested: set[str] = set()
    files = sorted(p for p in rules_dir.rglob("*") if p.suffix in (".yml", ".yaml") and "examples" in p.parts)
    for path in files:
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        except yaml.YAMLError as exc:
            report.problems.append(f"{path}: invalid YAML: {exc}")
            continue
        for doc in docs:
            rule = str(doc.get("rule", "")) if isinstance(doc, dict) else ""
            if rule not in known:
                report.problems.append(f"{path}: example names rule {rule!r}, which is not loaded")
                continue
            for kind in ("fires", "quiet"):
                for index, case in enumerate(doc.get(kind) or []):
                    report.results.append(_run_case(ruleset, path, rule, kind, index, case, doc.get("format")))
                    if kind == "fires":
                        tested.add(rule)
    report.untested = sorted(emitting - tested)  # correlation-only building blocks never hit alone
    return report


def _run_case(ruleset: SigmaRuleSet, path: Path, rule: str, kind: str, index: int, case: Any,
              fmt: str | None) -> ExampleResult:
    try:
        events = _case_events(case, fmt)
    except (NormalizationError, ValueError, TypeError, KeyError) as exc:
        return ExampleResult(str(path), rule, kind, index, False, f"bad example: {exc}")
    engine = SigmaEngine(ruleset, MemoryState())
    hits = engine.evaluate(events, [e.model_dump(mode="json") for e in events])
    fired = [h for per_event in hits for h in per_event if h.rule_id == rule]
    if kind == "fires":
        others = sorted({h.rule_id for per_event in hits for h in per_event})
        return ExampleResult(str(path), rule, kind, index, bool(fired),
                             "" if fired else f"rule did not fire (hits: {others or 'none'})")
    return ExampleResult(str(path), rule, kind, index, not fired,
                         f"rule fired: {fired[0].detail}" if fired else "")
