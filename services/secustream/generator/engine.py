"""The event generator: benign background traffic with labelled attack campaigns interleaved.

Pure and cheap by design (no I/O, no wall clock unless asked): the caller decides where events
go and what time it is, so the same class serves tests (fixed ``start`` and ``seed`` give a
byte-identical stream), benchmarks and the live ``secustream generate`` runner (pass ``now``).

Timing model: every emitted event occupies one slot, and the internal clock advances ``1/rate``
seconds per slot. Campaign steps carry their own natural pacing (a brute force tries a password
every ~2 s, a scan probes a port every ~0.2 s); a step is emitted in the first slot at or after
it is due, and additionally whenever the stream is behind its ``attack_ratio`` budget, so the
fraction of campaign events tracks ``attack_ratio`` while campaigns stay compact in event time
(which is what the threshold rules detect).
"""

from __future__ import annotations

import heapq
import random
import uuid
from bisect import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any, NamedTuple

from secustream.events import SecurityEvent, ThreatClass, grouping_key
from secustream.generator.scenarios import BENIGN_MIX, CAMPAIGNS, Step, World, build_world

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


class GeneratedEvent(NamedTuple):
    """An event plus its ground truth; the label must travel outside the payload (Kafka header)."""

    event: SecurityEvent
    label: ThreatClass
    campaign_id: str | None

    def key(self) -> str:
        """Kafka key: the entity stateful rules group by (source IP for brute force, scans …)."""
        return grouping_key(self.event)


@dataclass(order=True)
class _Running:
    due: float
    seq: int
    campaign_id: str = field(compare=False)
    label: ThreatClass = field(compare=False)
    steps: list[Step] = field(compare=False)
    pos: int = field(default=0, compare=False)


class EventGenerator:
    """Deterministic (given ``seed`` and ``start``) stream of benign and campaign events.

    ``attack_ratio`` is the approximate fraction of events that belong to campaigns (0 → benign
    only). ``rate`` only sets event-time spacing (1/rate s per event); it does not sleep.
    ``campaigns`` restricts which campaign classes are started (default: all of them).
    """

    def __init__(
        self,
        seed: int | None = None,
        attack_ratio: float = 0.05,
        start: datetime | None = None,
        rate: float = 50.0,
        campaigns: Sequence[ThreatClass] | None = None,
        max_active: int = 8,
    ) -> None:
        if not 0.0 <= attack_ratio <= 1.0:
            raise ValueError(f"attack_ratio must be within [0, 1], got {attack_ratio}")
        if rate <= 0:
            raise ValueError(f"rate must be > 0 events/s, got {rate}")
        kinds = tuple(campaigns) if campaigns is not None else tuple(CAMPAIGNS)
        unknown = [k for k in kinds if k not in CAMPAIGNS]
        if unknown:
            raise ValueError(f"no campaign scenario for {unknown}; known: {[k.value for k in CAMPAIGNS]}")
        self.attack_ratio = attack_ratio
        self.rate = rate
        self._rng = random.Random(seed)
        self._world: World = build_world(self._rng)
        start = start or datetime.now(UTC)
        # Event time in integer microseconds from an anchor, so it never drifts however long it runs.
        self._anchor_us = _to_us(start)
        self._k = 0
        self._step_us = 1_000_000.0 / rate
        self._kinds = kinds
        self._deck: list[ThreatClass] = []
        self._max_active = max(1, max_active)
        self._running: list[_Running] = []
        self._seq = 0
        self._pending = 0
        self.total = 0
        self.attack_events = 0
        self.campaigns_started = 0
        builders, weights = zip(*BENIGN_MIX, strict=True)
        self._benign = builders
        self._cum = list(accumulate(weights))

    @property
    def world(self) -> World:
        return self._world

    @property
    def active_campaign_ids(self) -> frozenset[str]:
        """Campaigns started but not finished yet (their remaining steps come in later batches)."""
        return frozenset(r.campaign_id for r in self._running)

    @property
    def clock(self) -> datetime:
        """Event time the next event will carry."""
        return _EPOCH + timedelta(microseconds=self._now_us())

    def next_batch(self, n: int, now: datetime | None = None) -> list[GeneratedEvent]:
        """The next ``n`` events. ``now`` (live runners) moves the clock forward to real time first."""
        if now is not None:
            now_us = _to_us(now)
            if now_us > self._now_us():
                self._anchor_us, self._k = now_us, 0
        return [self._next() for _ in range(n)]

    def __iter__(self) -> Iterator[GeneratedEvent]:
        while True:
            yield self._next()

    # ------------------------------------------------------------------------------------------

    def _next_kind(self) -> ThreatClass:
        # a shuffled deck rather than independent draws: every class shows up in a short stream
        if not self._deck:
            self._deck = list(self._kinds)
            self._rng.shuffle(self._deck)
        return self._deck.pop()

    def _maybe_start_campaign(self, t: float) -> None:
        ratio = self.attack_ratio
        if (
            ratio <= 0.0
            or not self._kinds
            or len(self._running) >= self._max_active
            or self.attack_events + self._pending > ratio * (self.total + 1)
        ):
            return
        label = self._next_kind()
        steps = CAMPAIGNS[label](self._rng, self._world)
        if not steps:
            return
        self._seq += 1
        self.campaigns_started += 1
        cid = f"cmp-{label.value}-{self._rng.getrandbits(40):010x}"
        heapq.heappush(self._running, _Running(t + steps[0][0], self._seq, cid, label, steps))
        self._pending += len(steps)

    def _now_us(self) -> int:
        return self._anchor_us + round(self._k * self._step_us)

    def _next(self) -> GeneratedEvent:
        t_us = self._now_us()
        self._k += 1
        t = t_us / 1_000_000
        rng = self._rng
        self._maybe_start_campaign(t)
        running = self._running
        fields: dict[str, Any]
        if running and (running[0].due <= t or self.attack_events < self.attack_ratio * self.total):
            camp = running[0]
            fields = camp.steps[camp.pos][1]
            camp.pos += 1
            self._pending -= 1
            self.attack_events += 1
            label: ThreatClass = camp.label
            cid: str | None = camp.campaign_id
            if camp.pos < len(camp.steps):
                camp.due = t + camp.steps[camp.pos][0]
                heapq.heapreplace(running, camp)
            else:
                heapq.heappop(running)
        else:
            builder = self._benign[bisect(self._cum, rng.random() * self._cum[-1])]
            fields = builder(rng, self._world)
            label, cid = ThreatClass.BENIGN, None
        self.total += 1
        fields["event_id"] = uuid.UUID(int=rng.getrandbits(128), version=4)
        fields["timestamp"] = _EPOCH + timedelta(microseconds=t_us)
        return GeneratedEvent(SecurityEvent.model_validate(fields), label, cid)
