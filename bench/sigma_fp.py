"""False-positive share of the SigmaHQ corpus on real Windows background noise (all 109 OTRF recordings).

Each recording is mostly ordinary host activity with one simulated attack in it. With the full
corpus at the pack filters (default: stable+test, level >= medium) this prints the share of events
the Sigma rules put at high/critical (target <= 1 %), the share at any level, and the 10 rules that
fire most (with their level), so a noisy rule is named, not hidden in a percentage. And the other side:
how many recordings had their own attack named, i.e. a hit whose ATT&CK technique is one the recording's OTRF
metadata maps it to (``training.otrf.names_technique``: the parent counts, T1003 for T1003.002, and for T1562,
which ATT&CK v18 retired, its successors T1685/T1686), at any level and at high/critical (``--misses`` lists the
others). Also per-event cost of normalise + evaluate, against ``orjson.loads`` of the same lines (baseline).

Usage: python bench/sigma_fp.py [--stride 1] [--min-level medium] [--statuses stable,test] [--misses]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.corpora import CORPORA, RULE_DIRS, SIGMAHQ, otrf_lines, otrf_recordings

from secustream.analyzer.sigma import SigmaEngine
from secustream.analyzer.sigma.cache import load_compiled
from secustream.analyzer.sigma.filters import RuleFilter
from secustream.analyzer.sigma.loader import assemble, filter_pack, merge_packs
from secustream.normalizers import NormalizationError, normalize_windows
from secustream.state import MemoryState
from secustream.training.otrf import names_technique
from secustream.training.otrf import recordings as otrf_metadata
from secustream.verdict import RISK_ORDER, RiskLevel

HIGH = RISK_ORDER[RiskLevel.HIGH]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stride", type=int, default=1, help="every Nth line of each recording (1 = all)")
    parser.add_argument("--min-level", default="medium")
    parser.add_argument("--statuses", default="stable,test")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--misses", action="store_true",
                        help="list the recordings whose own technique no hit named, with the techniques hits did name")
    args = parser.parse_args()

    keep = RuleFilter.parse(args.min_level, args.statuses)
    with tempfile.TemporaryDirectory() as tmp:
        pack = merge_packs([filter_pack(load_compiled(SIGMAHQ / d, Path(tmp)), keep) for d in RULE_DIRS])
    ruleset = assemble(pack)
    engine = SigmaEngine(ruleset, MemoryState())
    print(f"{len(ruleset.rules):,} rules at level >= {keep.min_level}, status in {','.join(keep.statuses)} "
          f"({ruleset.filtered_out:,} left out by the filters)")

    total = high = anything = refused = 0
    by_rule: Counter[str] = Counter()
    level_of: dict[str, str] = {}
    recordings_with_high: Counter[str] = Counter()
    base_s = work_s = 0.0
    mapped = {rec.path: rec.techniques for rec in otrf_metadata(CORPORA)}
    named_any: dict[Path, set[str]] = {}  # per recording: the techniques its hits named, any level
    named_high: dict[Path, set[str]] = {}
    for recording in otrf_recordings():
        named_any[recording], named_high[recording] = set(), set()
        lines = [line for i, line in enumerate(otrf_lines(recording)) if i % args.stride == 0]
        started = time.perf_counter()
        for line in lines:
            with contextlib.suppress(orjson.JSONDecodeError):
                orjson.loads(line)
        base_s += time.perf_counter() - started
        started = time.perf_counter()
        events = []
        for line in lines:
            try:
                events.append(normalize_windows(line))
            except NormalizationError:
                refused += 1
        for i in range(0, len(events), args.batch):
            for hits in engine.evaluate(events[i:i + args.batch]):
                if not hits:
                    continue
                anything += 1
                if max(RISK_ORDER[h.severity] for h in hits) >= HIGH:
                    high += 1
                    recordings_with_high[recording.stem] += 1
                for h in hits:
                    by_rule[h.rule_id] += 1
                    level_of[h.rule_id] = h.severity.value
                    named_any[recording].update(h.mitre)
                    if RISK_ORDER[h.severity] >= HIGH:
                        named_high[recording].update(h.mitre)
        work_s += time.perf_counter() - started
        total += len(events)
    print(f"events: {total:,} from {len(otrf_recordings())} recordings ({refused} lines refused by the normaliser)")
    print(f"high/critical: {high:,} events = {100 * high / max(total, 1):.3f} % (target <= 1 %)")
    print(f"any Sigma hit: {anything:,} events = {100 * anything / max(total, 1):.3f} %")
    print(f"recordings with a high/critical hit: {len(recordings_with_high)} of {len(otrf_recordings())}")
    with_mapping = [path for path in named_any if mapped.get(path)]
    hit_any = [path for path in with_mapping if names_technique(named_any[path], mapped[path])]
    hit_high = [path for path in with_mapping if names_technique(named_high[path], mapped[path])]
    print(f"recordings whose own technique a hit named: {len(hit_any)} of {len(with_mapping)} with a mapped "
          f"technique ({len(hit_high)} at high/critical)")
    if args.misses:
        for path in sorted(set(with_mapping) - set(hit_any)):
            print(f"  missed {path.parent.parent.name}/{path.stem}: {', '.join(mapped[path])} (hits named "
                  f"{', '.join(sorted(named_any[path])) or 'nothing'})")
    print("rules that fire most:")
    for rule_id, count in by_rule.most_common(10):
        rule = engine.find(rule_id)
        title = rule.title if rule is not None else rule_id
        print(f"  {count:7,}  {level_of[rule_id]:8}  {title}  [{rule_id}]")
    per_event = 1e6 * work_s / max(total, 1)
    baseline = 1e6 * base_s / max(total, 1)
    print(f"normalise + evaluate: {per_event:.1f} µs/event ({per_event / baseline:.1f}x orjson.loads at "
          f"{baseline:.2f} µs/event)")


if __name__ == "__main__":
    main()
