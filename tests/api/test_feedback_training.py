"""Feedback given through the API reaches the classifier's training-set builder (training/dataset.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from secustream.storage.repository import VerdictRepository
from secustream.training.dataset import feedback_examples
from tests.api.conftest import Api, seed, seed_alerts, seed_item

EVENTS = "/api/v1/events"


def _give(api: Api, event_id: object, body: dict[str, object]) -> None:
    response = api.client.put(f"{EVENTS}/{event_id}/feedback", headers=api.headers("analyst"), json=body)
    assert response.status_code == 200, response.text


def test_api_feedback_becomes_training_examples(api: Api) -> None:
    items = seed(api.engine, 8)
    confirmed, false_pos, corrected = items[1], items[2], items[3]
    _give(api, confirmed.event.event_id, {"label": "true_positive"})
    _give(api, false_pos.event.event_id, {"label": "false_positive", "note": "scanner"})
    _give(api, corrected.event.event_id, {"label": "corrected_class", "corrected_class": "lateral_movement"})
    examples = feedback_examples(api.engine)
    labels = sorted(e.label for e in examples if e.source == "feedback")
    assert labels == sorted([confirmed.verdict.threat_type, "benign", "lateral_movement"])
    assert all(e.weight > 1 for e in examples)  # analysts' labels outweigh generated ones


def test_benign_feedback_becomes_a_benign_example(api: Api) -> None:
    item = seed(api.engine, 12)[9]
    before = len(feedback_examples(api.engine))
    _give(api, item.event.event_id, {"label": "benign"})
    assert len(feedback_examples(api.engine)) == before + 1


def test_an_analysts_false_positive_proposes_a_scoped_expiring_suppression(api: Api) -> None:
    """Issue 14, failure 6: an analyst's false positive used to create a permanent suppression of the rule
    (although POST /suppressions is admin-only). Now it is a proposal: one rule, one entity, lapsing after
    SUPPRESSION_PROPOSAL_DAYS, in force only once an admin approves it; the audit log records both."""
    from secustream.analyzer.native import RuleSet
    from secustream.analyzer.native.suppressions import SuppressionIndex
    from secustream.config import load_settings
    from secustream.storage import audit

    item = seed(api.engine, 2)[1]  # odd seeds carry an SSH-BRUTE-FORCE rule hit
    assert item.verdict.rule_ids == ["SSH-BRUTE-FORCE"]
    for _ in range(2):  # resubmitting does not stack proposals
        _give(api, item.event.event_id, {"label": "false_positive", "note": "our pentest box"})
    mine = [s for s in api.client.get("/api/v1/suppressions?status=proposed", headers=api.headers("viewer")).json()
            if s["source_event_id"] == str(item.event.event_id)]
    assert [(s["rule_id"], s["field"], s["value"], s["reason"], s["status"], s["active"]) for s in mine] == [
        ("SSH-BRUTE-FORCE", "source.ip", item.event.source.ip, "our pentest box", "proposed", True)]
    proposal = mine[0]
    lifetime = datetime.fromisoformat(proposal["expires_at"]) - datetime.fromisoformat(proposal["created_at"])
    assert lifetime == timedelta(days=7)  # SUPPRESSION_PROPOSAL_DAYS

    index = SuppressionIndex(api.engine)
    doc = item.event.model_dump(mode="json")
    assert not index("SSH-BRUTE-FORCE", doc)  # a proposal is not in force

    url = f"/api/v1/suppressions/{proposal['id']}/approve"
    assert api.client.post(url, headers=api.headers("analyst"), json={}).status_code == 403
    approved = api.client.post(url, headers=api.headers("admin"), json={})
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["status"], body["expires_at"], body["approved_by"]) == (
        "approved", proposal["expires_at"], api.users["admin"]["id"])  # approving keeps the expiry
    index.refresh(force=True)
    assert index("SSH-BRUTE-FORCE", doc)  # now in force: for that rule, that entity only
    assert not index("SSH-BRUTE-FORCE", {**doc, "source": {"ip": "192.0.2.99"}})
    assert not index("PORT-SCAN", doc)

    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    extended = api.client.post(url, headers=api.headers("admin"), json={"expires_at": later}).json()
    assert datetime.fromisoformat(extended["expires_at"]) == datetime.fromisoformat(later)
    target = f"suppression:{proposal['id']}"
    log = [e for e in api.client.get("/api/v1/audit?limit=500", headers=api.headers("admin")).json()
           if e["target"] == target]
    assert [(e["action"], e["actor"]) for e in reversed(log)] == [
        ("suppression_proposed", "analyst-user"), ("suppression_approved", "admin-user"),
        ("suppression_extended", "admin-user")]
    with api.engine.connect() as conn:
        assert audit.entries(conn, 1, action="suppression_extended")[0]["target"] == target
    assert any(r.id == "SSH-BRUTE-FORCE" for r in RuleSet.load(load_settings().rules_path).rules)


def test_an_expired_proposal_never_takes_effect(api: Api) -> None:
    from secustream.analyzer.native.suppressions import SuppressionIndex

    item = seed(api.engine, 4)[3]
    _give(api, item.event.event_id, {"label": "false_positive"})
    [proposal] = [s for s in api.client.get("/api/v1/suppressions", headers=api.headers("admin")).json()
                  if s["source_event_id"] == str(item.event.event_id)]
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    assert api.client.post(f"/api/v1/suppressions/{proposal['id']}/approve", headers=api.headers("admin"),
                           json={"expires_at": past}).status_code == 200
    assert not SuppressionIndex(api.engine)("SSH-BRUTE-FORCE", item.event.model_dump(mode="json"))


def test_an_analyst_closing_an_alert_as_false_positive_only_proposes(api: Api) -> None:
    """The alert queue's false positive takes the same path: a proposal for the alert's rule and entity."""
    items = [seed_item(i, ts=datetime.now(UTC) - timedelta(minutes=5)) for i in (5, 7, 9)]  # rule hits
    VerdictRepository(api.engine).store(items)
    seed_alerts(api.engine, items)
    admin = api.headers("admin")
    approved_before = api.client.get("/api/v1/suppressions?status=approved", headers=admin).json()
    alert = next(a for a in api.client.get("/api/v1/alerts?limit=500", headers=admin).json()["items"]
                 if a["detection"] == "SSH-BRUTE-FORCE" and a["entity_value"] == items[0].event.source.ip)
    closed = api.client.patch(f"/api/v1/alerts/{alert['id']}", headers=api.headers("analyst"),
                              json={"resolution": "false_positive", "notes": "lab scanner"})
    assert closed.status_code == 200, closed.text
    assert api.client.get("/api/v1/suppressions?status=approved", headers=admin).json() == approved_before
    covering = [s for s in api.client.get("/api/v1/suppressions?status=proposed", headers=admin).json()
                if (s["rule_id"], s["value"]) == ("SSH-BRUTE-FORCE", alert["entity_value"])]
    assert len(covering) == 1 and covering[0]["expires_at"] is not None
