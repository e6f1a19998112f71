"""`secustream ingest` on a Windows export saved by PowerShell 5 (UTF-16-LE with a byte order mark, CRLF line ends):
every line published, as from the same file in UTF-8."""

from __future__ import annotations

from pathlib import Path

from tests.integration.ingest_cli import ingest, ingest_env

SAMPLE = Path(__file__).parents[1] / "data" / "windows" / "lateral_movement.jsonl"


def test_a_utf16_export_is_read_like_its_utf8_twin(kafka_bootstrap, topics, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = SAMPLE.read_text(encoding="utf-8")
    exported = tmp_path / "events.json"
    exported.write_bytes(b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le"))
    env = ingest_env(kafka_bootstrap, topics)
    utf16, said = ingest(exported, env)
    assert "UTF-16-LE byte order mark" in said
    utf8, _ = ingest(SAMPLE, env)
    assert utf16 == utf8 and utf8[2] == 1  # the sample's one bad line (EventID "not-a-number") in both
