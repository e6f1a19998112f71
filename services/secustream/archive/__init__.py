"""Archive before drop: expiring day partitions as OCSF Parquet in the Security Lake layout, and replay.

``make_archiver(url, settings)`` builds the ``PartitionArchiver`` retention calls before each drop
(``archival.py`` is the contract); ``replay`` reads an archived day back for ``secustream archive read``.
"""

from __future__ import annotations

from secustream.archive.factory import make_archiver

__all__ = ["make_archiver"]
