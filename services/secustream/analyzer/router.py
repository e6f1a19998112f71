"""The cascade, in one place: detection → model → ``policy.decide`` → LLM.

Each step is handed only what it works on and knows nothing of the others, of budgets or of load:
- detection (every detector) gives every event a verdict; a rule that fired settles the event,
  unless it asked for review;
- the model scores the events no rule fired on (no model: the detection verdict stands); on an event
  outside its training distribution it abstains, and the detection verdict stands (or the LLM reviews
  it), the reason saying so;
- ``decide`` (pure) picks model or LLM for each scored event, and LLM or rule for each review; an
  unsure model's threat claim that the LLM cannot review leaves the rules' verdict standing;
- the LLM answers what was escalated, or the earlier verdict stands with the reason.

Every verdict's reason starts with the route it took (``route rules>model>llm: ...``); its ``tier``
says whose verdict stands (an LLM that fails leaves the earlier one, and the reason says why). Reload
checks (rule files, suppressions, overrides, the model registry) all run in ``reload()``, which the
worker calls between batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from secustream.analyzer.detection import Detection
from secustream.analyzer.model.tier import Abstention, ModelTier
from secustream.analyzer.policy import Decision, Route, RouterThresholds, decide
from secustream.events import SecurityEvent, ThreatClass
from secustream.metrics import HybridMetrics
from secustream.verdict import RISK_ORDER, Verdict

if TYPE_CHECKING:  # DSPy is only imported when an LLM is configured
    from secustream.analyzer.llm.tier import LLMTier


@dataclass(slots=True)
class RoutingContext:
    """What the router knows about load when it routes a batch."""

    consumer_lag: int = 0


Reload = Callable[[], object]
BENIGN = ThreatClass.BENIGN.value


def routed(verdict: Verdict, route: str, note: str = "") -> Verdict:
    """Puts the route (and the routing decision's note) into the reason of a verdict made for this batch."""
    verdict.reason = f"route {route}: {verdict.reason}; {note}" if note else f"route {route}: {verdict.reason}"
    return verdict


class Router:
    def __init__(self, detection: Detection, model: ModelTier | None = None, llm: LLMTier | None = None, *,
                 thresholds: RouterThresholds | None = None, budget_left: Callable[[], int] | None = None,
                 reloads: Sequence[Reload] = (), metrics: HybridMetrics | None = None) -> None:
        self.detection = detection
        self.model = model
        self.llm = llm
        self.thresholds = thresholds or RouterThresholds()
        self.budget_left = budget_left
        self.reloads = list(reloads)
        self.metrics = metrics

    def reload(self) -> None:
        """Every hot-reload check, between batches: each is cheap until its own interval is up."""
        for check in self.reloads:
            check()
        if self.model is not None:
            self.model.reload()

    def _timed(self, step: str, n: int, started: float) -> None:
        if self.metrics is not None:
            self.metrics.tier_seconds.labels(tier=step).observe(time.perf_counter() - started)
            self.metrics.tier_events.labels(tier=step).inc(n)

    def _budget(self, lag: int) -> int | None:
        """Calls left this minute, read once per batch (None: unknown, or not worth asking under load)."""
        if self.llm is None or self.budget_left is None or lag > self.thresholds.lag_threshold:
            return None
        return self.budget_left()

    def _decide(self, v: Verdict, lag: int, budget: int | None, review: bool, abstained: bool = False,
                claims_threat: bool = False) -> Decision:
        d = decide(confidence=v.confidence, risk_score=v.risk_score, lag=lag, llm_available=self.llm is not None,
                   budget_left=budget, thresholds=self.thresholds, rule_requested=review,
                   out_of_distribution=abstained, claims_threat=claims_threat)
        if self.metrics is not None and d.wanted is not None:
            self.metrics.escalations.labels(reason=d.wanted.value, outcome=d.outcome).inc()
        return d

    def analyze(self, events: Sequence[SecurityEvent], context: RoutingContext | None = None) -> list[Verdict]:
        """One verdict per event, in order."""
        return self.analyze_documents(events, context)[0]

    def analyze_documents(self, events: Sequence[SecurityEvent], context: RoutingContext | None = None
                          ) -> tuple[list[Verdict], list[dict[str, Any]]]:
        """One verdict per event, in order, and the events' JSON documents (``model_dump(mode="json",
        exclude_none=True)``), dumped once here for all detectors and handed back so that storage can write
        the payload column from them (``storage.repository.event_json``) instead of serialising again."""
        lag = (context or RoutingContext()).consumer_lag
        started = time.perf_counter()
        docs = [e.model_dump(mode="json", exclude_none=True) for e in events]
        detected = self.detection.detect(events, docs)
        self._timed("rules", len(events), started)
        final: list[Verdict | None] = [None] * len(events)
        to_llm: list[tuple[int, Verdict, str]] = []  # (index, the verdict the LLM reviews, its route so far)
        budget: int | None = None
        budget_read = False

        def budget_now() -> int | None:
            nonlocal budget, budget_read
            if not budget_read:
                budget, budget_read = self._budget(lag), True
            return budget

        open_idx: list[int] = []
        for i, d in enumerate(detected):
            if d.review:
                decision = self._decide(d.verdict, lag, budget_now(), review=True)
                if decision.route is Route.LLM:
                    d.verdict.reason = f"{d.verdict.reason}; {decision.reason}"
                    to_llm.append((i, d.verdict, "rules>llm"))
                else:
                    final[i] = routed(d.verdict, "rules", decision.reason)
            elif d.fired or self.model is None:
                final[i] = routed(d.verdict, "rules")
            else:
                open_idx.append(i)
        if open_idx:
            assert self.model is not None
            step = time.perf_counter()
            scored = self.model.score([events[i] for i in open_idx])
            self._timed("model", len(open_idx), step)
            if scored is None:
                for i in open_idx:
                    final[i] = routed(detected[i].verdict, "rules", "model tier has no active model")
            else:
                for i, v in zip(open_idx, scored, strict=True):
                    if isinstance(v, Abstention):  # out of distribution: the rules' verdict stands, or the LLM
                        rules = detected[i].verdict
                        decision = self._decide(rules, lag, budget_now(), review=False, abstained=True)
                        rules.reason = f"{rules.reason}; {v.reason}"
                        if decision.route is Route.LLM:
                            rules.reason = f"{rules.reason}; {decision.reason}"
                            to_llm.append((i, rules, "rules>model>llm"))
                        else:
                            final[i] = routed(rules, "rules>model", decision.reason)
                        continue
                    rules = detected[i].verdict
                    claims = (v.threat_type not in (rules.threat_type, BENIGN)
                              or RISK_ORDER[v.risk_level] > RISK_ORDER[rules.risk_level])
                    decision = self._decide(v, lag, budget_now(), review=False, claims_threat=claims)
                    if decision.route is Route.LLM:
                        v.reason = f"{v.reason}; {decision.reason}"
                        to_llm.append((i, v, "rules>model>llm"))
                    elif decision.rules_stand:  # an unsure threat claim nobody can review
                        rules.reason = f"{rules.reason}; {v.reason}"
                        final[i] = routed(rules, "rules>model", decision.reason)
                    else:
                        final[i] = routed(v, "rules>model", decision.reason)
        if to_llm:
            assert self.llm is not None
            step = time.perf_counter()
            answers = self.llm.review([events[i] for i, _v, _r in to_llm], [v for _i, v, _r in to_llm])
            self._timed("llm", len(to_llm), step)
            for (i, _v, route), answer in zip(to_llm, answers, strict=True):
                final[i] = routed(answer, route)
        per_event_ms = (time.perf_counter() - started) * 1000 / max(1, len(events))
        out: list[Verdict] = []
        for event, verdict in zip(events, final, strict=True):
            if verdict is None:
                raise RuntimeError(f"no verdict for event {event.event_id}")
            verdict.latency_ms = per_event_ms
            out.append(verdict)
        return out, docs
