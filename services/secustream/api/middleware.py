"""Pure ASGI middleware (streaming-safe, unlike BaseHTTPMiddleware): security headers, body limit, metrics.

Why pure ASGI: the live stream is a long response; these wrappers never buffer it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'")
# Swagger UI is the only page that loads third-party assets (FastAPI's default); everything else is strict.
CSP_EXEMPT = ("/docs",)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp, api_prefix: str) -> None:
        self.app = app
        self.api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if not path.startswith(CSP_EXEMPT) and b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", CSP.encode()))
                if path.startswith(self.api_prefix) and b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = headers + extra
            await send(message)

        await self.app(scope, receive, wrapped)


async def _json_error(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """413 for bodies over ``max_bytes``, whether announced by Content-Length or streamed chunked."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = f"request body larger than {self.max_bytes} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    await _json_error(send, 400, "invalid Content-Length header")
                    return
                if length > self.max_bytes:
                    await _json_error(send, 413, too_big)
                    return
        if scope.get("method") not in ("POST", "PUT", "PATCH", "DELETE"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _json_error(send, 413, too_big)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def route_template(scope: Scope, api_prefix: str) -> str:
    """The matched route's path template (bounded label values), or "unmatched" (404s, static files).

    Routers included under API_V1_STR report their own relative path in ``scope["route"]``; add the prefix back.
    """
    path = getattr(scope.get("route"), "path", None)
    if not path:
        return "unmatched"
    path = str(path)
    if scope.get("path", "").startswith(api_prefix + "/") and not path.startswith(api_prefix + "/"):
        path = api_prefix + path
    return path


class HTTPMetrics:
    """``secustream_http_requests_total`` and ``secustream_http_request_duration_seconds`` by route template."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry, api_prefix: str) -> None:
        self.app = app
        self.api_prefix = api_prefix
        self.requests = Counter("secustream_http_requests_total", "HTTP requests served by the API",
                                ["method", "route", "status"], registry=registry)
        self.duration = Histogram("secustream_http_request_duration_seconds",
                                  "Time to the response headers, by route template", ["method", "route"],
                                  buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
                                  registry=registry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
                template = route_template(scope, self.api_prefix)
                self.duration.labels(scope["method"], template).observe(time.perf_counter() - start)
                self.requests.labels(scope["method"], template, str(status["code"])).inc()
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        except Exception:
            self.requests.labels(scope["method"], route_template(scope, self.api_prefix), "500").inc()
            raise
