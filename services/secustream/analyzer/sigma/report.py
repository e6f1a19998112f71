"""What a pack holds and what the loaded rules cover: counts for ``rules list``, ATT&CK for ``rules coverage``.

Pure functions over compiled packs and rule sets; the CLI and the API only print or serialise them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from secustream.analyzer.sigma.filters import RuleFilter
from secustream.analyzer.sigma.loader import CompiledPack, Correlation, DetectionRule, SigmaRuleSet
from secustream.analyzer.sigma.mapping import mitre_ids, tactics

NO_TACTIC = "(no tactic)"


@dataclass(frozen=True)
class PackCounts:
    rules: int
    correlations: int
    kept: int  # rules the filter keeps
    by_level: dict[str, int]
    by_status: dict[str, int]
    by_logsource: dict[str, int]
    errors: int
    warnings: int
    error_lines: tuple[str, ...] = field(default=())


def pack_counts(pack: CompiledPack, keep: RuleFilter) -> PackCounts:
    def logsource(rule: DetectionRule) -> str:
        return "/".join(f"{k}:{v}" for k, v in rule.info.logsource) or "(any)"

    errors = [str(i) for i in pack.issues if i.level == "error"]
    return PackCounts(
        rules=len(pack.rules), correlations=len(pack.correlations),
        kept=sum(1 for r in pack.rules if keep.keeps((r.rule_id, *r.refs), r.info)),
        by_level=dict(Counter(r.info.level or "(none)" for r in pack.rules).most_common()),
        by_status=dict(Counter(r.info.status or "(none)" for r in pack.rules).most_common()),
        by_logsource=dict(Counter(logsource(r) for r in pack.rules).most_common()),
        errors=len(errors), warnings=len(pack.issues) - len(errors), error_lines=tuple(errors),
    )


def render_counts(counts: PackCounts, top: int = 12) -> list[str]:
    def line(title: str, values: dict[str, int], limit: int | None = None) -> str:
        items = list(values.items())
        shown = ", ".join(f"{k} {v}" for k, v in items[:limit])
        rest = f", … {len(items) - limit} more" if limit is not None and len(items) > limit else ""
        return f"  {title}: {shown}{rest}"

    return [f"  {counts.rules} rules, {counts.correlations} correlations; {counts.kept} kept by the filters",
            line("by level", counts.by_level), line("by status", counts.by_status),
            line("by logsource", counts.by_logsource, top),
            f"  load issues: {counts.errors} errors (rules left out, with the reason), {counts.warnings} warnings"]


def coverage(rules: Iterable[DetectionRule | Correlation]) -> dict[str, dict[str, int]]:
    """tactic → technique → number of rules tagged with both (a technique without a tactic tag is
    filed under ``NO_TACTIC``)."""
    table: dict[str, Counter[str]] = {}
    for rule in rules:
        techniques = mitre_ids(rule.info.tags)
        if not techniques:
            continue
        for tactic in sorted(tactics(rule.info.tags)) or [NO_TACTIC]:
            table.setdefault(tactic, Counter()).update(techniques)
    return {t: dict(sorted(c.items())) for t, c in sorted(table.items())}


def ruleset_coverage(ruleset: SigmaRuleSet) -> dict[str, object]:
    emitting: list[DetectionRule | Correlation] = [r for r in ruleset.rules if r.emits]
    emitting.extend(ruleset.correlations)
    table = coverage(emitting)
    return {"rules": len(emitting), "with_attack_tags": sum(1 for r in emitting if mitre_ids(r.info.tags)),
            "techniques": len({t for row in table.values() for t in row}), "tactics": table}


def render_coverage(data: dict[str, object]) -> list[str]:
    table: dict[str, dict[str, int]] = data["tactics"]  # type: ignore[assignment]
    lines = [f"{data['rules']} rules loaded, {data['with_attack_tags']} with ATT&CK technique tags, "
             f"{data['techniques']} techniques"]
    for tactic, row in table.items():
        lines.append(f"{tactic} ({len(row)} techniques, {sum(row.values())} rule tags)")
        lines.append("  " + ", ".join(f"{technique} {count}" for technique, count in row.items()))
    return lines
