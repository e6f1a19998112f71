"""Run Alembic programmatically so `secustream migrate` needs no alembic.ini on disk."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Engine

# alembic is imported inside the functions: importing it logs plugin set-up at INFO, which only
# `secustream migrate` should show (require_schema runs at the start of every database command).
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> str | None:
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    try:
        return revision_of(engine)
    finally:
        engine.dispose()


def revision_of(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Autogenerate looks at the partitioned parents only: their day and default partitions are data, not schema."""
    from secustream.storage.partitions import PARTITION_KEYS, day_of, default_name

    if type_ != "table" or name is None:
        return True
    return not any(day_of(name, t) is not None or name == default_name(t) for t in PARTITION_KEYS)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None, "the migrations directory has no head"
    return head


@contextmanager
def quiet_alembic() -> Iterator[None]:
    """Only Alembic's warnings and errors while the block runs: its step-by-step log is `secustream migrate`'s."""
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        alembic_log.setLevel(level)


def require_schema(engine: Engine) -> None:
    """Stop with one clear line unless the database is reachable and migrated to this version's head.

    Why: a command against an empty or older database would otherwise fail deep inside a query
    with a driver traceback ("no such table …") that does not say what to run.
    """
    from sqlalchemy.exc import SQLAlchemyError

    where = engine.url.render_as_string(hide_password=True)
    with quiet_alembic():  # a read-only check: no "Context impl …" lines on every start
        try:
            revision = revision_of(engine)
        except SQLAlchemyError as exc:
            reason = str(exc.orig if getattr(exc, "orig", None) else exc).strip().splitlines()[0]
            raise SystemExit(f"cannot use the database at {where}: {reason}") from None
        head = head_revision()
    if revision is None:
        raise SystemExit(f"the database at {where} has no SecuStream schema yet; run `secustream migrate` first")
    if revision != head:
        raise SystemExit(f"the database at {where} is at schema revision {revision}, this version needs {head}; "
                         "run `secustream migrate`")
