"""Where archived days live: the Security Lake custom-source layout, one source per OCSF class.

``<root>/ext/<source>-<class>/region=<region>/accountId=<account>/eventDay=YYYYMMDD/<table>-YYYYMMDD-NNNN.parquet``

Security Lake wants one custom source per OCSF class (one Parquet schema per source), hence the class in the
source name. The manifest that makes a day's archive complete (files, row counts, digest) sits beside them
under ``ext/<source>-manifests/`` with the same partition path, so one IAM prefix grants both. Names starting
with ``_`` are in-flight temporary files; Athena and Glue skip them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

TEMP_PREFIX = "_tmp-"


@dataclass(frozen=True, slots=True)
class Layout:
    root: str  # path inside the filesystem (bucket/prefix or a directory), no trailing slash
    source: str
    region: str
    account_id: str

    def _partition(self, source: str, day: date) -> str:
        return (f"{self.root}/ext/{source}/region={self.region}/accountId={self.account_id}"
                f"/eventDay={day:%Y%m%d}")

    def class_dir(self, class_key: str, day: date) -> str:
        return self._partition(f"{self.source}-{class_key.replace('_', '-')}", day)

    def file_name(self, table: str, day: date, part: int) -> str:
        return f"{table}-{day:%Y%m%d}-{part:04d}.parquet"

    def file_glob(self, table: str, day: date) -> str:
        """Every class file of one table's day (to clear what an earlier, larger archive of it left)."""
        return f"{self._partition(f'{self.source}-*', day)}/{table}-{day:%Y%m%d}-*.parquet"

    def manifest(self, table: str, day: date) -> str:
        return f"{self._partition(f'{self.source}-manifests', day)}/{table}.json"


def temp_name(path: str, token: str) -> str:
    """The in-flight name of ``path``: same folder, so the commit is a rename on one filesystem."""
    folder, _, name = path.rpartition("/")
    return f"{folder}/{TEMP_PREFIX}{token}-{name}"
