"""Archive benchmark: one stored day of events → OCSF Parquet, against baselines measured in the same run.

Seeds a day of generated events with their verdicts in a fresh PostgreSQL database of its own, then prints:
  (a) fetch alone: the day's rows streamed from PostgreSQL as retention hands them over (``day_rows``);
  (b) baseline: the same rows fetched and written as JSON lines (orjson) to a local file;
  (c) total: ``secustream archive write``'s path, fetch + map + write + read-back verification + manifest,
      with the peak RSS of this process at its end (the rows are streamed; nothing holds the day);
  (d) the stages apart, on the day held in memory (after (c), so (c)'s RSS is not inflated by it):
      map alone in one process, the whole archive from memory in one process, verify alone (re-read the day).
Each rate is rows/s and a ratio to (b); the load average sits beside the figures (2 shared cores).

Usage: python bench/archive.py [--rows 100000] [--rows-per-file 1000000] [--workers N] [--profile PATH]
Needs PostgreSQL (SECUSTREAM_BENCH_PG, default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).

``--otrf-classes`` instead measures what the archive makes of real Windows telemetry (no database): every
event of the 109 OTRF recordings through the Windows normaliser and the events mapper, the share per OCSF
class and the event ids left as Base Event; ``--json PATH`` saves the counts and ``--compare PATH`` prints a
saved run beside this one (before/after a mapping change). ``--otrf-map-cost`` times the mapping alone on
them, with the Windows mapping and without it.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, text

from secustream.archive import make_archiver
from secustream.archive.parquet import ParquetArchiver
from secustream.config import Settings
from secustream.generator import EventGenerator
from secustream.storage.day_rows import day_rows
from secustream.storage.migrate import upgrade
from secustream.storage.repository import AnalyzedEvent, VerdictRepository
from secustream.verdict import RiskLevel, Verdict

DAY = date(2026, 11, 2)
_LEVELS = list(RiskLevel)


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if url:
        upgrade(url)
        yield url
        return
    from pipeline import fresh_database  # bench/; lazily: worker processes re-import this script, not the pipeline

    with fresh_database() as fresh:
        yield fresh


def seed(engine: Engine, rows: int) -> None:
    """``rows`` generated events over the day, each with a verdict, stored as the analyzer stores them."""
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    gen = EventGenerator(seed=7, attack_ratio=0.2, start=start, rate=max(1.0, rows / 80_000))
    repo = VerdictRepository(engine)
    n = 0
    while n < rows:
        batch = []
        for g in gen.next_batch(min(5_000, rows - n)):
            e = g.event
            batch.append(AnalyzedEvent(e, Verdict(
                event_id=e.event_id, risk_level=_LEVELS[n % 4], risk_score=(n % 100) / 100, threat_type="benign",
                confidence=((n * 7) % 100) / 100, tier="rules", reason=f"reason {n % 50}",
                rule_ids=[f"rule-{n % 5}"] if n % 3 else [], mitre_ids=["T1110"] if n % 2 else [],
                recommended_actions=["look"], analysis="", analyzer_version="bench-1", latency_ms=1.0,
                analyzed_at=e.timestamp + timedelta(seconds=1))))
            n += 1
        repo.store(batch)


def rate(rows: int, seconds: float) -> float:
    return rows / seconds if seconds > 0 else float("inf")


def fetch_only(engine: Engine) -> int:
    with engine.connect() as conn:
        return sum(1 for _ in day_rows(conn, "events", DAY))


def json_lines(engine: Engine, path: Path) -> int:
    n = 0
    with engine.connect() as conn, path.open("wb") as out:
        for row in day_rows(conn, "events", DAY):
            out.write(orjson.dumps(row, default=str) + b"\n")
            n += 1
    return n


def archiver_for(root: Path, rows_per_file: int, workers: int | None) -> ParquetArchiver:
    settings = Settings(ARCHIVE_ROWS_PER_FILE=rows_per_file, **({"ARCHIVE_WORKERS": workers} if workers else {}))
    return make_archiver(str(root), settings)


def timed(label: str, fn: Any, profile: cProfile.Profile | None = None) -> tuple[Any, float]:
    t0 = time.perf_counter()
    if profile is not None:
        profile.enable()
    out = fn()
    if profile is not None:
        profile.disable()
    return out, time.perf_counter() - t0


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def otrf_events(stride: int) -> Iterator[Any]:
    """Every ``stride``th line of each OTRF recording, normalised (None where the normaliser refuses the line)."""
    from secustream.normalizers.base import NormalizationError
    from secustream.normalizers.windows import normalize_windows

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (the corpus readers)
    from tests.corpora import OTRF, otrf_lines, otrf_recordings

    recordings = otrf_recordings()
    if not recordings:
        raise SystemExit(f"no OTRF recordings under {OTRF} (set SECUSTREAM_CORPORA)")
    for recording in recordings:
        for i, line in enumerate(otrf_lines(recording)):
            if i % stride == 0:
                try:
                    yield normalize_windows(line)
                except NormalizationError:
                    yield None


def otrf_row(event: Any) -> dict[str, Any]:
    """The events row the analyzer would store (no verdict: severity 0)."""
    from secustream.storage.repository import event_row

    return event_row(AnalyzedEvent(event, None))  # type: ignore[arg-type]


def otrf_classes(stride: int) -> dict[str, Any]:
    """Counts per OCSF class (and per Windows channel/event id left as Base Event) of the OTRF recordings."""
    from collections import Counter

    from secustream.archive.ocsf import Origin
    from secustream.archive.ocsf_events import event_record

    origin = Origin("AWS", "eu-west-1", "123456789012")
    classes: Counter[str] = Counter()
    base: Counter[str] = Counter()
    refused = 0
    for event in otrf_events(stride):
        if event is None:
            refused += 1
            continue
        key, _record = event_record(otrf_row(event), origin)
        classes[key] += 1
        if key == "base_event":
            base[f"{event.unmapped.get('Channel')} {event.unmapped.get('EventID')}"] += 1
    from tests.corpora import otrf_recordings  # importable now: otrf_events put tests/ on the path

    return {"recordings": len(otrf_recordings()), "stride": stride, "refused": refused, "classes": dict(classes),
            "base_event_ids": dict(base)}


def otrf_map_cost(stride: int, rounds: int = 3) -> None:
    """Map alone (``event_record``) over the OTRF events, with the Windows mapping and without it (the generic
    mapping by event type, as before it), rounds alternating which goes first; best round of each."""
    from secustream.archive import ocsf_events
    from secustream.archive.batches import gc_paused
    from secustream.archive.ocsf import Origin

    origin = Origin("AWS", "eu-west-1", "123456789012")
    rows = [otrf_row(event) for event in otrf_events(stride) if event is not None]
    windows = ocsf_events.windows_mapping
    best = {"generic": float("inf"), "windows": float("inf")}
    try:
        for n in range(rounds):
            for name in ("generic", "windows") if n % 2 == 0 else ("windows", "generic"):
                ocsf_events.windows_mapping = windows if name == "windows" else (lambda _event: None)
                with gc_paused():  # as the archive maps
                    _, seconds = timed(name, lambda: [ocsf_events.event_record(r, origin) for r in rows])
                best[name] = min(best[name], seconds)
    finally:
        ocsf_events.windows_mapping = windows
    g, w = best["generic"], best["windows"]
    print(f"map alone, {len(rows):,} OTRF events (every {stride}th line), best of {rounds}: generic mapping "
          f"{g / len(rows) * 1e6:.1f} µs/event, with the Windows mapping {w / len(rows) * 1e6:.1f} µs/event "
          f"= {g / w:.2f}x ({load()})")


def print_otrf_classes(now: dict[str, Any], before: dict[str, Any] | None, elapsed: float) -> None:
    total = sum(now["classes"].values())
    print(f"OTRF: {total:,} events from {now['recordings']} recordings (every {now['stride']}th line; "
          f"{now['refused']} refused by the normaliser) mapped in {elapsed:.0f} s ({load()})")
    old = before["classes"] if before else {}
    old_total = sum(old.values()) or 1
    print(f"{'OCSF class':<28}{'events':>10}{'share':>9}" + (f"{'before':>10}{'share':>9}" if before else ""))
    for key in sorted(set(now["classes"]) | set(old), key=lambda k: -now["classes"].get(k, 0)):
        n = now["classes"].get(key, 0)
        line = f"{key:<28}{n:>10,}{n / total:>9.1%}"
        if before:
            line += f"{old.get(key, 0):>10,}{old.get(key, 0) / old_total:>9.1%}"
        print(line)
    left = sorted(now["base_event_ids"].items(), key=lambda kv: -kv[1])
    print("left as Base Event, by channel and event id (top 25):")
    for name, n in left[:25]:
        print(f"  {n:>8,}  {name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--otrf-classes", action="store_true",
                    help="share per OCSF class of the OTRF recordings' events (no database); nothing else runs")
    ap.add_argument("--stride", type=int, default=1, help="--otrf-classes: every Nth line of each recording")
    ap.add_argument("--json", help="--otrf-classes: save the counts here")
    ap.add_argument("--compare", help="--otrf-classes: a saved --json run to print beside this one")
    ap.add_argument("--otrf-map-cost", action="store_true",
                    help="time event_record on the OTRF events with and without the Windows mapping (--stride)")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--rows-per-file", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=0, help="ARCHIVE_WORKERS (0: the setting's default)")
    ap.add_argument("--database", help="reuse this database (seeded on first use) instead of a fresh one")
    ap.add_argument("--profile", help="write cProfile stats of the total run here and print the top 25")
    ap.add_argument("--stages", action=argparse.BooleanOptionalAction, default=True,
                    help="also time map / write / verify apart on the day held in memory")
    args = ap.parse_args()
    if args.otrf_map_cost:
        otrf_map_cost(max(1, args.stride))
        return
    if args.otrf_classes:
        before = orjson.loads(Path(args.compare).read_bytes()) if args.compare else None
        now, elapsed = timed("otrf", lambda: otrf_classes(max(1, args.stride)))
        print_otrf_classes(now, before, elapsed)
        if args.json:
            Path(args.json).write_bytes(orjson.dumps(now, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        return
    rss_start = peak_rss_mib()
    with database(args.database) as url, tempfile.TemporaryDirectory(prefix="archbench-") as tmp:
        engine = create_engine(url)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
        if stored != args.rows:
            if stored:
                raise SystemExit(f"{args.database} holds {stored} events, not --rows {args.rows}")
            t0 = time.perf_counter()
            seed(engine, args.rows)
            print(f"seeded {args.rows} events + verdicts in {time.perf_counter() - t0:.1f}s ({load()})")
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
        fetch_only(engine)  # warm the buffer cache: every measurement then reads from memory alike
        n, t_fetch = timed("fetch", lambda: fetch_only(engine))
        _, t_json = timed("json", lambda: json_lines(engine, Path(tmp) / "day.jsonl"))
        jsonl_bytes = (Path(tmp) / "day.jsonl").stat().st_size
        base = rate(n, t_json)
        rss_fetch = peak_rss_mib()
        print(f"(a) fetch alone        {rate(n, t_fetch):>10,.0f} rows/s  (peak RSS {rss_fetch:,.0f} MiB; {load()})")
        print(f"(b) fetch + JSON lines {base:>10,.0f} rows/s  = 1.00x baseline, {jsonl_bytes / n:,.0f} B/row")
        archiver = archiver_for(Path(tmp) / "lake", args.rows_per_file, args.workers or None)
        profile = cProfile.Profile() if args.profile else None

        def total() -> Any:
            with engine.connect() as conn:
                return archiver.archive("events", DAY, day_rows(conn, "events", DAY))

        receipt, t_total = timed("total", total, profile)
        rss_total = peak_rss_mib()
        parquet_bytes = sum(p.stat().st_size for p in (Path(tmp) / "lake").rglob("*.parquet"))
        assert receipt.rows == n, (receipt.rows, n)
        print(f"(c) archive total      {rate(n, t_total):>10,.0f} rows/s  = {rate(n, t_total) / base:.2f}x baseline, "
              f"{parquet_bytes / n:,.0f} B/row, peak RSS {rss_total:,.0f} MiB (at start {rss_start:,.0f}) "
              f"({load()})")
        print(f"    one day at 1,000 events/s (86.4 M rows) ≈ {86_400_000 / rate(n, t_total) / 60:,.0f} min")
        if profile is not None:
            profile.dump_stats(args.profile)
            pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)
        stages = archiver.last_stages
        print(f"    of which fetch+map+write {rate(n, stages['fetch+map+write']):,.0f} rows/s, "
              f"commit+read-back verify {rate(n, stages['commit+verify']):,.0f} rows/s ({archiver.workers} workers)")
        if args.stages:
            with engine.connect() as conn:
                held = list(day_rows(conn, "events", DAY))
            inline = archiver_for(Path(tmp) / "inline", args.rows_per_file, 1)
            _, t_map = timed("map", lambda: sum(b.rows for b in inline.map_rows("events", iter(held))))
            _, t_write = timed("write", lambda: inline.archive("events", DAY, iter(held)))
            manifest = archiver.manifest("events", DAY)
            _, t_verify = timed("verify", lambda: archiver.verify(manifest))
            del held
            print(f"(d) map alone, 1 core  {rate(n, t_map):>10,.0f} rows/s  = {rate(n, t_map) / base:.2f}x")
            print(f"    archive from memory, 1 process {rate(n, t_write):,.0f} rows/s = {rate(n, t_write) / base:.2f}x")
            print(f"    verify alone       {rate(n, t_verify):>10,.0f} rows/s  = {rate(n, t_verify) / base:.2f}x "
                  f"({load()})")
        engine.dispose()


if __name__ == "__main__":
    main()
