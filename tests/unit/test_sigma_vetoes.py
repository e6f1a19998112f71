"""A rule's filters as prefilter vetoes (``plan.vetoes``): a ``contains``, ``startswith`` or ``endswith`` test of a
``not`` part that holds on its field proves the rule cannot match, so its predicate is not run; nothing else may
veto. Real events: ``test_sigma_corpus.py`` asks every rule of the SigmaHQ corpus directly on OTRF events and fails
if the prefilter (vetoes included) left out one that matches."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import yaml

from secustream.analyzer.sigma import SigmaRuleSet
from secustream.analyzer.sigma.engine import _Index
from secustream.analyzer.sigma.matcher import EventView
from secustream.analyzer.sigma.plan import KEYWORDS, vetoes

WINDOWS = frozenset({"product:windows", "service:sysmon", "category:process_creation"})


def _rule(detection: dict[str, Any]) -> dict[str, Any]:
    return {"title": f"rule {uuid.uuid4()}", "id": str(uuid.uuid4()), "status": "test", "level": "high",
            "logsource": {"product": "windows", "category": "process_creation"}, "detection": detection}


def _ruleset(*detections: dict[str, Any]) -> SigmaRuleSet:
    ruleset = SigmaRuleSet.from_yaml_text(yaml.safe_dump_all([_rule(d) for d in detections]))
    assert not ruleset.errors, ruleset.errors
    return ruleset


SELECTION = {"Image|endswith": "\\cmd.exe"}


@pytest.mark.parametrize(("detection", "want"), [
    ({"selection": SELECTION, "filter": {"CommandLine|contains": ["Legit", "/safe"]},
      "condition": "selection and not filter"}, (("CommandLine", ("sub", ("legit", "/safe"))),)),
    ({"selection": SELECTION, "filter_a": {"CommandLine|contains": "x1"}, "filter_b": {"ParentImage|contains": "Y2"},
      "condition": "selection and not 1 of filter_*"},
     (("CommandLine", ("sub", ("x1",))), ("ParentImage", ("sub", ("y2",))))),
    # tests of one field OR-ed into one node: each kind its own veto
    ({"selection": SELECTION, "filter_a": {"CommandLine|contains": "x1"}, "filter_b": {"CommandLine|endswith": "Z9"},
      "filter_c": {"CommandLine|startswith": ["C:\\Tools\\", "d:"]}, "condition": "selection and not 1 of filter_*"},
     (("CommandLine", ("start", ("c:\\tools\\", "d:"))), ("CommandLine", ("end", ("z9",))),
      ("CommandLine", ("sub", ("x1",))))),
    ({"selection": SELECTION, "filter": {"CommandLine|startswith": "a", "CommandLine|endswith": "b"},
      "condition": "selection and not filter"}, ()),
    ({"selection": SELECTION, "filter": {"CommandLine": "exact"}, "condition": "selection and not filter"}, ()),
    # a filter on two fields holds only where both do: neither alone vetoes
    ({"selection": SELECTION, "filter": {"CommandLine|contains": "a1", "User|contains": "b2"},
      "condition": "selection and not filter"}, ()),
    # under an OR the not is one way among others to match
    ({"selection": SELECTION, "filter": {"CommandLine|contains": "a1"}, "other": {"User": "x"},
      "condition": "(selection and not filter) or other"}, ()),
    ({"selection": SELECTION, "filter": {"CommandLine|contains": "a1"}, "condition": "selection and filter"}, ()),
    ({"selection": SELECTION, "keywords": ["evil"], "condition": "selection and not keywords"}, ()),
])
def test_only_a_not_parts_contains_literals_veto(detection: dict[str, Any], want: tuple[Any, ...]) -> None:
    (rule,) = _ruleset(detection).rules
    found = vetoes(rule.plan)
    assert found == want
    assert all(field != KEYWORDS for field, _literals in found)


def test_a_vetoed_rule_is_not_a_candidate_and_could_not_have_matched() -> None:
    ruleset = _ruleset(
        {"selection": SELECTION, "filter_a": {"CommandLine|contains": "Legit"},
         "filter_b": {"Hashes|contains": "md5=00"}, "filter_c": {"ParentImage|startswith": "C:\\Program Files\\"},
         "filter_d": {"ParentImage|endswith": "\\explorer.exe"}, "condition": "selection and not 1 of filter_*"},
        {"selection": SELECTION, "condition": "selection"},  # the same selection without filters: always a candidate
    )
    index = _Index(ruleset)
    group = index.candidates(WINDOWS)
    assert list(group.vetoed) == [0] and len(group.vetoed[0]) == 4
    cmd = "C:\\Windows\\cmd.exe"
    cases = [
        ({"Image": cmd, "CommandLine": "cmd /c LEGIT tool"}, False),
        ({"Image": cmd, "CommandLine": "cmd /c other"}, True),
        ({"Image": cmd, "CommandLine": None}, True),
        ({"Image": cmd, "CommandLine": ["a", None, "x legit"]}, False),  # any item of a list
        ({"Image": cmd, "CommandLine": ["a", None, "b"]}, True),
        ({"Image": cmd, "CommandLine": 7, "Hashes": "SHA1=1,MD5=00AB"}, False),
        ({"Image": cmd, "CommandLine": ""}, True),
        ({"Image": cmd, "ParentImage": "c:\\program files\\tool.exe"}, False),
        ({"Image": cmd, "ParentImage": "D:\\C:\\Program Files\\tool.exe"}, True),  # the literal, not at the start
        ({"Image": cmd, "ParentImage": "C:\\Windows\\EXPLORER.EXE"}, False),
        ({"Image": cmd, "ParentImage": "C:\\Windows\\explorer.exe.bak"}, True),  # the literal, not at the end
        ({"Image": cmd, "ParentImage": ["x", "C:\\Windows\\explorer.exe"]}, False),
        ({"Image": cmd, "ParentImage": 5}, True),
    ]
    for _round in range(2):  # cold memos, then warm
        for unmapped, candidate in cases:
            doc = {"unmapped": unmapped}
            picked = group.select(EventView(doc, index.resolvers))
            assert (0 in picked) is candidate, unmapped
            assert 1 in picked
            # a veto only ever removes a rule whose predicate is false
            assert ruleset.rules[0].predicate(EventView(doc, index.resolvers)) is candidate, unmapped  # type: ignore[misc]
