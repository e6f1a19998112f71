"""`secustream ingest --format sshd` on a real-format log: exactly the brute-forcing sources are flagged."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from .pipeline_helpers import make_settings, read_topic, rows, running_worker, scalar, wait_for

LOG = Path(__file__).parents[1] / "data" / "sshd_auth.log"
FAILED = re.compile(r"^(\w{3} +\d+ [\d:]{8}|\d{4}-\S+) \S+ sshd(?:-session)?\[\d+\]: .*Failed \S+ for .* from (\S+) "
                    r"port \d+")


def sources_over_threshold(path: Path, count: int, window: float) -> set[str]:
    """Independent oracle: sources with >= count failed logins in some (t - window, t] interval."""
    times: dict[str, list[float]] = defaultdict(list)
    for line in path.read_text().splitlines():
        m = FAILED.match(line)
        if not m:
            continue
        try:
            when = m.group(1)
            stamp = (datetime.fromisoformat(when) if when[0].isdigit()
                     else datetime.strptime(f"2026 {when}", "%Y %b %d %H:%M:%S").replace(tzinfo=UTC)).timestamp()
        except ValueError:  # the sample holds deliberately broken lines
            continue
        times[m.group(2)].append(stamp)
    flagged = set()
    for ip, stamps in times.items():
        stamps.sort()
        if any(sum(1 for s in stamps if t - window < s <= t) >= count for t in stamps):
            flagged.add(ip)
    return flagged


def test_ingest_sshd_flags_exactly_the_brute_force_sources(kafka_bootstrap, topics, pg_url, redis_url):
    settings = make_settings(kafka_bootstrap, topics, pg_url, redis_url)
    env = dict(os.environ, KAFKA_SERVER=kafka_bootstrap, KAFKA_TOPIC=topics["events"], KAFKA_DLQ_TOPIC=topics["dlq"])
    proc = subprocess.run([sys.executable, "-m", "secustream.cli", "ingest", "--format", "sshd", "--year", "2026",
                           str(LOG)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = re.search(r"read (\d+) lines: published (\d+) events, rejected (\d+)", proc.stdout)
    assert summary, proc.stdout
    read, published, rejected = map(int, summary.groups())
    assert rejected >= 1 and published + rejected == read

    dead = read_topic(kafka_bootstrap, topics["dlq"], rejected)
    assert len(dead) == rejected and all(dict(m.headers()).get("x-secustream-error") for m in dead)

    with running_worker(settings) as worker:
        consumed = worker.metrics.consumed._value
        wait_for(lambda: consumed.get() >= published, 60, "every published event consumed")
    # Each line has a deterministic event id, so only byte-identical lines could collapse.
    distinct_lines = len({line for line in LOG.read_text().splitlines() if line.strip()}) - rejected
    assert scalar(pg_url, "select count(*) from events") == distinct_lines
    assert scalar(pg_url, "select count(*) from verdicts") == distinct_lines

    expected = sources_over_threshold(LOG, count=10, window=60)
    assert len(expected) >= 3
    flagged = {r[0] for r in rows(pg_url, """
        select distinct e.source_ip from events e join verdicts v on v.event_id = e.id
        where v.risk_level in ('high', 'critical') and v.rule_ids::jsonb ? 'SSH-BRUTE-FORCE'""")}
    assert flagged == expected

    # The analyst's view of the same log: one alert per brute-forcing source and 10-minute block, counting
    # exactly its flagged events (not one row per failed password), each source its own incident.
    alerts = rows(pg_url, """
        select a.entity_value, a.window_start, a.count, a.incident_id from alerts a
        where a.detection = 'SSH-BRUTE-FORCE'""")
    flagged_per_block = rows(pg_url, """
        select e.source_ip, to_timestamp(floor(extract(epoch from e.timestamp) / 600) * 600), count(*)
        from events e join verdicts v on v.event_id = e.id
        where v.risk_level in ('medium', 'high', 'critical') and v.rule_ids::jsonb ? 'SSH-BRUTE-FORCE'
        group by 1, 2""")
    assert sorted((a[0], a[1], a[2]) for a in alerts) == sorted(flagged_per_block)
    assert {a[0] for a in alerts} == expected
    assert len({a[3] for a in alerts}) == len(expected)
    failed = sum(1 for line in LOG.read_text().splitlines() if FAILED.match(line))
    assert sum(a[2] for a in alerts) < failed
