"""Rule suppressions: where a rule stops firing (an admin's, or an analyst's false positive once approved)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlalchemy.exc import IntegrityError

from secustream.api.deps import AUTH_RESPONSES, Admin, Conn, Viewer
from secustream.api.schemas import (
    Message,
    SuppressionApprove,
    SuppressionCreate,
    SuppressionOut,
    SuppressionToggle,
)
from secustream.feedback import SuppressionStatus
from secustream.storage import audit
from secustream.storage import feedback as feedback_store
from secustream.storage import pages as page_store

router = APIRouter()


SuppressionId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/suppressions", response_model=list[SuppressionOut], tags=["rules"], responses=AUTH_RESPONSES)
def list_suppressions(conn: Conn, _user: Viewer, active: bool | None = None,
                      state: Annotated[SuppressionStatus | None, Query(alias="status")] = None
                      ) -> list[SuppressionOut]:
    """Rule suppressions (a rule stops firing where field == value), newest first; ``status=proposed`` lists
    analysts' false positives waiting for an admin."""
    rows = feedback_store.list_suppressions(conn, active, state.value if state else None)
    return [SuppressionOut.model_validate(s) for s in rows]


@router.post("/suppressions", response_model=SuppressionOut, status_code=201, tags=["rules"],
             responses={**AUTH_RESPONSES, 400: {"model": Message}})
def create_suppression(body: SuppressionCreate, conn: Conn, user: Admin) -> SuppressionOut:
    """Add a suppression (admin); in force at once."""
    if (body.field is None) != (body.value is None):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="field and value go together")
    if body.expires_at is not None and body.expires_at.tzinfo is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="expires_at needs a timezone")
    if body.source_event_id is not None and not page_store.event_exists(conn, body.source_event_id):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="source_event_id: no such event")
    try:
        row = feedback_store.create_suppression(conn, {**body.model_dump(), "created_by": int(user["id"]),
                                                "status": SuppressionStatus.APPROVED.value,
                                                "approved_by": int(user["id"]), "approved_at": datetime.now(UTC)})
    except IntegrityError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="suppression violates a constraint") from None
    audit.record(conn, "suppression_created", actor=user["username"], target=f"suppression:{row['id']}",
                 rule_id=row["rule_id"], field=row["field"], value=row["value"], expires_at=_iso(row["expires_at"]))
    return SuppressionOut.model_validate(row)


@router.patch("/suppressions/{suppression_id}", response_model=SuppressionOut, tags=["rules"],
              responses={**AUTH_RESPONSES, 404: {"model": Message}})
def toggle_suppression(suppression_id: SuppressionId, body: SuppressionToggle, conn: Conn,
                       user: Admin) -> SuppressionOut:
    """Activate or deactivate a suppression (admin); deactivating a proposal rejects it."""
    row = feedback_store.set_suppression_active(conn, suppression_id, body.active)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such suppression")
    audit.record(conn, "suppression_activated" if body.active else "suppression_deactivated",
                 actor=user["username"], target=f"suppression:{suppression_id}", status=row["status"])
    return SuppressionOut.model_validate(row)


@router.post("/suppressions/{suppression_id}/approve", response_model=SuppressionOut, tags=["rules"],
             responses={**AUTH_RESPONSES, 404: {"model": Message}, 400: {"model": Message}})
def approve_suppression(suppression_id: SuppressionId, body: SuppressionApprove, conn: Conn,
                        user: Admin) -> SuppressionOut:
    """Approve an analyst's proposed suppression (it is in force from now on), or extend an approved one
    (admin). Without ``expires_at`` the current expiry stays; ``"expires_at": null`` makes it permanent."""
    before = feedback_store.get_suppression(conn, suppression_id)
    if before is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such suppression")
    changes: dict[str, Any] = {}
    if "expires_at" in body.model_fields_set:
        if body.expires_at is not None and body.expires_at.tzinfo is None:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="expires_at needs a timezone")
        changes["expires_at"] = body.expires_at
    row = feedback_store.approve_suppression(conn, suppression_id, int(user["id"]), changes)
    assert row is not None
    action = "suppression_approved" if before["status"] != SuppressionStatus.APPROVED else "suppression_extended"
    audit.record(conn, action, actor=user["username"], target=f"suppression:{suppression_id}",
                 rule_id=row["rule_id"], field=row["field"], value=row["value"], proposed_by=before["created_by"],
                 expires_at=_iso(row["expires_at"]))
    return SuppressionOut.model_validate(row)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
