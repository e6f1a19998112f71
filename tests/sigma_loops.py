"""Run one implementation of the Sigma prefilter's per-event gathering (C ``gather_event`` or
``gather_event_python``) on one event, with the arguments ``_Prefilter.gather`` gives it: the tests compare the two
this way."""

from __future__ import annotations

from typing import Any


def gather_with(gather: Any, group: Any, doc: dict[str, Any]) -> tuple[set[int], list[str] | None]:
    """The constraint ids event ``doc`` meets in logsource group ``group`` (its keyword literals aside), and its
    keyword texts not known clean (None where the group has no keyword literals)."""
    satisfied: set[int] = set()
    keywords = group.keywords
    if keywords is None:
        gather(doc, group.entries, satisfied, None, None, group.fallback, group.given)
        return satisfied, None
    fresh: list[str] = []
    gather(doc, group.entries, satisfied, fresh, keywords.probe, group.fallback, group.given)
    return satisfied, fresh
