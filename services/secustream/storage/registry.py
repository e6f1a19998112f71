"""Model registry on the ``model_versions`` table: versions, metrics, artifact paths, one active per kind.

Promotion is a single transaction (deactivate all, activate one) so analyzers polling the table never
see two active versions or none in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.orm import Session

from secustream.storage.tables import ModelVersion

CLASSIFIER = "classifier"
LLM_PROGRAM = "llm_program"


@dataclass(frozen=True)
class RegisteredModel:
    kind: str
    version: int
    name: str
    artifact_path: str
    metrics: dict[str, Any]
    active: bool


def _row(m: ModelVersion) -> RegisteredModel:
    return RegisteredModel(m.kind, m.version, m.name, m.artifact_path, dict(m.metrics or {}), m.active)


def next_version(engine: Engine, kind: str) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.coalesce(func.max(ModelVersion.version), 0)).where(
            ModelVersion.kind == kind)) or 0) + 1


def artifact_dir(model_dir: str | Path, kind: str, version: int) -> Path:
    return Path(model_dir) / kind / f"v{version:04d}"


def register(engine: Engine, kind: str, version: int, name: str, artifact_path: Path, metrics: dict[str, Any],
             notes: str | None = None) -> RegisteredModel:
    with Session(engine) as s, s.begin():
        row = ModelVersion(kind=kind, version=version, name=name, artifact_path=str(artifact_path),
                           metrics=metrics, active=False, notes=notes)
        s.add(row)
    return RegisteredModel(kind, version, name, str(artifact_path), metrics, False)


def promote(engine: Engine, kind: str, version: int) -> None:
    with Session(engine) as s, s.begin():
        s.execute(update(ModelVersion).where(ModelVersion.kind == kind).values(active=False))
        s.execute(update(ModelVersion).where(ModelVersion.kind == kind, ModelVersion.version == version)
                  .values(active=True))


def active(engine: Engine, kind: str) -> RegisteredModel | None:
    with Session(engine) as s:
        row = s.scalar(select(ModelVersion).where(ModelVersion.kind == kind, ModelVersion.active.is_(True))
                       .order_by(ModelVersion.version.desc()).limit(1))
        return _row(row) if row else None


def versions(engine: Engine, kind: str) -> list[RegisteredModel]:
    with Session(engine) as s:
        rows = s.scalars(select(ModelVersion).where(ModelVersion.kind == kind).order_by(ModelVersion.version))
        return [_row(r) for r in rows]


def list_model_versions(conn: Connection, kind: str | None = None) -> list[dict[str, Any]]:
    t = ModelVersion.__table__
    stmt = select(t).order_by(t.c.kind, t.c.version.desc())
    if kind:
        stmt = stmt.where(t.c.kind == kind)
    return [dict(r._mapping) for r in conn.execute(stmt)]
