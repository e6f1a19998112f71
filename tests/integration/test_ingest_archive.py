"""`secustream ingest` on a real OTRF recording as it ships, a zip with a macOS resource fork beside the JSON: every
event published, nothing dead-lettered (`unzip -p … | secustream ingest -` sent the fork to the DLQ as junk)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from tests.corpora import OTRF, otrf_lines, require
from tests.integration.ingest_cli import ingest, ingest_env

RECORDING = OTRF / "defense_evasion" / "host" / "reg_disable_eventlog_service_startuptype_modification_via_registry.zip"


def test_a_real_recording_zip_is_ingested_whole_and_its_resource_fork_skipped(kafka_bootstrap, topics,  # type: ignore[no-untyped-def]
                                                                              tmp_path: Path) -> None:
    recording = require(RECORDING)
    env = ingest_env(kafka_bootstrap, topics)
    lines = list(otrf_lines(recording))
    counts, said = ingest(recording, env)
    assert counts == (len(lines), len(lines), 0)
    assert re.search(r"skipped __MACOSX/\S+\.json \(a macOS resource fork\)", said), said
    packed = tmp_path / "recording.jsonl.gz"
    packed.write_bytes(gzip.compress("\n".join(lines).encode()))
    assert ingest(packed, env)[0] == counts  # the same events from a gzip file
