"""What `secustream ingest` reads (ingest_input.IngestInput): plain files, gzip files and streams, and zip archives,
whose macOS resource forks are skipped; a damaged archive ends the input with a message, never a traceback."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from secustream.ingest_input import IngestInput, IngestInputs, expand_paths, resource_fork

LINES = [b'{"a": 1}', b'{"b": 2}', b"\xff\x00 not json"]


def read(path: str | Path, stdin: bytes = b"") -> tuple[list[tuple[str, int, bytes]], list[str], str | None]:
    said: list[str] = []
    source = IngestInput(str(path), io.BytesIO(stdin), said.append)
    lines = [(line.source, line.number, line.data) for line in source.lines()]
    return lines, said, source.error


def test_plain_gzip_and_standard_input_give_the_same_lines(tmp_path: Path) -> None:
    body = b"\n".join(LINES) + b"\n"
    plain, packed = tmp_path / "events.log", tmp_path / "events.log.gz"
    plain.write_bytes(body)
    packed.write_bytes(gzip.compress(body))
    want = [("", n, data) for n, data in enumerate(LINES, start=1)]
    for path, stdin in ((plain, b""), (packed, b""), ("-", body), ("-", gzip.compress(body))):
        lines, _said, error = read(path, stdin)
        assert (lines, error) == (want, None), path
    assert read("-", gzip.compress(body))[1] == ["ingest: standard input is gzip-compressed: decompressing"]


def test_a_zip_is_read_member_by_member_without_its_resource_forks(tmp_path: Path) -> None:
    """An OTRF recording: the JSON beside a __MACOSX/._ fork that `unzip -p` would have piped in as junk."""
    archive = tmp_path / "recording.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("recording/", b"")
        zf.writestr("recording/a.json", b"\n".join(LINES[:2]))
        zf.writestr("__MACOSX/recording/._a.json", b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
        zf.writestr("recording/._b.json", b"\x00\x05\x16\x07")
        zf.writestr("recording/b.json", b"\xef\xbb\xbf" + LINES[2] + b"\r\n")
    lines, said, error = read(archive)
    assert error is None
    assert lines == [("recording/a.json", 1, LINES[0]), ("recording/a.json", 2, LINES[1]),
                     ("recording/b.json", 1, LINES[2] + b"\r")]  # the UTF-8 mark dropped; the CR goes later
    assert "ingest: recording.zip: skipped __MACOSX/recording/._a.json (a macOS resource fork)" in said
    assert "ingest: recording.zip: skipped recording/._b.json (a macOS resource fork)" in said
    assert any("recording.zip:recording/b.json starts with a UTF-8 byte order mark" in s for s in said)
    assert resource_fork("__MACOSX/x") and resource_fork("a/._x.json") and not resource_fork("a/x._json")


def test_a_damaged_archive_ends_the_input_with_what_was_read(tmp_path: Path) -> None:
    body = b"\n".join(f'{{"n": {i}, "pad": "{i * 7919 % 1000003}"}}'.encode() for i in range(5000)) + b"\n"
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(body)[: len(gzip.compress(body)) // 2])
    lines, said, error = read(cut)
    assert 0 < len(lines) < 5000 and error is not None and "cut.gz is unreadable after line" in error
    assert said[-1].endswith("the rest of the input is not read")

    archive = tmp_path / "bad-crc.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("one.json", b'{"a": 1}\n')
        zf.writestr("two.json", b'{"b": 2}\n')
    data = bytearray(archive.read_bytes())
    data[data.index(b'{"b": 2}') + 2] ^= 0xFF  # the second member's bytes no longer match its CRC
    archive.write_bytes(bytes(data))
    lines, _said, error = read(archive)
    assert [line[:2] for line in lines] == [("one.json", 1)]  # the first member is published, the bad one is not
    assert error is not None and "bad-crc.zip:two.json is unreadable" in error

    junk = tmp_path / "not-really.zip"
    junk.write_bytes(b"PK\x03\x04" + b"\x00" * 64)  # a zip's first bytes, then nothing a zip reader can use
    lines, _said, error = read(junk)
    assert lines == [] and error is not None and error.startswith("not-really.zip is unreadable after line 0")


def test_a_dead_letter_names_the_member_its_line_came_from(tmp_path: Path) -> None:
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("logs/one.json", b"{}\n\xff junk\n")
    lines = list(IngestInput(str(archive), io.BytesIO(), lambda _m: None).lines())
    assert [line.origin for line in lines] == ["logs/one.json line 1", "logs/one.json line 2"]
    plain = tmp_path / "one.log"
    plain.write_bytes(b"x\n")
    assert [line.origin for line in IngestInput(str(plain), io.BytesIO(), lambda _m: None).lines()] == ["line 1"]


def test_directories_and_several_files_are_read_in_turn_each_line_naming_its_file(tmp_path: Path) -> None:
    """A dataset as it ships: many files under folders (the OTRF corpus: 109 zips in 13 folders)."""
    corpus = tmp_path / "corpus"
    (corpus / "b" / ".git").mkdir(parents=True)
    (corpus / "a").mkdir()
    (corpus / "b" / "two.log").write_bytes(b"2\n")
    (corpus / "a" / "one.log.gz").write_bytes(gzip.compress(b"1a\n1b\n"))
    (corpus / "b" / ".git" / "HEAD").write_bytes(b"hidden\n")
    (corpus / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    extra = tmp_path / "extra.log"
    extra.write_bytes(b"3\n")
    files = expand_paths([str(corpus), str(extra)])
    assert files == [str(corpus / "a" / "one.log.gz"), str(corpus / "b" / "two.log"), str(extra)]
    said: list[str] = []
    lines = list(IngestInputs(files, io.BytesIO(), said.append).lines())
    assert [(line.origin, line.data) for line in lines] == [
        (f"{corpus / 'a' / 'one.log.gz'} line 1", b"1a"), (f"{corpus / 'a' / 'one.log.gz'} line 2", b"1b"),
        (f"{corpus / 'b' / 'two.log'} line 1", b"2"), (f"{extra} line 1", b"3")]
    assert said[0] == f"ingest: [1/3] {corpus / 'a' / 'one.log.gz'}"


def test_a_damaged_file_among_several_ends_only_itself(tmp_path: Path) -> None:
    good, bad, after = tmp_path / "1.log", tmp_path / "2.zip", tmp_path / "3.log"
    good.write_bytes(b"one\n")
    bad.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    after.write_bytes(b"three\n")
    source = IngestInputs([str(good), str(bad), str(after)], io.BytesIO(), lambda _m: None)
    assert [line.data for line in source.lines()] == [b"one", b"three"]
    assert len(source.errors) == 1 and source.errors[0].startswith(f"{bad} is unreadable after line 0")
    inside = tmp_path / "recording.zip"
    with zipfile.ZipFile(inside, "w") as zf:
        zf.writestr("logs/one.json", b"{}\n")
    lines = list(IngestInputs([str(inside), str(after)], io.BytesIO(), lambda _m: None).lines())
    assert [line.origin for line in lines] == [f"{inside}:logs/one.json line 1", f"{after} line 1"]


def test_every_bad_path_is_named_before_anything_is_read(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "ok.log").write_bytes(b"x\n")
    with pytest.raises(ValueError) as raised:
        expand_paths([str(tmp_path / "ok.log"), str(tmp_path / "missing.log"), str(tmp_path / "empty"), "-", "-"])
    message = str(raised.value)
    assert "missing.log is not a readable file or directory" in message
    assert "empty is a directory with no files" in message and "named more than once" in message
    assert expand_paths(["-"]) == ["-"]
