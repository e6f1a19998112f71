"""Names and labels of the children of one pipeline, computed in one place.

Why: builders, the pruner and the status reader must agree on names and selectors.
"""

from __future__ import annotations

import re

from secustream_operator import MANAGED_BY

_LABEL_BAD = re.compile(r"[^A-Za-z0-9_.-]")

COMPONENTS = ("generator", "api", "analyzer", "training")


def child_name(pipeline: str, component: str) -> str:
    """Name of a child object, e.g. ``demo-analyzer``."""
    return f"{pipeline}-{component}"


def selector_labels(pipeline: str, component: str) -> dict[str, str]:
    """The immutable subset used in Deployment selectors and Service selectors."""
    return {
        "app.kubernetes.io/name": "secustream",
        "app.kubernetes.io/instance": pipeline,
        "app.kubernetes.io/component": component,
    }


def labels(pipeline: str, component: str, version: str) -> dict[str, str]:
    """Recommended ``app.kubernetes.io/*`` labels for every child."""
    return {
        **selector_labels(pipeline, component),
        "app.kubernetes.io/part-of": "secustream",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/version": label_value(version),
    }


def label_value(text: str) -> str:
    """Coerce free text (an image tag) into a valid label value (<=63 chars, alnum ends)."""
    value = _LABEL_BAD.sub("-", text)[:63]
    return value.strip("-_.") or "unknown"


def owned_selector(pipeline: str) -> str:
    """Label selector matching every child of ``pipeline`` (used for pruning)."""
    return f"app.kubernetes.io/instance={pipeline},app.kubernetes.io/managed-by={MANAGED_BY}"
