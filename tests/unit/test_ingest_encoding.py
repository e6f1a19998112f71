"""Input files with a byte order mark: UTF-8 (Notepad, .NET) and UTF-16/32 (PowerShell 5's ``>`` and ``Out-File``).

Before, a UTF-8 BOM made the first line unparseable and a UTF-16 file made every line so."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from secustream.ingest import read_lines, utf8_input

LINES = ['{"a": "héllo ✓ 🐍"}', '{"b": 2}', "x" * 100_000]  # Windows line ends, the last line ended too
BOMS = {"utf-8": b"\xef\xbb\xbf", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-32-le": b"\xff\xfe\x00\x00",
        "utf-32-be": b"\x00\x00\xfe\xff"}


@pytest.mark.parametrize("encoding", [*BOMS, None])
@pytest.mark.parametrize("buffered", [True, False])
def test_lines_come_out_as_utf8_whatever_the_bom(encoding: str | None, buffered: bool) -> None:
    data = BOMS.get(encoding or "", b"") + "".join(f"{line}\r\n" for line in LINES).encode(encoding or "utf-8")
    raw = io.BytesIO(data)
    source, found = utf8_input(io.BufferedReader(raw, 7) if buffered else raw)  # a tiny buffer: the peek is short
    assert found == encoding
    assert [line.data.decode() for line in read_lines(source)] == [f"{line}\r" for line in LINES]


def test_a_stream_without_a_bom_is_the_same_object(tmp_path: Path) -> None:
    path = tmp_path / "plain.log"
    path.write_bytes(b"<13>Oct 11 22:14:15 host app: msg\n")
    with path.open("rb") as handle:
        source, found = utf8_input(handle)
        assert source is handle and found is None


def test_undecodable_utf16_is_escaped_not_an_error() -> None:
    """A lone surrogate and a file cut mid-character: written ``\\xNN`` (as invalid UTF-8 is), never raised."""
    data = b"\xff\xfe" + "a".encode("utf-16-le") + b"\x00\xd8" + "b\nc\n".encode("utf-16-le") + b"d"
    source, _ = utf8_input(io.BytesIO(data))
    assert [line.data for line in read_lines(source)] == [b"a\\x00\\xd8b", b"c", b"\\x64"]
