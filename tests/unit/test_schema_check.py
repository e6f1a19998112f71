"""Commands refuse an empty, older or unreachable database with one line saying what to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from secustream.storage.database import make_engine
from secustream.storage.migrate import downgrade, head_revision, require_schema, upgrade


def test_empty_then_older_then_current_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    with pytest.raises(SystemExit, match="no SecuStream schema yet; run `secustream migrate`"):
        require_schema(engine)
    upgrade(url)
    require_schema(engine)  # current: no error
    downgrade(url, "-1")
    with pytest.raises(SystemExit, match=f"needs {head_revision()}; run `secustream migrate`"):
        require_schema(engine)


def test_unreachable_database_names_it_without_the_password() -> None:
    url = "postgresql+psycopg://svc:s3cret-pw@127.0.0.1:1/nowhere"
    with pytest.raises(SystemExit) as info:
        require_schema(make_engine(url))
    message = str(info.value)
    assert message.startswith("cannot use the database at postgresql+psycopg://svc:***@127.0.0.1:1/nowhere")
    assert "s3cret-pw" not in message


def test_train_on_an_unmigrated_database_says_to_migrate(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite'}", "MODEL_DIR": str(tmp_path / "models"),
           "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "secustream.cli", "train", "--events", "100"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "run `secustream migrate` first" in proc.stderr
    assert "Traceback" not in proc.stderr
