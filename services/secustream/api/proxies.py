"""The client's address, computed once per request: X-Forwarded-For is believed only from TRUSTED_PROXIES.

Why: uvicorn's default trusts X-Forwarded-For from 127.0.0.1, which is also where `kubectl port-forward`
and any sidecar connect from, so every client could name its own address and walk around the per-client
login budget. Here the header is ignored unless the peer is a configured proxy; then the hops are read
from the right, each trusted proxy handing over to the address it reports, and the first untrusted hop is
the client. The result replaces ``scope["client"]``, so the throttle, the logs and uvicorn's access log
all see the same address (uvicorn itself runs with proxy headers off: this is the one place).
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

from secustream.api import http_writes
from secustream.api.middleware import ASGIApp, Receive, Scope, Send

Networks = Sequence[IPv4Network | IPv6Network]


def _trusted(address: str, trusted: Networks) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def _valid(address: str) -> bool:
    try:
        ip_address(address)
    except ValueError:
        return False
    return True


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Networks) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy (then walk X-Forwarded-For)."""
    if peer is None:
        return "unknown"
    address = peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(address, trusted) or not _valid(hop):
            break
        address = hop
    return address


class ClientAddress:
    """ASGI middleware: rewrite ``scope["client"]`` to ``client_address(...)`` (a no-op with no trusted proxy)."""

    def __init__(self, app: ASGIApp, trusted: Networks) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.trusted and scope["type"] in ("http", "websocket"):
            peer = scope.get("client")
            forwarded = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"]
            if peer and forwarded:
                address = client_address(peer[0], forwarded, self.trusted)
                if address != peer[0]:
                    scope["client"] = (address, 0)
        await self.app(scope, receive, send)


def request_client(scope: Scope) -> str:
    """The address ``ClientAddress`` settled on (the peer when no proxy is trusted)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def server_options() -> dict[str, object]:
    """uvicorn settings every server of this app uses: its own proxy-header handling off (``ClientAddress``
    is the one place X-Forwarded-For is read, and only from TRUSTED_PROXIES), and responses written in one
    send (``http_writes``; ``uvicorn --http`` takes the same name)."""
    return {"proxy_headers": False, "forwarded_allow_ips": "", "http": http_writes.PROTOCOL}
