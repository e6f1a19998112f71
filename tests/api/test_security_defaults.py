"""Security defaults: headers, CORS off unless configured, request size limit, HTTP metrics, no tokens in logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.api.conftest import PASSWORD, Api, build_api


def test_security_headers_everywhere(api: Api) -> None:
    for path in ("/", "/api/v1/events", "/healthz", "/static/app.js"):
        headers = api.client.get(path, headers=api.headers("viewer")).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert "default-src 'self'" in headers["content-security-policy"]
        assert "script-src 'self'" in headers["content-security-policy"]
    assert api.client.get("/api/v1/events", headers=api.headers("viewer")).headers["cache-control"] == "no-store"


def test_dashboard_loads_nothing_from_elsewhere(api: Api) -> None:
    html = api.client.get("/").text
    assert "http://" not in html and "https://" not in html  # no CDN: every asset is ours
    assert "<script>" not in html  # no inline script (the CSP forbids it)
    # every asset the page names is served (a browser asks for /favicon.ico when the page names no icon)
    for asset in ("/static/app.css", "/static/app.js", "/static/alerts.js", "/static/favicon.svg"):
        assert f'"{asset}"' in html, asset
        assert api.client.get(asset).status_code == 200, asset
    assert api.client.get("/static/favicon.svg").headers["content-type"].startswith("image/svg+xml")


def test_cors_off_by_default(api: Api) -> None:
    response = api.client.get("/api/v1/events", headers={**api.headers("viewer"), "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    preflight = api.client.options("/api/v1/events", headers={"Origin": "https://evil.example",
                                                               "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers


@pytest.fixture
def cors_api(pg_url: str, redis_url: str) -> Iterator[Api]:
    built = build_api(pg_url, redis_url, CORS_ORIGINS="https://soc.example, https://ops.example")
    yield built
    built.engine.dispose()


def test_cors_when_configured(cors_api: Api) -> None:
    ok = cors_api.client.options("/api/v1/events", headers={"Origin": "https://soc.example",
                                                             "Access-Control-Request-Method": "GET",
                                                             "Access-Control-Request-Headers": "authorization"})
    assert ok.headers["access-control-allow-origin"] == "https://soc.example"
    other = cors_api.client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_request_size_limit(api: Api) -> None:
    limit = api.settings.MAX_REQUEST_BYTES
    url = "/api/v1/users"
    big = b'{"username": "x", "password": "' + b"a" * limit + b'"}'
    response = api.client.post(url, headers={**api.headers("admin"), "Content-Type": "application/json"}, content=big)
    assert response.status_code == 413 and "larger than" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(limit // 1024 + 2):
            yield b" " * 1024

    streamed = api.client.post(url, headers={**api.headers("admin"), "Content-Type": "application/json"},
                               content=chunks())
    assert streamed.status_code == 413
    bogus = api.client.post(url, headers={**api.headers("admin"), "Content-Length": "abc"}, content=b"{}")
    assert bogus.status_code == 400


def test_http_metrics_by_route_template(api: Api) -> None:
    api.client.get("/api/v1/events?limit=1", headers=api.headers("viewer"))
    api.client.get("/api/v1/events/00000000-0000-0000-0000-000000000000", headers=api.headers("viewer"))
    text = api.client.get("/metrics").text
    assert 'secustream_http_requests_total{method="GET",route="/api/v1/events",status="200"}' in text
    assert 'route="/api/v1/events/{event_id}",status="404"' in text
    assert "secustream_http_request_duration_seconds_bucket" in text
    assert "00000000-0000" not in text  # templates, not raw paths: bounded label cardinality


def test_no_tokens_or_passwords_in_logs(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    login = api.client.post("/api/v1/auth/token", data={"username": "viewer-user", "password": PASSWORD})
    token = login.json()["access_token"]
    api.client.post("/api/v1/auth/token", data={"username": "viewer-user", "password": "wrong-" + PASSWORD})
    api.client.get("/api/v1/events", headers={"Authorization": f"Bearer {token}"})
    api.client.get("/api/v1/events", headers={"Authorization": "Bearer " + token[:-4] + "AAAA"})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "failed login" in logged  # the failure is logged ...
    assert token not in logged and token[:40] not in logged and PASSWORD not in logged  # ... without secrets
    assert api.settings.SECRET_KEY not in logged
