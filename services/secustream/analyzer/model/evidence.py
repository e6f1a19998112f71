"""Claims that need evidence a single event cannot carry: the model says "brute force" only with a burst.

One failed login from a source looks exactly like the first guess of a brute force; what separates
them is how many failures that source sent recently (``context.burst_counts``, the same 60-second
window the threshold rules count in). A classifier that sees one event at a time learns the
generator's mix of the two and, on real logs, flags every stray failure (issue 16). So the model's
brute-force claim on a failed login stands only when the source's failure count reaches
``MODEL_BRUTE_FORCE_MIN_FAILURES``; below it the class is refused and the model's next most likely
class decides, and the reason gives the count either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from secustream.analyzer.model.context import BURST_WINDOW_SECONDS
from secustream.events import EventType, Outcome, SecurityEvent, ThreatClass

BRUTE_FORCE = ThreatClass.BRUTE_FORCE.value


@dataclass(frozen=True, slots=True)
class EvidenceSettings:
    """``brute_force_min_failures``: failed logins from one source in the window before the model may call
    a failed login brute force (1 = no requirement)."""

    brute_force_min_failures: int = 4


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the window says about one failed login; ``refused`` names the class it cannot support."""

    failures: int | None
    needed: int

    @property
    def refused(self) -> str | None:
        return BRUTE_FORCE if (self.failures or 0) < self.needed else None

    def describe(self) -> str:
        seen = "no source address to count by" if self.failures is None else (
            f"{self.failures} failed login{'s' if self.failures != 1 else ''} from this source "
            f"in {BURST_WINDOW_SECONDS:g} s")
        if self.refused:
            return f"brute force not claimed: {seen}, fewer than {self.needed}"
        return f"evidence: {seen}"


def login_evidence(events: Sequence[SecurityEvent], bursts: Sequence[int | None],
                   settings: EvidenceSettings) -> list[Evidence | None]:
    """Per event: the failure count behind a brute-force claim (None where the event is no failed login)."""
    needed = settings.brute_force_min_failures
    return [Evidence(burst, needed) if e.event_type == EventType.AUTH and e.outcome == Outcome.FAILURE else None
            for e, burst in zip(events, bursts, strict=True)]
