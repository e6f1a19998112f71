"""The Sigma prefilter's C loops (``analyzer/sigma/_scan.c``) against their Python reference.

The engine uses the C ``gather``/``pick`` where the extension is built (always here: ``make setup`` compiles
it) and the Python ones otherwise; both must give the same constraint ids, the same keyword texts and the
same candidates on every value a real or hostile event can carry, and the C side must fail with an
exception, never a crash, on anything else. Real events: ``test_sigma_corpus.py`` compares them on the
OTRF recordings with the full SigmaHQ corpus.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
import yaml

from secustream.analyzer.sigma import SigmaRuleSet
from secustream.analyzer.sigma import engine as sigma_engine
from secustream.analyzer.sigma.engine import _Index, gather_event_python, pick_rules_python
from tests.sigma_loops import gather_with

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
    """The logsource group of the rules without keywords, and one with a keyword rule beside them."""
    plain = SigmaRuleSet.from_yaml_text(yaml.safe_dump_all(RULES))
    keyed = SigmaRuleSet.from_yaml_text(yaml.safe_dump_all([*RULES, KEYWORD_RULE]))
    assert not plain.errors and not keyed.errors, (plain.errors, keyed.errors)
    found = [_Index(ruleset).candidates(WINDOWS) for ruleset in (plain, keyed)]
    assert found[0].keywords is None and found[1].keywords is not None
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
        # keyword texts: every string of unmapped, the message (else the raw line) and the command line
        doc = {"unmapped": {"A": "the first", "B": 2}, "message": "the second", "raw": "not searched",
               "process": {"command_line": "the third"}}
        assert gather_with(gather, keyed, doc)[1] == ["the first", "the second", "the third"]
        assert gather_with(gather, keyed, {"raw": "the raw line"})[1] == ["the raw line"]
        # an ASCII string shorter than the shortest keyword ("sekurlsa": 8) holds none: not searched; the same
        # length lower-cased longer (U+0130 becomes two characters) or other characters still are
        short = {"A": "sekurls", "B": "sekurlsa", "C": "SEKURLS\u0130", "D": "ünïcödé"}
        assert gather_with(gather, keyed, {"unmapped": short})[1] == ["sekurlsa", "SEKURLS\u0130", "ünïcödé"]


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
    for probe in (None, (set(), 1), ([], 1, 2), (set(), "1", 2)):  # fresh texts without a (clean, shortest, longest)
        with pytest.raises(TypeError):
            gather({"unmapped": {"a": "x"}}, {}, fresh=[], probe=probe)
    with pytest.raises(OverflowError):
        gather({}, {}, fresh=[], probe=(set(), 2**70, 1))
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
    around them (empty events, NUL, non-ASCII, texts the caseless scan cannot answer), and only short texts holding
    none are remembered clean."""
    keywords = groups[1].keywords
    cid = next(iter(keywords.search([["SEKURLSA::x"]])[0]))
    batch = [[], ["plain", "x" * 300], ["a\x00b", "Ünïcödé sekurlsa::logon"], [], ["caf\u212a"], ["", "kerberos::ptt"],
             ["KERBEROS::"]]
    hits = keywords.search(batch)
    assert set(hits) == {2, 5, 6} and all(len(ids) == 1 for ids in hits.values())
    assert cid in hits[2]
    assert {"plain", "a\x00b", "caf\u212a"} <= keywords.clean
    assert not {"x" * 300, "kerberos::ptt", "KERBEROS::", "Ünïcödé sekurlsa::logon"} & keywords.clean
    assert keywords.search([[]]) == {} and keywords.search([]) == {}


def test_a_field_memo_holds_bounded_text_however_long_the_values(groups: list[Any]) -> None:
    """Hostile events with long unique values (1 MB each would be 4 GB in a memo of 4,096): a value over
    ``MEMO_LONGEST`` is answered and not kept, and the memo starts over before its keys pass ``MEMO_CHARS``;
    the answers stay those of a fresh scan."""
    scan = groups[0].entries["CommandLine"][2]
    longest, budget = scan.MEMO_LONGEST, scan.MEMO_CHARS
    assert scan.text("x" * (longest + 1) + " whoami") == scan._lowered(("x" * (longest + 1) + " whoami").lower())
    assert all(len(key) <= longest for key in scan.memo)
    for i in range(2 * budget // longest + 2):  # twice the budget in values just under the bound
        value = f"{i:08d}" + "a" * (longest - 8)
        assert scan.text(value) == scan._lowered(value.lower())
        assert scan.memo_chars == sum(map(len, scan.memo)) <= budget
    assert scan.text("cmd /c WhoAmI") == scan._lowered("cmd /c whoami") != ()
    assert "cmd /c WhoAmI" in scan.memo
