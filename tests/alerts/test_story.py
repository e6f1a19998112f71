"""Incident stories: the LLM's through a local OpenAI-compatible endpoint, within the shared budget and cache;
the template without an LLM, or when the LLM says no; every story says which wrote it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select

from secustream.alerts.story import StoryWriter, build_program, template_story
from secustream.analyzer.llm.program import make_lm
from secustream.analyzer.llm.stub import StubLLM
from secustream.config import Settings
from secustream.state.limits import MemoryCallBudget, MemoryVerdictCache
from secustream.storage import alerts as store
from secustream.storage.tables import Incident

from .helpers import sshd_alerted

T = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
INCIDENT = {"severity": "critical", "tactics": ["credential-access", "lateral-movement"], "alerts": [
    {"title": "Many failed SSH logins", "level": "high", "count": 12, "entity_kind": "ip",
     "entity_value": "203.0.113.7", "first_seen": T, "last_seen": T, "tactics": ["credential-access"]},
    {"title": "SSH fan-out", "level": "high", "count": 5, "entity_kind": "ip", "entity_value": "203.0.113.7",
     "first_seen": T + timedelta(minutes=5), "last_seen": T + timedelta(minutes=5), "tactics": ["lateral-movement"]}]}


@pytest.fixture
def stub():  # type: ignore[no-untyped-def]
    server = StubLLM(slow_seconds=3.0).start()
    yield server
    server.stop()


def writer(stub: StubLLM, limit: int = 10, timeout: float = 5.0) -> StoryWriter:
    settings = Settings(_env_file=None, LLM_API_BASE=stub.base_url, LLM_MODEL="openai/stub")  # type: ignore[call-arg]
    now = time.time()  # the budget counts per clock minute: frozen, a test crossing a minute sees one budget
    return StoryWriter(build_program(), make_lm(settings), MemoryCallBudget(limit, clock=lambda: now),
                       MemoryVerdictCache(600), timeout=timeout)


def test_llm_story_is_used_and_cached(stub: StubLLM) -> None:
    w = writer(stub)
    story = w.write(INCIDENT)
    assert story["source"] == "llm" and story["verdict"] == "true_positive" and story["confidence"] == 0.88
    assert story["summary"].startswith("Stub story") and story["next_steps"] == ["Isolate the host",
                                                                                  "Reset the credentials"]
    again = w.write(INCIDENT)
    assert again["source"] == "cached llm" and stub.calls == 1  # the cache answered, no second call
    w.close()


def test_budget_exhausted_falls_back_to_the_template(stub: StubLLM) -> None:
    w = writer(stub, limit=1)
    assert w.write(INCIDENT)["source"] == "llm"
    other = {**INCIDENT, "severity": "high"}
    story = w.write(other)
    assert story["source"] == "template" and "budget exhausted" in story["why"] and stub.calls == 1
    w.close()


def test_template_story_without_llm() -> None:
    story = template_story(INCIDENT)
    assert story["source"] == "template" and story["why"] == "no LLM configured"
    assert story["verdict"] == "true_positive"  # an advancing chain
    assert "credential-access → lateral-movement" in story["summary"] and len(story["next_steps"]) == 2


def test_stage_writes_llm_stories_for_new_incidents(stub: StubLLM, pg_url: str) -> None:
    db = create_engine(pg_url)
    stage, _items = sshd_alerted(db, stories=writer(stub))
    stage.wait_idle()
    with db.connect() as conn:
        rows = conn.execute(select(Incident.story_source, Incident.story)).all()
    assert rows and all(source == "llm" for source, _story in rows), rows
    assert all(s["source"] in ("llm", "cached llm") for _src, s in rows)
    stage.close()
    db.dispose()


def test_stage_without_llm_writes_template_stories(pg_url: str) -> None:
    db = create_engine(pg_url)
    _stage, _items = sshd_alerted(db)
    with db.connect() as conn:
        incidents = store.list_incidents(conn, (), 50, None)["items"]
        stories = [store.get_incident(conn, i["id"])["story"] for i in incidents]
    assert stories and all(s["source"] == "template" and s["why"] == "no LLM configured" for s in stories)
    db.dispose()


def test_template_story_names_the_highest_alert_by_level_then_hits() -> None:
    """Seen on a real NTDS.dit dump incident: the titles' alphabetical maximum ("Sysmon Blocked File Shredding")
    was named, not its most severe alert."""
    alerts = [{**INCIDENT["alerts"][0], "title": "Zebra rule", "level": "medium", "count": 900},
              {**INCIDENT["alerts"][0], "title": "Credential dump", "level": "high", "count": 2},
              {**INCIDENT["alerts"][0], "title": "Another dump", "level": "high", "count": 1},
              {**INCIDENT["alerts"][0], "title": "Odd level", "level": "unheard-of", "count": 10_000}]
    story = template_story({"severity": "high", "tactics": ["credential-access", "impact"], "alerts": alerts})
    assert "Highest alert: Credential dump." in story["summary"]
    assert "dumped" in story["next_steps"][0] and "isolate the host" in story["next_steps"][1]
    assert template_story({"severity": "low", "tactics": [], "alerts": []})["summary"].endswith("Highest alert: -.")
    # discovery on a real domain controller was AD enumeration by a logged-in admin, not a scanning source
    recon = template_story({"severity": "high", "tactics": ["discovery"], "alerts": alerts})["next_steps"][0]
    assert "scanned the network" in recon and "listed users, groups" in recon
