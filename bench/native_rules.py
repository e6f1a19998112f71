"""The native YAML rules on real Windows events (OTRF recordings): the prefilter against testing every rule.

Prints, from one run in one process (so µs are per core), each figure also as a ratio to the baseline, ``orjson.loads``
of the same lines (the least any consumer of these events must pay):
  - ``RulesEngine.evaluate`` µs/event with the rules filed (``analyzer/native/prefilter.py``: an event is tested
    only against the rules filed under what it holds), on the analyzer's own documents (``model_dump`` of each batch
    just before it is evaluated, as ``Router.analyze_documents`` makes them);
  - the same with every rule of the event's type tested, as before the prefilter (the reference);
  - rules tested per event both ways, and the hits (the same both ways, or the run fails).
Events: every ``--stride``-th line of each of the 109 OTRF recordings; rules: the packaged default.yaml (or --rules).

Usage: python bench/native_rules.py [--stride 20] [--repeat 3] [--rules PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.sigma_corpus import best_fresh_us, fresh_documents, normalise, sample_lines
from tests.corpora import REPO

from secustream import heap
from secustream.analyzer.native import RulesEngine, RuleSet
from secustream.analyzer.native.engine import index_by_event_type
from secustream.analyzer.native.prefilter import RuleFiling
from secustream.config import Settings
from secustream.state import MemoryState


class EveryRule(RuleFiling):
    """The reference: every rule of the event's type is a candidate (what the engine did before the prefilter)."""

    def candidates(self, doc):  # type: ignore[no-untyped-def]
        return self.rules


def every_rule(engine: RulesEngine) -> RulesEngine:
    """``engine`` with every rule of each type tested (a copy; the filed one is untouched)."""
    reference = RulesEngine(engine.ruleset, MemoryState())
    by_type, untyped = index_by_event_type(engine.ruleset.rules)
    reference._index = (engine.ruleset, ({k: EveryRule(v, (), (), ()) for k, v in by_type.items()},
                                         EveryRule(untyped, (), (), ())))
    return reference


def best_us(run: Callable[[], object], n: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.process_time()
        run()
        times.append(time.process_time() - started)
    return min(times) * 1e6 / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stride", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rules", type=Path, default=REPO / "services" / "secustream" / "rules" / "default.yaml")
    args = parser.parse_args()
    heap.tune(Settings().GC_YOUNG_THRESHOLD)  # as every command runs (cli.main)
    lines = sample_lines(args.stride)
    events = normalise(lines)
    n = len(events)
    print(f"{n:,} real Windows events (every {args.stride}th line of each OTRF recording); CPU time, best of "
          f"{args.repeat}", flush=True)
    base = best_us(lambda: [orjson.loads(line) for line in lines], len(lines), args.repeat)
    filed = RulesEngine(RuleSet.load(args.rules), MemoryState())
    reference = every_rule(filed)
    print(f"{len(filed.ruleset.rules)} rules from {args.rules}")

    rows = {"rules filed (prefilter)": filed, "every rule of the type tested": reference}
    timings = {label: best_fresh_us(lambda start, docs, e=engine: e.evaluate(events[start:start + len(docs)], docs),
                                    events, args.batch, args.repeat, time.process_time)
               for label, engine in rows.items()}
    fired = {label: [[h.rule_id for h in found] for start in range(0, n, args.batch)
                     for found in engine.evaluate(events[start:start + args.batch])]
             for label, engine in rows.items()}
    if len(set(map(orjson.dumps, fired.values()))) != 1:
        raise SystemExit("the prefilter changed a verdict")
    tested = {}
    for label, engine in rows.items():
        by_type, untyped = engine._index[1]
        docs = fresh_documents(events)
        tested[label] = sum(len(by_type.get(d.get("event_type"), untyped).candidates(d)) for d in docs) / n
    print(f"{'baseline orjson.loads':34} {base:8.2f} µs/event")
    for label, us in timings.items():
        print(f"{label:34} {us:8.2f} µs/event  ({us / base:4.2f}x baseline)  {tested[label]:5.2f} rules tested/event")
    hits = sum(1 for found in fired["rules filed (prefilter)"] if found)
    first, second = timings.values()
    print(f"prefilter gain {second / first:4.2f}x; {hits} events with a hit, the same both ways")


if __name__ == "__main__":
    main()
