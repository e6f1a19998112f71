"""The shape every detector has (native YAML rules, Sigma rules and packs), so the detection step treats
them alike: one batch in, hits per event out; swap in a new rule set; hot-reload check; a rule count
for the metrics. Windows go through ``analyzer/windows.py`` and reloads through ``analyzer/reload.py``
for both; the analyst suppressions are the one callable both consult before a rule's hit counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from secustream.analyzer.rules.engine import RuleHit
from secustream.events import SecurityEvent


@runtime_checkable
class Detector(Protocol):
    name: str  # "native" | "sigma": the ``detector`` label of the rules metrics

    def evaluate(self, events: Sequence[SecurityEvent], dumped: Sequence[dict[str, Any]] | None = None
                 ) -> list[list[RuleHit]]:
        """Hits per event, in input order; ``dumped``: the events' JSON dicts when the caller has them."""
        ...

    def replace_rules(self, ruleset: Any) -> None:
        """Make ``ruleset`` active atomically (between two batches)."""
        ...

    def maybe_reload(self) -> bool:
        """Reload when the sources changed (cheap until the reload interval is up); True when swapped."""
        ...

    @property
    def rule_count(self) -> int: ...
