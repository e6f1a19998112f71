"""Which of the rules' lower-cased literals a text contains: the one search behind the Sigma prefilter.

Why several ways to answer one question: the cost per character decides, and it differs by an order of
magnitude between them (measured on real OTRF events, docs/sigma.md "Keyword search"):
  - a few literals: ``in`` per literal on the lower-cased text (~0.6 ns per character per literal);
  - many: one Aho-Corasick pass (pyahocorasick, ~3.5 ns per character whatever their number), behind a
    few short guards when ~4 substrings cover every literal (Mimikatz's 20 keywords share ``::``,
    ``kiwi`` and ``mimi``);
  - a batch of texts, where the ``hyperscan`` wheel is installed (x86-64 Linux): one caseless
    Hyperscan pass over them as they are, ~0.5 ns per character and no ``str.lower`` (~1.1 ns per
    character), finds the few that hold a literal; those alone are searched as above. Sigma
    ``keywords`` search every string of every event their logsource names, ~2 KB per real Windows
    event, which is where this pays.
The answers are the same. Hyperscan folds ASCII letters only, on UTF-8 bytes, and non-ASCII
characters are bytes that no ASCII literal holds. ``str.lower`` gives ASCII from exactly two other
characters, U+0130 (to ``i`` and a combining dot) and U+212A KELVIN SIGN (to ``k``); so with ASCII
literals and neither of those in the text, a caseless match means some ``literal in text.lower()``.
Any other text (and literals with other characters, on non-ASCII text) takes the Python path.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from itertools import accumulate
from typing import Any

import ahocorasick

try:
    import hyperscan
except ImportError:  # no wheel for this platform (docs/sigma.md): the Python path answers alone
    hyperscan = None

HYPERSCAN_AVAILABLE = hyperscan is not None
log = logging.getLogger(__name__)


def _stop(_pattern: int, _start: int, end: int, _flags: int, found: list[int]) -> bool:
    found.append(end)
    return True  # the first match is all a scan is asked for


class _Caseless:
    """One caseless Hyperscan database over the literals, or over a few 4-character guards that cover them
    (``guards``): which texts of a batch may hold one of them.

    Why guards: Hyperscan's cost per byte grows with the literals it looks for. Mimikatz's 20 keywords scan
    real Windows messages at ~0.9 µs per event where the 9 guards covering them (``kiwi``, ``mimi``, ``ros:``,
    ``ge::``...) take ~0.3 µs (docs/sigma.md "Keyword search"). Four characters, punctuation first: shorter
    grams (``::``, ``e::``) are in real text (IPv6 addresses), and a text holding a guard is searched exactly.

    Why a batch and only "any": a scan releases the GIL, and in the analyzer (a persist thread beside it)
    each release can hand the GIL away for up to the switch interval; one scan per batch of events
    releases it once. A text found holding a literal (~0.1 % of real events) is then searched exactly
    by the Python path, which also bounds the callbacks a hostile text full of literals can cause to one.
    A scratch serves one scan at a time, so each thread gets its own.
    """

    __slots__ = ("ascii", "database", "local", "patterns")
    FOLDED_TO_ASCII = ("\u0130", "\u212a")  # the only non-ASCII characters ``str.lower`` maps to ASCII

    def __init__(self, words: Sequence[str]) -> None:
        self.ascii = all(word.isascii() for word in words)
        cover = full_text_guards(words)
        self.patterns = cover if 0 < len(cover) < len(words) else tuple(words)
        self.database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self.database.compile(expressions=[word.encode() for word in self.patterns],
                              ids=list(range(len(self.patterns))), elements=len(self.patterns),
                              flags=hyperscan.HS_FLAG_CASELESS, literal=True)
        self.local = threading.local()

    def answers(self, text: str) -> bool:
        """Whether a caseless scan of ``text`` finds what ``search(text.lower())`` would (module docstring)."""
        if text.isascii():
            return True
        return self.ascii and self.FOLDED_TO_ASCII[0] not in text and self.FOLDED_TO_ASCII[1] not in text

    def holding(self, texts: Sequence[str]) -> list[int]:
        """Positions of the texts that hold a pattern (case-insensitively; every text holding a literal is among
        them), in one scan of them joined by NUL (a pattern holding one can only add a text, never lose one) plus
        one more after each text found."""
        parts = [text.encode("utf-8", "surrogatepass") for text in texts]
        return self.holding_joined(b"\x00".join(parts), map(len, parts))

    def holding_joined(self, buffer: bytes, sizes: Iterable[int]) -> list[int]:
        """``holding`` for texts already joined by NUL and encoded (``sizes``: each one's length in bytes).

        Real batches hold almost no pattern (a handful of hits in ~650k OTRF events), so where each text starts
        is only worked out once a scan finds something."""
        scratch = getattr(self.local, "scratch", None)
        if scratch is None:
            scratch = self.local.scratch = hyperscan.Scratch(self.database)
        view = memoryview(buffer)
        starts: list[int] = []
        held: list[int] = []
        offset = 0
        while offset < len(view):
            found: list[int] = []
            with contextlib.suppress(hyperscan.ScanTerminated):  # raised when ``_stop`` ends the scan
                self.database.scan(view[offset:], match_event_handler=_stop, context=found, scratch=scratch)
            if not found:
                break
            if not starts:
                starts = list(accumulate((size + 1 for size in sizes), initial=0))
            position = bisect_right(starts, offset + found[0] - 1) - 1  # the text the match's last byte is in
            held.append(position)
            offset = starts[position + 1]
        return held


def _hold(pattern: int, _start: int, _end: int, _flags: int, held: set[int]) -> None:
    held.add(pattern)


class _Exact:
    """One Hyperscan database over a field's lower-cased literals as they are (UTF-8, each reported once a scan):
    which of them a long lower-cased text holds, for a field that keeps meeting long texts (``Literals``).

    Why: Aho-Corasick (pyahocorasick) walks a trie node per character, ~14 ns a character on real fields; the long
    values not seen before (scripts, payloads, call traces: 1,340 characters on average over unseen OTRF events)
    took ~19 µs a search against ~2.7 µs here, the same answers; two fields (300 and 10 literals) held most of it. A
    text holds a literal exactly when its UTF-8 bytes hold the literal's (``surrogatepass`` both sides). A scan
    releases the GIL (``_Caseless`` batches its scans for that reason); these come on memo misses of long values,
    under one an event on unseen OTRF events, and the pipeline measured with them gained (docs/sigma.md Run V)."""

    __slots__ = ("database", "local")

    def __init__(self, words: Sequence[str]) -> None:
        self.database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self.database.compile(expressions=[word.encode("utf-8", "surrogatepass") for word in words],
                              ids=list(range(len(words))), elements=len(words),
                              flags=hyperscan.HS_FLAG_SINGLEMATCH, literal=True)
        self.local = threading.local()  # a scratch serves one scan at a time

    def held(self, lowered: str) -> set[int]:
        """The positions (in ``words``) of the literals ``lowered`` holds."""
        scratch = getattr(self.local, "scratch", None)
        if scratch is None:
            scratch = self.local.scratch = hyperscan.Scratch(self.database)
        held: set[int] = set()
        self.database.scan(lowered.encode("utf-8", "surrogatepass"), match_event_handler=_hold, context=held,
                           scratch=scratch)
        return held


class Literals:
    """The literals rules need in one field (or in an event's full text): constraint ids by literal."""

    __slots__ = ("automaton", "caseless", "exact", "guards", "ids", "long_texts", "needles", "words")
    FEW = 8
    GUARDED = 64  # above this many literals a cover by a few short substrings is not worth looking for
    LONG = 256  # from this many characters a text is searched by ``_Exact`` (where installed): ~1 µs a scan to start
    EXACT_AFTER = 16  # long texts searched by the automaton before ``_Exact`` is compiled (~1-20 ms, once)
    EXACT_MOST = 4096  # literals: compiling more took ~0.24 s (10,538 CommandLine literals) for rare long values

    def __init__(self, literals: dict[str, list[int]], full_text: bool = False) -> None:
        """``full_text``: texts will come as they are, in batches (``search_texts``), long and unique, so a
        caseless Hyperscan database is built too where the wheel is installed."""
        self.needles: tuple[tuple[str, tuple[int, ...]], ...] = ()
        self.automaton: Any = None  # literal -> its position in ``ids``
        self.ids: tuple[tuple[int, ...], ...] = ()  # each literal's constraint ids
        self.guards: tuple[str, ...] = ()
        self.caseless: _Caseless | None = None
        self.words: tuple[str, ...] = ()  # the automaton's literals, for ``exact``
        self.exact: _Exact | bool | None = None  # compiled once ``EXACT_AFTER`` long texts came; False: never
        self.long_texts = 0
        if len(literals) <= self.FEW:
            self.needles = tuple((lit, tuple(cids)) for lit, cids in literals.items())
        else:
            self.automaton = ahocorasick.Automaton()
            self.ids = tuple(tuple(dict.fromkeys(cids)) for cids in literals.values())
            for position, literal in enumerate(literals):
                self.automaton.add_word(literal, position)
            self.automaton.make_automaton()
            self.words = tuple(literals)
            if not HYPERSCAN_AVAILABLE or not all(literals) or len(literals) > self.EXACT_MOST:
                self.exact = False
            if len(literals) <= self.GUARDED:
                self.guards = guards(list(literals), self.FEW // 2)
        if full_text and HYPERSCAN_AVAILABLE and all(literals):
            try:
                self.caseless = _Caseless(list(literals))
            except hyperscan.HyperscanError as exc:  # e.g. a CPU without SSSE3: the Python path answers alone
                log.warning("sigma keyword search without Hyperscan: %s", exc)

    def search(self, lowered: str) -> tuple[int, ...]:
        """Ids of the literals in ``lowered`` (a text already lower-cased)."""
        if self.guards:
            for guard in self.guards:
                if guard in lowered:
                    break
            else:
                return ()
        if self.automaton is None:
            found: list[int] = []
            for literal, cids in self.needles:
                if literal in lowered:
                    found.extend(cids)
            return tuple(found)
        # each literal once, then its ids: a long value (a CallTrace, a script) holds the same literals many times
        # over, and expanding every occurrence's ids took ~32 us a search on unseen OTRF values (~9 us an event)
        exact = self.exact
        if exact is not False and len(lowered) >= self.LONG:
            if exact is None:
                self.long_texts += 1
                if self.long_texts >= self.EXACT_AFTER:  # a field that keeps meeting long values: worth compiling
                    exact = self.exact = self._compile()
            held = exact.held(lowered) if exact else {position for _end, position in self.automaton.iter(lowered)}
        else:
            held = {position for _end, position in self.automaton.iter(lowered)}
        ids = self.ids
        if len(held) == 1:
            return ids[held.pop()]
        return tuple({c for position in held for c in ids[position]})

    def _compile(self) -> _Exact | bool:
        try:
            return _Exact(self.words)
        except hyperscan.HyperscanError as exc:  # e.g. a CPU without SSSE3: the automaton answers alone
            log.warning("sigma field search without Hyperscan: %s", exc)
            return False

    def search_texts(self, texts: Sequence[str]) -> dict[int, tuple[int, ...]]:
        """``search(text.lower())`` for each text, case-insensitively, by position, for the texts holding a literal
        (real batches hold almost none): where Hyperscan answers exactly, one scan of them all finds the few that
        do, and only those are searched one by one."""
        caseless = self.caseless
        if caseless is None:
            return {position: ids for position, text in enumerate(texts) if text and (ids := self.search(text.lower()))}
        found: dict[int, tuple[int, ...]] = {}
        joined = "\x00".join(texts)
        if caseless.answers(joined):  # then so does each text: the usual batch, encoded once and scanned once
            buffer = joined.encode("utf-8", "surrogatepass")
            sizes = (map(len, texts) if len(buffer) == len(joined)  # ASCII: characters are bytes
                     else (len(text.encode("utf-8", "surrogatepass")) for text in texts))
            scanned: Sequence[int] = range(len(texts))
            held = caseless.holding_joined(buffer, sizes)
        else:
            scanned = []
            for position, text in enumerate(texts):
                if not text:
                    continue
                if caseless.answers(text):
                    scanned.append(position)
                elif ids := self.search(text.lower()):
                    found[position] = ids
            held = caseless.holding([texts[p] for p in scanned]) if scanned else []
        for at in held:
            if ids := self.search(texts[scanned[at]].lower()):
                found[scanned[at]] = ids
        return found


def full_text_guards(words: Sequence[str]) -> tuple[str, ...]:
    """At most 12 four-character guards covering full-text (keyword) literals, all ASCII; empty where none do or a
    literal is not ASCII. What both the Hyperscan database (``_Caseless``) and the C keyword pass
    (``engine._KeywordScan``) look for: four characters, punctuation first, because shorter ones are in real text."""
    return guards(list(words), 12, (4,)) if all(word.isascii() for word in words) else ()


def guards(literals: list[str], most: int, sizes: tuple[int, ...] = (2, 3, 4, 5)) -> tuple[str, ...]:
    """A few short substrings (of ``sizes`` characters), one of which every literal contains (empty when more
    than ``most`` would be needed, or a literal is shorter than every size).

    A text holding none of them holds no literal either, and ``in`` over a few guards is far cheaper
    than an automaton pass (Mimikatz's 20 keywords share ``::``, ``kiwi`` and ``mimi``). Two letters
    (``mi``) are in most real text, so the guard would pass and the automaton run anyway: a guard of
    three or more characters, or one with punctuation (``::``), is taken before one that covers more;
    between guards that cover as many, one with punctuation (``ge::`` before ``vile``, which is in every
    "privileges" of a Windows message), then the longer.
    """
    uncovered = set(literals)
    chosen: list[str] = []
    while uncovered:
        if len(chosen) == most:
            return ()
        grams: dict[str, int] = {}
        for literal in uncovered:
            if len(literal) < min(sizes):  # no guard of these sizes can stand for it
                return ()
            for size in sizes:
                for gram in {literal[i:i + size] for i in range(len(literal) - size + 1)}:
                    grams[gram] = grams.get(gram, 0) + 1
        best = max(grams, key=lambda g: (len(g) > 2 or not g.isalnum(), grams[g], not g.isalnum(), len(g), g))
        chosen.append(best)
        uncovered = {lit for lit in uncovered if best not in lit}
    return tuple(chosen)
