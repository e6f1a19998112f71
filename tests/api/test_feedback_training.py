"""Feedback given through the API reaches the classifier's training-set builder (training/dataset.py)."""

from __future__ import annotations

from secustream.training.dataset import feedback_examples
from tests.api.conftest import Api, seed

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


def test_false_positive_on_a_rule_hit_suppresses_that_rule_for_that_source(api: Api) -> None:
    from sqlalchemy import select

    from secustream.analyzer.native import RuleSet
    from secustream.analyzer.native.suppressions import SuppressionIndex
    from secustream.config import load_settings
    from secustream.storage.tables import RuleSuppression

    item = seed(api.engine, 2)[1]  # odd seeds carry an SSH-BRUTE-FORCE rule hit
    assert item.verdict.rule_ids == ["SSH-BRUTE-FORCE"]
    for _ in range(2):  # resubmitting does not stack suppressions
        _give(api, item.event.event_id, {"label": "false_positive", "note": "our pentest box"})
    with api.engine.connect() as conn:
        rows = conn.execute(select(RuleSuppression.rule_id, RuleSuppression.field, RuleSuppression.value,
                                   RuleSuppression.reason)
                            .where(RuleSuppression.source_event_id == item.event.event_id)).all()
    assert [tuple(r) for r in rows] == [("SSH-BRUTE-FORCE", "source.ip", item.event.source.ip, "our pentest box")]

    index = SuppressionIndex(api.engine)
    doc = item.event.model_dump(mode="json")
    assert index("SSH-BRUTE-FORCE", doc)
    assert not index("SSH-BRUTE-FORCE", {**doc, "source": {"ip": "192.0.2.99"}})
    assert not index("PORT-SCAN", doc)
    assert any(r.id == "SSH-BRUTE-FORCE" for r in RuleSet.load(load_settings().rules_path).rules)
