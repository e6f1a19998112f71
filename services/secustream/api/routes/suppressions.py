"""Rule suppressions: where a rule stops firing (analyst feedback or an admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from sqlalchemy.exc import IntegrityError

from secustream.api.deps import AUTH_RESPONSES, Admin, Conn, Viewer
from secustream.api.schemas import Message, SuppressionCreate, SuppressionOut, SuppressionToggle
from secustream.storage import feedback as feedback_store
from secustream.storage import pages as page_store

router = APIRouter()


@router.get("/suppressions", response_model=list[SuppressionOut], tags=["rules"], responses=AUTH_RESPONSES)
def list_suppressions(conn: Conn, _user: Viewer, active: bool | None = None) -> list[SuppressionOut]:
    """Rule suppressions (a rule stops firing where field == value), newest first."""
    return [SuppressionOut.model_validate(s) for s in feedback_store.list_suppressions(conn, active)]


@router.post("/suppressions", response_model=SuppressionOut, status_code=201, tags=["rules"],
             responses={**AUTH_RESPONSES, 400: {"model": Message}})
def create_suppression(body: SuppressionCreate, conn: Conn, user: Admin) -> SuppressionOut:
    """Add a suppression (admin)."""
    if (body.field is None) != (body.value is None):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="field and value go together")
    if body.expires_at is not None and body.expires_at.tzinfo is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="expires_at needs a timezone")
    if body.source_event_id is not None and not page_store.event_exists(conn, body.source_event_id):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="source_event_id: no such event")
    try:
        row = feedback_store.create_suppression(conn, {**body.model_dump(), "created_by": int(user["id"])})
    except IntegrityError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="suppression violates a constraint") from None
    return SuppressionOut.model_validate(row)


@router.patch("/suppressions/{suppression_id}", response_model=SuppressionOut, tags=["rules"],
              responses={**AUTH_RESPONSES, 404: {"model": Message}})
def toggle_suppression(suppression_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: SuppressionToggle,
                       conn: Conn, _user: Admin) -> SuppressionOut:
    """Activate or deactivate a suppression (admin)."""
    row = feedback_store.set_suppression_active(conn, suppression_id, body.active)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such suppression")
    return SuppressionOut.model_validate(row)
