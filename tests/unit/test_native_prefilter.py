"""The native rules' prefilter (analyzer/native/prefilter.py) gives the verdicts of testing every rule of the event's
type: on real Windows events (OTRF, read in place; under CI a missing corpus fails), generated events and hostile
documents, and for each way a rule is filed."""

from __future__ import annotations

import contextlib
import random
from typing import Any

import pytest

from secustream.analyzer.native import RulesEngine, RuleSet
from secustream.analyzer.native.engine import file_rules, index_by_event_type
from secustream.analyzer.native.prefilter import RuleFiling, filing
from secustream.analyzer.native.schema import Rule
from secustream.events import SecurityEvent
from secustream.generator import EventGenerator
from secustream.normalizers import NormalizationError, normalize_windows
from secustream.state import MemoryState
from tests.corpora import OTRF, REPO, otrf_lines, otrf_recordings, require

DEFAULT_RULES = REPO / "services" / "secustream" / "rules" / "default.yaml"


def matched_by_all(rules: tuple[Rule, ...], doc: dict[str, Any]) -> list[str]:
    """The reference: every rule of the bucket tested, in file order."""
    return [rule.id for rule in rules if rule.matches(doc)]


def matched_by_filing(found: RuleFiling, doc: dict[str, Any]) -> list[str]:
    return [rule.id for rule in found.candidates(doc) if rule.matches(doc)]


def assert_same(ruleset: RuleSet, docs: list[dict[str, Any]]) -> int:
    """Each document's matches through the filing equal those of every rule of its type; how many matched."""
    by_type, untyped = index_by_event_type(ruleset.rules)
    filed, filed_untyped = file_rules(ruleset.rules)
    matched = 0
    for doc in docs:
        kind = doc.get("event_type")
        expected = matched_by_all(by_type.get(kind, untyped), doc)  # type: ignore[arg-type]
        assert matched_by_filing(filed.get(kind, filed_untyped), doc) == expected, doc  # type: ignore[arg-type]
        matched += bool(expected)
    return matched


def test_real_windows_events_match_as_if_every_rule_were_tested() -> None:
    recordings = otrf_recordings() or [require(OTRF / "missing")]
    docs = []
    for recording in recordings:
        for i, line in enumerate(otrf_lines(recording)):
            if i == 1_500:  # each recording's attack is in its first minutes; reading on costs CI time
                break
            if i % 5 == 0:
                with contextlib.suppress(NormalizationError):
                    docs.append(normalize_windows(line).model_dump(mode="json", exclude_none=True))
    assert len(docs) > 25_000
    matched = assert_same(RuleSet.load(DEFAULT_RULES), docs)
    assert matched >= 20  # the sample holds PowerShell, PsExec, DCSync... (not only events that match nothing)


def test_generated_events_match_as_if_every_rule_were_tested() -> None:
    generator = EventGenerator(seed=5, attack_ratio=0.3)
    docs = [g.event.model_dump(mode="json", exclude_none=True) for g in generator.next_batch(5_000)]
    assert assert_same(RuleSet.load(DEFAULT_RULES), docs) >= 100


def hostile_values() -> list[Any]:
    rng = random.Random(7)
    texts = ["", "\x00", "sudo", "SUDO", "ssh_login", "Security", "4662", "psexec.exe", "PsExec.EXE", "x" * 100_000,
             "\ud800", "İ", "\\\\host\\c$"]
    return [*texts, None, 4662, 4662.0, True, 1, 0, -1, 2**70, [], ["sudo"], {}, {"a": "sudo"},
            *(rng.choice(texts) + rng.choice(texts) for _ in range(40))]


def test_hostile_documents_match_as_if_every_rule_were_tested() -> None:
    """Lists, mappings, huge numbers, NUL and lone surrogates wherever a rule looks: the same matches, and no
    exception (``in`` over a list raised TypeError until the prefilter's tests found it: the record failed its
    analysis; a list now equals none of the options)."""
    ruleset = RuleSet.load(DEFAULT_RULES)
    by_type, untyped = index_by_event_type(ruleset.rules)
    filed, filed_untyped = file_rules(ruleset.rules)
    paths = sorted({c.path for rule in ruleset.rules for block in (rule.match, *rule.any_of) for c in block})
    rng = random.Random(11)
    values = hostile_values()
    kinds = ["process", "auth", "network", "dns", "registry", "file", "other", None, 7, ["auth"]]
    for _ in range(3_000):
        doc: dict[str, Any] = {"event_type": rng.choice(kinds)}
        for path in rng.sample(paths, k=rng.randint(1, len(paths))):
            node = doc
            for part in path[:-1]:
                node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
            node[path[-1]] = rng.choice(values)
        kind = doc["event_type"]
        bucket = by_type.get(kind, untyped) if isinstance(kind, str) else untyped
        found = filed.get(kind, filed_untyped) if isinstance(kind, str) else filed_untyped
        assert matched_by_filing(found, doc) == matched_by_all(bucket, doc), doc


def rules(body: str) -> RuleSet:
    return RuleSet.from_yaml_text("rules:\n" + body)


def rule(rule_id: str, conditions: str) -> str:
    return (f"  - id: {rule_id}\n    description: t\n    severity: high\n    threat_type: brute_force\n"
            + conditions)


FILINGS = rules(
    rule("EQ", "    match:\n      event_type: auth\n      action: sudo\n      outcome: failure\n")
    + rule("IN", "    match:\n      unmapped.EventID: [4624, 4625]\n")
    + rule("PRESENT", "    match:\n      process.command_line: {regex: 'x'}\n")
    + rule("NULL-IN", "    match:\n      source.user: {in: [null, root]}\n")
    + rule("NOT", "    match:\n      source.user: {not_equals: root}\n")
    + rule("ANY", "    match:\n      event_type: process\n    any:\n      - process.name: psexec.exe\n"
                  "      - process.command_line: {contains: psexec}\n")
    + rule("ANY-OPEN", "    match:\n      event_type: process\n    any:\n      - process.name: psexec.exe\n"
                       "      - process.parent_name: {not_contains: x}\n")
)


@pytest.mark.parametrize(("rule_id", "keys"), [
    ("EQ", ((("action",), frozenset({"sudo"})),)),  # the first equality but event_type (the bucket's)
    ("IN", ((("unmapped", "EventID"), frozenset({4624, 4625})),)),
    ("PRESENT", ((("process", "command_line"), None),)),  # a regex never holds on an absent field
    ("NULL-IN", ()),  # holds where source.user is absent: tested on every event
    ("NOT", ()),
    ("ANY", ((("process", "name"), frozenset({"psexec.exe"})), (("process", "command_line"), None))),
    ("ANY-OPEN", ()),  # one block holds on an absent field
])
def test_each_rule_is_filed_under_a_condition_it_cannot_match_without(rule_id: str, keys: tuple) -> None:
    assert filing(next(r for r in FILINGS.rules if r.id == rule_id)) == keys


@pytest.mark.parametrize(("doc", "expected"), [
    ({"event_type": "auth", "action": "SUDO", "outcome": "failure"}, ["EQ", "NULL-IN", "NOT"]),
    ({"event_type": "auth", "action": "ssh_login"}, ["NULL-IN", "NOT"]),
    ({"unmapped": {"EventID": 4625}}, ["IN", "NULL-IN", "NOT"]),
    ({"unmapped": {"EventID": "4625"}}, ["NULL-IN", "NOT"]),  # a string is not the number, as before
    ({"unmapped": {"EventID": [4625]}}, ["NULL-IN", "NOT"]),  # a list equals no number
    ({"event_type": "process", "process": {"name": "PsExec.exe"}}, ["NULL-IN", "NOT", "ANY", "ANY-OPEN"]),
    ({"event_type": "process", "process": {"command_line": "psexec \\\\h"}},
     ["PRESENT", "NULL-IN", "NOT", "ANY", "ANY-OPEN"]),
    ({"source": {"user": "root"}}, ["NULL-IN"]),
])
def test_an_event_meets_the_rules_filed_under_what_it_holds(doc: dict[str, Any], expected: list[str]) -> None:
    by_type, untyped = index_by_event_type(FILINGS.rules)
    filed, filed_untyped = file_rules(FILINGS.rules)
    kind = doc.get("event_type")
    assert matched_by_filing(filed.get(kind, filed_untyped), doc) == expected  # type: ignore[arg-type]
    assert matched_by_all(by_type.get(kind, untyped), doc) == expected  # type: ignore[arg-type]


def test_the_engine_fires_through_the_filing() -> None:
    engine = RulesEngine(FILINGS, MemoryState())
    event = SecurityEvent(event_type="process", process={"name": "psexec.exe", "command_line": "x"})
    assert [h.rule_id for h in engine.evaluate([event])[0]] == ["PRESENT", "NULL-IN", "NOT", "ANY", "ANY-OPEN"]
