"""The security audit log (admin): lockouts, unlocks, revocations, account and suppression decisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from secustream.api.deps import AUTH_RESPONSES, Admin, Conn
from secustream.api.schemas import SecurityAuditOut
from secustream.storage import audit

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=list[SecurityAuditOut], responses=AUTH_RESPONSES)
def list_audit(conn: Conn, _user: Admin,
               action: Annotated[str | None, Query(max_length=48, pattern=r"^[a-z_]+$",
                                                   description="Only this action, e.g. login_locked")] = None,
               before_id: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Older than this entry "
                                                      "(the last id of the previous page)")] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[SecurityAuditOut]:
    """Newest first."""
    return [SecurityAuditOut.model_validate(e) for e in audit.entries(conn, limit, action, before_id)]
