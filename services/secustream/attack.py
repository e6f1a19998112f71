"""ATT&CK tactics of the techniques our detections name, and what counts as the chain advancing.

Why a small static table: the rules and the model speak in technique ids and threat classes; an
incident is read in tactics (how far an attacker got). Only a technique's primary tactic is used so
that one technique never makes a chain look longer than it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import groupby

# The enterprise kill-chain order: a later tactic after an earlier one is the chain advancing. ATT&CK v18 split
# Defense Evasion into Stealth and Defense Impairment, and SigmaHQ's rules now carry those tags (1,083 and 413
# tags in the corpus, against 5 of defense-evasion); older content still says defense-evasion, kept beside them.
TACTICS = ("reconnaissance", "resource-development", "initial-access", "execution", "persistence",
           "privilege-escalation", "defense-evasion", "stealth", "defense-impairment", "credential-access",
           "discovery", "lateral-movement", "collection", "command-and-control", "exfiltration", "impact")
TACTIC_RANK = {t: i for i, t in enumerate(TACTICS)}

TECHNIQUE_TACTIC = {
    "T1003": "credential-access", "T1021": "lateral-movement", "T1027": "defense-evasion",
    "T1041": "exfiltration", "T1046": "discovery", "T1047": "execution", "T1048": "exfiltration",
    "T1053": "persistence", "T1055": "defense-evasion", "T1059": "execution", "T1068": "privilege-escalation",
    "T1070": "defense-evasion", "T1071": "command-and-control", "T1078": "initial-access",
    "T1082": "discovery", "T1087": "discovery", "T1098": "persistence", "T1105": "command-and-control",
    "T1110": "credential-access", "T1112": "defense-evasion", "T1133": "initial-access",
    "T1136": "persistence", "T1140": "defense-evasion", "T1190": "initial-access", "T1204": "execution",
    "T1218": "defense-evasion", "T1486": "impact", "T1490": "impact", "T1543": "persistence",
    "T1547": "persistence", "T1548": "privilege-escalation", "T1550": "lateral-movement",
    "T1552": "credential-access", "T1555": "credential-access", "T1558": "credential-access",
    "T1562": "defense-evasion", "T1566": "initial-access", "T1567": "exfiltration",
    "T1569": "execution", "T1570": "lateral-movement", "T1595": "reconnaissance",
}

# A detection with no technique id (a model class) still has a tactic.
THREAT_TACTIC = {
    "brute_force": "credential-access", "port_scan": "discovery", "data_exfiltration": "exfiltration",
    "malicious_process": "execution", "privilege_escalation": "privilege-escalation",
    "lateral_movement": "lateral-movement",
}


def tactic_tags(tags: Iterable[str]) -> list[str]:
    """The ATT&CK tactics a rule's tags name (``attack.credential-access``, Sigma's form), in kill-chain order;
    software, group and data source tags (``attack.s0002``, ``attack.g0032``, ``attack.ds0005``) are not tactics."""
    found = set()
    for tag in tags:
        namespace, _, name = tag.lower().partition(".")
        name = name.replace("_", "-")
        if namespace == "attack" and name in TACTIC_RANK:
            found.add(name)
    return sorted(found, key=TACTIC_RANK.__getitem__)


def tactic_of(technique: str) -> str | None:
    """Primary tactic of a technique or sub-technique id (``T1110.001`` → credential-access)."""
    return TECHNIQUE_TACTIC.get(technique.split(".", 1)[0].upper())


def tactics_of(techniques: Iterable[str], threat_type: str | None = None, named: Iterable[str] = ()) -> list[str]:
    """Distinct tactics of a detection, in kill-chain order: its techniques' primary tactics; where none maps, the
    tactics its rule names (``tactic_tags``: a SigmaHQ rule's ``attack.discovery`` beside a technique this table
    lacks, T1012); else its threat class's. A rule's tactic tags list every tactic its detections may serve
    ("Mimikatz Use": credential access and lateral movement), so they only fill a gap, never add to what the
    techniques say."""
    found = {t for t in (tactic_of(x) for x in techniques) if t is not None}
    if not found:
        found.update(t for t in named if t in TACTIC_RANK)
    if not found and threat_type in THREAT_TACTIC:
        found.add(THREAT_TACTIC[threat_type])
    return sorted(found, key=TACTIC_RANK.__getitem__)


def chain(observed: Sequence[tuple[datetime, Sequence[str]]]) -> list[str]:
    """The incident's tactic chain: each tactic once, in the order first observed (``(time, tactics)`` pairs)."""
    seen: dict[str, None] = {}
    for _when, tactics in sorted(observed, key=lambda p: p[0]):
        for t in sorted(tactics, key=TACTIC_RANK.__getitem__):
            seen.setdefault(t, None)
    return list(seen)


def advanced(observed: Sequence[tuple[datetime, Sequence[str]]]) -> bool:
    """True when one detection's tactic was followed, strictly later, by a later kill-chain tactic of another
    detection; ``observed`` is ``(first seen, tactics)`` per detection, e.g. per alert of an incident.

    One detection's own tactics are one step however many it names (a rule tagged persistence and execution, a Run
    key that starts PowerShell, made a one-alert incident "advance" to critical), and so are detections first seen at
    the same moment: several rules on one event are one observation, not an attack moving on."""
    lowest: int | None = None  # the earliest kill-chain rank among detections seen strictly before
    for _moment, group in groupby(sorted(observed, key=lambda step: step[0]), key=lambda step: step[0]):
        ranks = [TACTIC_RANK[t] for _when, tactics in group for t in tactics if t in TACTIC_RANK]
        if ranks and lowest is not None and max(ranks) > lowest:
            return True
        if ranks:
            lowest = min(ranks) if lowest is None else min(lowest, min(ranks))
    return False
