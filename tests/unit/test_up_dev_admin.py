"""`secustream up` prints a dev admin password that still works on the second run of the same data dir."""

from __future__ import annotations

import stat
from pathlib import Path

from secustream.up import dev_admin_password


def test_dev_admin_password_is_kept_private_and_reused(tmp_path: Path) -> None:
    first = dev_admin_password(tmp_path)
    assert len(first) >= 16
    assert dev_admin_password(tmp_path) == first, "a second run must print the password the admin was created with"
    mode = stat.S_IMODE((tmp_path / "dev-admin-password").stat().st_mode)
    assert mode & 0o077 == 0, oct(mode)
