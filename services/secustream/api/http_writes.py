"""uvicorn's httptools protocol with each response's status line, headers and body leaving in one send().

Why: uvicorn writes the head of a response as soon as the app sends ``http.response.start`` and the body as a
second write. Each write is a syscall, and the first one wakes the client to read a head with no body yet: on
a small machine the woken client preempts the server before it writes the body (profiled on GET /alerts:
about a fifth of the API worker's samples sat in that first write; docs/alerts.md). Here a write is held
until the next one, and both go out together; a write with no follower (the last chunk of a stream, a
``100 Continue``, a HEAD response) goes out on the event loop's next turn, so nothing waits longer than that.

Only the transport the protocol writes through is wrapped; parsing, flow control and keep-alive are
uvicorn's own. Selected by ``proxies.server_options`` (``http=PROTOCOL``) and ``uvicorn --http PROTOCOL``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

PROTOCOL = "secustream.api.http_writes:CoalescingHttpToolsProtocol"


class PairedWrites:
    """A transport whose writes leave in pairs (held one + the next), or alone on the loop's next turn."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._held is None:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
            return
        held, self._held = self._held, None
        self._transport.write(held + bytes(data))

    def flush(self) -> None:
        """Write what is held (the pending flush of a write that had no follower)."""
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def close(self) -> None:
        self.flush()  # a response before a close (Connection: close, errors) must still leave
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # everything else is the real transport's
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` writing through ``PairedWrites``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(PairedWrites(transport, self.loop))  # type: ignore[arg-type]
