"""The prefilter's literal search: every way of answering gives ``literal in text.lower()``."""

from __future__ import annotations

import platform
import random
import threading
from collections.abc import Callable

import pytest

from secustream.analyzer.sigma.literals import HYPERSCAN_AVAILABLE, Literals

MIMIKATZ = ["dpapi::masterkey", "eo.oe.kiwi", "event::clear", "gentilkiwi.com", "kerberos::golden", "lsadump::",
            "mimidrv.sys", "\\mimilib.dll", "sekurlsa::", "kiwi legit printer"]
FEW = ["kiwi", "sekurlsa::", "\\mimilib.dll"]
NON_ASCII = ["kiwi", "café", "ünïcode::", "sekurlsa::"]


def reference(literals: dict[str, list[int]], text: str) -> set[int]:
    lowered = text.lower()
    return {c for literal, cids in literals.items() if literal in lowered for c in cids}


def per_text(found: Literals, texts: list[str]) -> list[set[int]]:
    """``search_texts`` (the texts holding a literal, by position) as one set per text."""
    held = found.search_texts(texts)
    assert all(held.values())  # only the texts that hold one
    return [set(held.get(position, ())) for position in range(len(texts))]


def texts(literals: list[str], seed: int) -> list[str]:
    """Short and long texts (either side of ``CASELESS_FROM``) from three pools: ASCII, other characters, and
    the two characters ``str.lower`` folds to ASCII (U+0130, KELVIN SIGN); half of them hold a literal,
    in mixed case, anywhere."""
    rng = random.Random(seed)
    pools = [["C:\\Windows\\System32\\svchost.exe -k netsvcs ", "ProcessId: 4242\n", "::", "MiMi", "kerberos:",
              ":golden ", "\x00", "KIWI"],
             ["Ünïcödé ", "CAFÉ ", "caf", "\ud800", "ünïcode:", "résumé ", "C:\\Temp "],
             ["İstanbul ", "\u212aIWI ", "kİwi ", "K", "İ", "sekurlsa:"]]
    out = []
    for _ in range(600):
        pool = pools[0] + (pools[1] if rng.random() < 0.5 else []) + (pools[2] if rng.random() < 0.3 else [])
        parts = [rng.choice(pool) for _ in range(rng.choice((1, 5, 40, 120)))]
        if rng.random() < 0.5:
            word = rng.choice(literals)
            word = "".join(ch.upper() if rng.random() < 0.5 else ch for ch in word)
            parts.insert(rng.randrange(len(parts) + 1), word)
        out.append("".join(parts))
    return out


@pytest.mark.parametrize("words", [MIMIKATZ, FEW, NON_ASCII], ids=["guarded-automaton", "needles", "non-ascii"])
def test_every_path_answers_literal_in_lowered_text(words: list[str]) -> None:
    literals = {word: [i, 100 + i] for i, word in enumerate(words)}
    found = Literals(literals, full_text=True)
    cases = texts(words, seed=len(words))
    if found.caseless is not None:  # the accelerated path is taken, and on texts with a literal in them
        taken = [t for t in cases if found.caseless.answers(t)]
        assert len(taken) > 50 and sum(1 for t in taken if reference(literals, t)) > 20
    expected = [reference(literals, text) for text in cases]
    for text, want in zip(cases, expected, strict=True):
        assert set(found.search(text.lower())) == want, text
        assert set(found.search_texts([text]).get(0, ())) == want, text
    assert per_text(found, cases) == expected  # one batch: one scan, then the hits
    assert per_text(found, cases[::-1]) == expected[::-1]
    # a batch every text of which the caseless scan answers (the usual one) is encoded and scanned once, the
    # texts' offsets counted in characters where all are ASCII: empty texts, NULs and hits at either end included
    for answered in ([text for text in cases if text.isascii()],
                     [text for text in cases if found.caseless is None or found.caseless.answers(text)]):
        batch = ["", *answered[:200], "", "", words[0].upper(), "\x00", "Ünïcödé\ud800", f"x{words[-1]}"]
        assert per_text(found, batch) == [reference(literals, text) for text in batch]


def test_hyperscan_is_installed_where_it_has_a_wheel() -> None:
    """CI runs on x86-64 Linux: the accelerated path is the one under test there, not silently the fallback."""
    if platform.system() == "Linux" and platform.machine() == "x86_64":
        assert HYPERSCAN_AVAILABLE
    found = Literals({word: [i] for i, word in enumerate(MIMIKATZ)}, full_text=True)
    assert (found.caseless is not None) == HYPERSCAN_AVAILABLE
    assert Literals({word: [i] for i, word in enumerate(MIMIKATZ)}).caseless is None  # field scans: lower-cased texts


def test_caseless_scan_takes_what_it_answers_exactly() -> None:
    if not HYPERSCAN_AVAILABLE:
        pytest.skip("no hyperscan wheel on this platform: the Python path answers alone")  # never on CI (test above)
    ascii_words = Literals({word: [i] for i, word in enumerate(MIMIKATZ)}, full_text=True).caseless
    other_words = Literals({word: [i] for i, word in enumerate(NON_ASCII)}, full_text=True).caseless
    assert ascii_words is not None and other_words is not None
    assert ascii_words.answers("plain ascii") and ascii_words.answers("naïve café")
    assert not ascii_words.answers("K\u212aIWI") and not ascii_words.answers("KİWI")  # str.lower folds them to ASCII
    assert other_words.answers("plain ascii") and not other_words.answers("CAFÉ")  # Hyperscan folds ASCII only


def test_one_database_serves_threads_at_once() -> None:
    """A scan releases the GIL, and one scratch serves one scan at a time: each thread has its own."""
    literals = {word: [i] for i, word in enumerate(MIMIKATZ)}
    found = Literals(literals, full_text=True)
    text = "x" * 50_000 + "SEKURLSA::logonpasswords" + "y" * 50_000
    want = {MIMIKATZ.index("sekurlsa::")}

    def scan() -> None:
        for _ in range(200):
            assert per_text(found, [text, "plain", text]) == [want, set(), want]

    in_threads(scan)


def in_threads(scan: Callable[[], None], count: int = 4) -> None:
    """``scan`` in ``count`` threads at once; what any of them raised fails the test."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            scan()
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


@pytest.mark.skipif(not HYPERSCAN_AVAILABLE, reason="the Hyperscan path (CI runs it: test above)")
def test_hyperscan_scans_for_a_few_guards_and_only_a_real_literal_is_found() -> None:
    """SigmaHQ's 20 Mimikatz keywords are scanned for as 9 four-character guards (~3x cheaper per byte); a text
    holding a guard but no keyword is searched exactly and found clean, and a guard is never a common word."""
    mimikatz = ["\\mimilib.dll", "dpapi::masterkey", "eo.oe.kiwi", "event::clear", "event::drop", "gentilkiwi.com",
                "kerberos::golden", "kerberos::ptc", "kerberos::ptt", "kerberos::tgt", "kiwi legit printer",
                "lsadump::", "mimidrv.sys", "misc::printnightmare", "misc::shadowcopies", "misc::skeleton",
                "privilege::backup", "privilege::debug", "privilege::driver", "sekurlsa::"]
    found = Literals({word: [i] for i, word in enumerate(mimikatz)}, full_text=True)
    assert found.caseless is not None
    patterns = found.caseless.patterns
    assert 0 < len(patterns) < len(mimikatz) and all(len(p) == 4 for p in patterns)
    assert all(any(p in word for p in patterns) for word in mimikatz)
    background = ("Special privileges assigned to new logon. Privileges: SeDebugPrivilege "
                  "fe80::1c2e:a::b 10.0.0.1 C:\\Windows\\System32\\svchost.exe -k netsvcs")
    assert found.caseless.holding([background]) == []  # no guard in real background text
    near_misses = ["KERBEROS:: nothing after", "misc::print", "the kiwi fruit", "MIMIKATZ?"]
    assert found.search_texts([background, *near_misses, "run SEKURLSA::logonpasswords"]) == {5: (19,)}
    # a short literal leaves no four-character cover: the literals themselves are scanned for
    assert Literals({"::": [0], "kiwi": [1]}, full_text=True).caseless.patterns == ("::", "kiwi")  # type: ignore[union-attr]


def many_literals(seed: int) -> list[str]:
    """Over ``Literals.GUARDED`` field literals (no guards: every text is searched), ASCII and not, lone surrogates,
    one inside another."""
    rng = random.Random(seed)
    alphabet = "abcdefgh\\:.-_ éü\ud800İ"
    words = {"".join(rng.choice(alphabet) for _ in range(rng.randint(2, 9))).lower() for _ in range(400)}
    return sorted(words | {"powershell", "shell", "\\windows\\system32\\", ".dll", "ü"})


def test_long_texts_are_searched_by_hyperscan_with_the_same_answers() -> None:
    """A field with many literals searches a text of ``Literals.LONG`` characters or more with one Hyperscan
    database (``_Exact``), a shorter one with the automaton: both answer ``literal in text.lower()``, and threads
    scan at once."""
    words = many_literals(5)
    literals = {word: [i, 1000 + i] for i, word in enumerate(words)}
    found = Literals(literals)
    assert not found.guards and found.automaton is not None
    rng = random.Random(9)
    pool = [*words, "C:\\Windows\\System32\\ntdll.dll+9d4c4|", "x", " ", "\x00", "Ünï", "\ud800", "K\u212a"]
    cases = ["".join(rng.choice(pool) for _ in range(rng.choice((1, 10, 60, 400)))) for _ in range(400)]
    assert sum(len(text) >= Literals.LONG for text in cases) > 100
    for text in cases:
        assert set(found.search(text.lower())) == reference(literals, text), text
    assert (found.exact not in (None, False)) == HYPERSCAN_AVAILABLE

    def scan() -> None:
        for text in cases[:100]:
            assert set(found.search(text.lower())) == reference(literals, text)

    in_threads(scan)


def test_a_field_with_rare_long_texts_or_too_many_literals_keeps_the_automaton() -> None:
    """Compiling costs ~1-20 ms (0.24 s for SigmaHQ's 10,538 CommandLine literals): only a field that keeps meeting
    long texts gets a database, and only where it has at most ``Literals.EXACT_MOST`` literals."""
    literals = {word: [i] for i, word in enumerate(many_literals(6))}
    found = Literals(literals)
    long_text = "powershell " * 40
    for _ in range(Literals.EXACT_AFTER - 1):
        assert set(found.search(long_text)) == reference(literals, long_text)
    assert found.exact is None
    found.search(long_text)
    assert (found.exact not in (None, False)) == HYPERSCAN_AVAILABLE
    words = {f"word{i}": [i] for i in range(Literals.EXACT_MOST + 1)}
    many = Literals(words)
    assert many.exact is False
    for _ in range(Literals.EXACT_AFTER):
        assert set(many.search("x word17 " * 40)) == reference(words, "x word17 " * 40) == {1, 17}
    assert many.exact is False
