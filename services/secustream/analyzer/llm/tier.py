"""LLM tier: second opinion on the events the router escalated to it; never stalls the consumer.

Bounds, in order: fingerprint cache (no call at all), bounded in-flight calls (saturation falls back
at once), the shared calls/minute budget, one deadline for the whole batch. Whatever fails, the
earlier verdict (the model's, or the rule's that asked for review) stands and its reason says why.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import dspy
from pydantic import ValidationError

from secustream.analyzer.llm.program import LLMAssessment, SecurityAnalyst, adapter
from secustream.analyzer.model.text import render_event, scrub
from secustream.events import SecurityEvent
from secustream.metrics import HybridMetrics
from secustream.state.limits import CallBudget, VerdictCache
from secustream.verdict import Verdict, level_score

log = logging.getLogger(__name__)


def fingerprint(event: SecurityEvent, program_version: str) -> str:
    """Same pattern, same answer: identities are already abstracted away by the rendering."""
    return hashlib.sha256(f"{program_version}\n{render_event(event)}".encode()).hexdigest()[:32]


def describe_event(event: SecurityEvent) -> str:
    text = render_event(event)
    if event.message:
        text += f"\nmessage: {scrub(event.message, 300)}"
    return text


def describe_context(prior: Verdict) -> str:
    if prior.rule_ids:
        return (f"detection rules {', '.join(prior.rule_ids)} fired ({prior.risk_level.value}, "
                f"{prior.threat_type}) and asked for review")
    said = (f"classifier says {prior.threat_type} (confidence {prior.confidence:.2f}, risk {prior.risk_score:.2f}); "
            f"no detection rule matched")
    _claim, _, evidence = prior.reason.partition("; evidence: ")  # the model tier's nearest training examples
    return f"{said}; the classifier's {scrub(evidence, 200)}" if evidence else said


class LLMTier:
    name = "llm"

    def __init__(self, program: SecurityAnalyst, lm: dspy.LM, budget: CallBudget, cache: VerdictCache,
                 version: str, *, program_version: str = "builtin", timeout: float = 20.0,
                 max_concurrency: int = 4, metrics: HybridMetrics | None = None) -> None:
        self.program = program
        self.program.set_lm(lm)
        self.budget = budget
        self.cache = cache
        self.program_version = program_version
        self.timeout = timeout
        self.max_inflight = 2 * max_concurrency
        self.metrics = metrics
        self._version = version
        self._adapter = adapter()
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="llm")
        self._inflight: set[Future[Any]] = set()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _count(self, outcome: str, n: int = 1) -> None:
        if self.metrics and n:
            self.metrics.llm_calls.labels(outcome=outcome).inc(n)

    def _call(self, event_text: str, context: str) -> tuple[dict[str, Any], float]:
        started = time.perf_counter()
        with dspy.context(adapter=self._adapter):
            pred = self.program(event=event_text, context=context)
        raw = {k: pred.get(k) for k in LLMAssessment.model_fields}
        return raw, time.perf_counter() - started

    def review(self, events: Sequence[SecurityEvent], prior: Sequence[Verdict]) -> list[Verdict]:
        """One verdict per event: the LLM's answer, or ``prior`` with the reason it stands."""
        out: list[Verdict] = list(prior)
        todo = list(range(len(events)))
        if not todo:
            return out
        deadline = time.monotonic() + self.timeout
        prints = {i: fingerprint(events[i], self.program_version) for i in todo}
        unique = list(dict.fromkeys(prints.values()))
        cached = dict(zip(unique, self.cache.get_many(unique), strict=True))
        answers: dict[str, LLMAssessment] = {}
        failures: dict[str, str] = {}
        for fp, value in cached.items():
            if value is not None:
                with contextlib.suppress(ValidationError):
                    answers[fp] = LLMAssessment.model_validate(value)
        self._count("cache_hit", sum(1 for i in todo if prints[i] in answers))
        futures: dict[Future[tuple[dict[str, Any], float]], str] = {}
        first_of = {fp: next(i for i in todo if prints[i] == fp) for fp in unique}
        self._inflight = {f for f in self._inflight if not f.done()}
        for fp in unique:
            if fp in answers:
                continue
            if len(self._inflight) >= self.max_inflight:
                failures[fp] = f"llm saturated ({len(self._inflight)} calls in flight)"
                self._count("saturated")
                continue
            if not self.budget.try_acquire():
                failures[fp] = f"llm budget exhausted ({self.budget.limit} calls/min shared)"
                self._count("budget_exhausted")
                continue
            i = first_of[fp]
            future = self._pool.submit(self._call, describe_event(events[i]), describe_context(prior[i]))
            self._inflight.add(future)
            futures[future] = fp
        if futures:
            done, _pending = wait(futures, timeout=max(0.0, deadline - time.monotonic()))
            for future, fp in futures.items():
                if future not in done:
                    failures[fp] = f"llm timeout after {self.timeout:g}s"
                    self._count("timeout")
                    continue
                exc = future.exception()
                if exc is not None:
                    kind = "invalid" if "parse" in type(exc).__name__.lower() else "error"
                    failures[fp] = (f"llm output invalid: {type(exc).__name__}" if kind == "invalid"
                                    else f"llm error: {type(exc).__name__}: {str(exc)[:120]}")
                    self._count(kind)
                    continue
                raw, seconds = future.result()
                if self.metrics:
                    self.metrics.llm_seconds.observe(seconds)
                try:
                    answers[fp] = LLMAssessment.model_validate(raw)
                except ValidationError as ve:
                    first = ve.errors()[0]
                    failures[fp] = f"llm output invalid: {'.'.join(map(str, first['loc']))}: {first['msg']}"
                    self._count("invalid")
                    continue
                self.cache.put(fp, answers[fp].model_dump(mode="json"))
                self._count("ok")
        if self.metrics:
            self.metrics.llm_budget_remaining.set(self.budget.remaining())
        for i in todo:
            fp = prints[i]
            base = prior[i]
            if fp in answers:
                out[i] = self._verdict(events[i], base, answers[fp], cached.get(fp) is not None)
            else:
                out[i] = base.model_copy(update={
                    "reason": f"{base.reason}; {failures.get(fp, 'llm gave no answer')}, {base.tier} verdict stands"})
        return out

    def _verdict(self, event: SecurityEvent, base: Verdict, a: LLMAssessment, from_cache: bool) -> Verdict:
        source = "cached llm answer" if from_cache else "llm"
        return Verdict(
            event_id=event.event_id, risk_level=a.risk_level, risk_score=level_score(a.risk_level),
            threat_type=a.threat_type, confidence=a.confidence, tier="llm",
            reason=f"{base.reason}; {source} ({self.program_version}) says {a.threat_type} "
                   f"at {a.confidence:.2f} ({base.tier} said {base.threat_type} at {base.confidence:.2f})",
            rule_ids=list(base.rule_ids), mitre_ids=a.mitre_ids or list(base.mitre_ids),
            recommended_actions=a.recommended_actions, analysis=a.analysis,
            analyzer_version=self._version,
        )
