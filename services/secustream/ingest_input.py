"""What ``secustream ingest`` reads: log files, directories of them, standard input, gzip files or streams, zip
archives' members.

Why archives: real datasets ship compressed. The OTRF/Mordor recordings are zips of JSON lines, and 14 of the 109
hold a macOS resource fork (``__MACOSX/._name.json``, binary) beside the JSON: ``unzip -p`` pipes both, and every such
fork became a "malformed JSON" dead letter. Here each member is read in turn (resource forks and directories skipped,
and said so), each line keeps its member name for its dead letter, and a gzip input is decompressed as it streams.
The kind is told by the first bytes, not the name. An archive that turns out corrupt or unreadable part way ends the
input with a message: the lines read before it are published, and ``error`` says what was lost.

Why several paths and directories: a dataset is many files (the OTRF corpus is 109 zips in 13 folders), and peers
take them in one run (Chainsaw and Hayabusa hunt a directory of .evtx files, Filebeat reads globs). ``expand_paths``
checks them all first, ``IngestInputs`` reads each in turn; a damaged file ends only itself, and with more than one
file every line's origin names its file.
"""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
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

    def __init__(self, path: str, stdin: BinaryIO, announce: Callable[[str], None], label: str = "") -> None:
        self.path, self.stdin, self.announce = path, stdin, announce
        self.label = label  # the file's name in messages and origins; "" for a lone input (its name, as before)
        self.error: str | None = None  # set when the input could not be read to its end

    def lines(self) -> Iterator[RawLine]:
        label, read = "standard input" if self.path == "-" else self.label or Path(self.path).name, 0
        try:
            for label, source, stream in self._streams():
                with stream:
                    text, encoding = utf8_input(stream)
                    if encoding is not None:
                        self.announce(f"ingest: {label} starts with a {encoding.upper()} byte order mark: read as "
                                      f"{encoding.upper()}" + (", re-encoded as UTF-8" if encoding != "utf-8"
                                                               else ", the mark dropped"))
                    where = ":".join(part for part in (self.label, source) if part)
                    for line in read_lines(text):
                        read = line.number
                        yield replace(line, source=where) if where else line
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
        name = self.label or path.name
        with path.open("rb") as probe:
            head = probe.read(len(ZIP_MAGIC))
        if head == ZIP_MAGIC:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if info.is_dir():
                        continue
                    if resource_fork(info.filename):
                        self.announce(f"ingest: {name}: skipped {info.filename} (a macOS resource fork)")
                        continue
                    self.announce(f"ingest: {name}: reading {info.filename} ({info.file_size:,} bytes)")
                    yield f"{name}:{info.filename}", info.filename, archive.open(info)
        elif head[:2] == GZIP_MAGIC:
            yield name, "", gzip.open(path, "rb")  # noqa: SIM115 (``lines`` closes each stream it reads)
        else:
            yield name, "", path.open("rb")


def expand_paths(paths: Sequence[str]) -> list[str]:
    """The files ``paths`` name, in order: a directory stands for the regular files under it, recursively, sorted by
    path, hidden ones (``.DS_Store``, ``.git/``) left out; ``-`` (standard input) at most once. Raises ``ValueError``
    naming every path that is neither a readable file nor a directory, or a directory with no file, before anything
    is read: a typo in the 40th of 109 paths should not publish the first 39 and stop."""
    files: list[str] = []
    problems: list[str] = []
    if list(paths).count("-") > 1:
        problems.append("- (standard input) is named more than once")
    for given in paths:
        if given == "-":
            files.append(given)
            continue
        path = Path(given)
        if path.is_dir():
            found = sorted(str(f) for f in path.rglob("*")
                           if f.is_file() and not any(part.startswith(".") for part in f.relative_to(path).parts))
            if not found:
                problems.append(f"{given} is a directory with no files")
            files.extend(found)
        elif path.is_file():
            files.append(given)
        else:
            problems.append(f"{given} is not a readable file or directory")
    if problems:
        raise ValueError("; ".join(problems))
    return files


class IngestInputs:
    """The lines of every file ``expand_paths`` found, file after file; ``errors``: one per file that could not be
    read to its end (the others are read all the same)."""

    def __init__(self, files: Sequence[str], stdin: BinaryIO, announce: Callable[[str], None]) -> None:
        self.files, self.stdin, self.announce = list(files), stdin, announce
        self.errors: list[str] = []

    def lines(self) -> Iterator[RawLine]:
        several = len(self.files) > 1
        for count, file in enumerate(self.files, start=1):
            label = file if several else ""
            if several:
                self.announce(f"ingest: [{count}/{len(self.files)}] {'standard input' if file == '-' else file}")
            source = IngestInput(file, self.stdin, self.announce, label)
            yield from source.lines()
            if source.error is not None:
                self.errors.append(source.error)
