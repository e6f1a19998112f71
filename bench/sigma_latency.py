"""The tail of the Sigma pass on real Windows events: each OTRF event evaluated alone, all rules loaded.

The throughput rows of ``bench/sigma_corpus.py`` are means over batches; an SRE also asks what one event can cost,
since a slow event holds its partition. Here every event of the 109 recordings (or every ``--stride``-th) is
normalised, then timed alone through ``SigmaEngine.evaluate`` on one engine that has seen the events before it, in
recording order, as a running analyzer meets them. Prints the percentiles, each as a ratio to the same percentile
of ``orjson.loads`` of the same lines (the baseline), how much of the time went to events that built a logsource
group (the first event of each set of logsource tokens compiles that group's prefilter: docs/sigma.md
"Prefilter"), and the slowest events with their recording and line.

Usage: python bench/sigma_latency.py [--stride 1] [--slowest 15] [--default-filters]
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import logging
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.corpora import RULE_DIRS, SIGMAHQ, otrf_lines, otrf_recordings

from secustream.analyzer.sigma import SigmaEngine
from secustream.analyzer.sigma.cache import load_compiled
from secustream.analyzer.sigma.filters import RuleFilter
from secustream.analyzer.sigma.loader import assemble, filter_pack, merge_packs
from secustream.normalizers import NormalizationError, normalize_windows
from secustream.state import MemoryState

PERCENTILES = (50, 90, 99, 99.9, 99.99)


def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stride", type=int, default=1, help="every Nth line of each recording (1 = all)")
    parser.add_argument("--slowest", type=int, default=15, help="how many of the slowest events to name")
    parser.add_argument("--default-filters", action="store_true",
                        help="the pack filters' defaults (as `secustream rules install` runs), not every rule")
    args = parser.parse_args()
    logging.getLogger("secustream.analyzer.sigma").setLevel(logging.ERROR)  # the two rejected rules, once each

    keep = RuleFilter() if args.default_filters else None
    with tempfile.TemporaryDirectory() as tmp:
        packs = [load_compiled(SIGMAHQ / d, Path(tmp)) for d in RULE_DIRS]
    pack = merge_packs([filter_pack(p, keep) for p in packs] if keep else packs)
    engine = SigmaEngine(assemble(pack), MemoryState())
    groups = engine._index._by_rule_tokens  # a diagnostic, not an API: which calls built a logsource group
    print(f"rules: {engine.rule_count:,} ({'default filters' if keep else 'every rule'}); "
          f"events: every {args.stride}th line of {len(otrf_recordings())} OTRF recordings, each evaluated alone")

    clock = time.perf_counter
    costs: list[float] = []
    baseline: list[float] = []
    building = 0.0
    built = 0
    slowest: list[tuple[float, str, int, bool]] = []
    started = clock()
    for recording in otrf_recordings():
        for number, line in enumerate(otrf_lines(recording)):
            if number % args.stride:
                continue
            with contextlib.suppress(NormalizationError):
                event = normalize_windows(line)
                doc = event.model_dump(mode="json", exclude_none=True)
                t = clock()
                orjson.loads(line)
                baseline.append(clock() - t)
                known = len(groups)
                t = clock()
                engine.evaluate([event], [doc])
                spent = clock() - t
                costs.append(spent)
                grew = len(groups) != known
                if grew:
                    built += 1
                    building += spent
                item = (spent, recording.name, number, grew)
                if len(slowest) < args.slowest:
                    heapq.heappush(slowest, item)
                else:
                    heapq.heappushpop(slowest, item)
    costs.sort()
    baseline.sort()
    total = sum(costs)
    print(f"{len(costs):,} events in {clock() - started:.0f} s; Sigma total {total:.1f} s "
          f"(mean {total * 1e6 / len(costs):.1f} µs/event)")
    for p in PERCENTILES:
        ours, base = percentile(costs, p), percentile(baseline, p)
        print(f"  p{p:<6} {ours * 1e6:10.1f} µs  ({ours / base:6.1f}x orjson.loads p{p}, {base * 1e6:.1f} µs)")
    print(f"  max     {costs[-1] * 1e6:10.1f} µs")
    print(f"events that built a logsource group: {built} ({building:.2f} s, {building / total:.1%} of the Sigma time)")
    print(f"the {len(slowest)} slowest events:")
    for spent, name, number, grew in sorted(slowest, reverse=True):
        print(f"  {spent * 1e3:8.2f} ms  {name} line {number}{'  (built a logsource group)' if grew else ''}")


if __name__ == "__main__":
    main()
