"""Detection regexes on RE2 (``analyzer/regex.py``): linear time on hostile text, Python's meaning (Sigma and native).

The corpus side (every SigmaHQ pattern takes RE2 and agrees with ``re`` on real OTRF strings) is in
``test_sigma_corpus.py``.
"""

from __future__ import annotations

import logging
import re
import sys
import unicodedata

import pytest
import re2

from secustream.analyzer.regex import Untranslatable, compile_pattern, translate, widths

TOKEN_OBFUSCATION = r"\w+`(\w+|-|.)`[\w+|\s]"  # SigmaHQ posh_ps_token_obfuscation.yml
PLUSES = r"\+.*\+.*\+.*\+.*\+.*\+.*\+.*\+.*\+.*\+.*\+.*\+.*\+.*\+"  # proc_creation_win_powershell_cmdline_special_...


@pytest.mark.timeout(120)
def test_hostile_text_costs_linear_time_where_re_backtracks_for_minutes() -> None:
    """Python's re needs ~5 s for 64 KB of the first text and ~50 s for 24 KB of the second (docs/sigma.md
    "Regular expressions"); at these sizes it would hold a partition for hours. The timeout is the check."""
    token = compile_pattern(TOKEN_OBFUSCATION)
    assert not token.backtracking
    assert not token.search("a" * 1_000_000 + "`")
    assert token.search("x" * 1_000_000 + "IN`V`o`Ke-eXp`ResSIOn")
    glob = compile_pattern(r".*\\temp\\.*\\.*\.exe", re.DOTALL)  # the wildcard value *\temp\*\*.exe
    assert not glob.backtracking
    assert not glob.fullmatch("\\temp\\" * 200_000)
    assert glob.fullmatch("c:\\temp\\" * 200_000 + "x\\y.exe")
    pluses = compile_pattern(PLUSES)
    assert not pluses.search("+" * 13 + "a" * 1_000_000) and pluses.search("+a" * 500_000)


@pytest.mark.parametrize(("pattern", "expected"), [
    (".{1000,}", (1000, None)), ("(.){200,}", (200, None)), (".{150}", (150, 150)), ("[^/]{100,}$", (100, None)),
    ("a|bc", (1, 2)), (r"\bfoo\b", (3, 3)), ("a{2,5}b?", (2, 6)), ("x*", (0, None)),
])
def test_widths_are_the_shortest_and_longest_match(pattern: str, expected: tuple[int, int | None]) -> None:
    assert widths(pattern) == expected


@pytest.mark.parametrize("pattern", [".{1000,}", "(.){200,}", ".{150}", "[^/]{100,}$", "a{2,5}b?", r"\d{3}-\d{4}",
                                     "(?i)abc", "x*", "^.{3}$"])
def test_the_length_check_answers_as_re_does(pattern: str) -> None:
    """SigmaHQ's length rules ("Unusually Long PowerShell CommandLine": ``.{1000,}``) on texts around their bounds:
    the check only says no where ``re`` says no (and costs no RE2 pass: ~2.6 ms each on real command lines)."""
    compiled, reference = compile_pattern(pattern), re.compile(pattern)
    for size in (0, 1, 2, 3, 5, 6, 7, 99, 100, 149, 150, 151, 199, 200, 999, 1000, 1001, 5000):
        for text in ("a" * size, "1" * size, ("abc-1234\n" * size)[:size], ("x/" * size)[:size]):
            assert compiled.search(text) == (reference.search(text) is not None), (pattern, size, text[:20])
            assert compiled.fullmatch(text) == (reference.fullmatch(text) is not None), (pattern, size, text[:20])


@pytest.mark.parametrize("flags", [0, re.DOTALL, re.IGNORECASE | re.MULTILINE])
@pytest.mark.parametrize("pattern", [".{1000,}", ".{150}", ".{3,5}?", "(?s).{5,}", ".*", ".+", ".{0}", ".{2,}?"])
def test_a_run_of_any_character_is_answered_from_lengths_as_re_answers(pattern: str, flags: int) -> None:
    """``.{1000,}`` and kin skip RE2 (22 ms a long PowerShell command line there): the answer is ``re``'s, newlines
    and DOTALL included."""
    compiled, reference = compile_pattern(pattern, flags), re.compile(pattern, flags)
    assert not compiled.backtracking
    texts = ["", "\n", "ab", "a\nbcdef", "abcde\n", "\nabcde", "x" * 149 + "\n" + "y" * 151, "z" * 1000,
             ("w" * 999 + "\n") * 3, "\u00e9\U0001F600" * 600, "\udcff" * 1000, "a\r\nb" * 400]
    for text in texts:
        assert compiled.search(text) == (reference.search(text) is not None), (pattern, flags, text[:20])
        assert compiled.fullmatch(text) == (reference.fullmatch(text) is not None), (pattern, flags, text[:20])


@pytest.mark.parametrize(("pattern", "translated"), [
    (r"a\.b", r"a\x{2e}b"),
    (r"\d+\s\w", r"[\p{Nd}]+[" + "{s}" + r"][\p{L}\p{N}_]"),
    (r"[\w-]\D", r"[\p{L}\p{N}_-][^\p{Nd}]"),
    (r"end$", r"end(?:\n?\z)"),
    (r"(a$|b)", r"(a(?:\n?\z)|b)"),
    (r"x\Z", r"x\z"),
    (r"[]a][^]b]", r"[\]a][^\]b]"),
    (r"\x41\u00e9\U0001F600\t\n", r"\x{41}\x{00e9}\x{0001F600}\t\n"),
    (r"(?i)(?P<n>a)(?:b)(?-i:c)", r"(?i)(?P<n>a)(?:b)(?-i:c)"),
    ("caf\u00e9 [$]", "caf\u00e9 [$]"),
])
def test_patterns_are_rewritten_to_mean_in_re2_what_they_mean_in_re(pattern: str, translated: str) -> None:
    spaces = translate(r"[\s]")[1:-1]
    assert translate(pattern) == translated.replace("{s}", spaces)


@pytest.mark.filterwarnings("ignore:Possible nested set:FutureWarning")  # re on [[:alpha:]]
@pytest.mark.parametrize("pattern", [r"(?<=a)b", r"(?=a)", r"(a)\1", r"a{,3}", r"[\W]", r"(?#c)a", r"\0",
                                     r"[[:alpha:]]", r"(?x) a", r"(?>a)", r"a$\n", r"a$b|c"])
def test_what_re2_lacks_or_reads_otherwise_stays_on_re(pattern: str, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(Untranslatable):
        translate(pattern)
    with caplog.at_level(logging.WARNING, logger="secustream.analyzer.regex"):
        compiled = compile_pattern(pattern)
    assert compiled.backtracking and "backtracking engine" in caplog.text
    for text in ("ab", "aa", "a", "b", "x a", "a:"):
        assert compiled.search(text) == (re.search(pattern, text) is not None)


def test_flags_and_line_ends_mean_what_they_do_in_re() -> None:
    for pattern, flags in ((r"^b$", re.MULTILINE), (r"a.b", re.DOTALL), (r"a.b", 0), (r"ABC$", re.IGNORECASE),
                           (r"^b", re.MULTILINE), (r"(c$|b$)", 0), (r"x|c$", 0)):
        compiled = compile_pattern(pattern, flags)
        for text in ("a\nb\n", "a\nb", "abc\n", "abc\nx", "a\nbc", "ABC", "xb", "b\n\n"):
            assert compiled.search(text) == (re.search(pattern, text, flags) is not None), (pattern, flags, text)
            assert compiled.fullmatch(text) == (re.fullmatch(pattern, text, flags) is not None), (pattern, flags, text)


def test_hostile_characters_are_read_as_re_reads_them() -> None:
    """A lone surrogate (a ``\\udcff`` in JSON), NUL, NBSP, vertical tab and the separators ``\\x1c``-``\\x1f``:
    PowerShell reads Unicode spaces as blanks, so ``\\s`` must keep them."""
    cases = {r"a\sb": ["a\u00a0b", "a\vb", "a\x1cb", "a\u3000b", "a\u200bb", "a\x00b"],
             r"\d\d": ["\u0663\u0664", "\u00b2\u00b3", "12", "\udcff1"],
             r"^\w+$": ["\u00e9t\u00e9", "a\udcffb", "\u2160", "x_1", "\u0300"],
             r"a.c": ["a\udcffc", "a\nc", "a\u00e9c", "a\x00c"]}
    for pattern, texts in cases.items():
        compiled = compile_pattern(pattern)
        assert not compiled.backtracking
        for text in texts:
            assert compiled.search(text) == (re.search(pattern, text) is not None), (pattern, ascii(text))


@pytest.mark.timeout(300)
def test_the_classes_hold_the_characters_re_gives_them() -> None:
    """The code points of planes 0-3 and 14 but surrogates through ``\\d \\w \\s`` and their negations, on both
    engines (planes 4-13 and 15-16 hold no letter, digit or space Python knows): the only differences are characters
    Python's Unicode tables do not know yet (RE2's may be newer)."""
    planes = (*range(0xD800), *range(0xE000, 0x40000), *range(0xE0000, 0xF0000))
    every = "".join(map(chr, planes))
    for name in ("d", "w", "s", "D", "W", "S"):
        python = set(re.findall(f"\\{name}", every))
        linear = set(re2.findall(translate(f"\\{name}"), every))
        differ = python ^ linear
        assert python and all(unicodedata.category(c) == "Cn" for c in differ), (name, sorted(map(ord, differ))[:10],
                                                                                  sys.version)


@pytest.mark.timeout(120)
def test_native_rules_regex_operator_runs_in_linear_time_too() -> None:
    """The default rule on remote WMI process creation, on 34 KB of a repeated ``/node: x process``, took 0.6 s with
    re (quadratic); the native ``regex`` operator compiles through the same module."""
    from secustream.analyzer.native.schema import RuleError, compile_operator

    test = compile_operator("regex", r"\bwmic(?:\.exe)?\s.*/node:\s*\S+.*\bprocess\s+call\s+create\b")
    assert not test("wmic " + "/node: x process " * 60_000)
    assert test("WMIC.exe /node:10.0.0.5 process call create calc.exe")
    with pytest.raises(RuleError):
        compile_operator("regex", "(unclosed")
