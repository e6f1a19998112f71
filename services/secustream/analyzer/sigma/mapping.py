"""Sigma metadata → our verdict vocabulary: level → severity and confidence, tags → MITRE ids and threat type."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from secustream.attack import tactic_tags
from secustream.events import ThreatClass
from secustream.verdict import RiskLevel

LEVELS: Mapping[str, tuple[RiskLevel, float]] = MappingProxyType({
    "informational": (RiskLevel.LOW, 0.5),
    "low": (RiskLevel.LOW, 0.6),
    "medium": (RiskLevel.MEDIUM, 0.75),
    "high": (RiskLevel.HIGH, 0.85),
    "critical": (RiskLevel.CRITICAL, 0.95),
})
"""Sigma ``level`` → (our severity, the confidence a hit carries)."""

DEFAULT_LEVEL = "medium"

# ATT&CK techniques that name a threat class outright, checked before tactics.
_TECHNIQUE_CLASSES: tuple[tuple[str, ThreatClass], ...] = (
    ("T1110", ThreatClass.BRUTE_FORCE),
    ("T1046", ThreatClass.PORT_SCAN), ("T1595", ThreatClass.PORT_SCAN),
    ("T1021", ThreatClass.LATERAL_MOVEMENT), ("T1570", ThreatClass.LATERAL_MOVEMENT),
    ("T1550", ThreatClass.LATERAL_MOVEMENT),
    ("T1048", ThreatClass.DATA_EXFILTRATION), ("T1041", ThreatClass.DATA_EXFILTRATION),
)
# ATT&CK tactics, in priority order when a rule names several.
_TACTIC_CLASSES: tuple[tuple[str, ThreatClass], ...] = (
    ("lateral_movement", ThreatClass.LATERAL_MOVEMENT),
    ("exfiltration", ThreatClass.DATA_EXFILTRATION),
    ("privilege_escalation", ThreatClass.PRIVILEGE_ESCALATION),
    ("execution", ThreatClass.MALICIOUS_PROCESS),
    ("defense_evasion", ThreatClass.MALICIOUS_PROCESS),
    ("stealth", ThreatClass.MALICIOUS_PROCESS),  # ATT&CK v18's halves of defense evasion
    ("defense_impairment", ThreatClass.MALICIOUS_PROCESS),
    ("persistence", ThreatClass.MALICIOUS_PROCESS),
    ("command_and_control", ThreatClass.MALICIOUS_PROCESS),
    ("credential_access", ThreatClass.OTHER_THREAT),
    ("discovery", ThreatClass.OTHER_THREAT),
    ("reconnaissance", ThreatClass.PORT_SCAN),
    ("initial_access", ThreatClass.OTHER_THREAT),
    ("impact", ThreatClass.OTHER_THREAT),
    ("collection", ThreatClass.OTHER_THREAT),
)
_TECHNIQUE = re.compile(r"^t(\d{4})(?:\.(\d{3}))?$")


def mitre_ids(tags: Iterable[str]) -> tuple[str, ...]:
    """``attack.t1059.001`` → ``T1059.001`` (other tags ignored), in tag order, no duplicates."""
    out: dict[str, None] = {}
    for tag in tags:
        namespace, _, name = tag.lower().partition(".")
        m = _TECHNIQUE.match(name) if namespace == "attack" else None
        if m:
            out[f"T{m.group(1)}" + (f".{m.group(2)}" if m.group(2) else "")] = None
    return tuple(out)


def tactics(tags: Iterable[str]) -> set[str]:
    """The ATT&CK tactics of a rule's tags, in the underscore form (``credential_access``); software, group and
    data source tags are not tactics (the coverage table listed ``s0002`` and ``g0032`` as tactics)."""
    return {name.replace("-", "_") for name in tactic_tags(tags)}


def threat_type(tags: Iterable[str]) -> ThreatClass:
    tag_list = list(tags)
    techniques = mitre_ids(tag_list)
    for prefix, cls in _TECHNIQUE_CLASSES:
        if any(t == prefix or t.startswith(prefix + ".") for t in techniques):
            return cls
    found = tactics(tag_list)
    for tactic, cls in _TACTIC_CLASSES:
        if tactic in found:
            return cls
    return ThreatClass.OTHER_THREAT
