"""Events API on a seeded set: every filter returns exactly the rows a reference computes, pages have no
duplicates or gaps, one event in full, feedback semantics, stats, and 4xx (never 5xx) for bad input."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest

from secustream.api.pages import PostgresPages, SqlAlchemyPages
from secustream.api.schemas import Role
from secustream.storage import pages as page_store
from secustream.storage.repository import AnalyzedEvent
from tests.api.conftest import T0, Api, seed, seed_item

N = 240
EVENTS = "/api/v1/events"


@pytest.fixture(scope="module")
def data(api: Api) -> list[AnalyzedEvent]:
    items = seed(api.engine, N)
    # an event without a verdict yet (only shows up when no verdict filter is applied)
    pending = seed_item(N, ts=T0 + timedelta(hours=5))
    with api.engine.begin() as conn:
        from secustream.storage.repository import event_row
        from secustream.storage.tables import Event

        conn.execute(Event.__table__.insert(), [event_row(pending)])
    return [*items, AnalyzedEvent(pending.event, None)]  # type: ignore[arg-type]


def reference(items: list[AnalyzedEvent], keep: Callable[[AnalyzedEvent], bool]) -> list[str]:
    """Expected ids, newest first (timestamp, then id, both descending)."""
    chosen = [i for i in items if keep(i)]
    chosen.sort(key=lambda i: (i.event.timestamp, i.event.event_id), reverse=True)
    return [str(i.event.event_id) for i in chosen]


def fetch_all(api: Api, query: str, limit: int) -> tuple[list[str], int]:
    ids: list[str] = []
    pages = 0
    cursor = None
    while True:
        url = f"{EVENTS}?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = api.client.get(url, headers=api.headers("viewer"))
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [item["event_id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, pages
        assert pages < 1000


def v(item: AnalyzedEvent) -> Any:
    return item.verdict


FILTERS: list[tuple[str, Callable[[AnalyzedEvent], bool]]] = [
    ("", lambda i: True),
    ("risk_level=high", lambda i: v(i) is not None and v(i).risk_level == "high"),
    ("risk_level=high&risk_level=critical", lambda i: v(i) is not None and v(i).risk_level in ("high", "critical")),
    ("tier=llm", lambda i: v(i) is not None and v(i).tier == "llm"),
    ("tier=llm&tier=model&risk_level=critical&risk_level=medium",
     lambda i: v(i) is not None and v(i).tier in ("llm", "model") and v(i).risk_level in ("critical", "medium")),
    ("threat_type=brute_force", lambda i: v(i) is not None and v(i).threat_type == "brute_force"),
    ("source_ip=10.0.1.3", lambda i: i.event.source.ip == "10.0.1.3"),
    ("user=user2", lambda i: i.event.source.user.lower() == "user2"),
    ("user=USER2", lambda i: i.event.source.user.lower() == "user2"),  # any case, as the entities are kept
    ("host=srv-4", lambda i: "srv-4" in (i.event.source.host, i.event.destination.host)),
    ("host=ws-1", lambda i: "ws-1" in (i.event.source.host.lower(), i.event.destination.host)),
    ("host=Ws-1", lambda i: "ws-1" in (i.event.source.host.lower(), i.event.destination.host)),
    ("q=spraying", lambda i: v(i) is not None and "spraying" in v(i).analysis.lower()),
    ("q=SPRAY&risk_level=high", lambda i: v(i) is not None and "spray" in v(i).analysis.lower()
     and v(i).risk_level == "high"),
    ("q=100%25", lambda i: False),  # LIKE wildcards in the text are literal
    ("since=2026-11-01T00:00:30Z&until=2026-11-01T00:01:10Z",
     lambda i: T0 + timedelta(seconds=30) <= i.event.timestamp < T0 + timedelta(seconds=70)),
    ("since=2026-11-01T00:00:30Z&risk_level=low&user=user1", lambda i: i.event.timestamp >= T0 + timedelta(seconds=30)
     and v(i) is not None and v(i).risk_level == "low" and i.event.source.user.lower() == "user1"),
    ("source_ip=10.0.4.6&tier=rules", lambda i: i.event.source.ip == "10.0.4.6" and v(i) is not None
     and v(i).tier == "rules"),
]


@pytest.mark.parametrize(("query", "keep"), FILTERS, ids=[q or "no-filter" for q, _ in FILTERS])
@pytest.mark.parametrize("limit", [7, 500])
def test_filters_and_keyset_pages(api: Api, data: list[AnalyzedEvent], query: str,
                                  keep: Callable[[AnalyzedEvent], bool], limit: int) -> None:
    want = reference(data, keep)
    got, pages = fetch_all(api, query, limit)
    assert len(got) == len(set(got)), "duplicate rows across pages"
    assert got == want, f"{query}: got {len(got)} rows, want {len(want)}"
    assert pages == max(1, -(-len(want) // limit)), "the last page must say so (no empty trailing page)"


def test_filters_are_not_vacuous(data: list[AnalyzedEvent]) -> None:
    """The seeded set makes each filter select a strict, non-empty subset (so the comparison can fail)."""
    for query, keep in FILTERS[1:]:
        n = len(reference(data, keep))
        assert (n == 0) if query == "q=100%25" else (0 < n < len(data)), query


def test_page_items_are_complete(api: Api, data: list[AnalyzedEvent]) -> None:
    body = api.client.get(f"{EVENTS}?limit=3&risk_level=critical", headers=api.headers("viewer")).json()
    first = body["items"][0]
    source = next(i for i in data if str(i.event.event_id) == first["event_id"])
    assert first["verdict"]["risk_level"] == "critical" and first["verdict"]["tier"] == source.verdict.tier
    assert first["source_ip"] == source.event.source.ip and first["destination_port"] == 22


def test_event_in_full(api: Api, data: list[AnalyzedEvent]) -> None:
    item = next(i for i in data if i.verdict is not None and i.verdict.rule_ids)
    response = api.client.get(f"{EVENTS}/{item.event.event_id}", headers=api.headers("viewer"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["raw"] == item.event.raw
    assert body["normalised"]["source"]["ip"] == item.event.source.ip and "raw" not in body["normalised"]
    verdict = body["verdict"]
    assert verdict["reason"] == item.verdict.reason and verdict["rule_ids"] == ["SSH-BRUTE-FORCE"]
    assert verdict["mitre_ids"] == ["T1110"] and verdict["recommended_actions"] == ["Block the source"]
    assert body["feedback"] == []
    missing = api.client.get(f"{EVENTS}/{uuid.uuid4()}", headers=api.headers("viewer"))
    assert missing.status_code == 404 and missing.json()["detail"] == "event not found"


def test_feedback_one_current_per_user(api: Api, data: list[AnalyzedEvent]) -> None:
    eid = data[3].event.event_id
    url = f"{EVENTS}/{eid}/feedback"
    first = api.client.put(url, headers=api.headers("analyst"), json={"label": "true_positive", "note": "confirmed"})
    assert first.status_code == 200, first.text
    second = api.client.put(url, headers=api.headers("analyst"),
                            json={"label": "corrected_class", "corrected_class": "port_scan", "note": "it's a scan"})
    assert second.status_code == 200
    api.client.put(url, headers=api.headers("admin"), json={"label": "false_positive"})
    listed = api.client.get(url, headers=api.headers("viewer")).json()
    by_user = {f["username"]: f for f in listed}
    assert set(by_user) == {"analyst-user", "admin-user"}
    assert by_user["analyst-user"]["label"] == "corrected_class"
    assert by_user["analyst-user"]["corrected_class"] == "port_scan"
    assert by_user["analyst-user"]["created_at"] <= by_user["analyst-user"]["updated_at"]
    # stored with foreign keys to the user and the event
    from sqlalchemy import text

    with api.engine.connect() as conn:
        rows = conn.execute(text("SELECT f.label, u.username, e.id FROM feedback f JOIN users u ON u.id = f.user_id "
                                 "JOIN events e ON e.id = f.event_id WHERE f.event_id = :e"), {"e": eid}).all()
    assert sorted(r[1] for r in rows) == ["admin-user", "analyst-user"]
    detail = api.client.get(f"{EVENTS}/{eid}", headers=api.headers("viewer")).json()
    assert len(detail["feedback"]) == 2
    assert api.client.delete(url, headers=api.headers("admin")).status_code == 204
    assert api.client.delete(url, headers=api.headers("admin")).status_code == 404


@pytest.mark.parametrize(("body", "status"), [
    ({"label": "corrected_class"}, 400),
    ({"label": "benign", "corrected_class": "port_scan"}, 400),
    ({"label": "maybe"}, 422),
    ({"label": "benign", "extra": 1}, 422),
    ({"label": "benign", "note": "x" * 2001}, 422),
    ({"label": "corrected_class", "corrected_class": "not-a-class"}, 422),
])
def test_feedback_bad_input(api: Api, data: list[AnalyzedEvent], body: dict[str, Any], status: int) -> None:
    response = api.client.put(f"{EVENTS}/{data[0].event.event_id}/feedback", headers=api.headers("analyst"),
                              json=body)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_feedback_on_unknown_event_is_404(api: Api) -> None:
    response = api.client.put(f"{EVENTS}/{uuid.uuid4()}/feedback", headers=api.headers("analyst"),
                              json={"label": "benign"})
    assert response.status_code == 404


@pytest.mark.parametrize("query", [
    "cursor=!!!", "cursor=bm9wZQ", "limit=0", "limit=501", "risk_level=severe", "since=yesterday",
    "since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z", "since=2026-11-01T00:00:00", "q=a", "tier=RULES;drop",
    "source_ip=" + "1" * 46,
])
def test_bad_list_input_is_4xx_with_message(api: Api, query: str) -> None:
    response = api.client.get(f"{EVENTS}?{query}", headers=api.headers("viewer"))
    assert response.status_code in (400, 422), (query, response.status_code, response.text)
    assert response.json()["detail"]


def test_bad_path_ids_are_4xx(api: Api) -> None:
    assert api.client.get(f"{EVENTS}/not-a-uuid", headers=api.headers("viewer")).status_code == 422
    assert api.client.patch("/api/v1/users/0", headers=api.headers("admin"), json={}).status_code == 422
    assert api.client.patch("/api/v1/users/99999", headers=api.headers("admin"), json={}).status_code == 404
    bad_json = api.client.put(f"{EVENTS}/{uuid.uuid4()}/feedback", headers={**api.headers("analyst"),
                              "Content-Type": "application/json"}, content=b"{not json")
    assert bad_json.status_code == 422


def test_validation_errors_do_not_echo_input(api: Api) -> None:
    secret = "hunter2-" + "x" * 80
    response = api.client.post("/api/v1/users", headers=api.headers("admin"),
                               json={"username": "echo-test", "password": secret})
    assert response.status_code == 422
    assert secret not in response.text


def test_stats_buckets(api: Api, data: list[AnalyzedEvent]) -> None:
    response = api.client.get("/api/v1/stats?since=2026-11-01T00:00:00Z&until=2026-11-01T00:02:00Z&bucket=minute",
                              headers=api.headers("viewer"))
    assert response.status_code == 200, response.text
    body = response.json()
    analysed = [i for i in data if i.verdict is not None and i.event.timestamp < T0 + timedelta(minutes=2)]
    assert sum(body["totals"]["risk_level"].values()) == len(analysed)
    assert body["totals"]["tier"] == {t: sum(1 for i in analysed if i.verdict.tier == t) for t in ("rules", "model",
                                                                                                     "llm")}
    assert [b["start"] for b in body["buckets"]] == ["2026-11-01T00:00:00Z", "2026-11-01T00:01:00Z"]
    first = body["buckets"][0]
    assert sum(first["threat_type"].values()) == sum(1 for i in analysed if i.event.timestamp < T0
                                                      + timedelta(minutes=1))
    too_many = api.client.get("/api/v1/stats?since=2000-01-01T00:00:00Z&bucket=minute", headers=api.headers("viewer"))
    assert too_many.status_code == 400


def test_rules_and_suppressions(api: Api) -> None:
    rules = api.client.get("/api/v1/rules", headers=api.headers("viewer")).json()
    brute = next(r for r in rules if r["id"] == "SSH-BRUTE-FORCE")
    assert brute["enabled"] is True and "T1110" in brute["mitre_ids"]
    off = api.client.put("/api/v1/rules/SSH-BRUTE-FORCE", headers=api.headers("admin"), json={"enabled": False})
    assert off.json()["enabled"] is False and off.json()["overridden"] is True
    rules = api.client.get("/api/v1/rules", headers=api.headers("viewer")).json()
    assert next(r for r in rules if r["id"] == "SSH-BRUTE-FORCE")["enabled"] is False
    api.client.put("/api/v1/rules/SSH-BRUTE-FORCE", headers=api.headers("admin"), json={"enabled": True})
    assert api.client.put("/api/v1/rules/NO-SUCH-RULE", headers=api.headers("admin"),
                          json={"enabled": False}).status_code == 404
    # Sigma rules are listed and overridable too: off, or another level
    sigma = next(r for r in rules if r["id"] == "sigma:win-psexec-remote-execution")
    assert sigma["enabled"] is True and sigma["level_override"] is None
    lowered = api.client.put("/api/v1/rules/sigma:win-psexec-remote-execution", headers=api.headers("admin"),
                             json={"enabled": True, "level": "low"})
    assert lowered.status_code == 200, lowered.text
    assert lowered.json()["level_override"] == "low" and lowered.json()["severity"] == sigma["severity"]
    assert api.client.put("/api/v1/rules/sigma:no-such-rule", headers=api.headers("admin"),
                          json={"enabled": False}).status_code == 404
    assert api.client.put("/api/v1/rules/SSH-BRUTE-FORCE", headers=api.headers("admin"),
                          json={"enabled": True, "level": "extreme"}).status_code == 422
    assert api.client.put("/api/v1/rules/SSH-BRUTE-FORCE", headers=api.headers("analyst"),
                          json={"enabled": False}).status_code == 403
    created = api.client.post("/api/v1/suppressions", headers=api.headers("admin"),
                              json={"rule_id": "SSH-BRUTE-FORCE", "field": "source.ip", "value": "10.0.0.9"})
    assert created.status_code == 201
    assert api.client.post("/api/v1/suppressions", headers=api.headers("admin"),
                           json={"rule_id": "SSH-BRUTE-FORCE", "field": "source.ip"}).status_code == 400
    sid = created.json()["id"]
    assert api.client.patch(f"/api/v1/suppressions/{sid}", headers=api.headers("admin"),
                            json={"active": False}).json()["active"] is False
    inactive = api.client.get("/api/v1/suppressions?active=false", headers=api.headers("viewer")).json()
    assert sid in [s["id"] for s in inactive]
    assert api.client.patch("/api/v1/suppressions/999999", headers=api.headers("admin"),
                            json={"active": False}).status_code == 404


def test_model_versions_listed(api: Api) -> None:
    from secustream.storage.tables import ModelVersion

    with api.engine.begin() as conn:
        conn.execute(ModelVersion.__table__.insert(), [
            {"kind": "classifier", "version": 1, "name": "bert-tiny", "artifact_path": "/m/1", "metrics": {"f1": 0.8},
             "active": False, "created_at": T0},
            {"kind": "classifier", "version": 2, "name": "bert-tiny", "artifact_path": "/m/2", "metrics": {"f1": 0.9},
             "active": True, "created_at": T0}])
    body = api.client.get("/api/v1/models?kind=classifier", headers=api.headers("viewer")).json()
    assert [(m["version"], m["active"]) for m in body] == [(2, True), (1, False)]


@pytest.mark.parametrize("query", [q for q, _ in FILTERS], ids=[q or "no-filter" for q, _ in FILTERS])
def test_raw_reader_pages_equal_the_portable_ones(api: Api, data: list[AnalyzedEvent], query: str) -> None:
    """The PostgreSQL hot path (async pool over HTTP, blocking pool from a thread) returns byte for byte what
    the SQLAlchemy reader and the pydantic models return, page after page."""
    pages = api.app.state.ctx.pages
    assert isinstance(pages, PostgresPages) and pages._async is not None, "the lifespan started the async pool"
    portable = SqlAlchemyPages(api.engine)
    blocking = PostgresPages(api.engine.url.set(drivername="postgresql").render_as_string(hide_password=False), 2)
    params = parse_qs(query)
    filters = page_store.EventFilters(
        risk_levels=params.get("risk_level", []), tiers=params.get("tier", []),
        threat_types=params.get("threat_type", []),
        since=datetime.fromisoformat(params["since"][0]) if "since" in params else None,
        until=datetime.fromisoformat(params["until"][0]) if "until" in params else None,
        source_ip=params.get("source_ip", [None])[0], user=params.get("user", [None])[0],
        host=params.get("host", [None])[0], q=params.get("q", [None])[0])
    claims = api.app.state.ctx.verified.claims(api.token("viewer"))
    cursor = None
    try:
        for _ in range(3):
            url = f"{EVENTS}?{query}&limit=7" + (f"&cursor={cursor}" if cursor else "")
            served = api.client.get(url, headers=api.headers("viewer"))
            assert served.status_code == 200 and served.headers["content-type"] == "application/json"
            want = asyncio.run(portable.page(claims, Role.VIEWER, filters, 7, cursor))
            assert served.content == want
            assert asyncio.run(blocking.page(claims, Role.VIEWER, filters, 7, cursor)) == want
            cursor = served.json()["next_cursor"]
            if cursor is None:
                break
    finally:
        blocking.close()
