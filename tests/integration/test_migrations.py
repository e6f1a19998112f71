"""Alembic migrations on an empty PostgreSQL: upgrade to head, downgrade to base, both via the CLI too."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import create_engine, inspect

from secustream.storage import migrate
from secustream.storage.tables import Base


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_head_and_downgrade_base(empty_pg_url: str) -> None:
    assert tables(empty_pg_url) == set()
    migrate.upgrade(empty_pg_url)
    assert set(Base.metadata.tables) <= tables(empty_pg_url)
    assert migrate.current(empty_pg_url) is not None
    migrate.downgrade(empty_pg_url, "base")
    assert tables(empty_pg_url) - {"alembic_version"} == set()
    assert migrate.current(empty_pg_url) is None
    migrate.upgrade(empty_pg_url)  # and back up again: downgrade left nothing behind that blocks it
    assert set(Base.metadata.tables) <= tables(empty_pg_url)


def test_models_match_migrations(pg_url: str) -> None:
    """Autogenerate against a migrated database finds nothing: models and migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": migrate.include_name}),
                                    Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_cli_migrate_up_and_down(empty_pg_url: str) -> None:
    env = dict(os.environ, DATABASE_URL=empty_pg_url)
    up = subprocess.run([sys.executable, "-m", "secustream.cli", "migrate"], env=env, capture_output=True,
                        text=True, timeout=120)
    assert up.returncode == 0, up.stderr
    assert "database at revision" in up.stdout
    assert "verdicts" in tables(empty_pg_url)
    down = subprocess.run([sys.executable, "-m", "secustream.cli", "migrate", "--downgrade", "base"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    assert "base (empty)" in down.stdout
    assert "verdicts" not in tables(empty_pg_url)


def test_sqlite_upgrade_for_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'x.db'}"
    migrate.upgrade(url)
    assert set(Base.metadata.tables) <= tables(url)
