"""What ``secustream ingest`` reads: a log file, standard input, a gzip file or stream, or a zip archive's members.

Why archives: real datasets ship compressed. The OTRF/Mordor recordings are zips of JSON lines, and 14 of the 109
hold a macOS resource fork (``__MACOSX/._name.json``, binary) beside the JSON: ``unzip -p`` pipes both, and every such
fork became a "malformed JSON" dead letter. Here each member is read in turn (resource forks and directories skipped,
and said so), each line keeps its member name for its dead letter, and a gzip input is decompressed as it streams.
The kind is told by the first bytes, not the name. An archive that turns out corrupt or unreadable part way ends the
input with a message: the lines read before it are published, and ``error`` says what was lost.
"""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from secustream.ingest import RawLine, read_lines, utf8_input

ZIP_MAGIC = b"PK\x03\x04"
GZIP_MAGIC = b"\x1f\x8b"
_UNREADABLE = (OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError)
"""What reading a damaged input raises: truncated gzip (EOFError), bad CRC (BadZipFile), a bad deflate stream
(zlib.error), an encrypted member (RuntimeError), an unsupported compression method (NotImplementedError)."""


def resource_fork(name: str) -> bool:
    """A macOS archive's metadata member (``__MACOSX/…`` or ``._name``): binary, never log lines."""
    return name.startswith("__MACOSX/") or name.rsplit("/", 1)[-1].startswith("._")


class IngestInput:
    """The lines of one ingest argument (a path, or ``-`` for ``stdin``), progress and problems to ``announce``."""

    def __init__(self, path: str, stdin: BinaryIO, announce: Callable[[str], None]) -> None:
        self.path, self.stdin, self.announce = path, stdin, announce
        self.error: str | None = None  # set when the input could not be read to its end

    def lines(self) -> Iterator[RawLine]:
        label, read = "standard input" if self.path == "-" else Path(self.path).name, 0
        try:
            for label, source, stream in self._streams():
                with stream:
                    text, encoding = utf8_input(stream)
                    if encoding is not None:
                        self.announce(f"ingest: {label} starts with a {encoding.upper()} byte order mark: read as "
                                      f"{encoding.upper()}" + (", re-encoded as UTF-8" if encoding != "utf-8"
                                                               else ", the mark dropped"))
                    for line in read_lines(text):
                        read = line.number
                        yield replace(line, source=source) if source else line
                read = 0
        except _UNREADABLE as exc:
            self.error = f"{label} is unreadable after line {read}: {exc}"
            self.announce(f"ingest: {self.error}; the lines before it are published, the rest of the input is not read")

    def _streams(self) -> Iterator[tuple[str, str, BinaryIO]]:
        """(what to call it, the source its lines carry, the byte stream) for each part of the input, in order."""
        if self.path == "-":
            stdin = self.stdin if hasattr(self.stdin, "peek") else io.BufferedReader(self.stdin)
            if stdin.peek(2)[:2] == GZIP_MAGIC:
                self.announce("ingest: standard input is gzip-compressed: decompressing")
                yield "standard input", "", gzip.GzipFile(fileobj=stdin)
            else:
                yield "standard input", "", stdin
            return
        path = Path(self.path)
        with path.open("rb") as probe:
            head = probe.read(len(ZIP_MAGIC))
        if head == ZIP_MAGIC:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if info.is_dir():
                        continue
                    if resource_fork(info.filename):
                        self.announce(f"ingest: {path.name}: skipped {info.filename} (a macOS resource fork)")
                        continue
                    self.announce(f"ingest: {path.name}: reading {info.filename} ({info.file_size:,} bytes)")
                    yield f"{path.name}:{info.filename}", info.filename, archive.open(info)
        elif head[:2] == GZIP_MAGIC:
            yield path.name, "", gzip.open(path, "rb")  # noqa: SIM115 (``lines`` closes each stream it reads)
        else:
            yield path.name, "", path.open("rb")
