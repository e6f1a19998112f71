"""Registered model versions (classifier checkpoints, LLM programs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from secustream.api.deps import AUTH_RESPONSES, Conn, Viewer
from secustream.api.schemas import ModelVersionOut
from secustream.storage import registry as model_registry

router = APIRouter()


@router.get("/models", response_model=list[ModelVersionOut], tags=["models"], responses=AUTH_RESPONSES)
def list_models(conn: Conn, _user: Viewer,
                kind: Annotated[str | None, Query(max_length=32)] = None) -> list[ModelVersionOut]:
    """Registered model versions (classifier checkpoints, LLM programs); the active one per kind is marked."""
    return [ModelVersionOut.model_validate(m) for m in model_registry.list_model_versions(conn, kind)]
