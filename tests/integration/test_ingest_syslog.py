"""`secustream ingest --format syslog` on a real-format /var/log/messages: every line accepted, and the
pipeline flags exactly the PAM brute-force sources, including those known only by host name."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from .pipeline_helpers import make_settings, rows, running_worker, wait_for

LOG = Path(__file__).parents[1] / "data" / "linux" / "messages"
PAM_FAILURE = re.compile(r"^(\w{3} +\d+ [\d:]{8}) \S+ .*authentication failure;.* rhost=(\S+)")


def pam_sources_over_threshold(path: Path, count: int = 10, window: float = 60) -> set[str]:
    """Independent oracle: remote hosts (IP or name) with >= count PAM failures in some (t - window, t]."""
    times: dict[str, list[float]] = defaultdict(list)
    for line in path.read_text().splitlines():
        m = PAM_FAILURE.match(line)
        if m:
            times[m.group(2)].append(datetime.strptime(f"2005 {m.group(1)}", "%Y %b %d %H:%M:%S").timestamp())
    return {host for host, stamps in times.items()
            if any(sum(1 for s in stamps if t - window < s <= t) >= count for t in stamps)}


def test_ingest_messages_accepts_every_line_and_flags_pam_brute_force_by_ip_or_host(kafka_bootstrap, topics,
                                                                                     pg_url, redis_url):
    settings = make_settings(kafka_bootstrap, topics, pg_url, redis_url)
    env = dict(os.environ, KAFKA_SERVER=kafka_bootstrap, KAFKA_TOPIC=topics["events"], KAFKA_DLQ_TOPIC=topics["dlq"])
    proc = subprocess.run([sys.executable, "-m", "secustream.cli", "ingest", "--format", "syslog", "--year", "2005",
                           str(LOG)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = re.search(r"read (\d+) lines: published (\d+) events, rejected (\d+)", proc.stdout)
    assert summary, proc.stdout
    read, published, rejected = map(int, summary.groups())
    assert rejected == 0 and published == read == sum(1 for line in LOG.read_text().splitlines() if line.strip())

    with running_worker(settings) as worker:
        consumed = worker.metrics.consumed._value
        wait_for(lambda: consumed.get() >= published, 60, "every published event consumed")

    expected = pam_sources_over_threshold(LOG)
    assert any(not h[0].isdigit() for h in expected), "the sample has name-only brute-force sources"
    flagged = {r[0] for r in rows(pg_url, """
        select distinct coalesce(e.source_ip, e.source_host) from events e join verdicts v on v.event_id = e.id
        where v.risk_level in ('high', 'critical') and v.rule_ids::jsonb ? 'PAM-BRUTE-FORCE'""")}
    assert flagged == expected
