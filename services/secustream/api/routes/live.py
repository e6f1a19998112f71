"""Live stream of new verdicts as Server-Sent Events, fed by the analyzers' Redis pub/sub channel.

Why SSE over fetch: one-way, proxy-friendly, and the dashboard reads it with ``fetch`` so the bearer token
travels in a header (an EventSource URL would put it in access logs).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from secustream.api.deps import AUTH_RESPONSES, Ctx, Viewer
from secustream.verdict import RiskLevel

router = APIRouter(tags=["live"])

KEEPALIVE_SECONDS = 15.0


def sse_lines(event: str, payload: str) -> str:
    data = "".join(f"data: {line}\n" for line in payload.splitlines() or [""])
    return f"event: {event}\n{data}\n"


def _risk_of(payload: str) -> str | None:
    try:
        verdict = json.loads(payload).get("verdict") or {}
    except (ValueError, AttributeError):
        return None
    value = verdict.get("risk_level") if isinstance(verdict, dict) else None
    return value if isinstance(value, str) else None


@router.get("/stream", response_class=StreamingResponse, responses={
    **AUTH_RESPONSES,
    200: {"description": "text/event-stream: `event: verdict` with data "
                         '{"event": {...summary}, "verdict": {...}} per new verdict; comments as keep-alives',
          "content": {"text/event-stream": {"schema": {"type": "string"}}}},
})
async def stream(request: Request, ctx: Ctx, _user: Viewer,
                 risk_level: Annotated[list[RiskLevel] | None, Query(description="Only these risk levels")] = None,
                 ) -> StreamingResponse:
    """New verdicts as they are stored, within about a second of the analyzer publishing them."""
    await run_in_threadpool(ctx.hub.ensure_started)
    wanted = {r.value for r in risk_level or []}
    queue = ctx.hub.subscribe()

    async def events() -> AsyncIterator[str]:
        try:
            yield "retry: 3000\n: connected\n\n"
            while True:
                try:
                    payload = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_SECONDS)
                except TimeoutError:
                    if await request.is_disconnected():
                        break
                    yield ": keep-alive\n\n"
                    continue
                if wanted and _risk_of(payload) not in wanted:
                    continue
                yield sse_lines("verdict", payload)
        finally:
            ctx.hub.unsubscribe(queue)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
