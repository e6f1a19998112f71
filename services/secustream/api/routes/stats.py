"""Verdict counts per time bucket, the dashboard's charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status

from secustream.api.deps import AUTH_RESPONSES, Conn, Viewer, require_timezones
from secustream.api.schemas import Message, Stats, StatsBucket
from secustream.storage import pages as page_store

router = APIRouter()

MAX_BUCKETS = 2000

@router.get("/stats", response_model=Stats, tags=["stats"], responses={**AUTH_RESPONSES, 400: {"model": Message}})
def get_stats(
    conn: Conn, _user: Viewer,
    since: Annotated[datetime | None, Query(description="Default: 24 hours before until")] = None,
    until: Annotated[datetime | None, Query(description="Default: now")] = None,
    bucket: Annotated[Literal["minute", "hour", "day"], Query()] = "hour",
) -> Stats:
    """Verdict counts by risk level, tier and threat type per time bucket (event time)."""
    require_timezones(since=since, until=until)
    end = until or datetime.now(UTC)
    start = since or end - timedelta(hours=24)
    if start >= end:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="since must be before until")
    try:
        span = (end - start).total_seconds()
    except OverflowError:
        span = float("inf")
    if span / page_store.BUCKET_SECONDS[bucket] > MAX_BUCKETS:
        raise HTTPException(status.HTTP_400_BAD_REQUEST,
                            detail=f"more than {MAX_BUCKETS} {bucket} buckets: narrow the range or widen the bucket")
    data = page_store.stats(conn, start, end, bucket)
    buckets = [StatsBucket(start=datetime.fromtimestamp(b, UTC), **dims) for b, dims in sorted(data["buckets"].items())]
    return Stats(since=start, until=end, bucket=bucket, totals=data["totals"], buckets=buckets)
