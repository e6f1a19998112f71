"""Per-class precision/recall/F1 and macro-F1, so training, promotion and ``evaluate`` agree on one score."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ClassScore:
    precision: float
    recall: float
    f1: float
    support: int


def classification_report(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, ClassScore]:
    """Scores for every class that occurs in truth or prediction (a false alarm class counts too)."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for t, p in zip(y_true, y_pred, strict=True):
        if t == p:
            tp[t] += 1
        else:
            fp[p] += 1
            fn[t] += 1
    support = Counter(y_true)
    report: dict[str, ClassScore] = {}
    for cls in sorted(set(y_true) | set(y_pred)):
        prec = tp[cls] / (tp[cls] + fp[cls]) if tp[cls] + fp[cls] else 0.0
        rec = tp[cls] / (tp[cls] + fn[cls]) if tp[cls] + fn[cls] else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        report[cls] = ClassScore(prec, rec, f1, support[cls])
    return report


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    report = classification_report(y_true, y_pred)
    return sum(s.f1 for s in report.values()) / len(report) if report else 0.0


def accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    return sum(t == p for t, p in zip(y_true, y_pred, strict=True)) / max(1, len(y_true))


def format_report(report: dict[str, ClassScore]) -> str:
    lines = [f"{'class':<22}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for cls, s in report.items():
        lines.append(f"{cls:<22}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>10.3f}{s.support:>10d}")
    return "\n".join(lines)
