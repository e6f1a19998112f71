"""Role matrix: every API endpoint x {anonymous, viewer, analyst, admin, disabled user} gives the expected status.

The live stream is covered the same way over real HTTP in test_live.py (its response never ends, so the
in-process client cannot hold it); a coverage check proves no route is left out of either list.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from secustream.storage import users as user_store
from tests.api.conftest import Api, seed, seed_alerts

WHO = (None, "viewer", "analyst", "admin", "disabled")
RANK = {"viewer": 0, "analyst": 1, "admin": 2}
PUBLIC = "public"
_names = itertools.count()


@dataclass(frozen=True)
class Case:
    method: str
    template: str  # the route path, to prove coverage
    min_role: str  # viewer | analyst | admin | public
    ok: int
    build: Callable[[Api], tuple[str, dict[str, Any]]]  # -> (concrete path, request kwargs)


def _event_id(api: Api) -> str:
    page = api.client.get("/api/v1/events?limit=1", headers=api.headers("admin")).json()
    return str(page["items"][0]["event_id"])


def _suppression_id(api: Api) -> int:
    body = {"rule_id": "SSH-BRUTE-FORCE", "field": "source.ip", "value": "10.9.9.9", "reason": "matrix"}
    return int(api.client.post("/api/v1/suppressions", json=body, headers=api.headers("admin")).json()["id"])


def _throwaway_user(api: Api) -> int:
    """A fresh viewer account to delete or revoke (never one the matrix signs in as)."""
    with api.engine.begin() as conn:
        return int(user_store.create_user(conn, f"gone-{next(_names)}-{id(api)}", "x", "viewer")["id"])


def _feedback_then_delete(api: Api, who: str | None) -> tuple[str, dict[str, Any]]:
    eid = _event_id(api)
    if who in ("analyst", "admin"):  # make sure there is one of theirs to delete
        api.client.put(f"/api/v1/events/{eid}/feedback", json={"label": "benign"}, headers=api.headers(who))
    return f"/api/v1/events/{eid}/feedback", {}


def _alert_id(api: Api) -> str:
    page = api.client.get("/api/v1/alerts?limit=1", headers=api.headers("admin")).json()
    return str(page["items"][0]["id"])


def _incident_id(api: Api) -> str:
    page = api.client.get("/api/v1/incidents?limit=1", headers=api.headers("admin")).json()
    return str(page["items"][0]["id"])


P = "/api/v1"
CASES = [
    Case("GET", "/healthz", PUBLIC, 200, lambda a: ("/healthz", {})),
    Case("GET", "/readyz", PUBLIC, 200, lambda a: ("/readyz", {})),
    Case("GET", "/metrics", PUBLIC, 200, lambda a: ("/metrics", {})),
    Case("GET", "/", PUBLIC, 200, lambda a: ("/", {})),
    Case("POST", f"{P}/auth/token", PUBLIC, 200,
         lambda a: (f"{P}/auth/token", {"data": {"username": "viewer-user", "password": "correct horse battery"}})),
    Case("GET", f"{P}/auth/me", "viewer", 200, lambda a: (f"{P}/auth/me", {})),
    Case("POST", f"{P}/auth/logout", "viewer", 204, lambda a: (f"{P}/auth/logout", {})),
    Case("GET", f"{P}/events", "viewer", 200, lambda a: (f"{P}/events?risk_level=high", {})),
    Case("GET", f"{P}/events/{{event_id}}", "viewer", 200, lambda a: (f"{P}/events/{_event_id(a)}", {})),
    Case("GET", f"{P}/events/{{event_id}}/feedback", "viewer", 200,
         lambda a: (f"{P}/events/{_event_id(a)}/feedback", {})),
    Case("PUT", f"{P}/events/{{event_id}}/feedback", "analyst", 200,
         lambda a: (f"{P}/events/{_event_id(a)}/feedback", {"json": {"label": "false_positive", "note": "m"}})),
    Case("DELETE", f"{P}/events/{{event_id}}/feedback", "analyst", 204, lambda a: ("", {})),  # built per user
    Case("GET", f"{P}/stats", "viewer", 200, lambda a: (f"{P}/stats?bucket=day&since=2026-10-01T00:00:00Z", {})),
    Case("GET", f"{P}/rules", "viewer", 200, lambda a: (f"{P}/rules", {})),
    Case("GET", f"{P}/rules/coverage", "viewer", 200, lambda a: (f"{P}/rules/coverage", {})),
    Case("PUT", f"{P}/rules/{{rule_id}}", "admin", 200,
         lambda a: (f"{P}/rules/SSH-BRUTE-FORCE", {"json": {"enabled": True}})),
    Case("GET", f"{P}/suppressions", "viewer", 200, lambda a: (f"{P}/suppressions", {})),
    Case("POST", f"{P}/suppressions", "admin", 201,
         lambda a: (f"{P}/suppressions",
                    {"json": {"rule_id": "PORT-SCAN", "field": "source.ip", "value": "10.1.1.1"}})),
    Case("PATCH", f"{P}/suppressions/{{suppression_id}}", "admin", 200,
         lambda a: (f"{P}/suppressions/{_suppression_id(a)}", {"json": {"active": False}})),
    Case("POST", f"{P}/suppressions/{{suppression_id}}/approve", "admin", 200,
         lambda a: (f"{P}/suppressions/{_suppression_id(a)}/approve", {"json": {}})),
    Case("GET", f"{P}/audit", "admin", 200, lambda a: (f"{P}/audit?limit=5", {})),
    Case("GET", f"{P}/models", "viewer", 200, lambda a: (f"{P}/models", {})),
    Case("GET", f"{P}/users", "admin", 200, lambda a: (f"{P}/users", {})),
    Case("POST", f"{P}/users", "admin", 201,
         lambda a: (f"{P}/users",
                    {"json": {"username": f"new-{next(_names)}", "password": "x" * 12, "role": "viewer"}})),
    Case("PATCH", f"{P}/users/{{user_id}}", "admin", 200,
         lambda a: (f"{P}/users/{a.users['viewer']['id']}", {"json": {"role": "viewer"}})),
    Case("DELETE", f"{P}/users/{{user_id}}", "admin", 204, lambda a: (f"{P}/users/{_throwaway_user(a)}", {})),
    Case("POST", f"{P}/users/{{user_id}}/revoke-tokens", "admin", 204,
         lambda a: (f"{P}/users/{_throwaway_user(a)}/revoke-tokens", {})),
    Case("POST", f"{P}/users/{{user_id}}/unlock", "admin", 204,
         lambda a: (f"{P}/users/{_throwaway_user(a)}/unlock", {})),
    Case("POST", f"{P}/users/revoke-tokens", "admin", 200, lambda a: (f"{P}/users/revoke-tokens", {})),
    Case("GET", f"{P}/alerts", "viewer", 200, lambda a: (f"{P}/alerts?status=open&status=acknowledged", {})),
    Case("GET", f"{P}/alerts/attack", "viewer", 200, lambda a: (f"{P}/alerts/attack", {})),
    Case("GET", f"{P}/alerts/suppressed", "viewer", 200, lambda a: (f"{P}/alerts/suppressed", {})),
    Case("GET", f"{P}/alerts/dead-letters", "admin", 200, lambda a: (f"{P}/alerts/dead-letters", {})),
    Case("POST", f"{P}/alerts/bulk", "analyst", 200,
         lambda a: (f"{P}/alerts/bulk", {"json": {"ids": [_alert_id(a)], "status": "acknowledged"}})),
    Case("GET", f"{P}/alerts/{{alert_id}}", "viewer", 200, lambda a: (f"{P}/alerts/{_alert_id(a)}", {})),
    Case("PATCH", f"{P}/alerts/{{alert_id}}", "analyst", 200,
         lambda a: (f"{P}/alerts/{_alert_id(a)}", {"json": {"assignee": "matrix", "notes": "looked"}})),
    Case("GET", f"{P}/incidents", "viewer", 200, lambda a: (f"{P}/incidents?status=open", {})),
    Case("GET", f"{P}/incidents/{{incident_id}}", "viewer", 200,
         lambda a: (f"{P}/incidents/{_incident_id(a)}", {})),
    Case("GET", f"{P}/entities/{{kind}}/{{value}}", "viewer", 200, lambda a: (f"{P}/entities/ip/10.0.1.1", {})),
]
STREAMING = {("GET", f"{P}/stream")}  # covered in test_live.py


def expected(case: Case, who: str | None) -> int:
    if case.min_role == PUBLIC:
        return case.ok
    if who is None or who == "disabled":
        return 401
    return case.ok if RANK[who] >= RANK[case.min_role] else 403


@pytest.fixture(scope="module")
def seeded(api: Api) -> Api:
    seed_alerts(api.engine, seed(api.engine, 20))
    return api


@pytest.mark.parametrize("who", WHO, ids=lambda w: w or "anonymous")
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.template}")
def test_role_matrix(seeded: Api, case: Case, who: str | None) -> None:
    if case.method == "DELETE" and case.template.endswith("/feedback"):
        path, kwargs = _feedback_then_delete(seeded, who)
    else:
        path, kwargs = case.build(seeded)
    response = seeded.client.request(case.method, path, headers=seeded.headers(who), **kwargs)
    assert response.status_code == expected(case, who), (case.method, path, who, response.text[:300])
    if response.status_code == 401:
        assert response.headers.get("www-authenticate") == "Bearer"
        assert response.json()["detail"]


def test_matrix_covers_every_route(api: Api) -> None:
    """Every operation in the OpenAPI document (plus the dashboard page) has a row in the matrix."""
    paths = api.client.get("/api/v1/openapi.json").json()["paths"]
    routes = {(m.upper(), p) for p, ops in paths.items() for m in ops} | {("GET", "/")}
    assert len(routes) >= 20
    covered = {(c.method, c.template) for c in CASES} | STREAMING
    assert routes - covered == set(), f"routes missing from the role matrix: {sorted(routes - covered)}"
    assert covered - routes == set(), f"matrix rows for routes that do not exist: {sorted(covered - routes)}"
