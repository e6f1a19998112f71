"""The literal run a regex rule's prefilter searches for (``plan.regex_literal``): every text the regex matches must
hold one of its spellings once lower-cased, in Python's ``re`` and in the RE2 path the matcher takes
(``analyzer.regex.compile_pattern``), IGNORECASE's ``s``/``i``/``k`` included (the long s, the dotless and the dotted
I, the KELVIN SIGN)."""

from __future__ import annotations

import random
import re

import pytest

from secustream.analyzer.regex import compile_pattern
from secustream.analyzer.sigma.plan import MOST_SPELLINGS, regex_literal

PATTERNS = ["(?i)set", "(?i)(set).*&&\\s?set.*(environment|invoke)", "(?i)kiwi", "(?i)x(is)y", "SET", "(?i)s+et",
            "(?i)sk", "(?i)invoke-mimikatz", "is", "(?i)[s]et", "(?i)ik(?:x|y)"]
ALPHABET = ["s", "S", "\u017f", "e", "t", "i", "I", "\u0130", "\u0131", "k", "K", "\u212a", "w", "x", "y", " ", "&",
            "E", "T"]


def test_the_stdin_rule_searches_for_set_in_both_spellings() -> None:
    assert regex_literal("(?i)(set).*&&\\s?set.*(environment|invoke|\\$?\\{?input).*&&.*\"", 0) == ("set", "\u017fet")
    assert regex_literal("(?i)KIWI", 0) is not None and "kiwi" in regex_literal("(?i)KIWI", 0)  # type: ignore[operator]
    assert regex_literal("SET", 0) == ("set",)  # case-sensitive: the run as written, lower-cased
    assert regex_literal("(?i)k", 0) == ("k",)  # the KELVIN SIGN lower-cases to k


def test_too_many_spellings_fall_back_to_a_run_without_s_and_i() -> None:
    found = regex_literal("(?i)invoke-mimikatz", 0)
    assert found is not None and len(found) <= MOST_SPELLINGS
    assert all("i" not in f and "s" not in f for f in found)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_match_holds_a_spelling_once_lower_cased(pattern: str) -> None:
    spellings = regex_literal(pattern, 0)
    assert spellings
    engines = [re.compile(pattern).search, compile_pattern(pattern, 0).search]
    rng = random.Random(pattern)
    texts = ["".join(rng.choice(ALPHABET) for _ in range(rng.randrange(14))) for _ in range(6000)]
    texts += ["set", "\u017fet", "SET", "kiw\u0131", "K\u0130W\u0131", "x\u0130\u017fy", "xisy", "\u212aIWI",
              "SET a && \u017fET ENV\u0130RONMENT", "\u0130nvoke-M\u0131m\u0130\u212aatz", "invoke-mimikatz"]
    matched = 0
    for text in texts:
        if any(search(text) for search in engines):
            matched += 1
            lowered = text.lower()
            assert any(spelling in lowered for spelling in spellings), (pattern, text)
    assert matched
