"""Composes tiers in order: each later tier sees only events earlier tiers left inconclusive.

The first tier's verdict always stands as the fallback, so every event gets exactly one verdict
that records its tier and reason.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from secustream.analyzer.tiers import RoutingContext, Tier
from secustream.analyzer.verdict import Verdict
from secustream.events import SecurityEvent


class Router:
    def __init__(self, tiers: Sequence[Tier]) -> None:
        if not tiers:
            raise ValueError("the router needs at least one tier")
        self.tiers = list(tiers)

    def analyze(self, events: Sequence[SecurityEvent], context: RoutingContext | None = None) -> list[Verdict]:
        """One verdict per event; every tier sees the same JSON dicts, dumped once here."""
        context = context or RoutingContext()
        started = time.perf_counter()
        docs = [e.model_dump(mode="json", exclude_none=True) for e in events]
        verdicts: list[Verdict | None] = [None] * len(events)
        for tier in self.tiers:
            open_idx = [i for i, v in enumerate(verdicts) if v is None or not v.conclusive]
            if not open_idx:
                break
            results = tier.analyze(
                [events[i] for i in open_idx], [docs[i] for i in open_idx],
                [verdicts[i] for i in open_idx], context,
            )
            for i, verdict in zip(open_idx, results, strict=True):
                if verdict is not None:
                    verdicts[i] = verdict
        per_event_ms = (time.perf_counter() - started) * 1000 / max(1, len(events))
        final: list[Verdict] = []
        for event, verdict in zip(events, verdicts, strict=True):
            if verdict is None:
                raise RuntimeError(f"no tier produced a verdict for event {event.event_id}")
            verdict.latency_ms = per_event_ms
            final.append(verdict)
        return final
