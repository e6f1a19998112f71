"""`secustream up` on a machine where it ran before: the printed login works, a taken port stops it at once."""

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


def test_up_refuses_a_taken_port_before_starting_anything() -> None:
    import socket

    import pytest

    from secustream.up import ensure_port_free

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit, match=f"port {port} is already in use"):
            ensure_port_free("127.0.0.1", port)
    ensure_port_free("127.0.0.1", port)  # free again
