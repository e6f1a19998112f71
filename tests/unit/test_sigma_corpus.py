"""The SigmaHQ corpus through the real normaliser and engine (../shared/corpora, used in place).

- SigmaHQ's own regression suite: each case's events must fire its rule (>= 200 of 202; failures named).
- Every rule file of rules/, rules-emerging-threats/ and rules-threat-hunting/ loads or is reported.
- Every loaded rule can match: a witness event built from its plan satisfies its predicate, and the
  prefilter then picks the rule (a rule the prefilter can never pick would be silently dead).
"""

from __future__ import annotations

import pytest

from secustream.analyzer.sigma import SigmaEngine, SigmaRuleSet
from secustream.analyzer.sigma.cache import load_compiled
from secustream.analyzer.sigma.engine import _Index
from secustream.analyzer.sigma.loader import CompiledPack, assemble, merge_packs
from secustream.analyzer.sigma.matcher import EventView
from secustream.normalizers import NormalizationError, normalize_windows
from secustream.state import MemoryState
from tests.corpora import RULE_DIRS, SIGMAHQ, regression_cases, require
from tests.sigma_loops import gather_with
from tests.sigma_witness import as_doc, variants


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CompiledPack:
    require(SIGMAHQ)
    cache = tmp_path_factory.mktemp("sigma-cache")
    return merge_packs([load_compiled(SIGMAHQ / d, cache) for d in RULE_DIRS])


@pytest.fixture(scope="module")
def full(corpus: CompiledPack) -> SigmaRuleSet:
    return assemble(corpus)


def test_regression_suite_fires_through_the_normaliser_and_engine(full: SigmaRuleSet) -> None:
    by_ref = {ref: r.rule_id for r in full.rules for ref in r.refs}
    engine = SigmaEngine(full, MemoryState())
    cases = [c for c in regression_cases() if c.events]  # one case ships only a commented-out raw test
    failures = []
    for case in cases:
        events = []
        for line in case.events:
            try:
                events.append(normalize_windows(line))
            except NormalizationError as exc:
                failures.append(f"{case.name}: normaliser refused an event: {exc.reason}")
        wanted = {ref: by_ref.get(ref) for ref in case.rule_ids}
        missing = [ref for ref, rule_id in wanted.items() if rule_id is None]
        if missing:
            failures.append(f"{case.name}: rule {missing} not loaded")
            continue
        fired = {h.rule_id for hits in engine.evaluate(events) for h in hits}
        if not set(wanted.values()) <= fired:
            failures.append(f"{case.name}: {sorted(set(wanted.values()) - fired)} did not fire "
                            f"(events: {[(e.dataset, e.action) for e in events][:3]})")
    passed = len(cases) - len({f.split(":")[0] for f in failures})
    print(f"SigmaHQ regression suite: {passed} of {len(cases)} pass", *failures, sep="\n  ")
    assert len(cases) >= 202
    assert passed >= 200, failures


def test_every_rule_file_loads_or_is_reported(corpus: CompiledPack) -> None:
    files = [str(p) for d in RULE_DIRS for p in sorted((SIGMAHQ / d).rglob("*.yml"))]
    loaded = {r.origin for r in corpus.rules} | {c.origin for c in corpus.correlations}
    reported = {i.origin for i in corpus.issues if i.level == "error"} | {
        i.origin for i in corpus.issues if "not loaded" in i.reason}
    silent = [f for f in files if f not in loaded and f not in reported]
    assert not silent, silent[:10]
    errors = [str(i) for i in corpus.issues if i.level == "error"]
    print(f"{len(corpus.rules)} rules loaded from {len(files)} files; {len(errors)} rejected:", *errors, sep="\n  ")
    assert len(corpus.rules) >= 3700
    assert all("reason" not in e or ": " in e for e in errors)


def test_every_loaded_rule_can_match_and_the_prefilter_picks_it(full: SigmaRuleSet) -> None:
    index = _Index(full)
    unproven, missed = [], []
    for i, rule in enumerate(full.rules):
        matched = False
        for assignment in variants(rule.plan):
            view = EventView(as_doc(assignment), index.resolvers)
            if not rule.predicate(view):  # type: ignore[misc]
                continue
            matched = True
            if i not in index.candidates(rule.logsource).select(EventView(as_doc(assignment), index.resolvers)):
                missed.append(f"{rule.origin}: {rule.title}: prefilter skipped a matching event {assignment}")
        if not matched:
            unproven.append(f"{rule.origin}: {rule.title}")
    print(f"{len(full.rules) - len(unproven)} of {len(full.rules)} rules matched a witness event; "
          f"no witness found for {len(unproven)}:", *unproven, sep="\n  ")
    assert not missed, missed[:10]
    assert len(unproven) <= len(full.rules) // 100, unproven[:20]


@pytest.fixture(scope="module")
def real_docs() -> list[dict]:
    """Every 97th line of each OTRF recording, normalised and dumped as the analyzer hands them to Sigma."""
    from itertools import islice

    from tests.corpora import otrf_lines, otrf_recordings

    docs = []
    for recording in otrf_recordings():
        for line in islice(otrf_lines(recording), 0, None, 97):
            try:
                docs.append(normalize_windows(line).model_dump(mode="json", exclude_none=True))
            except NormalizationError:
                continue
    return docs


def test_on_real_events_the_prefilter_never_skips_a_rule_that_matches(full: SigmaRuleSet,
                                                                     real_docs: list[dict]) -> None:
    """Every rule of the corpus is asked directly on real events from all OTRF recordings (long PowerShell
    script blocks, non-ASCII messages, Mimikatz sessions), and each that matches must be one the prefilter
    picked: the literal scans (Aho-Corasick, guards, Hyperscan on joined keyword texts), the clean-string
    set and the pinned-value tables only ever leave out rules that cannot match."""
    from secustream.analyzer.sigma.fields import event_logsource

    index = _Index(full)
    docs = real_docs
    groups: dict[frozenset[str], list[int]] = {}
    missed, matched = [], 0
    for doc in docs * 2:  # twice: the second pass meets every memo and the clean set warm
        tokens = event_logsource(doc)
        members = groups.get(tokens)
        if members is None:
            members = groups[tokens] = [i for i, r in enumerate(full.rules) if r.logsource <= tokens]
        picked = set(index.candidates(tokens).select(EventView(doc, index.resolvers)))
        view = EventView(doc, index.resolvers)
        for i in members:
            if full.rules[i].predicate(view):  # type: ignore[misc]
                matched += 1
                if i not in picked:
                    missed.append(f"{full.rules[i].title}: skipped on {doc.get('unmapped', {}).get('EventID')}")
    print(f"{len(docs)} real events, {matched // 2} rule matches, all picked by the prefilter")
    assert len(docs) > 5000 and matched > 0
    assert not missed, missed[:10]


def test_on_real_events_the_c_loops_agree_with_their_python_reference(full: SigmaRuleSet,
                                                                     real_docs: list[dict]) -> None:
    """The prefilter's C ``gather``/``pick`` (``_scan.c``) and the Python reference give the same constraint ids,
    keyword texts and candidates on every real event, with the full corpus's fields, memos and clean set."""
    from secustream.analyzer.sigma import engine
    from secustream.analyzer.sigma.fields import event_logsource

    if not engine.NATIVE_PREFILTER:
        pytest.skip("the C loops are not built here")
    index = _Index(full)
    compared = 0
    for doc in real_docs * 2:  # cold memos, then warm
        group = index.candidates(event_logsource(doc))
        answers = []
        for gather, pick in ((engine.gather_event, engine.pick_rules),
                             (engine.gather_event_python, engine.pick_rules_python)):
            satisfied, fresh = gather_with(gather, group, doc)
            answers.append((satisfied, fresh, pick(satisfied, group.anchored, group.always)))
        assert answers[0] == answers[1], doc.get("unmapped", {}).get("EventID")
        compared += bool(answers[0][0])
    assert compared > len(real_docs)


def test_the_generators_benign_traffic_stays_quiet_under_the_corpus(corpus: CompiledPack) -> None:
    """`secustream up` suggests installing SigmaHQ in one command: its demo traffic must not then fill the
    queue with high alerts. A generated process without a full-path Image fired "Execution Of Non-Existing
    File" and the rename rules on 10 % of benign events."""
    from datetime import UTC, datetime

    from secustream.analyzer.sigma.filters import RuleFilter
    from secustream.events import ThreatClass
    from secustream.generator import EventGenerator

    generated = EventGenerator(seed=7, start=datetime(2026, 12, 1, tzinfo=UTC)).next_batch(5000)
    benign = [g.event for g in generated if g.label is ThreatClass.BENIGN]
    engine = SigmaEngine(assemble(corpus, RuleFilter()), MemoryState())
    hits = engine.evaluate(benign, [e.model_dump(mode="json", exclude_none=True) for e in benign])
    loud = sorted({h.rule_id for found in hits for h in found if h.severity.value in ("high", "critical")})
    assert len(benign) > 4000
    assert not loud, loud
    assert not [h.rule_id for found in hits for h in found], "benign generated traffic hit SigmaHQ rules"


def _pattern_tests(node: object, found: set[tuple[str, int]]) -> None:
    """The regexes (``("re", pattern, flags)``) and wildcard values (``("glob", regex, longest literal)``) of a plan."""
    if isinstance(node, tuple):
        if len(node) == 3 and node[0] == "re" and isinstance(node[1], str) and isinstance(node[2], int):
            found.add((node[1], node[2]))
        elif len(node) == 3 and node[0] == "glob" and isinstance(node[1], str) and isinstance(node[2], str):
            found.add((node[1], -1))  # matched whole, DOTALL, on lower-cased text (matcher.string_test)
        for child in node:
            _pattern_tests(child, found)


def _glob_witness(regex: str) -> str:
    """A text a wildcard value's regex (``re.escape`` pieces, ``.*`` and ``.``) matches whole."""
    out, i = [], 0
    while i < len(regex):
        if regex[i] == "\\":
            out.append(regex[i + 1])
            i += 2
        elif regex.startswith(".*", i):
            out.append("x:\\ y")
            i += 2
        else:
            out.append("z" if regex[i] == "." else regex[i])
            i += 1
    return "".join(out)


def test_every_regex_and_wildcard_of_the_corpus_runs_in_linear_time_and_means_what_re_says(
        corpus: CompiledPack, real_docs: list[dict]) -> None:
    """Python's re backtracks for minutes on hostile text (test_regex.py), so every pattern runs on RE2
    (analyzer/regex.py): none of the corpus may stay on re, and on ~3,000 real OTRF strings (as they are and
    lower-cased), each wildcard value's own witness and hostile characters, RE2 answers what re answers."""
    import re

    from secustream.analyzer.regex import compile_pattern

    found: set[tuple[str, int]] = set()
    for rule in corpus.rules:
        _pattern_tests(rule.plan, found)
    regexes = sorted(p for p in found if p[1] >= 0)
    globs = sorted(p for p, flags in found if flags < 0)
    assert len(regexes) > 100 and len(globs) > 100, (len(regexes), len(globs))
    strings = sorted({value for doc in real_docs
                      for value in [*(doc.get("unmapped") or {}).values(), doc.get("message")]
                      if isinstance(value, str) and value})
    texts = strings[::max(1, len(strings) // 1500)]
    texts += [text.lower() for text in texts] + ["a\u00a0b\v\x1c\udcff\u0663 $\n", "IN`V`o`Ke-eXp`ResSIOn", "+a" * 20]
    texts += [_glob_witness(g) for g in globs]
    disagree = []
    for pattern, flags in regexes:
        compiled, reference = compile_pattern(pattern, flags), re.compile(pattern, flags)
        assert not compiled.backtracking, pattern
        disagree += [(pattern, t[:80]) for t in texts if compiled.search(t) != (reference.search(t) is not None)]
    for pattern in globs:
        compiled, reference = compile_pattern(pattern, re.DOTALL), re.compile(pattern, re.DOTALL)
        assert not compiled.backtracking, pattern
        assert compiled.fullmatch(_glob_witness(pattern)), pattern
        disagree += [(pattern, t[:80]) for t in texts if compiled.fullmatch(t) != (reference.fullmatch(t) is not None)]
    assert not disagree, disagree[:10]


SHARPSC = "lateral_movement/host/covenant_sharpsc_create_dcerpc_smb_svcctl.zip"  # a remote service over svcctl


def test_a_rendered_access_right_rule_fires_on_an_export_that_kept_the_codes(full: SigmaRuleSet) -> None:
    """SigmaHQ reads ``AccessList`` in both forms: "Remote Service Activity via SVCCTL Named Pipe" wants
    ``WriteData``, which the OTRF export writes as ``%%4417``; the normaliser adds Windows' names after the codes, so
    the rule fires on the real SharpSC recording and the rules that want codes still see them."""
    from tests.corpora import OTRF, otrf_lines

    svcctl = next(r for r in full.rules if r.title == "Remote Service Activity via SVCCTL Named Pipe")
    engine = SigmaEngine(full, MemoryState())
    events = [normalize_windows(line) for line in otrf_lines(require(OTRF / SHARPSC))]
    fired = [e for e, hits in zip(events, engine.evaluate(events), strict=True)
             if any(h.rule_id == svcctl.rule_id for h in hits)]
    assert fired, "the svcctl rule did not fire on the SharpSC recording"
    access = fired[0].unmapped["AccessList"]
    assert "%%4417" in access and "WriteData (or AddFile)" in access
