"""Feedback given through the API reaches the classifier's training-set builder (training/dataset.py)."""

from __future__ import annotations

import pytest

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


@pytest.mark.xfail(strict=True, reason="training/dataset.py maps only true_positive/false_positive/corrected_class; "
                                       "the API's 'benign' label is skipped (reported to the training owner)")
def test_benign_feedback_becomes_a_benign_example(api: Api) -> None:
    item = seed(api.engine, 12)[9]
    before = len(feedback_examples(api.engine))
    _give(api, item.event.event_id, {"label": "benign"})
    assert len(feedback_examples(api.engine)) == before + 1
