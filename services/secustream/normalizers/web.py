"""Web server access logs (NCSA common / combined, optional leading vhost) → ``SecurityEvent``.

Why: Apache, nginx, HAProxy (http log) and most CDNs can write this format, and it carries what web
detections need — client, method, path, status, size, agent. Sigma's ``category: webserver`` field
names (W3C extended log names: ``c-ip``, ``cs-method``, ``cs-uri-stem``, ``cs-uri-query``,
``sc-status``, ``cs-user-agent``, ``cs-referer`` …) are kept in ``unmapped``. The server is
``destination``; the client is ``source``. Trailing fields some servers append (nginx
``$http_x_forwarded_for``, timings) are kept in ``unmapped.extra``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from secustream.events import SecurityEvent
from secustream.normalizers.base import (
    MAX_RAW,
    NormalizationError,
    clip,
    line_event_id,
    valid_ip,
    validation_reason,
)

_LINE = re.compile(
    r'^(?:(?P<vhost>[^\s"]+:\d+) )?(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] '
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}|-) (?P<size>\d+|-)'
    r'(?: "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?(?P<extra>.*)$'
)
_REQUEST = re.compile(r"^(?P<method>[A-Za-z]{1,16}) (?P<target>\S+)(?: (?P<version>HTTP/[\d.]+))?$")


def _dash(value: str | None) -> str | None:
    return None if value in (None, "", "-") else value.replace('\\"', '"')


def normalize_web_access(line: str) -> SecurityEvent:
    """One access-log line → ``http`` event; 4xx/5xx responses have outcome ``failure``."""
    text = line.rstrip("\r\n")
    if not text.strip():
        raise NormalizationError("empty line")
    m = _LINE.match(text)
    if not m:
        raise NormalizationError('not a common/combined access log line (expected \'CLIENT - USER [TIME] "REQUEST" '
                                 "STATUS SIZE ...')")
    try:
        ts = datetime.strptime(m.group("time"), "%d/%b/%Y:%H:%M:%S %z")
    except ValueError:
        raise NormalizationError(f"bad timestamp {m.group('time')!r} (expected 10/Oct/2000:13:55:36 -0700)") from None
    request = m.group("request")
    rm = _REQUEST.match(request)
    method, target, version = (rm.group("method").upper(), rm.group("target"), rm.group("version")) if rm \
        else (None, None, None)
    stem, _, query = (target or "").partition("?")
    status = int(m.group("status")) if m.group("status") != "-" else None
    size = int(m.group("size")) if m.group("size") != "-" else None
    client = m.group("client")
    ip = valid_ip(client)
    vhost = m.group("vhost")
    agent, referer = _dash(m.group("agent")), _dash(m.group("referer"))
    unmapped: dict[str, Any] = {
        "c-ip": client, "cs-username": _dash(m.group("user")), "cs-method": method, "cs-uri-stem": stem or None,
        "cs-uri-query": query or None, "cs-uri": target, "c-uri": target, "cs-version": version,
        "sc-status": status, "sc-bytes": size, "cs-referer": referer, "cs-user-agent": agent, "c-useragent": agent,
        "cs-host": vhost.rsplit(":", 1)[0] if vhost else None,
    }
    if not rm:
        unmapped["request"] = request  # TLS on a plain port, scanners' garbage: keep it verbatim
    if m.group("extra").strip():
        unmapped["extra"] = m.group("extra").strip()
    if len(text) > MAX_RAW:
        unmapped["raw_truncated"] = True
    try:
        return SecurityEvent(
            event_id=line_event_id(text), timestamp=ts, event_type="http", action="http_request",
            outcome="unknown" if status is None else "failure" if status >= 400 else "success",
            message=clip(request, 8192),
            source={"ip": ip, "host": None if ip else client, "user": _dash(m.group("user"))},
            destination={"host": vhost.rsplit(":", 1)[0] if vhost else None,
                         "port": int(vhost.rsplit(":", 1)[1]) if vhost else None},
            http={"method": method, "url": target, "status_code": status if status and 100 <= status <= 599 else None,
                  "user_agent": agent, "bytes": size},
            product="httpd", dataset="web.access",
            unmapped={k: v for k, v in unmapped.items() if v is not None}, raw=clip(text, MAX_RAW),
        )
    except ValidationError as exc:
        raise NormalizationError(validation_reason(exc)) from None
