"""PodDisruptionBudgets for the API and the analyzer.

Why: node drains must not take every API replica or analyzer at once; ``maxUnavailable: 1``
still lets a single-replica workload be evicted (``minAvailable`` would block the drain).
"""

from __future__ import annotations

from typing import Any

from secustream_operator import naming
from secustream_operator.builders.common import Context


def build_pdbs(ctx: Context) -> list[dict[str, Any]]:
    return [{
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": ctx.meta(component),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": naming.selector_labels(ctx.name, component)}},
    } for component in ("api", "analyzer")]
