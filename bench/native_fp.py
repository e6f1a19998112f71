"""The native default rules on real Windows events (all 109 OTRF recordings): hits per rule, events by type.

Each recording is mostly ordinary host activity with one simulated attack in it, so a rule that fires across
many recordings, or a threshold rule on a server's routine traffic, is named here rather than hidden in a share;
and how many recordings had their own ATT&CK technique named by a hit (``training.otrf.names_technique``).
Each recording runs through a fresh engine in time order (its windows never span two recordings). Also the
per-event cost of normalise + evaluate, against ``orjson.loads`` of the same lines (baseline).

Usage: python bench/native_fp.py [--stride 1] [--rules services/secustream/rules/default.yaml]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.corpora import CORPORA, otrf_lines, otrf_recordings

from secustream.analyzer.native.engine import RulesEngine
from secustream.analyzer.native.schema import RuleSet
from secustream.normalizers import NormalizationError, normalize_windows
from secustream.state import MemoryState
from secustream.training.otrf import names_technique
from secustream.training.otrf import recordings as otrf_metadata

DEFAULT_RULES = Path(__file__).resolve().parents[1] / "services" / "secustream" / "rules" / "default.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stride", type=int, default=1, help="every Nth line of each recording (1 = all)")
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()

    ruleset = RuleSet.load(args.rules)
    print(f"{len(ruleset.rules)} native rules from {args.rules}")
    hits: Counter[str] = Counter()
    recordings_hit: defaultdict[str, set[str]] = defaultdict(set)
    types: Counter[str] = Counter()
    total = refused = hit_events = 0
    base_s = work_s = 0.0
    recordings = otrf_recordings()
    mapped = {rec.path: rec.techniques for rec in otrf_metadata(CORPORA)}
    named: defaultdict[Path, set[str]] = defaultdict(set)  # per recording: the techniques its hits named
    for done, recording in enumerate(recordings, 1):
        lines = [line for i, line in enumerate(otrf_lines(recording)) if i % args.stride == 0]
        started = time.perf_counter()
        for line in lines:
            orjson.loads(line)
        base_s += time.perf_counter() - started
        started = time.perf_counter()
        events = []
        for line in lines:
            with contextlib.suppress(NormalizationError):
                events.append(normalize_windows(line))
        refused += len(lines) - len(events)
        events.sort(key=lambda e: e.timestamp)  # thresholds count in event time
        engine = RulesEngine(ruleset, MemoryState())
        for start in range(0, len(events), args.batch):
            batch = events[start:start + args.batch]
            docs = [e.model_dump(mode="json") for e in batch]
            types.update(doc["event_type"] for doc in docs)
            for found in engine.evaluate(batch, docs):
                hit_events += bool(found)
                for hit in found:
                    hits[hit.rule_id] += 1
                    named[recording].update(hit.mitre)
                    recordings_hit[hit.rule_id].add(recording.name)
        work_s += time.perf_counter() - started
        total += len(events)
        if done % 20 == 0:
            print(f"  {done}/{len(recordings)} recordings, {total:,} events", file=sys.stderr)
    print(f"events: {total:,} from {len(recordings)} recordings ({refused} lines refused by the normaliser)")
    print("by event type: " + ", ".join(f"{kind} {count:,}" for kind, count in types.most_common()))
    print(f"events with a native hit: {hit_events:,} = {hit_events / max(total, 1):.3%} ({sum(hits.values()):,} hits)")
    with_mapping = [path for path in recordings if mapped.get(path)]
    seen = sum(1 for path in with_mapping if names_technique(named[path], mapped[path]))
    print(f"recordings whose own technique a native hit named: {seen} of {len(with_mapping)} with a mapped technique")
    print("hits by rule (recordings):")
    for rule_id, count in hits.most_common():
        names = sorted(recordings_hit[rule_id])
        print(f"  {count:7,}  {rule_id:<28} {len(names):3} recordings, e.g. {', '.join(names[:3])}")
    base_us, work_us = base_s * 1e6 / max(total, 1), work_s * 1e6 / max(total, 1)
    print(f"normalise + evaluate: {work_us:.1f} µs/event ({work_us / base_us:.1f}x orjson.loads at {base_us:.2f} "
          "µs/event)")


if __name__ == "__main__":
    main()
