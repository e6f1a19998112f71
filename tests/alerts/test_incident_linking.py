"""Incident linking (``storage.alerts._link_all``): a new alert joins the open incidents it shares an actor with, or
whose actor is its target, in the window; two incidents it joins become one (the earliest, audited as a merge); a
batch links its alerts in time order, each seeing those before it, as one alert per batch would."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, select

from secustream.alert_hit import ACTOR, TARGET, AlertHit, stable_id
from secustream.storage import alerts as store
from secustream.storage.tables import Alert, AlertAudit, Incident

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
WINDOW = timedelta(hours=1)


def hit(name: str, minutes: int, *entities: tuple[str, str, str], level: str = "high") -> AlertHit:
    kind, value, _role = entities[0]
    return AlertHit(alert_id=stable_id("alert", name), detection=name, title=name, level=level,
                    threat_type="other_threat", mitre_ids=(), tactics=(), entity_kind=kind, entity_value=value,
                    window_start=T0, window_seconds=600, event_id=stable_id("event", name, minutes),
                    event_time=T0 + timedelta(minutes=minutes), entities=tuple(entities))


def record(db: Engine, batches: Sequence[Sequence[AlertHit]]) -> list[store.Changes]:
    out = []
    for hits in batches:
        with db.begin() as conn:
            out.append(store.record(conn, hits, WINDOW, now=T0 + timedelta(days=1)))
    return out


def incident_of(db: Engine) -> dict[str, object]:
    with db.connect() as conn:
        return {row.title: row.incident_id for row in conn.execute(select(Alert.title, Alert.incident_id))}


@pytest.fixture(params=["postgresql", "sqlite"])
def db(request: pytest.FixtureRequest, tmp_path) -> Engine:  # type: ignore[no-untyped-def]
    if request.param == "postgresql":
        return create_engine(request.getfixturevalue("pg_url"))
    from secustream.storage.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    upgrade(url)
    return create_engine(url)


ATTACK = [hit("a: scan from ip1", 0, ("ip", "10.0.0.1", ACTOR), ("host", "web1", TARGET)),
          hit("b: logon from ip2", 5, ("ip", "10.0.0.2", ACTOR), ("host", "db1", TARGET)),
          hit("c: ip1 and ip2 together", 10, ("ip", "10.0.0.1", ACTOR), ("ip", "10.0.0.2", ACTOR)),
          hit("d: web1 acts next", 20, ("host", "web1", ACTOR)),
          hit("e: another attacker on db1", 25, ("ip", "10.0.0.9", ACTOR), ("host", "db1", TARGET)),
          hit("f: ip1 again, hours later", 300, ("ip", "10.0.0.1", ACTOR))]


@pytest.mark.parametrize("one_batch", [True, False])
def test_alerts_join_merge_and_split_as_their_entities_say(db: Engine, one_batch: bool) -> None:
    changes = record(db, [ATTACK] if one_batch else [[h] for h in ATTACK])
    incident = incident_of(db)
    first = incident["a: scan from ip1"]
    assert incident["b: logon from ip2"] == first  # merged into the earlier incident by c
    assert incident["c: ip1 and ip2 together"] == first
    assert incident["d: web1 acts next"] == first  # the victim acting next
    assert incident["e: another attacker on db1"] not in (first, None)  # two attackers on one target: two
    assert incident["f: ip1 again, hours later"] not in (first, incident["e: another attacker on db1"], None)
    with db.connect() as conn:
        merges = conn.execute(select(AlertAudit.incident_id, AlertAudit.changes)
                              .where(AlertAudit.action == "merged")).all()
        incidents = conn.execute(select(Incident.id, Incident.alert_count)).all()
    assert [(m.incident_id, m.changes) for m in merges] == [
        (first, {"merged": str(stable_id("incident", stable_id("alert", "b: logon from ip2")))})]
    assert sorted(count for _id, count in incidents) == [1, 1, 4]
    opened = [i for c in changes for i in c.new_incidents]  # b's incident opened, then merged away
    assert len(opened) == 4 and first in opened
