"""Run one implementation of the Sigma prefilter's value pass (C ``scan_values`` or ``scan_values_python``) on one
event's ``unmapped``, with the arguments ``_Prefilter.gather`` gives it: the tests compare the two this way."""

from __future__ import annotations

from typing import Any


def scan_with(scan: Any, group: Any, unmapped: dict[str, Any]) -> tuple[set[int], list[str] | None]:
    """The constraint ids ``unmapped`` meets in logsource group ``group``, and its keyword texts not known clean
    (None where the group has no keyword literals)."""
    satisfied: set[int] = set()
    keywords = group.keywords
    if keywords is None:
        scan(unmapped, group.entries, satisfied, None, 0, None)
        return satisfied, None
    fresh: list[str] = []
    scan(unmapped, group.entries, satisfied, keywords.clean, keywords.CLEAN_LENGTH, fresh)
    return satisfied, fresh
