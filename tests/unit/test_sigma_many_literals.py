"""Rules that name hundreds of short literals (SigmaHQ's emoji rules: ~900 single emoji each on CommandLine).

Two things kept them slow on every process creation: the prefilter took a literal under three characters as
no constraint (the command line's mere presence made the rule a candidate), and the predicate tried each literal
with ``in`` (~25 µs a command line). Now a literal with a character outside ASCII narrows at any length, and more
than ``matcher.MOST_NEEDLES`` literals are one Aho-Corasick pass; both must answer exactly as before."""

from __future__ import annotations

import random
import uuid

import yaml

from secustream.analyzer.sigma import SigmaRuleSet
from secustream.analyzer.sigma.engine import _Index
from secustream.analyzer.sigma.matcher import MOST_NEEDLES, EventView, string_test

EMOJI = tuple(chr(code) for code in range(0x1F600, 0x1F650))
WINDOWS = frozenset({"product:windows", "service:sysmon", "category:process_creation"})


def test_many_contains_literals_answer_as_one_in_per_literal() -> None:
    needles = (*EMOJI, "ab\udcff", "\x00z", "é", "long literal", "\U0001f600x")
    assert len(needles) > MOST_NEEDLES
    test = string_test((("contains", needles),))
    rng = random.Random(3)
    alphabet = ["a", "b", "z", "\x00", "\udcff", "\ud83d", "é", "x", " ", *EMOJI[:3], chr(0x1F700)]
    drawn = ("".join(rng.choice(alphabet) for _ in range(rng.randrange(12))) for _ in range(3000))
    texts = ["", "plain", "long literal!", "\ud83d\ude00", *drawn]
    held = 0
    for text in texts:
        want = any(needle in text for needle in needles)
        assert test(text) is want, repr(text)
        held += want
    assert 0 < held < len(texts)


def _ruleset(contains: list[str]) -> SigmaRuleSet:
    rule = {"title": f"rule {uuid.uuid4()}", "id": str(uuid.uuid4()), "status": "test", "level": "medium",
            "logsource": {"product": "windows", "category": "process_creation"},
            "detection": {"selection": {"CommandLine|contains": contains}, "condition": "selection"}}
    ruleset = SigmaRuleSet.from_yaml_text(yaml.safe_dump(rule))
    assert not ruleset.errors, ruleset.errors
    return ruleset


def test_short_literals_outside_ascii_narrow_the_candidates_and_ascii_ones_do_not() -> None:
    emoji = _ruleset(list(EMOJI))
    (rule,) = emoji.rules
    assert rule.requirement == ((("CommandLine", ("sub", EMOJI)),),)
    index = _Index(emoji)
    group = index.candidates(WINDOWS)
    for command_line, matches in (("cmd /c echo hi", False), (f"cmd /c echo {EMOJI[7]}", True), ("", False)):
        doc = {"unmapped": {"CommandLine": command_line}}
        picked = group.select(EventView(doc, index.resolvers))
        assert bool(picked) is matches
        assert rule.predicate(EventView(doc, index.resolvers)) is matches  # type: ignore[misc]
    # two ASCII characters are in most command lines: the rule stays a candidate wherever there is one
    (short,) = _ruleset(["ab", "cd"]).rules
    assert short.requirement == ((("CommandLine", None),),)
