"""The tier interface the router composes; each tier turns events into verdicts or passes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from secustream.analyzer.verdict import Verdict
from secustream.events import SecurityEvent


@dataclass(slots=True)
class RoutingContext:
    """What the router knows about load; tiers may use it to skip expensive work."""

    consumer_lag: int = 0


class Tier(Protocol):
    """A tier analyses the events handed to it; ``None`` means "no opinion, ask the next tier"."""

    name: str

    def analyze(
        self,
        events: Sequence[SecurityEvent],
        docs: Sequence[dict[str, Any]],
        prior: Sequence[Verdict | None],
        context: RoutingContext,
    ) -> list[Verdict | None]: ...
