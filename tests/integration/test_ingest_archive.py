"""`secustream ingest` on a real OTRF recording as it ships, a zip with a macOS resource fork beside the JSON: every
event published, nothing dead-lettered (`unzip -p … | secustream ingest -` sent the fork to the DLQ as junk)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from tests.corpora import OTRF, otrf_lines, require
from tests.integration.ingest_cli import ingest, ingest_env, run_ingest

SMALL = [OTRF / "discovery" / "host" / "cmd_discover_iexplorer_version_registry.zip",
         OTRF / "credential_access" / "host" / "psh_windows_vault_web_credentials.zip"]
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


def test_a_folder_of_recordings_is_ingested_in_one_run(kafka_bootstrap, topics, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`secustream ingest --format windows DIR`: every recording under it, in turn, one summary; a bad path among
    several is named before anything is published."""
    recordings = [require(path) for path in SMALL]
    env = ingest_env(kafka_bootstrap, topics)
    folder = tmp_path / "corpus"
    for recording in recordings:
        (folder / recording.parent.parent.name).mkdir(parents=True)
        (folder / recording.parent.parent.name / recording.name).symlink_to(recording)
    total = sum(len(list(otrf_lines(r))) for r in recordings)
    counts, said = ingest(folder, env)
    assert counts == (total, total, 0)
    assert f"ingest: [1/2] {folder / 'credential_access' / recordings[1].name}" in said, said
    refused = run_ingest([recordings[0], tmp_path / "no-such.zip"], env)
    assert refused.returncode != 0 and "no-such.zip is not a readable file or directory" in refused.stderr
    assert "published" not in refused.stdout
