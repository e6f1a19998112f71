"""Active Directory's well-known schema GUIDs by name, for the one-line events analysts read.

Why: a directory service access (Security 4662, ``ObjectServer: DS``) names what was done and on what by GUID only.
On OTRF's DCSync recordings an alert's sample read ``%{d613d8a5-418b-4b7a-83b8-ae1511c502c4}`` (the domain object's
own GUID) where ``pgustavo: DS-Replication-Get-Changes-All on domainDNS`` is the finding. Only GUIDs fixed by the
schema are named (control access rights, classes, attributes that attacks write); an object's own GUID differs per
forest and stays as logged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

AD_GUID_NAMES: Mapping[str, str] = MappingProxyType({
    # control access rights (Microsoft's "Control access rights" list; SigmaHQ's DCSync rules name the first three)
    "1131f6aa-9c07-11d1-f79f-00c04fc2dcd2": "DS-Replication-Get-Changes",
    "1131f6ad-9c07-11d1-f79f-00c04fc2dcd2": "DS-Replication-Get-Changes-All",
    "89e95b76-444d-4c62-991a-0facbeda640c": "DS-Replication-Get-Changes-In-Filtered-Set",
    "1131f6ab-9c07-11d1-f79f-00c04fc2dcd2": "DS-Replication-Synchronize",
    "1131f6ac-9c07-11d1-f79f-00c04fc2dcd2": "DS-Replication-Manage-Topology",
    "00299570-246d-11d0-a768-00aa006e0529": "User-Force-Change-Password",
    "ab721a53-1e2f-11d0-9819-00aa0040529b": "User-Change-Password",
    # classes (the object type of a 4662)
    "19195a5b-6da0-11d0-afd3-00c04fd930c9": "domainDNS",
    "bf967aba-0de6-11d0-a285-00aa003049e2": "user",
    "bf967a86-0de6-11d0-a285-00aa003049e2": "computer",
    "bf967a9c-0de6-11d0-a285-00aa003049e2": "group",
    "bf967aa5-0de6-11d0-a285-00aa003049e2": "organizationalUnit",
    "f30e3bc2-9ff0-11d1-b603-0000f80367c1": "groupPolicyContainer",
    # attributes attacks write: group membership, shadow credentials, resource-based delegation, SPNs (Kerberoasting)
    "bf9679c0-0de6-11d0-a285-00aa003049e2": "member",
    "5b47d60f-6090-40b2-9f37-2a4de88f3063": "msDS-KeyCredentialLink",
    "3f78c3e5-f79a-46bd-a0b8-9d18116ddc79": "msDS-AllowedToActOnBehalfOfOtherIdentity",
    "f3a64788-5306-11d1-a9c5-0000f80367c1": "servicePrincipalName",
})

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_LONGEST = 4096  # a 4662's Properties lists a few GUIDs; a hostile one is not scanned past this


def guid_names(text: str, leave_out: str = "") -> list[str]:
    """The names of the known GUIDs in ``text``, in order, once each (unknown ones and ``leave_out``'s left out)."""
    skip = {g.lower() for g in _GUID.findall(leave_out[:_LONGEST])}
    found: dict[str, None] = {}
    for guid in _GUID.findall(text[:_LONGEST]):
        name = AD_GUID_NAMES.get(guid.lower())
        if name is not None and guid.lower() not in skip:
            found[name] = None
    return list(found)


def _text(unmapped: Mapping[str, Any], key: str) -> str:
    value = unmapped.get(key)
    return value.strip() if isinstance(value, str) else ""


def directory_access(unmapped: Mapping[str, Any]) -> str:
    """``pgustavo: DS-Replication-Get-Changes-All on domainDNS`` for an access to a directory object (Security 4662
    with ``ObjectServer: DS``): who, the rights or attributes named in ``Properties`` (else the access list's words),
    on which class; "" for any other event."""
    if _text(unmapped, "ObjectServer").upper() != "DS":
        return ""
    kind = _text(unmapped, "ObjectType")
    rights = guid_names(_text(unmapped, "Properties"), leave_out=kind)
    if not rights:  # "%%7688\r\n\t\tControl Access": the rendered words, the message-table codes left out
        rights = [" ".join(w for w in _text(unmapped, "AccessList").split() if not w.startswith("%%"))]
    named = guid_names(kind)
    target = named[0] if named else kind.strip("%{}")
    what = ", ".join(r for r in rights if r)
    line = " on ".join(part for part in (what, target) if part)
    who = _text(unmapped, "SubjectUserName")
    return f"{who}: {line}" if who and line else line
