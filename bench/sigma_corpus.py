"""The SigmaHQ corpus on real Windows events (OTRF recordings): normalise, evaluate, load, memory.

Prints, from one run in one process (so µs are per core), each figure also as a ratio to the
baseline: ``orjson.loads`` of the same lines (the least any consumer of these events must pay):
  - Windows normalise µs/event (``normalize_windows``: JSON → ``SecurityEvent``) with each event
    dropped once normalised, as ``secustream ingest`` does (``ingest.ingest_lines``: normalise,
    encode, produce, next line); and, for a consumer that holds its events, with batches of 500 kept
    alive until dropped and with all kept. The process's collector is tuned as every command tunes
    it (``heap.tune(GC_YOUNG_THRESHOLD)``); the batch figure is also given with CPython's default;
  - Sigma µs/event (``SigmaEngine.evaluate``) with no rules, 100, 1,000 and all rules of rules/ +
    rules-emerging-threats/ + rules-threat-hunting/, with the default pack filters, and with all
    rules but the keyword rules (what the full-text search costs); and all rules and 100 rules again on new
    documents per batch (``fresh_documents``, made by ``model_dump`` as the analyzer makes them): new objects, whose
    strings' hashes are not computed yet and whose values are not the memos' own keys, while the rows above reuse
    one set of documents run after run (the flatness on new documents is the one the analyzer sees); and all rules
    with the
    prefilter's loops in Python (``gather_event_python``), as where the C extension is not built: its gain;
    and all rules on events not seen before (``unseen_us``): an engine that has evaluated other lines of the same
    recordings, then these on new documents: what a running stream pays (every other row runs over events the
    engine has seen, so their field values are memoised);
  - load time, cold (pySigma parse + validate + plan) and cached (``SIGMA_CACHE_DIR`` hit + assemble);
  - peak RSS of the process.
Events: every ``--stride``-th line of each of the 109 OTRF recordings (all of them with --stride 1).

Usage: python bench/sigma_corpus.py [--stride 40] [--repeat 3] [--breakdown] [--profile] [--only-normalise]
                                    [--clock cpu]
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

from tests.corpora import RULE_DIRS, SIGMAHQ, otrf_lines, otrf_recordings

from secustream import heap
from secustream.analyzer.sigma import SigmaEngine
from secustream.analyzer.sigma import engine as sigma_engine
from secustream.analyzer.sigma.cache import load_compiled
from secustream.analyzer.sigma.engine import NATIVE_PREFILTER, select_all
from secustream.analyzer.sigma.fields import event_logsource
from secustream.analyzer.sigma.filters import RuleFilter
from secustream.analyzer.sigma.loader import CompiledPack, assemble, merge_packs
from secustream.analyzer.sigma.matcher import EventView
from secustream.analyzer.sigma.plan import KEYWORDS
from secustream.config import Settings
from secustream.ingest import ingest_lines
from secustream.normalizers import NormalizationError, normalize_windows
from secustream.state import MemoryState


def sample_lines(stride: int, offset: int = 0) -> list[str]:
    """Every ``stride``-th line of each recording, from its ``offset``-th."""
    lines: list[str] = []
    for recording in otrf_recordings():
        lines.extend(line for i, line in enumerate(otrf_lines(recording)) if i % stride == offset)
    return lines


CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}


def best_us(fn: Callable[[], object], n: int, repeat: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Best of ``repeat`` runs, µs per item (the minimum is the least disturbed by the other helpers)."""
    times = []
    for _ in range(repeat):
        started = clock()
        fn()
        times.append(clock() - started)
    return min(times) * 1e6 / n


def fresh_documents(events: Sequence) -> list[dict]:
    """New documents of the events, made as the analyzer makes them (``Router.analyze_documents``: ``model_dump`` of
    each batch just before it is evaluated): every string is a new object whose hash is not computed yet and which
    is not any memo's own key (the prefilter's memo lookups hash and compare it). Timing one set of documents again
    and again would time cached hashes and identity hits instead. (Until Run U these were ``orjson`` copies of the
    documents, whose plumbing read 1.5 µs an event dearer than the analyzer's own documents for reasons not of the
    engine: the 100-rule row read high, the flatness low.)"""
    return [event.model_dump(mode="json", exclude_none=True) for event in events]


def best_fresh_us(fn: Callable[[int, list[dict]], object], events: Sequence, batch: int, repeat: int,
                  clock: Callable[[], float] = time.perf_counter) -> float:
    """Best of ``repeat`` runs of ``fn(start, documents)`` over the batches of ``events``, µs per event; each batch's
    documents are made (``fresh_documents``) before the clock runs for it, so one batch of them is alive at a time."""
    times = []
    for _ in range(repeat):
        spent = 0.0
        for start in range(0, len(events), batch):
            fresh = fresh_documents(events[start:start + batch])
            started = clock()
            fn(start, fresh)
            spent += clock() - started
        times.append(spent)
    return min(times) * 1e6 / len(events)


def load_corpus(cache_dir: Path | None) -> CompiledPack:
    return merge_packs([load_compiled(SIGMAHQ / d, cache_dir) for d in RULE_DIRS])


def subset(pack: CompiledPack, n: int, seed: int = 13) -> CompiledPack:
    """``n`` rules of the pack drawn at random (fixed seed), no correlations."""
    chosen = sorted(random.Random(seed).sample(range(len(pack.rules)), min(n, len(pack.rules))))
    return CompiledPack(tuple(pack.rules[i] for i in chosen), (), (), pack.fingerprint, pack.sources)


def normalise(lines: Sequence[str]) -> list:
    """The events of ``lines`` (those the normaliser refuses left out)."""
    out = []
    for line in lines:
        with contextlib.suppress(NormalizationError):
            out.append(normalize_windows(line))
    return out


class DiscardingProducer:
    """Stands for the Kafka producer in ``ingest_lines``: takes every record, keeps none."""

    class tracker:  # the attribute ``ingest_lines`` reads (its failed deliveries)
        failed = 0

    def produce(self, *_args: object, **_kwargs: object) -> None: ...
    def poll(self, _timeout: float) -> None: ...
    def flush_or_raise(self) -> None: ...


@contextlib.contextmanager
def python_loops() -> Iterator[None]:
    """The engine with its prefilter loops in Python (``gather_event_python``, ``pick_rules_python``) and no keyword
    guards (only the C loops read them), as where the C extension is not built."""
    native = sigma_engine.gather_event, sigma_engine.pick_rules, sigma_engine._native_guard_table
    sigma_engine.gather_event = sigma_engine.gather_event_python
    sigma_engine.pick_rules = sigma_engine.pick_rules_python
    sigma_engine._native_guard_table = None
    try:
        yield
    finally:
        sigma_engine.gather_event, sigma_engine.pick_rules, sigma_engine._native_guard_table = native


def without_keyword_rules(pack: CompiledPack) -> CompiledPack:
    """The pack less its rules with Sigma ``keywords`` (full-text search of every event they apply to)."""
    kept = tuple(r for r in pack.rules if not any(f == KEYWORDS for alt in r.requirement for f, _c in alt))
    return CompiledPack(kept, (), (), pack.fingerprint, pack.sources)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stride", type=int, default=40, help="every Nth line of each recording")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the all-rules evaluation (with --only-normalise: the normalise loop)")
    parser.add_argument("--breakdown", action="store_true",
                        help="after the figures: where the all-rules µs go, stage by stage (the flatness analysis)")
    parser.add_argument("--only-normalise", action="store_true",
                        help="stop after the Windows normalise figures (no rule load, no Sigma pass)")
    parser.add_argument("--clock", choices=sorted(CLOCK), default="wall",
                        help="µs figures in wall time (default) or in this process's CPU time, which the other "
                             "processes of a loaded machine move much less")
    args = parser.parse_args()

    lines = sample_lines(args.stride)
    n = len(lines)
    print(f"events: {n:,} lines from {len(otrf_recordings())} OTRF recordings (every {args.stride}th); "
          f"{args.clock} clock")
    clock = CLOCK[args.clock]
    base = best_us(lambda: [orjson.loads(line) for line in lines], n, args.repeat, clock)
    print(f"baseline orjson.loads                 {base:8.2f} µs/event")

    def normalise_all() -> list:
        return normalise(lines)

    def normalise_batches() -> None:
        """A consumer that holds a batch of events: each batch is kept alive until the next one."""
        for i in range(0, n, args.batch):
            kept_now = []
            for line in lines[i:i + args.batch]:
                with contextlib.suppress(NormalizationError):
                    kept_now.append(normalize_windows(line))

    def normalise_each() -> None:
        """As ``secustream ingest`` does: each event is encoded, produced and dropped before the next line."""
        for line in lines:
            with contextlib.suppress(NormalizationError):
                normalize_windows(line)

    raw = [line.encode() for line in lines]

    def ingest_loop() -> None:
        """``secustream ingest``'s own loop (normalise, encode, produce) with a producer that drops the records."""
        ingest_lines(raw, "windows", normalize_windows, DiscardingProducer(), "events", "dlq")  # type: ignore[arg-type]

    heap.tune(heap.PYTHON_DEFAULT_YOUNG)
    norm_default = best_us(normalise_batches, n, args.repeat, clock)
    young = Settings().GC_YOUNG_THRESHOLD
    heap.tune(young)  # as every command runs (cli.main)
    norm = best_us(normalise_batches, n, args.repeat, clock)
    each = best_us(normalise_each, n, args.repeat, clock)
    kept = best_us(normalise_all, n, args.repeat, clock)
    ingest = best_us(ingest_loop, n, args.repeat, clock)
    events = normalise_all()
    print(f"Windows normalise                     {each:8.2f} µs/event  ({each / base:5.1f}x baseline; "
          f"{n - len(events)} lines refused; each event dropped before the next line, as the ingest does)")
    print(f"  within the ingest loop              {ingest:8.2f} µs/line   ({ingest / base:5.1f}x baseline; "
          "ingest.ingest_lines: normalise + encode_event + produce to a producer that drops the records)")
    print(f"Windows normalise, batches kept       {norm:8.2f} µs/event  ({norm / base:5.1f}x baseline; "
          f"batches of {args.batch} alive until dropped: a consumer that holds its events)")
    print(f"  the same, CPython's GC              {norm_default:8.2f} µs/event  ({norm_default / base:5.1f}x baseline; "
          f"young pass every {heap.PYTHON_DEFAULT_YOUNG} allocations, not {young:,} as the services run)")
    print(f"Windows normalise, all events kept    {kept:8.2f} µs/event  ({kept / base:5.1f}x baseline; "
          "the collector walks the growing list)")
    if args.only_normalise:
        if args.profile:
            profile_normalise(normalise_each)
        return
    docs = [e.model_dump(mode="json", exclude_none=True) for e in events]

    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        started = time.perf_counter()
        pack = load_corpus(cache)
        full = assemble(pack)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        assemble(load_corpus(cache))
        cached = time.perf_counter() - started
    print(f"load, cold (parse+validate+plan)      {cold:8.2f} s  ({len(full.rules):,} rules, "
          f"{len(full.errors)} rejected with a reason)")
    print(f"load, cached (SIGMA_CACHE_DIR)        {cached:8.2f} s  ({cold / cached:5.1f}x faster than cold)")
    for issue in full.errors:
        print(f"  rejected: {issue}")
    # each engine below would log the same rejections again: once is enough
    logging.getLogger(sigma_engine.__name__).setLevel(logging.ERROR)

    class Timed:
        """One engine over the sample, after one warm-up pass (the logsource groups are built once per rule set, as in
        a running analyzer): ``once`` times one pass, on the sample's documents or on new copies of each batch."""

        def __init__(self, ruleset_pack: CompiledPack, keep: RuleFilter | None = None) -> None:
            ruleset = assemble(ruleset_pack, keep)
            self.engine = SigmaEngine(ruleset, MemoryState())
            self.count, self.hits = len(ruleset.rules), 0
            self.once(False)

        def once(self, fresh: bool) -> float:
            """µs/event of one pass; ``fresh``: each batch's documents made anew (``fresh_documents``) before its
            clock starts."""
            spent, hits = 0.0, 0
            for start in range(0, len(events), args.batch):
                ds = fresh_documents(events[start:start + args.batch]) if fresh else docs[start:start + args.batch]
                started = clock()
                hits += sum(1 for h in self.engine.evaluate(events[start:start + len(ds)], ds) if h)
                spent += clock() - started
            self.hits = hits
            return spent * 1e6 / len(events)

    def evaluate_us(ruleset_pack: CompiledPack, keep: RuleFilter | None = None) -> tuple[float, int, int]:
        """µs/event of ``SigmaEngine.evaluate``, best of ``--repeat`` passes of one engine."""
        timed = Timed(ruleset_pack, keep)
        return min(timed.once(False) for _ in range(args.repeat)), timed.count, timed.hits

    def interleaved_us(rows: dict[str, Timed], fresh: bool) -> dict[str, float]:
        """The best of ``--repeat`` rounds per row, the rows timed in turn within each round: a ratio of two rows
        then compares passes run minutes apart at most, not one row's calm against another's burst of load from the
        machine's other tenants (rows timed one after the other read up to 1.8x apart in the same run)."""
        best = dict.fromkeys(rows, float("inf"))
        for _ in range(args.repeat):
            for label, timed in rows.items():
                best[label] = min(best[label], timed.once(fresh))
        return best

    def unseen_us(ruleset_pack: CompiledPack) -> tuple[float, int]:
        """µs/event of one pass over new copies of the events by a new engine that has only seen other events of
        the same recordings (``unseen_lines``): its memos and clean set know the values that recur (channels,
        paths, accounts) and its lazily built parts exist, but each value the events do not share with those is
        scanned for the first time, as in a running stream. The flatness rows reuse what earlier passes over the
        same events learnt. Best of ``--repeat`` engines; also the number of other lines seen."""
        ruleset = assemble(ruleset_pack)
        unseen_lines = sample_lines(args.stride, args.stride // 2)  # other lines of the same recordings
        warm_events = normalise(unseen_lines)
        warm_docs = [e.model_dump(mode="json", exclude_none=True) for e in warm_events]
        times = []
        for _ in range(args.repeat):
            engine = SigmaEngine(ruleset, MemoryState())
            for start in range(0, len(warm_docs), args.batch):
                engine.evaluate(warm_events[start:start + args.batch], warm_docs[start:start + args.batch])
            times.append(best_fresh_us(lambda start, fresh, engine=engine: engine.evaluate(
                events[start:start + len(fresh)], fresh), events, args.batch, 1, clock))
        return min(times), len(unseen_lines)

    # the flatness rows (no rules, 100, all; then 100 and all on new documents) timed in turn, round after round
    flat = {"none": Timed(subset(pack, 0)), "100": Timed(subset(pack, 100)), "all": Timed(pack)}
    reused = interleaved_us(flat, fresh=False)
    fresh_rows = interleaved_us({label: flat[label] for label in ("100", "all")}, fresh=True)
    us_none, us_fresh_100, us_fresh = reused["none"], fresh_rows["100"], fresh_rows["all"]
    counted = {label: (timed.count, timed.hits) for label, timed in flat.items()}
    del flat  # one corpus engine alive at a time below
    us_1000, count_1000, hit_1000 = evaluate_us(subset(pack, 1000))
    results: list[tuple[str, float, int, int]] = [
        ("100", reused["100"], *counted["100"]), ("1,000", us_1000, count_1000, hit_1000),
        ("all", reused["all"], *counted["all"])]
    us_default, count_default, hit_default = evaluate_us(pack, RuleFilter())
    keywordless = without_keyword_rules(pack)
    us_plain, count_plain, _hit_plain = evaluate_us(keywordless)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the unseen row's second event set
    us_unseen, seen_lines = unseen_us(pack)
    print(f"Sigma, no rules                       {us_none:8.2f} µs/event  ({us_none / base:5.1f}x baseline; the "
          "engine's per-event plumbing: logsource group, view, the pass over unmapped)")
    for label, us, count, hit in results:
        print(f"Sigma, {label:>5} rules ({count:5,} loaded)     {us:8.2f} µs/event  ({us / base:5.1f}x baseline; "
              f"{hit:,} events hit)")
    print(f"Sigma, default filters ({count_default:5,} loaded) {us_default:8.2f} µs/event  "
          f"({us_default / base:5.1f}x baseline; {hit_default:,} events hit)")
    print(f"flatness: all rules / 100 rules       {results[2][1] / results[0][1]:8.2f}x  (above the no-rules "
          f"plumbing: {results[0][1] - us_none:.2f} µs for 100 rules, {results[2][1] - us_none:.2f} µs for all)")
    dropped, ratio = len(pack.rules) - count_plain, us_plain / results[0][1]
    print(f"  all but the {dropped} keyword rules      {us_plain:8.2f} µs/event  ({ratio:4.2f}x the 100 rules; "
          f"{count_plain:,} loaded, no correlations: a keyword rule searches every string of every event)")
    print(f"  all rules, new documents per batch  {us_fresh:8.2f} µs/event  ({us_fresh / results[2][1]:4.2f}x the row "
          "above: each batch's documents made anew before its clock starts, as the analyzer makes them)")
    print(f"  100 rules, new documents per batch  {us_fresh_100:8.2f} µs/event  (flatness on new documents "
          f"{us_fresh / us_fresh_100:4.2f}x: the memos' hits there are other string objects, compared character by "
          "character, as in the analyzer; on reused documents they are the same objects)")
    print(f"  all rules, events not seen before  {us_unseen:8.2f} µs/event  ({us_unseen / results[2][1]:4.2f}x the "
          f"all-rules row: an engine that has seen {seen_lines:,} other lines of the same recordings, on new "
          "documents, as a running stream meets new events; the rows above run over events seen before)")
    if NATIVE_PREFILTER:  # the same run with the prefilter's loops in Python: what the C extension saves
        with python_loops():
            us_python, _count, _hit = evaluate_us(pack)
        print(f"  all rules, prefilter loops in Python {us_python:8.2f} µs/event  ({us_python / results[2][1]:4.2f}x "
              "the C loops of _scan.c: the engine where the extension is not built)")
    print(f"peak RSS                              {rss_mb:8.0f} MB  (the corpus loaded and evaluated over the events; "
          "before the unseen row normalises its second set of events)")
    if args.breakdown:
        breakdown(pack, events, docs, args.batch, args.repeat, clock)
    if args.profile:
        profile_all(pack, events, docs, args.batch)


def breakdown(pack: CompiledPack, events: Sequence, docs: Sequence[dict], batch: int, repeat: int,
              clock: Callable[[], float]) -> None:
    """The all-rules evaluation cut into its stages, each timed as a prefix of ``SigmaEngine.evaluate`` on the same
    documents as the rows above (the differences are the stages). Reads the engine's internals: a diagnostic,
    not an API."""
    engine = SigmaEngine(assemble(pack), MemoryState())
    index = engine._index

    def prefix(stage: int) -> Callable[[], None]:
        def run() -> None:
            for start in range(0, len(events), batch):
                ds = docs[start:start + batch]
                if stage == 3:
                    engine.evaluate(events[start:start + batch], ds)
                    continue
                views = [EventView(doc, index.resolvers) for doc in ds]
                groups = [index.candidates(event_logsource(doc)) for doc in ds]
                if stage == 1:
                    [group.gather(view) for group, view in zip(groups, views, strict=True)]
                elif stage == 2:
                    select_all(groups, views)
        return run

    prefix(3)()  # the logsource groups built, as in a running analyzer
    totals = [best_us(prefix(stage), len(events), repeat, clock) for stage in range(4)]
    names = ("views and logsource groups (plumbing)", "+ field scans, keyword texts gathered",
             "+ keyword search, candidate rules picked", "+ rule predicates, hits, correlations")
    print("where the all-rules µs go (each stage timed as a prefix of evaluate; the difference is the stage):")
    for name, total, before in zip(names, totals, (0.0, *totals), strict=False):
        print(f"  {name:<40} {total - before:6.2f} µs/event  (cumulative {total:6.2f})")


def profile_normalise(normalise: Callable[[], object]) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    normalise()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def profile_all(pack: CompiledPack, events: Sequence, docs: Sequence, batch: int) -> None:
    engine = SigmaEngine(assemble(pack), MemoryState())
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(0, len(events), batch):
        engine.evaluate(events[i:i + batch], docs[i:i + batch])
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
