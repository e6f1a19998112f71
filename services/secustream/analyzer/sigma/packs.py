"""Installed Sigma content packs: install from a directory, a SigmaHQ-release-style zip or an https URL.

Layout under the packs directory (``SIGMA_PACKS_DIR``)::

    <name>/versions/<fingerprint>/...   the rule files of one version (never changed once written)
    <name>/versions/<fingerprint>/PACK.json   where it came from, when, how many rules loaded
    <name>/ACTIVE                       the active version's fingerprint (replaced atomically)
    .cache/                             compiled rules by content (cache.py)

Why this shape: an install is staged in a temporary directory, compiled (which also warms the cache
every analyzer replica then reads), and only then made active by one atomic rename of ``ACTIVE``. A
failed install (corrupt zip, no rules, nothing loadable) removes its staging directory and leaves the
active version untouched; the same content again is a no-op. Running analyzers notice the changed
``ACTIVE`` files through the existing hot-reload watch (``watch_fingerprint``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from secustream.analyzer.filewatch import files_fingerprint
from secustream.analyzer.sigma.cache import content_fingerprint, load_compiled
from secustream.analyzer.sigma.filters import RuleFilter
from secustream.analyzer.sigma.loader import (
    MAX_RULE_FILE,
    RULE_SUFFIXES,
    CompiledPack,
    Placeholders,
    SigmaRuleSet,
    assemble,
    filter_pack,
    merge_packs,
    placeholders_key,
    read_documents,
    rule_files,
)

ACTIVE = "ACTIVE"
META = "PACK.json"
DOWNLOAD_LIMIT = 512 * 1024 * 1024
MAX_PACK_FILES = 50_000  # rule files one pack may hold: SigmaHQ's whole corpus is ~4,000
MAX_PACK_BYTES = 256 * 1024 * 1024  # what an install may write, extracted: SigmaHQ's whole corpus is ~8 MB
MAX_PLACEHOLDER_VALUES = 1000  # per placeholder: a string with two placeholders expands to the product
_PLACEHOLDER_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class PackError(Exception):
    """An install that cannot go ahead; the message says why (the active pack is untouched)."""


@dataclass(frozen=True)
class InstallResult:
    name: str
    version: str
    changed: bool  # False: this content was already the active version
    rules: int
    issues: int
    path: Path


@dataclass(frozen=True)
class InstalledPack:
    name: str
    version: str
    path: Path
    meta: dict

    @property
    def placeholders(self) -> dict[str, tuple[str, ...]]:
        """The values given for the pack's placeholders at install (``PACK.json``)."""
        given = self.meta.get("placeholders")
        if not isinstance(given, dict):
            return {}
        return {str(k): tuple(str(v) for v in values) for k, values in given.items() if isinstance(values, list)}


def parse_placeholders(items: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """``NAME=VALUE[,VALUE...]`` items (``--placeholder``; a name given twice gathers both) → values by name."""
    found: dict[str, list[str]] = {}
    for item in items:
        name, equals, values = item.partition("=")
        name = name.strip().strip("%")
        if not equals or not _PLACEHOLDER_NAME.fullmatch(name):
            raise PackError(f"--placeholder {item!r}: expected NAME=VALUE[,VALUE...] with a NAME of letters, digits, "
                            "'_', '.' or '-' (the %NAME% of the rules' |expand values)")
        parsed = [v.strip() for v in values.split(",") if v.strip()]
        if not parsed:
            raise PackError(f"--placeholder {item!r}: no value (an empty list would make the rule match nothing "
                            "or everything; leave the placeholder out and the rule is reported instead)")
        found.setdefault(name, []).extend(parsed)
        if len(found[name]) > MAX_PLACEHOLDER_VALUES:
            raise PackError(f"--placeholder {name}: more than {MAX_PLACEHOLDER_VALUES:,} values")
    return {name: tuple(dict.fromkeys(values)) for name, values in sorted(found.items())}


def load_pack(pack: InstalledPack, cache_dir: Path | None) -> CompiledPack:
    """An installed pack compiled with its own placeholder values (the analyzer and ``rules list`` alike)."""
    return load_compiled(pack.path, cache_dir, placeholders=pack.placeholders)


def pack_name(source: str) -> str:
    """A directory-safe name from a source (``sigma_core.zip`` → ``sigma_core``)."""
    stem = PurePosixPath(source.rstrip("/").split("?")[0]).name
    for suffix in (".zip", ".tar.gz"):
        stem = stem.removesuffix(suffix)
    return re.sub(r"[^a-z0-9_.-]+", "-", stem.lower()).strip("-.") or "pack"


def install(source: str, packs_dir: Path, name: str | None = None, allow_http: bool = False,
            cache_dir: Path | None = None, progress: Callable[[str], None] | None = None,
            placeholders: Placeholders | None = None) -> InstallResult:
    """Install ``source`` (directory, zip file or URL to a zip) as pack ``name`` and make it active.

    ``placeholders`` (``parse_placeholders``) fill the rules' ``%name%`` placeholders; the version is the content
    fingerprint, and with placeholders a fingerprint of both (other values: another version). ``progress`` gets a
    line per step (download, files read, compile): compiling the whole SigmaHQ corpus the first time takes ~10 s
    on two cores, which a user should see coming."""
    say = progress or (lambda _line: None)
    name = pack_name(name or source)
    packs_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=packs_dir, prefix=".staging-"))
    try:
        rules_dir = staging / "rules"
        _materialise(source, rules_dir, staging, allow_http, say)
        files = read_documents(rules_dir)
        if not files.documents and not files.unreadable:
            raise PackError(f"no Sigma rule files ({', '.join(RULE_SUFFIXES)}) in {source}")
        version = content_fingerprint(files, rules_dir)
        unread = f", {len(files.unreadable):,} not readable (listed as issues)" if files.unreadable else ""
        say(f"{len(files.documents):,} rule files read{unread}, content fingerprint {version}")
        if placeholders:
            version = hashlib.sha256(f"{version}|{placeholders_key(placeholders)}".encode()).hexdigest()[:16]
            say(f"placeholders {', '.join(f'{k} ({len(v)} values)' for k, v in sorted(placeholders.items()))}: "
                f"version {version}")
        home = packs_dir / name
        target = home / "versions" / version
        if _active_version(home) == version:
            return InstallResult(name, version, False, *_counts(target), target)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(rules_dir, target)
        compiled = load_compiled(target, cache_dir if cache_dir is not None else packs_dir / ".cache", say,
                                 placeholders)
        if not compiled.rules:
            reasons = "; ".join(str(i) for i in compiled.issues[:3])
            shutil.rmtree(target, ignore_errors=True)
            raise PackError(f"no rule of {source} could be loaded ({len(compiled.issues)} issues): {reasons}")
        _write_atomic(target / META, json.dumps({
            "name": name, "version": version, "source": source,
            "installed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "rules": len(compiled.rules), "correlations": len(compiled.correlations),
            "issues": len(compiled.issues),
            "placeholders": {k: list(v) for k, v in sorted((placeholders or {}).items())}}, indent=2))
        _write_atomic(home / ACTIVE, version)
        return InstallResult(name, version, True, len(compiled.rules), len(compiled.issues), target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _counts(path: Path) -> tuple[int, int]:
    try:
        meta = json.loads((path / META).read_text(encoding="utf-8"))
        return int(meta.get("rules", 0)), int(meta.get("issues", 0))
    except (OSError, ValueError):
        return 0, 0


def _materialise(source: str, rules_dir: Path, staging: Path, allow_http: bool, say: Callable[[str], None]) -> None:
    if source.startswith(("https://", "http://")):
        if not _fetchable(source, allow_http):
            raise PackError(f"{source}: only https:// URLs are fetched (--allow-http for a local test server)")
        archive = staging / "download.zip"
        say(f"downloading {source}")
        _download(source, archive, allow_http)
        say(f"downloaded {archive.stat().st_size / (1 << 20):.1f} MiB")
        _extract_zip(archive, rules_dir, source)
        return
    path = Path(source)
    if path.is_dir():
        _copy_rules(path, rules_dir)
    elif path.is_file():
        _extract_zip(path, rules_dir, source)
    else:
        raise PackError(f"{source}: no such directory, file or URL")


def _fetchable(url: str, allow_http: bool) -> bool:
    """The one rule for what is downloaded, first request and redirects alike: https, or http with ``--allow-http``."""
    return url.startswith("https://") or (allow_http and url.startswith("http://"))


class _SchemeKeepingRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to https:// (or http:// where ``--allow-http`` allowed it): urllib would follow an
    https URL's redirect to plain http, and the "only https" rule would then hold for the first request alone."""

    def __init__(self, allow_http: bool) -> None:
        self.allow_http = allow_http

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: Message, newurl: str) -> urllib.request.Request | None:
        if not _fetchable(newurl, self.allow_http):
            raise PackError(f"{req.full_url}: redirected to {newurl}; only https:// is fetched")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _download(url: str, target: Path, allow_http: bool) -> None:
    opener = urllib.request.build_opener(_SchemeKeepingRedirects(allow_http))
    try:
        with opener.open(url, timeout=60) as response, target.open("wb") as out:
            copied = 0
            while chunk := response.read(1 << 20):
                copied += len(chunk)
                if copied > DOWNLOAD_LIMIT:
                    raise PackError(f"{url}: larger than {DOWNLOAD_LIMIT >> 20} MiB")
                out.write(chunk)
    except OSError as exc:
        raise PackError(f"{url}: download failed: {exc}") from None


class _Budget:
    """What one install may write: ``MAX_PACK_FILES`` rule files and ``MAX_PACK_BYTES`` in all. Each file is cut one
    byte past ``MAX_RULE_FILE``, so the load reports it as too large and the rest of it is never written: a zip
    of 300 KB can hold a 300 MB "rule" (a zip bomb), which held an install for minutes before."""

    def __init__(self, source: str) -> None:
        self.source, self.files, self.written = source, 0, 0

    def copy(self, src: BinaryIO, target: Path) -> None:
        self.files += 1
        if self.files > MAX_PACK_FILES:
            raise PackError(f"{self.source}: more than {MAX_PACK_FILES:,} rule files, the most a pack may hold")
        target.parent.mkdir(parents=True, exist_ok=True)
        left = MAX_RULE_FILE + 1
        with target.open("wb") as out:
            while left > 0 and (chunk := src.read(min(1 << 16, left))):
                self.written += len(chunk)
                if self.written > MAX_PACK_BYTES:
                    raise PackError(f"{self.source}: its rule files hold more than {MAX_PACK_BYTES:,} bytes, "
                                    "the most a pack may")
                out.write(chunk)
                left -= len(chunk)


def _copy_rules(source: Path, rules_dir: Path) -> None:
    budget = _Budget(str(source))
    for file in rule_files(source):
        try:
            with file.open("rb") as src:
                budget.copy(src, rules_dir / file.relative_to(source))
        except OSError as exc:
            raise PackError(f"{file}: cannot be read: {exc.strerror or exc}") from None


def _extract_zip(archive: Path, rules_dir: Path, source: str) -> None:
    """Only the rule files, each at a safe relative path (no absolute paths, no ``..``), within ``_Budget``."""
    budget = _Budget(source)
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                parts = PurePosixPath(member.filename).parts
                if member.is_dir() or not member.filename.endswith(RULE_SUFFIXES) or member.filename.startswith("/") \
                        or ".." in parts:
                    continue
                with zf.open(member) as src:
                    budget.copy(src, rules_dir.joinpath(*parts))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise PackError(f"{source}: not a readable zip archive: {exc}") from None


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _active_version(home: Path) -> str | None:
    try:
        return (home / ACTIVE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def installed(packs_dir: Path | None) -> list[InstalledPack]:
    """Active packs, by name."""
    if packs_dir is None or not packs_dir.is_dir():
        return []
    found = []
    for home in sorted(p for p in packs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        version = _active_version(home)
        path = home / "versions" / version if version else None
        if path is None or not path.is_dir():
            continue
        try:
            meta = json.loads((path / META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        found.append(InstalledPack(home.name, version or "", path, meta))
    return found


@dataclass(frozen=True)
class SigmaSources:
    """Where an analyzer's Sigma rules come from: its own rules path (run whole) and the installed packs
    (run through the filter). One ``load`` and one ``watch_fingerprint`` for the hot reload."""

    rules_path: Path | None
    packs_dir: Path | None
    keep: RuleFilter
    cache_dir: Path | None = None

    def compiled(self) -> CompiledPack:
        parts = [load_compiled(self.rules_path, self.cache_dir)] if self.rules_path is not None else []
        parts += [filter_pack(load_pack(p, self.cache_dir), self.keep) for p in installed(self.packs_dir)]
        return merge_packs(parts) if parts else CompiledPack((), (), (), "empty")

    def load(self) -> SigmaRuleSet:
        return assemble(self.compiled())

    def watch_fingerprint(self) -> str:
        """Cheap: the rules path's file names/sizes/mtimes and each pack's active version (no file read)."""
        own = files_fingerprint(rule_files(self.rules_path)) if self.rules_path is not None else ""
        packs = "|".join(f"{p.name}={p.version}" for p in installed(self.packs_dir))
        return hashlib.sha256(f"{own}|{packs}".encode()).hexdigest()[:16]


def describe(packs: Iterable[InstalledPack]) -> list[str]:
    return [f"{p.name} {p.version} ({p.meta.get('rules', '?')} rules, from {p.meta.get('source', '?')}, "
            f"installed {p.meta.get('installed_at', '?')}"
            + "".join(f", %{k}% = {len(v)} values" for k, v in p.placeholders.items()) + ")" for p in packs]
