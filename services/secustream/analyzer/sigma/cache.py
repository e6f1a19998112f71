"""The compiled form of a rules directory on disk, keyed by its content, so a restart or a new replica
starts in about a second instead of re-parsing thousands of rules with pySigma.

What is cached is plain data (``CompiledPack``: plans, requirements, metadata, load issues), never
closures; ``loader.assemble`` turns it into predicates. The key covers the directory, every file's
relative name and bytes, and ``FORMAT`` (bump it when the plan or the rule record changes shape).
A cache file that cannot be read or written is skipped with a log line: the cache only saves time.
The cache directory belongs to the analyzer (pickle is trusted input here: never point it at a
directory others can write).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from secustream.analyzer.sigma.loader import (
    CompiledPack,
    Placeholders,
    RuleDocuments,
    compile_documents,
    placeholders_key,
    read_documents,
)

log = logging.getLogger(__name__)

FORMAT = "plan-9"  # plan-9: IGNORECASE regex runs with s, i (plan-8: short literals outside ASCII)


def content_fingerprint(files: RuleDocuments, root: Path | str) -> str:
    """Relative file names and texts, and the unreadable files' names and reasons: the same rules give the same
    fingerprint wherever they live."""
    base = Path(root)

    def relative(origin: str) -> bytes:
        path = Path(origin)
        return (str(path.relative_to(base)) if base.is_dir() and path.is_relative_to(base) else path.name).encode()

    digest = hashlib.sha256()
    for origin, text in files.documents:
        digest.update(relative(origin) + b"\0" + text.encode() + b"\0")
    for origin, reason in files.unreadable:
        digest.update(relative(origin) + b"\1" + reason.encode() + b"\0")
    return digest.hexdigest()[:16]


def load_compiled(path: Path | str, cache_dir: Path | None, progress: Callable[[str], None] | None = None,
                  placeholders: Placeholders | None = None) -> CompiledPack:
    """The directory's ``CompiledPack`` (``placeholders``: the pack's values for them): from the cache when its
    content was compiled before with the same values. ``progress`` hears of a compile (the slow case: ~10 s for the
    SigmaHQ corpus) before and after it."""
    files = read_documents(path)
    if cache_dir is None:
        return _compile(files, progress, placeholders)
    key = hashlib.sha256(f"{FORMAT}|{Path(path).resolve()}|{content_fingerprint(files, path)}|"
                         f"{placeholders_key(placeholders)}".encode())
    file = cache_dir / f"sigma-{key.hexdigest()[:24]}.pickle"
    try:
        with file.open("rb") as fh:
            cached = pickle.load(fh)
        if isinstance(cached, CompiledPack):
            return cached
    except FileNotFoundError:
        pass
    except Exception as exc:  # a truncated or stale file: compile again and overwrite it
        log.warning("sigma cache %s unreadable, compiling again: %s", file, exc)
    compiled = _compile(files, progress, placeholders)
    _write(file, compiled)
    return compiled


def _compile(files: RuleDocuments, progress: Callable[[str], None] | None,
             placeholders: Placeholders | None) -> CompiledPack:
    say = progress or (lambda _line: None)
    say(f"compiling {len(files.documents):,} rule files (parse, validate, plan; cached for the analyzers)")
    started = time.perf_counter()
    compiled = compile_documents(files.documents, files.unreadable, placeholders)
    say(f"compiled {len(compiled.rules):,} rules and {len(compiled.correlations):,} correlations in "
        f"{time.perf_counter() - started:.1f} s")
    return compiled


def _write(file: Path, compiled: CompiledPack) -> None:
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=".sigma-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(compiled, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, file)
    except OSError as exc:
        log.warning("sigma cache %s not written: %s", file, exc)
