"""Detection regexes on a linear-time engine (RE2), with Python's ``re`` meaning: Sigma ``|re`` values and wildcard
values (``sigma/matcher.py``) and native rules' ``regex`` operator (``native/schema.py``).

Why not ``re``: it backtracks, and SigmaHQ's own patterns are catastrophic on text an attacker writes.
``\\w+`(\\w+|-|.)`[\\w+|\\s]`` ("Powershell Token Obfuscation") takes 4.8 s on a 64 KB script block of
``a`` and a backtick, and the wildcard value ``*\\temp\\*\\*.exe`` takes 51 s on 24 KB of repeated
``\\temp\\`` (measured, docs/sigma.md "Regular expressions"): one event would hold its partition for
minutes. RE2 answers both in milliseconds, in time linear in the text, like the engines peers use
(Falco and rsigma: RE2 and Rust's regex).

The meaning stays Python's: every pattern is rewritten for RE2 with ``\\d``, ``\\w`` and ``\\s`` as the exact
character sets ``re`` gives them on this Python (``str.isdecimal``, ``str.isalnum`` or ``_``,
``str.isspace``), ``$`` as end or before a final newline, ``\\Z`` as ``\\z``, and flags as inline groups.
``\\b`` and ``\\B`` keep RE2's ASCII word boundary (PCRE's, the Sigma specification's reference; one pattern
of the corpus uses it). A pattern RE2 cannot take (look-around, back-references, ``{,n}``, a repeat above
1,000) is compiled by ``re`` as before and reported as such (``backtracking``): none of SigmaHQ's 149 is.

Why a length check first: a pattern's shortest and longest match are known from its parse (``re``'s own
``getwidth``), and a text shorter than the shortest match cannot match. SigmaHQ's length rules are large counted
repeats (``CommandLine|re: '.{1000,}'``, "Unusually Long PowerShell CommandLine"), which RE2 runs as a DFA of a
thousand states: on real OTRF command lines of a few hundred characters each test took ~2.6 ms, a third of the
whole corpus's Sigma cost per event (docs/sigma.md "Regular expressions"). The check answers those in nanoseconds.

Why a run check for ``.{n,}`` and kin: a pattern that is nothing but a counted repeat of ``.`` asks only whether the
text holds a run of ``n`` characters without a newline (all characters with DOTALL). Where it does, RE2 still runs
its thousand-state automaton to find the match's bounds: the first long command line costs ~60 ms (RE2 builds the
automaton; 45 ms over the two long PowerShell command lines of the bench's real events, an analyzer's first batch
holding one), each later one 0.06 to 0.27 ms, where a length answers in nanoseconds. ``_any_run`` answers from the
lengths alone, in Python's meaning.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

import re2

log = logging.getLogger(__name__)
Matcher = Callable[[str], bool]
_SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Compiled:
    """One pattern ready to test texts: ``search`` (anywhere) and ``fullmatch`` (the whole text)."""

    search: Matcher
    fullmatch: Matcher
    backtracking: bool  # True where RE2 could not take the pattern and Python's ``re`` runs it


class Untranslatable(ValueError):
    """The pattern uses something RE2 lacks or reads differently from ``re``."""


def _ranges(chars: Iterable[int]) -> str:
    """A character class body for the code points ``chars`` (ascending), as RE2 ``\\x{..}`` ranges."""
    parts: list[str] = []
    start = previous = -2
    for code in chars:
        if code != previous + 1:
            if start >= 0:
                parts.append(_span(start, previous))
            start = code
        previous = code
    if start >= 0:
        parts.append(_span(start, previous))
    return "".join(parts)


def _span(first: int, last: int) -> str:
    return f"\\x{{{first:x}}}" if first == last else f"\\x{{{first:x}}}-\\x{{{last:x}}}"


@cache
def _classes() -> dict[str, str]:
    """``\\d``, ``\\w``, ``\\s`` as ``re`` reads them on ``str`` patterns, as RE2 class bodies: Unicode decimal
    digits (``str.isdecimal``), letters, numbers and ``_`` (``str.isalnum``), and this Python's ``str.isspace``
    set (RE2's own ``\\s`` lacks ``\\v``, the separators ``\\x1c``-``\\x1f`` and Unicode spaces such as U+00A0,
    which PowerShell reads as blanks). RE2's Unicode tables may be a version newer than Python's: characters
    assigned since differ, nothing else (``tests/unit/test_regex.py`` counts them)."""
    spaces = _ranges(c for c in range(0x3001) if chr(c).isspace())  # U+3000 is the last one
    return {"d": "\\p{Nd}", "w": "\\p{L}\\p{N}_", "s": spaces}


_SIMPLE_ESCAPES = frozenset("AbBnrtfva")


def translate(pattern: str, full: bool = False) -> str:
    """``pattern`` (Python ``re`` syntax) rewritten for RE2 with the same meaning for a search, or for a match of the
    whole text where ``full``; ``Untranslatable`` otherwise."""
    classes = _classes()
    out: list[str] = []
    i, size, in_class = 0, len(pattern), False
    while i < size:
        char = pattern[i]
        if char == "\\":
            if i + 1 >= size:
                raise Untranslatable("a trailing backslash")
            escaped = pattern[i + 1]
            i += 2
            if escaped in classes:
                out.append(classes[escaped] if in_class else f"[{classes[escaped]}]")
            elif escaped.isupper() and escaped.lower() in classes:
                if in_class:
                    raise Untranslatable(f"\\{escaped} inside a character class")
                out.append(f"[^{classes[escaped.lower()]}]")
            elif escaped == "Z":
                out.append("\\z")
            elif escaped in _SIMPLE_ESCAPES:
                out.append("\\" + escaped)
            elif escaped == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", pattern[i:i + 2]):
                out.append(f"\\x{{{pattern[i:i + 2]}}}")
                i += 2
            elif escaped in "uU":
                width = 4 if escaped == "u" else 8
                digits = pattern[i:i + width]
                if not re.fullmatch(f"[0-9a-fA-F]{{{width}}}", digits):
                    raise Untranslatable(f"\\{escaped} without {width} hex digits")
                out.append(f"\\x{{{digits}}}")
                i += width
            elif escaped.isalnum() or escaped == "_":
                raise Untranslatable(f"the escape \\{escaped}")  # back-references, octal, \N{...}
            else:
                out.append(f"\\x{{{ord(escaped):x}}}")  # an escaped punctuation or space: the character itself
            continue
        if in_class:
            if char == "]":
                in_class = False
            elif char == "[" and pattern.startswith("[:", i):
                raise Untranslatable("a POSIX class (a literal '[:' in Python)")
            out.append(char)
            i += 1
            continue
        if char == "[":
            in_class = True
            out.append(char)
            i += 1
            if i < size and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < size and pattern[i] == "]":  # a ']' first in the class is a literal
                out.append("\\]")
                i += 1
            continue
        if char == "$":
            if not (i + 1 == size or pattern[i + 1] in "|)"):
                raise Untranslatable("'$' before more of the pattern")
            # re: at the end or before a final newline; a search may take that newline, a whole match cannot end there
            out.append("\\z" if full else "(?:\\n?\\z)")
        elif char == "{" and pattern.startswith("{,", i):
            raise Untranslatable("'{,n}' (a repeat in Python, literal text in RE2)")
        elif char == "(" and pattern.startswith("(?", i) and not re.match(r"\(\?(?:P<|:|[ims-]*[:)])", pattern[i:]):
            raise Untranslatable("a group RE2 lacks (look-around, comment, conditional, atomic)")
        else:
            out.append(char)
        i += 1
    if in_class:
        raise Untranslatable("an unclosed character class")
    return "".join(out)


def _inline_flags(flags: int) -> str:
    letters = "".join(letter for flag, letter in ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"))
                      if flags & flag)
    return f"(?{letters})" if letters else ""


_UNBOUNDED = 1 << 31  # getwidth() gives unbounded widths as MAXREPEAT or more; no text is this long


def widths(pattern: str, flags: int = 0) -> tuple[int, int | None]:
    """The fewest and most characters a match of ``pattern`` spans (``None``: no bound), from ``re``'s parser: a
    text of fewer characters cannot hold a match, and one of more cannot match whole. ``(0, None)`` where the
    parser's internals are not those of this Python (the check is then skipped, never wrong)."""
    try:
        low, high = re._parser.parse(pattern, flags).getwidth()  # type: ignore[attr-defined]
    except Exception:  # a private module: any change in it only turns the check off
        return 0, None
    return int(low), (int(high) if high < _UNBOUNDED else None)


@lru_cache(maxsize=4096)  # rules share wildcard values, and every load compiles each rule twice (check, run)
def compile_pattern(pattern: str, flags: int = 0) -> Compiled:
    """``pattern`` with ``re`` flags (IGNORECASE, MULTILINE, DOTALL): on RE2 where it translates, else on ``re``.

    Raises ``re.error`` where ``re`` refuses the pattern (the rule is then reported, as before)."""
    fallback = re.compile(pattern, flags)  # the pattern's validity and meaning are Python's
    run = _any_run(pattern, flags)
    if run is not None:
        return Compiled(*run, False)
    try:
        if flags & ~(re.IGNORECASE | re.MULTILINE | re.DOTALL | re.UNICODE):
            raise Untranslatable("flags RE2 lacks")
        if flags & re.MULTILINE and "$" in pattern:
            raise Untranslatable("'$' in multi-line mode")  # re: before every newline; kept on re
        options = re2.Options()
        options.log_errors = False  # a pattern RE2 refuses is logged once, below
        prefix = _inline_flags(flags)
        searching = re2.compile(prefix + translate(pattern), options)
        whole = re2.compile(prefix + translate(pattern, full=True), options)
    except (Untranslatable, re2.error) as exc:
        log.warning("regex %r runs on Python's backtracking engine (RE2 cannot take it: %s)", pattern, exc)
        return Compiled(lambda text: fallback.search(text) is not None,
                        lambda text: fallback.fullmatch(text) is not None, True)
    shortest, longest = widths(pattern, flags)
    return Compiled(_linear(searching.search, shortest, None), _linear(whole.fullmatch, shortest, longest), False)


def _any_run(pattern: str, flags: int) -> tuple[Matcher, Matcher] | None:
    """Search and whole-match tests for a pattern that is one counted repeat of ``.`` (``.{1000,}``, ``.{150}``,
    lazy or greedy), from lengths alone (module docstring); ``None`` for any other pattern, or where the parser's
    internals are not those of this Python (RE2 then runs it, never wrong)."""
    try:
        parsed = re._parser.parse(pattern, flags)  # type: ignore[attr-defined]
        constants = re._constants  # type: ignore[attr-defined]
        [(op, (low, high, body))] = parsed.data
        if op not in (constants.MAX_REPEAT, constants.MIN_REPEAT) or list(body) != [(constants.ANY, None)]:
            return None
        dotall = bool(parsed.state.flags & re.DOTALL)
        fewest, most = int(low), (None if high >= _UNBOUNDED else int(high))  # MAXREPEAT: no bound
    except Exception:  # a private module: any change in it only turns the shortcut off
        return None

    def search(text: str) -> bool:  # some stretch of ``fewest`` characters that ``.`` takes
        size = len(text)
        if size < fewest:
            return False
        return dotall or "\n" not in text or any(len(line) >= fewest for line in text.split("\n"))

    def fullmatch(text: str) -> bool:
        size = len(text)
        return size >= fewest and (most is None or size <= most) and (dotall or "\n" not in text)

    return search, fullmatch


def _linear(method: Callable[[str], object], shortest: int = 0, longest: int | None = None) -> Matcher:
    """A test by an RE2 method, after the length check (module docstring: a text outside ``shortest``..``longest``
    characters cannot match). RE2 takes UTF-8, so a lone surrogate (hostile input: a ``\\udcff`` in JSON) is
    read as U+FFFD, which ``\\d``, ``\\w``, ``\\s`` and every Sigma literal leave out as they do the surrogate:
    one character for one, so the length check holds for it too."""

    def test(text: str) -> bool:
        size = len(text)
        if size < shortest or (longest is not None and size > longest):
            return False
        try:
            return method(text) is not None
        except UnicodeEncodeError:
            return method(_SURROGATES.sub("\ufffd", text)) is not None

    return test
