"""Rules-only vs model-only vs hybrid on real telemetry (OTRF recordings, SigmaHQ regression events).

What is measured (docs/analyzer.md, "Real-data evaluation"):
- noise: the share of background events (not attack events, see ``otrf``) a mode puts at high or
  critical;
- detection: per recording with named attack events, whether the mode flags at least one of them
  at medium or above ("the technique was detected");
- SigmaHQ regression: the share of the suite's events (each a true positive of its rule) flagged at
  medium or above.

The rules' verdicts are replayed from the cache (``realdata``); the model tier and the router run
for real, recording by recording in time order and in worker-sized batches, each mode with its
own state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from secustream.analyzer.detection import Detected
from secustream.analyzer.model.tier import ModelTier
from secustream.analyzer.policy import RouterThresholds
from secustream.analyzer.router import Router
from secustream.events import SecurityEvent
from secustream.training.realdata import LabelledEvent
from secustream.verdict import RISK_ORDER, RiskLevel, Verdict

HIGH = RISK_ORDER[RiskLevel.HIGH]
MEDIUM = RISK_ORDER[RiskLevel.MEDIUM]
ModelTierFactory = Callable[[], ModelTier]


class ReplayDetection:
    """The detection step's cached verdicts, so a mode does not pay the Sigma corpus again."""

    def __init__(self, rows: Sequence[LabelledEvent] = ()) -> None:
        self._by_id = {r.event.event_id: r.rules for r in rows}

    def detect(self, events: Sequence[SecurityEvent], docs: Sequence[dict[str, Any]]) -> list[Detected]:
        return [Detected(self._by_id[e.event_id].model_copy()) if e.event_id in self._by_id else
                Detected(Verdict(event_id=e.event_id, risk_level=RiskLevel.LOW, risk_score=0.05, threat_type="benign",
                                 confidence=0.6, tier="rules", reason="no rule matched", analyzer_version="replay"))
                for e in events]


@dataclass
class RealModeResult:
    name: str
    background: int = 0
    background_high: int = 0
    detected: dict[str, bool] = field(default_factory=dict)  # group with attack events → flagged
    attack_events: int = 0
    attack_flagged: int = 0
    tier_share: dict[str, float] = field(default_factory=dict)
    abstained: int = 0

    @property
    def background_share(self) -> float:
        return self.background_high / max(1, self.background)

    @property
    def detected_count(self) -> int:
        return sum(self.detected.values())

    @property
    def attack_share(self) -> float:
        return self.attack_flagged / max(1, self.attack_events)

    def as_dict(self) -> dict[str, Any]:
        return {"background": self.background, "background_high": self.background_high,
                "background_high_share": self.background_share, "detected": self.detected_count,
                "groups": len(self.detected), "attack_flagged_share": self.attack_share}


def score(name: str, rows: Sequence[LabelledEvent], verdicts: Sequence[Verdict]) -> RealModeResult:
    result = RealModeResult(name)
    tiers: Counter[str] = Counter()
    for row, v in zip(rows, verdicts, strict=True):
        level = RISK_ORDER[v.risk_level]
        tiers[v.tier] += 1
        result.abstained += "abstained" in v.reason
        if row.attack:
            result.attack_events += 1
            result.attack_flagged += level >= MEDIUM
            result.detected[row.group] = result.detected.get(row.group, False) or level >= MEDIUM
        else:
            result.background += 1
            result.background_high += level >= HIGH
    result.tier_share = {k: n / max(1, len(rows)) for k, n in tiers.items()}
    return result


def run_router(router: Router, rows: Sequence[LabelledEvent], batch: int = 500) -> list[Verdict]:
    """The router over each group's events in order (groups never share a batch)."""
    out: list[Verdict] = []
    start = 0
    while start < len(rows):
        end = start
        while end < len(rows) and end - start < batch and rows[end].group == rows[start].group:
            end += 1
        out.extend(router.analyze([r.event for r in rows[start:end]]))
        start = end
    return out


def compare(rows: Sequence[LabelledEvent], model_tier: ModelTierFactory | None,
            thresholds: RouterThresholds | None = None) -> list[RealModeResult]:
    """rules-only, model-only and hybrid on the same rows (grouped, each group in time order)."""
    ordered = sorted(rows, key=lambda r: (r.group, r.event.timestamp))
    results = [score("rules-only", ordered, [r.rules for r in ordered])]
    if model_tier is None:
        return results
    model_only = Router(ReplayDetection(), model_tier(), thresholds=thresholds)  # type: ignore[arg-type]
    results.append(score("model-only", ordered, run_router(model_only, ordered)))
    hybrid = Router(ReplayDetection(ordered), model_tier(), thresholds=thresholds)  # type: ignore[arg-type]
    results.append(score("hybrid", ordered, run_router(hybrid, ordered)))
    return results


def render_otrf(split: str, results: Sequence[RealModeResult]) -> str:
    lines = [f"OTRF {split} split: background at high/critical (lower is better); recordings whose attack events "
             "were flagged >= medium (higher is better)",
             f"{'mode':<12}{'background':>12}{'high+':>8}{'share':>9}{'detected':>10}{'attack ev >=med':>17}"]
    for r in results:
        lines.append(f"{r.name:<12}{r.background:>12}{r.background_high:>8}{r.background_share:>9.2%}"
                     f"{r.detected_count:>5}/{len(r.detected):<4}{r.attack_share:>17.1%}")
    return "\n".join(lines)


def render_sigmahq(results: Sequence[RealModeResult]) -> str:
    lines = ["SigmaHQ regression events flagged >= medium (each is a true positive of its rule)",
             f"{'mode':<12}{'events':>8}{'flagged':>9}{'share':>9}{'cases':>12}"]
    for r in results:
        lines.append(f"{r.name:<12}{r.attack_events:>8}{r.attack_flagged:>9}{r.attack_share:>9.1%}"
                     f"{r.detected_count:>6}/{len(r.detected):<5}")
    return "\n".join(lines)
