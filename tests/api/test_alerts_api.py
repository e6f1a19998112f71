"""The alert API's behaviour (the role matrix and schemathesis cover access and contract): keyset pages that
neither skip nor repeat, triage rules, a false positive feeding feedback and a proposed suppression, entity
pages with recent events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from secustream.storage import feedback as feedback_store
from secustream.storage.tables import Alert, RuleSuppression
from tests.alerts.helpers import sshd_alerted
from tests.api.conftest import Api, build_api

P = "/api/v1"


@pytest.fixture(scope="module")
def alerted(module_pg_url: str, module_redis_url: str) -> Iterator[Api]:
    built = build_api(module_pg_url, module_redis_url)
    sshd_alerted(built.engine)
    try:
        yield built
    finally:
        built.engine.dispose()


def pages(api: Api, query: str, limit: int) -> list[dict[str, Any]]:
    out, cursor = [], None
    while True:
        url = f"{P}/alerts?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        body = api.client.get(url, headers=api.headers("viewer")).json()
        out += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return out


def test_keyset_pages_neither_skip_nor_repeat(alerted: Api) -> None:
    whole = pages(alerted, "status=open&status=acknowledged&status=closed", 500)
    assert len(whole) >= 5
    for limit in (1, 2, 3):
        paged = pages(alerted, "status=open&status=acknowledged&status=closed", limit)
        assert [a["id"] for a in paged] == [a["id"] for a in whole]
    assert [(a["last_seen"], a["id"]) for a in whole] == sorted(((a["last_seen"], a["id"]) for a in whole),
                                                               reverse=True)
    one = whole[0]
    assert [a["id"] for a in pages(alerted, f"entity={one['entity_value']}&rule={one['detection']}", 2)] == [
        a["id"] for a in whole if (a["entity_value"], a["detection"]) == (one["entity_value"], one["detection"])]
    assert alerted.client.get(f"{P}/alerts?cursor=nonsense", headers=alerted.headers("viewer")).status_code == 400


def test_search_finds_words_of_a_rule_title_or_id_in_any_case(alerted: Api) -> None:
    """What the dashboard's Rule box sends: a SigmaHQ rule's id is a UUID, so analysts type a piece of the title."""
    whole = pages(alerted, "status=open&status=acknowledged&status=closed", 500)
    one = whole[0]
    word = max(one["title"].split(), key=len)
    for query in (word.upper(), word.lower(), one["detection"][1:-1].upper()):
        found = pages(alerted, "status=open&status=acknowledged&status=closed&" + urlencode({"search": query}), 2)
        assert one["id"] in [a["id"] for a in found], query
        assert all(query.lower() in f"{a['title']} {a['detection']}".lower() for a in found), query
    everything = "status=open&status=acknowledged&status=closed&"
    for literal in ("%", "_", "\\", "%%_"):  # LIKE's wildcards and its escape are plain characters here
        want = [a["id"] for a in whole if literal in f"{a['title']} {a['detection']}".lower()]
        assert [a["id"] for a in pages(alerted, everything + urlencode({"search": literal}), 500)] == want, literal
    h = alerted.headers("viewer")
    assert alerted.client.get(f"{P}/alerts?search=", headers=h).status_code == 422
    assert alerted.client.get(f"{P}/alerts?search=%00", headers=h).status_code == 400


def test_a_sigma_alert_says_what_the_rule_is_and_who_wrote_it(alerted: Api) -> None:
    """Beside a Sigma rule's alert: its description, author and references (the Detection Rule License asks for
    attribution wherever a rule's output is shown) and the false positives its authors know; none for native rules."""
    import uuid
    from datetime import UTC, datetime

    sigma = next(r for r in alerted.app.state.ctx.rules.rules() if r.about is not None and r.about.references)
    native = pages(alerted, "status=open", 50)[0]
    now = datetime(2001, 1, 1, tzinfo=UTC)  # the oldest of the module's alerts: last in every queue page
    alert_id = uuid.uuid4()
    with alerted.engine.begin() as conn:
        conn.execute(Alert.__table__.insert(), [{
            "id": alert_id, "detection": sigma.id, "title": sigma.description, "level": "high",
            "threat_type": sigma.threat_type, "status": "closed", "resolution": "benign", "entity_kind": "host",
            "entity_value": "about-test", "window_start": now, "window_seconds": 600, "count": 1, "first_seen": now,
            "last_seen": now, "mitre_ids": [], "tactics": [], "created_at": now, "updated_at": now}])
    h = alerted.headers("viewer")
    rule = alerted.client.get(f"{P}/alerts/{alert_id}", headers=h).json()["rule"]
    about = sigma.about
    assert about is not None
    assert rule == {"author": about.author, "references": about.references, "description": about.description,
                    "false_positives": about.false_positives}
    assert rule["author"] and rule["description"] and rule["references"]
    assert alerted.client.get(f"{P}/alerts/{native['id']}", headers=h).json()["rule"] is None


def test_query_parameters_are_validated_as_fastapi_does(alerted: Api) -> None:
    """One model validates the queue's parameters (api/query.py): FastAPI's 422 shape and locations."""
    h = alerted.headers("viewer")
    for query, loc in (("limit=0", ["query", "limit"]), ("limit=x", ["query", "limit"]),
                       ("status=open&status=bogus", ["query", "status", 1]), ("incident=nope", ["query", "incident"]),
                       (f"rule={'r' * 129}", ["query", "rule"])):
        got = alerted.client.get(f"{P}/alerts?{query}", headers=h)
        assert got.status_code == 422 and [e["loc"] for e in got.json()["detail"]] == [loc], (query, got.text)
    naive = alerted.client.get(f"{P}/alerts?since=2026-11-01T00:00:00", headers=h)
    assert (naive.status_code, naive.json()["detail"]) == (400, "since needs a timezone, e.g. ...Z")
    got = alerted.client.get(f"{P}/alerts?status=open&status=closed&limit=500&limit=1", headers=h).json()
    assert len(got["items"]) == 1 and got["next_cursor"]  # a repeated single value: the last one counts
    params = {p["name"] for p in alerted.app.openapi()["paths"][f"{P}/alerts"]["get"]["parameters"]}
    assert params == {"status", "level", "rule", "search", "entity", "assignee", "incident", "since", "until", "limit",
                      "cursor"}


def test_the_queue_checks_the_account_in_its_page_statement(alerted: Api) -> None:
    """The account check rides in the page's own statement (users.with_account): an empty page for a valid
    account, and for an unknown, disabled or revoked one the same 401 as every other endpoint, whether the
    page would have rows or not."""
    empty = alerted.client.get(f"{P}/alerts?entity=no-such-entity", headers=alerted.headers("viewer"))
    assert (empty.status_code, empty.json()) == (200, {"items": [], "next_cursor": None})
    viewer = alerted.users["viewer"]
    tokens = alerted.app.state.ctx.tokens
    refused = {tokens.issue(987654, 0, "viewer")[0]: "unknown user",
               alerted.token("disabled"): "account disabled",
               tokens.issue(int(viewer["id"]), int(viewer["token_version"]) + 1, "viewer")[0]:  # type: ignore[call-overload]
               "token revoked: sign in again"}
    for token, detail in refused.items():
        for url in (f"{P}/alerts", f"{P}/alerts?entity=no-such-entity", f"{P}/auth/me"):
            got = alerted.client.get(url, headers={"Authorization": f"Bearer {token}"})
            assert (got.status_code, got.json()["detail"]) == (401, detail), url


def test_triage_rules(alerted: Api) -> None:
    alert_id = pages(alerted, "status=open", 50)[0]["id"]
    h = alerted.headers("analyst")
    assert alerted.client.patch(f"{P}/alerts/{alert_id}", json={"status": "closed"}, headers=h).status_code == 400
    assert alerted.client.patch(f"{P}/alerts/{alert_id}", json={}, headers=h).status_code == 400
    assert alerted.client.patch(f"{P}/alerts/{alert_id}", json={"status": "acknowledged", "resolution": "benign"},
                                headers=h).status_code == 400
    assert alerted.client.patch(f"{P}/alerts/{alert_id}", json={"status": "gone"}, headers=h).status_code == 422
    assert alerted.client.patch(f"{P}/alerts/00000000-0000-4000-8000-000000000000", json={"assignee": "x"},
                                headers=h).status_code == 404


def test_false_positive_feeds_feedback_and_proposes_a_suppression(alerted: Api) -> None:
    alert = next(a for a in pages(alerted, "status=open", 50) if a["detection"] == "SSH-BRUTE-FORCE")
    response = alerted.client.patch(f"{P}/alerts/{alert['id']}", headers=alerted.headers("analyst"),
                                    json={"resolution": "false_positive", "notes": "our scanner"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "closed" and response.json()["resolution"] == "false_positive"
    detail = alerted.client.get(f"{P}/alerts/{alert['id']}", headers=alerted.headers("viewer")).json()
    # each sample says what happened where, so the analyst triages without opening every event
    titles = [s["title"] for s in detail["sample_events"]]
    assert titles and all(t.startswith("ssh_login · ") and "Failed password" in t for t in titles), titles
    with alerted.engine.connect() as conn:
        labels = {f["label"] for e in detail["sample_event_ids"] for f in feedback_store.list_feedback(conn, e)}
        proposals = conn.execute(select(RuleSuppression.rule_id, RuleSuppression.value, RuleSuppression.status)
                                 .where(RuleSuppression.rule_id == "SSH-BRUTE-FORCE")).all()
        closed = conn.execute(select(Alert.status).where(Alert.id == alert["id"])).scalar_one()
    assert labels == {"false_positive"} and closed == "closed"
    assert [(r, v) for r, v, _s in proposals] == [("SSH-BRUTE-FORCE", alert["entity_value"])]
    assert detail["audit"][-1]["changes"]["resolution"] == [None, "false_positive"]


def test_entity_page_has_alerts_incidents_and_recent_events(alerted: Api) -> None:
    alert = pages(alerted, "status=open&status=closed&status=acknowledged", 50)[0]
    body = alerted.client.get(f"{P}/entities/{alert['entity_kind']}/{alert['entity_value']}",
                              headers=alerted.headers("viewer")).json()
    assert alert["id"] in {a["id"] for a in body["alerts"]} and body["incidents"]
    assert body["recent_events"] and all(e["source_ip"] == alert["entity_value"] for e in body["recent_events"])
    assert body["events_url"] == f"{P}/events?" + urlencode({"source_ip": alert["entity_value"]})


def test_an_entitys_page_finds_its_events_whatever_their_case(alerted: Api) -> None:
    """Entities are kept lower-cased; Windows logs WORKSTATION5.theshire.local and SYSTEM. The entity page's
    recent events and its events link found none of them before the filters took any case (migration 0010)."""
    from datetime import UTC, datetime

    from secustream.storage.repository import VerdictRepository
    from tests.api.conftest import seed_item

    item = seed_item(1, datetime(2026, 11, 2, tzinfo=UTC))
    item.event.source.host, item.event.source.user = "WORKSTATION5.theshire.local", "SYSTEM"
    VerdictRepository(alerted.engine).store([item])
    for kind, value, field in (("host", "workstation5.theshire.local", "host"), ("user", "system", "user")):
        body = alerted.client.get(f"{P}/entities/{kind}/{value}", headers=alerted.headers("viewer")).json()
        assert [e["event_id"] for e in body["recent_events"]] == [str(item.event.event_id)], kind
        listed = alerted.client.get(body["events_url"], headers=alerted.headers("viewer")).json()
        assert [e["event_id"] for e in listed["items"]] == [str(item.event.event_id)], (kind, field)
