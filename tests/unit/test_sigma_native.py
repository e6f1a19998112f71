"""The Sigma prefilter's C loops (``analyzer/sigma/_scan.c``) against their Python reference.

The engine uses the C ``gather``/``pick`` where the extension is built (always here: ``make setup`` compiles
it) and the Python ones otherwise; both must give the same constraint ids, the same keyword texts and the
same candidates on every value a real or hostile event can carry, and the C side must fail with an
exception, never a crash, on anything else. Real events: ``test_sigma_corpus.py`` compares them on the
OTRF recordings with the full SigmaHQ corpus.
"""

from __future__ import annotations

import os
import random
import uuid
from typing import Any

import pytest
import yaml

from secustream.analyzer.sigma import SigmaRuleSet
from secustream.analyzer.sigma import engine as sigma_engine
from secustream.analyzer.sigma.engine import _Index, gather_event_python, pick_rules_python
from tests.sigma_loops import gather_with

try:
    from secustream.analyzer.sigma import _scan
except ImportError:  # not built: the Python loops only
    _scan = None  # type: ignore[assignment]

WINDOWS = frozenset({"product:windows", "service:sysmon", "category:process_creation"})


def _rule(detection: dict[str, Any], logsource: dict[str, str] | None = None) -> dict[str, Any]:
    return {"title": f"rule {uuid.uuid4()}", "id": str(uuid.uuid4()), "status": "test", "level": "high",
            "logsource": logsource or {"product": "windows", "category": "process_creation"},
            "detection": detection}


RULES = [
    _rule({"sel": {"EventID": 1, "Image|endswith": "\\cmd.exe"}, "condition": "sel"}),
    _rule({"sel": {"CommandLine|contains": ["whoami", "mimikatz"]}, "condition": "sel"}),
    _rule({"sel": {"Signed": True, "Hashes|contains": "md5="}, "condition": "sel"}),
    _rule({"sel": {"ParentProcessId": 4, "User": "SYSTEM"}, "condition": "sel"}),
    _rule({"sel": {"Company": None}, "condition": "not sel"}),
    _rule({"sel": {"OriginalFileName|exists": True}, "condition": "sel"}),
    _rule({"sel": {"Port": 4444}, "condition": "sel"}),
    _rule({"sel": {"Description|contains": "\x00nul"}, "condition": "sel"}),
]
KEYWORD_RULE = _rule({"keywords": ["sekurlsa", "kerberos::"], "condition": "keywords"}, {"product": "windows"})
# "x:y" is shorter than a guard (4 characters): no guards cover this rule's keywords, the clean set serves instead
UNGUARDED_RULE = _rule({"keywords": ["sekurlsa", "kerberos::", "x:y"], "condition": "keywords"}, {"product": "windows"})

HOSTILE: list[dict[str, Any]] = [
    {},
    {"EventID": 1, "Image": "C:\\Windows\\System32\\CMD.EXE", "CommandLine": "cmd /c WHOAMI /all"},
    {"EventID": "1", "Image": "", "CommandLine": None, "Signed": True, "Hashes": "MD5=ABC,SHA1=DEF"},
    {"EventID": 1.0, "ParentProcessId": "4", "User": "system", "Port": 4444.0, "Signed": "true"},
    {"EventID": 2**70, "Port": -1, "ParentProcessId": 4, "Signed": 1, "Hashes": ["md5=1", None, 3]},
    {"CommandLine": "x" * 100_000 + "mimikatz", "Description": "a\x00NUL b", "OriginalFileName": ""},
    {"CommandLine": "Ḝ\u0130\u212a sekurlsa::logonpasswords", "Image": {"nested": ["cmd.exe"]}, "Port": True},
    {"Company": None, "User": ["SYSTEM", "x"], "CommandLine": "\udcff broken", "Unrelated": "kerberos::ptt"},
    {"Unrelated" + str(i): f"value {i}" for i in range(200)},
]
PROCESS = {"executable": "C:\\Tools\\CMD.exe", "name": "whoami.exe", "parent_pid": 4, "user": "SYSTEM",
           "command_line": "kerberos::ptt x"}
DOCS: list[dict[str, Any]] = [
    *({"unmapped": unmapped} for unmapped in HOSTILE),
    {},
    {"unmapped": None, "message": "", "raw": "raw sekurlsa line", "process": PROCESS},
    {"unmapped": {"Image": "", "User": None, "EventID": 1}, "message": "a message", "process": PROCESS,
     "file": {"sha256": "MD5=1"}, "source": {"user": "system"}},
    {"unmapped": {}, "message": "x" * 300, "raw": "ignored: a message is there", "process": "not a dict"},
    {"unmapped": {"Hashes": ""}, "process": {"executable": ["cmd.exe", None], "pid": 2**70, "command_line": ""},
     "file": {"sha256": 7}, "unmapped_too": {"event_code": 1}},
    {"unmapped": {"event_code": 1}, "process": {"name": "", "parent_pid": None}, "source": "not a dict"},
    {"unmapped": {"CommandLine": "cmd"}, "message": "\udcff broken \u0130", "process": {"user": {"deep": [1]}}},
]


@pytest.fixture(scope="module")
def groups() -> list[Any]:
    """The logsource group of the rules without keywords, one with a keyword rule beside them whose literals
    guards cover, and one whose literals they do not."""
    rulesets = [SigmaRuleSet.from_yaml_text(yaml.safe_dump_all(rules))
                for rules in (RULES, [*RULES, KEYWORD_RULE], [*RULES, UNGUARDED_RULE])]
    assert not any(ruleset.errors for ruleset in rulesets), [ruleset.errors for ruleset in rulesets]
    found = [_Index(ruleset).candidates(WINDOWS) for ruleset in rulesets]
    assert found[0].keywords is None
    assert found[1].keywords.probe[3] == (b"ros:urls" if sigma_engine.NATIVE_PREFILTER else b"")
    assert found[2].keywords.probe[3:] == (b"", b"")
    return found


def test_the_c_loops_are_built_where_the_setup_ran() -> None:
    """``make setup`` compiles the extension (setup.py); in CI a missing build is a failure, not the slower path."""
    if not sigma_engine.NATIVE_PREFILTER and not os.environ.get("CI"):
        pytest.skip("secustream.analyzer.sigma._scan not built here (no C compiler at install)")
    assert sigma_engine.NATIVE_PREFILTER
    assert sigma_engine.gather_event is not gather_event_python and sigma_engine.pick_rules is not pick_rules_python


@pytest.mark.parametrize("doc", DOCS, ids=range(len(DOCS)))
def test_c_and_python_loops_agree_on_hostile_values(groups: list[Any], doc: dict[str, Any]) -> None:
    if not sigma_engine.NATIVE_PREFILTER:
        pytest.skip("the C loops are not built here")
    for group in groups:
        for _round in range(2):  # cold memos, then warm
            native = gather_with(sigma_engine.gather_event, group, doc)
            python = gather_with(gather_event_python, group, doc)
            assert native == python
            satisfied = native[0] | set(group.given)
            assert (sigma_engine.pick_rules(satisfied, group.anchored, group.always)
                    == pick_rules_python(satisfied, group.anchored, group.always))


def test_the_loops_pick_what_the_rules_need(groups: list[Any]) -> None:
    """Not only equal: right. A whoami command line makes its rule a candidate; an event with no literal none."""
    plain = groups[0]
    keyed = groups[1]
    loops = ((gather_event_python, pick_rules_python), (sigma_engine.gather_event, sigma_engine.pick_rules))
    for gather, pick in loops:
        satisfied, _ = gather_with(gather, plain, {"unmapped": {"CommandLine": "cmd /c WhoAmI"}})
        assert len(pick(satisfied, plain.anchored, plain.always)) == len(plain.always) + 1
        satisfied, _ = gather_with(gather, plain, {"unmapped": {"CommandLine": "notepad"}})
        assert pick(satisfied, plain.anchored, plain.always) == sorted(plain.always)
        # the same field where the normaliser put it (process.command_line): found through its alias path
        satisfied, _ = gather_with(gather, plain, {"process": {"command_line": "cmd /c WhoAmI"}})
        assert len(pick(satisfied, plain.anchored, plain.always)) == len(plain.always) + 1
        # without guards: an ASCII string shorter than the shortest keyword ("x:y": 3) holds none and is not
        # searched; the same length lower-cased longer (U+0130 becomes two characters) or other characters still are
        unguarded = groups[2]
        doc = {"unmapped": {"A": "the first", "B": 2}, "message": "the second", "raw": "not searched",
               "process": {"command_line": "the third"}}
        assert gather_with(gather, unguarded, doc)[1] == ["the first", "the second", "the third"]
        short = {"A": "x:", "B": "x:y", "C": "X\u0130", "D": "ü"}
        assert gather_with(gather, unguarded, {"unmapped": short})[1] == ["x:y", "X\u0130", "ü"]
        if sigma_engine.NATIVE_PREFILTER:  # only the C loops read guards: without them no group has any
            # keyword texts: every string of unmapped, the message (else the raw line) and the command line that
            # may hold a guard ("ros:" or "urls", folded: any case, and "\x1a" folds onto ":")
            doc = {"unmapped": {"A": "the first, kerbeROS::", "B": 2, "C": "no guard"}, "message": "the second URLS",
                   "raw": "not searched ros:", "process": {"command_line": "the third ROS\x1a"}}
            want = ["the first, kerbeROS::", "the second URLS", "the third ROS\x1a"]
            assert gather_with(gather, keyed, doc)[1] == want
            assert gather_with(gather, keyed, {"raw": "the raw line, ros:"})[1] == ["the raw line, ros:"]
            # a guard split by a character that is not ASCII, or only in other characters, is not one; a text with
            # U+0130 or U+212A (``str.lower`` makes ASCII of them) is searched whatever it holds
            others = {"A": "ur\u00e9ls", "B": "\uff35RLS", "C": "sekurlsa", "D": "x\u0130", "E": "\u212a", "F": "ros"}
            assert gather_with(gather, keyed, {"unmapped": others})[1] == ["sekurlsa", "x\u0130", "\u212a"]


class _Legacy(str):
    """A str subclass: its characters are stored apart from the object (not compact), so the C pass has no bytes
    before them to read and copies a short tail instead."""


def _passes() -> list[bool]:
    """The block widths this CPU runs: the SSE2 pass (16 windows), and the AVX2 one (32) where it has AVX2."""
    return [False, True] if _scan is not None and _scan.WIDE else [False]


@pytest.mark.parametrize("wide", _passes(), ids=lambda wide: "avx2" if wide else "sse2")
def test_the_c_guard_pass_agrees_with_python_at_every_length_and_offset(groups: list[Any], wide: bool) -> None:
    """The C pass reads 16 (SSE2) or 32 (AVX2) windows at a time and the last ones from the block ending at the
    text's end (reading into a compact string's header, masked) or a copy (a string stored apart): a guard at any
    offset of a text of any length (across a block's end, in the last block, at the very end), in any case, among
    Latin-1 or wider characters, is found as the Python reference finds it; and random texts over the guards'
    characters agree, as a compact string and stored apart, as an ``unmapped`` value and as the message."""
    if not sigma_engine.NATIVE_PREFILTER:
        pytest.skip("the C loops are not built here")
    keyed = groups[1]
    clean, shortest, longest, packed, _table = keyed.keywords.probe
    probe = (clean, shortest, longest, packed, _scan.guard_table(packed, wide))
    texts = []
    for length in range(0, 80):
        for offset in range(0, max(length - 3, 0) + 1):
            for guard, filler in (("ros:", "x"), ("URLS", "é"), ("uRlS", "\u0101"), ("ro", "s")):
                text = (filler * length)[:length]
                texts.append(text[:offset] + guard + text[offset + len(guard):] if offset + 4 <= length else text)
    rng = random.Random(7)
    texts += ["".join(rng.choice("rosRO:\x1aulURL é") for _ in range(rng.randrange(90))) for _ in range(3000)]
    held = 0
    for text in texts:
        for stored in (text, _Legacy(text)):
            for doc in ({"unmapped": {"A": stored}}, {"message": stored}):
                native: list[str] = []
                _scan.gather(doc, {}, set(), native, probe, (), ())
                python: list[str] = []
                gather_event_python(doc, {}, set(), python, probe, (), ())
                assert native == python, (text, type(stored), doc.keys())
        held += bool(native)
    assert 0.2 < held / len(texts) < 0.8  # both answers are well tried


def test_the_guard_table_builds_the_pass_asked_for() -> None:
    """``guard_table`` takes the widest pass by default; asking for AVX2 where the CPU has none is an error."""
    if _scan is None:
        pytest.skip("the C loops are not built here")
    default, narrow = _scan.guard_table(b"ros:"), _scan.guard_table(b"ros:", False)
    assert len(default) == len(narrow) and default != narrow if _scan.WIDE else default == narrow
    if not _scan.WIDE:
        with pytest.raises(ValueError, match="AVX2"):
            _scan.guard_table(b"ros:", True)


def test_the_c_pick_sorts_and_drops_repeats_as_the_python_one() -> None:
    """A rule reached through two anchors, or also in ``always``, is picked once; the list is sorted."""
    if not sigma_engine.NATIVE_PREFILTER:
        pytest.skip("the C loops are not built here")
    anchored = {1: ((7, frozenset({1, 2})), (3, frozenset({1}))), 2: ((7, frozenset({2})), (9, frozenset({2, 5}))),
                4: ((3, frozenset({4, 1})),)}
    for satisfied, always in (({1, 2, 4}, frozenset({3, 11})), ({1, 2, 4}, frozenset()), (set(), frozenset({5})),
                              ({5}, frozenset()), ({2, 5}, frozenset({9}))):
        want = pick_rules_python(satisfied, anchored, always)
        assert sigma_engine.pick_rules(satisfied, anchored, always) == want
        assert want == sorted(set(want))
    assert sigma_engine.pick_rules({1, 2, 4}, anchored, frozenset({3, 11})) == [3, 7, 11]


class _Raising:
    def text(self, _value: str) -> tuple[int, ...]:
        raise RuntimeError("scan failed")

    number = value = text


def test_the_c_loops_raise_instead_of_crashing_on_bad_input() -> None:
    if not sigma_engine.NATIVE_PREFILTER:
        pytest.skip("the C loops are not built here")
    from secustream.analyzer.sigma import _scan  # type: ignore[attr-defined]

    def gather(doc: Any, fields: Any, fresh: Any = None, probe: Any = None, fallback: Any = (),
               given: Any = ()) -> None:
        _scan.gather(doc, fields, set(), fresh, probe, fallback, given)

    with pytest.raises(TypeError):
        _scan.gather({}, {}, set(), None, None, ())  # six arguments
    for doc, fields in (([], {}), ({"unmapped": ["x"]}, {}), ({"unmapped": {"a": "x"}}, {"a": ("not", "three")}),
                        ({"unmapped": {"a": "x"}}, {"a": ({"x": [1]}, {}, _Raising())})):  # a memo holding a list
        with pytest.raises(TypeError):
            gather(doc, fields)
    table = _scan.guard_table(b"abcd")
    for probe in (None, (set(), 1), ([], 1, 2, b"", b""), (set(), "1", 2, b"", b""), (set(), 1, 2, b""),
                  (set(), 1, 2, "abcd", table), (set(), 1, 2, b"abc", table), (set(), 1, 2, b"abcd" * 17, table),
                  (set(), 1, 2, b"abcd", b""), (set(), 1, 2, b"abcd", table[1:])):  # not (clean, shortest, longest,
        # guards, their table)
        with pytest.raises(TypeError):
            gather({"unmapped": {"a": "x"}}, {}, fresh=[], probe=probe)
    with pytest.raises(OverflowError):
        gather({}, {}, fresh=[], probe=(set(), 2**70, 1, b"", b""))
    with pytest.raises(TypeError):
        gather({}, {}, fallback=(("a",),))  # a fallback entry without its paths
    with pytest.raises(TypeError):
        gather({}, {}, given=[1])
    with pytest.raises(KeyError):
        gather({"a": "x"}, {}, fallback=(("a", (("a",),)),))  # a fallback field with no entry
    for value in ("x", 7, 2.5):
        with pytest.raises(RuntimeError, match="scan failed"):
            gather({"unmapped": {"a": value}}, {"a": ({}, {}, _Raising())})
        with pytest.raises(RuntimeError, match="scan failed"):
            gather({"p": {"a": value}}, {"a": ({}, {}, _Raising())}, fallback=(("a", (("p", "a"),)),))
    with pytest.raises(TypeError):
        _scan.pick({1}, {1: [(1, frozenset())]}, frozenset())
    with pytest.raises(TypeError):
        _scan.pick({1}, {1: ((1, {2}, 3),)}, frozenset())
    assert _scan.pick({1, 2}, {1: ((5, frozenset({1, 2})), (6, frozenset({1, 3})))}, frozenset({9})) == [5, 9]


def test_a_batchs_keyword_texts_are_searched_together_and_hits_go_to_their_events(groups: list[Any]) -> None:
    """One search over every event's texts: the ids land on the events that hold a keyword, whatever the texts
    around them (empty events, NUL, non-ASCII, texts the caseless scan cannot answer), and without guards only short
    texts holding none are remembered clean (with guards, no text is: each is passed over for a guard)."""
    batch = [[], ["plain", "x" * 300], ["a\x00b", "Ünïcödé sekurlsa::logon"], [], ["caf\u212a"], ["", "kerberos::ptt"],
             ["KERBEROS::"]]
    for group in groups[1:]:
        keywords = group.keywords
        cid = next(iter(keywords.search([["SEKURLSA::x"]])[0]))
        hits = keywords.search(batch)
        assert set(hits) == {2, 5, 6} and all(len(ids) == 1 for ids in hits.values())
        assert cid in hits[2]
    assert groups[1].keywords.clean == {""}
    clean = groups[2].keywords.clean
    assert {"plain", "a\x00b", "caf\u212a"} <= clean
    assert not {"x" * 300, "kerberos::ptt", "KERBEROS::", "Ünïcödé sekurlsa::logon"} & clean
