"""False-positive share of the SigmaHQ corpus on real Windows background noise (all 109 OTRF recordings).

Each recording is mostly ordinary host activity with one simulated attack in it. With the full
corpus at the pack filters (default: stable+test, level >= medium) this prints the share of events
the Sigma rules put at high/critical (target <= 1 %), the share at any level, and the 10 rules that
fire most (with their level), so a noisy rule is named, not hidden in a percentage. Also per-event
cost of normalise + evaluate, against ``orjson.loads`` of the same lines (baseline).

Usage: python bench/sigma_fp.py [--stride 1] [--min-level medium] [--statuses stable,test]
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

from tests.corpora import RULE_DIRS, SIGMAHQ, otrf_lines, otrf_recordings

from secustream.analyzer.sigma import SigmaEngine
from secustream.analyzer.sigma.cache import load_compiled
from secustream.analyzer.sigma.filters import RuleFilter
from secustream.analyzer.sigma.loader import assemble, filter_pack, merge_packs
from secustream.normalizers import NormalizationError, normalize_windows
from secustream.state import MemoryState
from secustream.verdict import RISK_ORDER, RiskLevel

HIGH = RISK_ORDER[RiskLevel.HIGH]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stride", type=int, default=1, help="every Nth line of each recording (1 = all)")
    parser.add_argument("--min-level", default="medium")
    parser.add_argument("--statuses", default="stable,test")
    parser.add_argument("--batch", type=int, default=500)
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
    for recording in otrf_recordings():
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
        work_s += time.perf_counter() - started
        total += len(events)
    print(f"events: {total:,} from {len(otrf_recordings())} recordings ({refused} lines refused by the normaliser)")
    print(f"high/critical: {high:,} events = {100 * high / max(total, 1):.3f} % (target <= 1 %)")
    print(f"any Sigma hit: {anything:,} events = {100 * anything / max(total, 1):.3f} %")
    print(f"recordings with a high/critical hit: {len(recordings_with_high)} of {len(otrf_recordings())}")
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
