"""Training examples from real telemetry: Sigma weak labels and OTRF background (train split only).

- ``sigma_weak``: an event a Sigma rule of the full SigmaHQ corpus flags at medium or above takes
  the class its rule's level and ATT&CK tactic imply (``analyzer/sigma/mapping.py``); flagged as
  weak and weighted down, because rules have false positives too.
- ``otrf_background``: every other sampled event of a train recording that is not an attack event
  (``otrf``) is benign: ordinary Windows activity is what the model must learn to leave alone.
Attack events no rule flagged carry no usable class and are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from secustream.analyzer.model.gate import event_kind
from secustream.events import ThreatClass
from secustream.training.dataset import WEAK_LABEL_WEIGHT, Example, render_stream
from secustream.training.realdata import LabelledEvent
from secustream.verdict import RISK_ORDER, RiskLevel

MEDIUM = RISK_ORDER[RiskLevel.MEDIUM]


def real_examples(rows: Sequence[LabelledEvent]) -> list[Example]:
    ordered = sorted(rows, key=lambda r: (r.group, r.event.timestamp))
    out: list[Example] = []
    for _group, items in groupby(ordered, key=lambda r: r.group):
        part = list(items)
        texts = render_stream([r.event for r in part])
        for row, text in zip(part, texts, strict=True):
            flagged = bool(row.rules.rule_ids) and RISK_ORDER[row.rules.risk_level] >= MEDIUM
            kind = event_kind(row.event)
            if flagged and row.rules.threat_type != ThreatClass.BENIGN.value:
                out.append(Example(text, row.rules.threat_type, "sigma_weak", WEAK_LABEL_WEIGHT, True, kind))
            elif not row.attack and not flagged:
                out.append(Example(text, ThreatClass.BENIGN.value, "otrf_background", 1.0, False, kind))
    return out
