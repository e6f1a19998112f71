"""Metric names used by PromQL expressions in our dashboards and alert rules.

Why a small tokenizer rather than a PromQL parser: no parser is installed here, and our
expressions only need this: drop strings, label matchers, grouping clauses and ranges; what is
left that is not a function, keyword or number is a metric name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

FUNCTIONS = {
    "abs", "absent", "absent_over_time", "avg", "avg_over_time", "bottomk", "ceil", "changes", "clamp",
    "clamp_max", "clamp_min", "count", "count_over_time", "count_values", "delta", "deriv", "exp", "floor",
    "group", "histogram_quantile", "holt_winters", "idelta", "increase", "irate", "label_join", "label_replace",
    "label_values", "last_over_time", "ln", "log2", "log10", "max", "max_over_time", "min", "min_over_time",
    "predict_linear", "quantile", "quantile_over_time", "rate", "resets", "round", "scalar", "sort", "sort_desc",
    "sqrt", "stddev", "stdvar", "sum", "sum_over_time", "time", "timestamp", "topk", "vector",
}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset",
            "bool", "inf", "nan"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_BRACES = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w:.$])([A-Za-z_:][A-Za-z0-9_:]*)(?![\w:])(\s*\()?")
_DURATION_OR_NUMBER = re.compile(r"^\d")


def metric_names(expr: str) -> set[str]:
    metric = label_values_metric(expr)
    if metric:
        return {metric}
    text = _STRING.sub('""', expr)
    text = _BRACES.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables
    names = set()
    for m in _IDENT.finditer(text):
        word, call = m.group(1), m.group(2)
        if call or word in KEYWORDS or word in FUNCTIONS or _DURATION_OR_NUMBER.match(word):
            continue
        names.add(word)
    return names


def dashboard_targets(path: Path) -> list[tuple[str, str, str]]:
    """(panel title, refId, expr) for every Prometheus target in a dashboard (rows included)."""
    doc = json.loads(path.read_text())
    out = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for p in panels:
            for t in p.get("targets") or []:
                if t.get("expr"):
                    out.append((p["title"], t["refId"], t["expr"]))
            walk(p.get("panels") or [])
    walk(doc["panels"])
    for var in doc.get("templating", {}).get("list", []):
        q = var.get("query")
        if isinstance(q, dict) and q.get("query"):
            out.append((f"variable {var['name']}", "var", q["query"]))
    return out


def rule_exprs(path: Path) -> list[tuple[str, str]]:
    doc = yaml.safe_load(path.read_text())
    return [(r.get("alert") or r.get("record"), r["expr"]) for g in doc["groups"] for r in g["rules"]]


def grafana_to_promql(expr: str, rate_interval: str = "30s", range_: str = "1m") -> str:
    """Substitute the Grafana variables our dashboards use, as Grafana would for one namespace=All view."""
    expr = expr.replace("$__rate_interval", rate_interval).replace("$__range", range_)
    return expr.replace("$namespace", ".*")


def label_values_metric(expr: str) -> str | None:
    m = re.fullmatch(r"label_values\((\w+),\s*\w+\)", expr.strip())
    return m.group(1) if m else None
