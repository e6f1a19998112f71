"""A generated stream with N attack campaigns and benign noise gives exactly N incidents; closing every
alert closes the incident; the tactic chain raises severity; stories say who wrote them."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, select

from secustream.attack import chain
from secustream.generator.engine import EventGenerator
from secustream.storage import alerts as store
from secustream.storage.tables import Alert, AlertHitRow, Incident

from .helpers import analyse, stage_for, store_and_alert

START = datetime(2026, 6, 1, tzinfo=UTC)


def generated(n_events: int, seed: int):  # type: ignore[no-untyped-def]
    """One campaign at a time, about 40 minutes of benign noise between them (an event a second, 1 % attack)."""
    gen = EventGenerator(seed=seed, attack_ratio=0.01, start=START, rate=1.0, max_active=1)
    return gen.next_batch(n_events)


def test_n_campaigns_give_exactly_n_incidents(pg_url: str) -> None:
    db = create_engine(pg_url)
    events = generated(24_000, seed=7)
    campaign_of = {g.event.event_id: g.campaign_id for g in events}
    items, engine = analyse([g.event for g in events])
    stage = stage_for(db, engine, incident_window=600)
    store_and_alert(db, stage, items, batch=500)

    with db.connect() as conn:
        hits = conn.execute(select(AlertHitRow.event_id, Alert.incident_id)
                            .join(Alert, Alert.id == AlertHitRow.alert_id)).all()
        incidents = conn.execute(select(Incident.id)).scalars().all()
    benign_hits = [e for e, _i in hits if campaign_of[e] is None]
    assert benign_hits == [], f"{len(benign_hits)} benign events in alerts"
    campaigns_of_incident: dict[object, set[str]] = defaultdict(set)
    incidents_of_campaign: dict[str, set[object]] = defaultdict(set)
    for event_id, incident_id in hits:
        campaigns_of_incident[incident_id].add(campaign_of[event_id])
        incidents_of_campaign[campaign_of[event_id]].add(incident_id)
    detected = set(incidents_of_campaign)
    started = {c for c in campaign_of.values() if c is not None}
    assert detected == started and len(started) >= 10  # every campaign alerted (13 with this seed)
    mixed = {i: c for i, c in campaigns_of_incident.items() if len(c) > 1}
    assert not mixed, f"incidents mixing campaigns: {mixed}"
    assert all(len(i) == 1 for i in incidents_of_campaign.values()), "a campaign split over incidents"
    assert len(incidents) == len(started)  # exactly N incidents for N campaigns
    db.dispose()


def test_incident_lifecycle_chain_and_template_story(pg_url: str) -> None:
    db = create_engine(pg_url)
    events = generated(24_000, seed=11)
    items, engine = analyse([g.event for g in events])
    stage = stage_for(db, engine, incident_window=600)
    store_and_alert(db, stage, items, batch=500)
    with db.connect() as conn:
        incident_id = conn.execute(select(Incident.id).order_by(Incident.alert_count.desc())).scalars().first()
        incident = store.get_incident(conn, incident_id)
    assert incident is not None and incident["status"] == "open"
    assert incident["story"]["source"] == "template" and incident["story_source"] == "template"
    assert incident["story"]["verdict"] in ("true_positive", "suspicious") and incident["story"]["next_steps"]
    assert [t for t in incident["timeline"] if t["kind"] == "alert"] and [
        t for t in incident["timeline"] if t["kind"] == "event"]
    assert incident["tactics"] == chain([(a["first_seen"], a["tactics"]) for a in incident["alerts"]])
    alert_ids = [a["id"] for a in incident["alerts"]]
    with db.begin() as conn:
        store.triage(conn, alert_ids[:1], {"status": "acknowledged", "assignee": "ana"}, "ana")
    with db.begin() as conn:
        assert store.get_incident(conn, incident_id)["status"] == "open"
        store.triage(conn, alert_ids, {"status": "closed", "resolution": "true_positive"}, "ana")
    with db.connect() as conn:
        closed = store.get_incident(conn, incident_id)
        trail = store.audit_trail(conn, alert_id=alert_ids[0])
    assert closed["status"] == "closed"
    assert [t["changes"].get("status") for t in trail] == [["open", "acknowledged"], ["acknowledged", "closed"]]
    assert trail[0]["actor"] == "ana" and any(a["action"] == "closed" for a in closed["audit"])
    db.dispose()


def test_advancing_tactic_chain_raises_severity(pg_url: str) -> None:
    from .test_dedup import hit

    db = create_engine(pg_url)
    first = hit(1, 1)
    later = first.__class__(**{**{f: getattr(first, f) for f in first.__slots__},
                               "alert_id": first.alert_id.__class__(int=99), "detection": "LATERAL",
                               "tactics": ("lateral-movement",), "event_time": first.event_time + timedelta(minutes=5),
                               "event_id": first.event_id.__class__(int=2)})
    with db.begin() as conn:
        store.record(conn, [first], timedelta(hours=1))
    with db.begin() as conn:
        changes = store.record(conn, [later], timedelta(hours=1))
    assert changes.escalated_incidents and not changes.new_incidents
    with db.connect() as conn:
        incident = store.get_incident(conn, changes.escalated_incidents[0])
    assert incident["tactics"] == ["credential-access", "lateral-movement"]
    assert incident["severity"] == "critical"  # high alerts, raised one level by the advancing chain
    db.dispose()


def test_one_alert_with_two_tactics_is_not_raised(pg_url: str) -> None:
    """A rule tagged persistence and execution (a Run key that starts PowerShell) is one step: its one-alert incident
    keeps the alert's level (it read critical before, as if an attack had moved on)."""
    from .test_dedup import hit

    db = create_engine(pg_url)
    one = hit(3, 3)
    one = one.__class__(**{**{f: getattr(one, f) for f in one.__slots__}, "alert_id": one.alert_id.__class__(int=77),
                          "tactics": ("execution", "persistence"), "event_id": one.event_id.__class__(int=7)})
    with db.begin() as conn:
        changes = store.record(conn, [one], timedelta(hours=1))
    with db.connect() as conn:
        incident = store.get_incident(conn, changes.new_incidents[0])
    assert incident["tactics"] == ["execution", "persistence"] and incident["severity"] == one.level
    db.dispose()


def test_refreshing_many_incidents_at_once_keeps_each_its_own_facts(tmp_path, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    """``record`` refreshes every touched incident in one round of queries: each keeps its own severity, counts and
    entities (the first ``MAX_INCIDENT_ENTITIES`` in (kind, value) order), on PostgreSQL and on SQLite alike."""
    import uuid

    from secustream.alert_hit import ACTOR, TARGET, AlertHit, stable_id
    from secustream.storage.migrate import upgrade

    def hit(actor: str, n: int, level: str, targets: int) -> AlertHit:
        return AlertHit(stable_id("alert", actor), f"R-{actor}", f"rule {actor}", level, "other_threat", ("T1059",),
                        ("execution",), "ip", actor, START, 600, uuid.uuid5(uuid.NAMESPACE_URL, f"{actor}/{n}"),
                        START + timedelta(seconds=n),
                        (("ip", actor, ACTOR), *(("host", f"h{t:03d}", TARGET) for t in range(targets))))

    hits = [hit(actor, n, level, targets) for actor, level, targets in (("10.0.0.1", "high", 70),
                                                                        ("10.0.0.2", "low", 3))
            for n in range(4)]
    url = f"sqlite:///{tmp_path / 'up.db'}"
    upgrade(url)
    seen = []
    for target in (url, pg_url):
        db = create_engine(target)
        with db.begin() as conn:
            changes = store.record(conn, hits, timedelta(hours=1), now=START)
        assert len(changes.new_incidents) == 2
        with db.connect() as conn:
            rows = {r.title: r for r in conn.execute(select(Incident.__table__))}
        assert set(rows) == {"rule 10.0.0.1", "rule 10.0.0.2"}
        big, small = rows["rule 10.0.0.1"], rows["rule 10.0.0.2"]
        assert (big.severity, big.alert_count, big.hit_count) == ("high", 1, 4)
        assert (small.severity, small.alert_count, small.hit_count) == ("low", 1, 4)
        assert len(big.entities) == store.MAX_INCIDENT_ENTITIES
        assert big.entities == sorted(big.entities)[:store.MAX_INCIDENT_ENTITIES]
        assert big.entities[0] == ["host", "h000"]
        assert small.entities == [["host", "h000"], ["host", "h001"], ["host", "h002"], ["ip", "10.0.0.2"]]
        seen.append({t: (r.severity, r.entities, r.tactics, r.first_seen.replace(tzinfo=None))
                     for t, r in rows.items()})
        db.dispose()
    assert seen[0] == seen[1]


def test_an_incident_names_its_hosts_users_and_addresses_before_its_guids(pg_url: str) -> None:
    """A real Sysmon incident carries dozens of process GUIDs; listed in (kind, value) order they came first and
    could fill the list before any host or user."""
    import uuid

    from secustream.alert_hit import ACTOR, AlertHit, stable_id

    guids = tuple(("guid", f"{i:08x}-0000-0000-0000-000000000000", ACTOR)
                  for i in range(store.MAX_INCIDENT_ENTITIES + 10))
    named = (("user", "administrator", ACTOR), ("ip", "10.0.0.5", ACTOR), ("host", "dc01.pandalab.com", ACTOR))
    hit = AlertHit(alert_id=stable_id("alert", "sigma:t", "host", "dc01.pandalab.com", START.isoformat(), 600),
                   detection="sigma:t", title="Sysmon Blocked File Shredding", level="high",
                   threat_type="other_threat", mitre_ids=(), tactics=(), entity_kind="host",
                   entity_value="dc01.pandalab.com", window_start=START, window_seconds=600, event_id=uuid.uuid4(),
                   event_time=START, entities=(*guids, *named))
    db = create_engine(pg_url)
    with db.begin() as conn:
        store.record(conn, [hit], timedelta(seconds=600))
    with db.connect() as conn:
        (entities,) = conn.execute(select(Incident.entities)).scalars().all()
    db.dispose()
    assert len(entities) == store.MAX_INCIDENT_ENTITIES
    assert entities[:3] == [["host", "dc01.pandalab.com"], ["user", "administrator"], ["ip", "10.0.0.5"]]
    assert entities[3:] == [[kind, value] for kind, value, _role in guids[:store.MAX_INCIDENT_ENTITIES - 3]]


def test_a_sigma_alert_carries_the_tactics_its_rule_names() -> None:
    """A real SysKey access incident read "no mapped tactic": the rule's technique T1012 is not in our small
    technique table. Where no technique maps, an alert's tactics are its rule's own ATT&CK tactic tags; where one
    does, they are the techniques' (a rule's tags name every tactic it may serve, and would lengthen chains)."""
    import uuid

    import yaml

    from secustream.alerts.hits import AlertPolicy, hits_of
    from secustream.analyzer.native import RulesEngine, RuleSet
    from secustream.analyzer.service import detection_lookup
    from secustream.analyzer.sigma import SigmaEngine, SigmaRuleSet
    from secustream.events import SecurityEvent
    from secustream.state import MemoryState
    from secustream.verdict import RiskLevel, Verdict

    rule = {"title": "SysKey Registry Keys Access", "id": str(uuid.uuid4()), "status": "test", "level": "high",
            "logsource": {"product": "windows", "service": "security"},
            "tags": ["attack.discovery", "attack.t1012", "attack.s0002"],
            "detection": {"sel": {"EventID": 4663}, "condition": "sel"}}
    sigma = SigmaEngine(SigmaRuleSet.from_yaml_text(yaml.safe_dump(rule)), MemoryState())
    lookup = detection_lookup(RulesEngine(RuleSet(rules=[], fingerprint="none"), MemoryState()), sigma)
    event = SecurityEvent.model_validate({"timestamp": "2026-03-02T10:00:00Z", "event_type": "other",
                                          "source": {"host": "ws5", "user": "workstation5$"}})
    verdict = Verdict(event_id=event.event_id, risk_level=RiskLevel.HIGH, risk_score=0.8, threat_type="other_threat",
                      confidence=0.9, tier="rules", reason="x", rule_ids=[f"sigma:{rule['id']}"],
                      mitre_ids=["T1012"], analyzer_version="t")
    [hit] = hits_of(event, verdict, AlertPolicy(detections=lookup))
    assert hit.tactics == ("discovery",)  # T1012 is not in attack.py's table: the rule's own tag fills the gap
    mapped = verdict.model_copy(update={"mitre_ids": ["T1003.002"]})  # a technique that maps decides alone
    assert hits_of(event, mapped, AlertPolicy(detections=lookup))[0].tactics == ("credential-access",)
    unknown = verdict.model_copy(update={"rule_ids": ["model-x"], "threat_type": "brute_force"})
    assert hits_of(event, unknown, AlertPolicy(detections=lookup))[0].tactics == ("credential-access",)  # as before
