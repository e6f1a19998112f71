"""``make_archiver``: settings and an fsspec URL → the Parquet archiver, or one clear ArchiveError."""

from __future__ import annotations

import os
from pathlib import Path

from fsspec.core import url_to_fs

from secustream.archival import ArchiveError
from secustream.archive.layout import Layout
from secustream.archive.ocsf import Origin
from secustream.archive.parquet import ParquetArchiver
from secustream.config import Settings
from secustream.verdict import RiskLevel


def make_archiver(url: str, settings: Settings) -> ParquetArchiver:
    """The archiver for ``url`` (a path, file://, memory://, s3://…); credentials come from the environment."""
    if not url:
        raise ArchiveError("no archive: ARCHIVE_URL is not set (a path or an fsspec URL such as s3://bucket/lake)")
    try:
        fs, root = url_to_fs(url, **settings.archive_storage_options)
    except (ImportError, ValueError, TypeError) as exc:  # e.g. s3:// without s3fs installed
        raise ArchiveError(f"archive URL {url!r}: {exc}") from exc
    layout = Layout(root.rstrip("/"), settings.ARCHIVE_SOURCE, settings.ARCHIVE_REGION, settings.ARCHIVE_ACCOUNT_ID)
    origin = Origin(settings.ARCHIVE_CLOUD_PROVIDER, settings.ARCHIVE_REGION, settings.ARCHIVE_ACCOUNT_ID)
    return ParquetArchiver(fs, layout, origin, RiskLevel(settings.ARCHIVE_FINDING_MIN_LEVEL),
                           settings.ARCHIVE_ROWS_PER_FILE, workers=settings.ARCHIVE_WORKERS or default_workers())


def default_workers() -> int:
    """Mapping processes beside the parent, which needs a core of its own (fetch, hand-over, write, verify):
    with two cores or fewer, mapping inline is faster than paying the hand-over (docs/storage.md)."""
    return max(1, cores_available() - 1)


def cores_available(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The CPUs this process may use: its affinity, capped by the container's CPU quota (cgroup v2) when set."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return cores
    if quota == "max":
        return cores
    return max(1, min(cores, int(quota) // int(period)))
