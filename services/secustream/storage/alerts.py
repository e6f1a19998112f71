"""Alerts and incidents: counting hits idempotently, linking incidents, and the pages the API reads.

Delivery model: the analyzer stores a batch, then calls ``record`` with its alert hits; a crash in
between redelivers the batch. ``record`` is therefore idempotent (a hit already in ``alert_hits`` counts
nothing) and safe with many analyzer processes: on PostgreSQL the whole call holds one transaction-level
advisory lock, so two replicas never interleave their read-count-link steps (no lost increment, no two
incidents for one entity). Alert-level hits are a small fraction of events, so the lock is held for
milliseconds per batch; SQLite (``secustream up``, one analyzer) serialises writers by itself.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, DateTime, bindparam, case, delete, func, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from secustream.alert_hit import ACTOR, TARGET, AlertHit, linkable, stable_id
from secustream.attack import advanced, chain, tactic_of
from secustream.storage.pages import decode_cursor, encode_cursor
from secustream.storage.tables import (
    Alert,
    AlertAudit,
    AlertEntity,
    AlertHitRow,
    Event,
    Incident,
    NotificationDeadLetter,
    RuleSuppression,
)
from secustream.verdict import RISK_ORDER, RiskLevel
from secustream.windows_ad import directory_access

A = Alert.__table__
I = Incident.__table__  # noqa: E741
H = AlertHitRow.__table__
N = AlertEntity.__table__
AU = AlertAudit.__table__
DL = NotificationDeadLetter.__table__
LOCK_KEY = 0x5EC0A1E7  # pg_advisory_xact_lock key of alert/incident writes
LEVELS = tuple(level.value for level in RiskLevel)
STATUSES = ("open", "acknowledged", "closed")
RESOLUTIONS = ("true_positive", "false_positive", "benign")
MAX_INCIDENT_ENTITIES = 50
NAMED_KINDS_FIRST = ("host", "user", "ip")
"""An incident lists these entities before its process/logon GUIDs (and any other kind): one real Sysmon incident
has dozens of GUIDs, and a (kind, value) order let them fill the ``MAX_INCIDENT_ENTITIES`` before any host."""
MAX_BRANCHES = 8


def _insert(conn: Connection, table):  # type: ignore[no-untyped-def]
    return (sqlite if conn.dialect.name == "sqlite" else postgresql).insert(table)


def _utc(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def raise_level(level: str) -> str:
    return LEVELS[min(len(LEVELS) - 1, RISK_ORDER[RiskLevel(level)] + 1)]


def max_level(levels: Iterable[str]) -> str:
    return max(levels, key=lambda lv: RISK_ORDER[RiskLevel(lv)], default="low")


# ------------------------------------------------------------------------------------------------
# Writes (the analyzer's alert stage)
# ------------------------------------------------------------------------------------------------

@dataclass
class Changes:
    """What one ``record`` call changed: the notification and story triggers."""

    counted: int = 0
    new_alerts: list[uuid.UUID] = field(default_factory=list)
    new_incidents: list[uuid.UUID] = field(default_factory=list)
    escalated_incidents: list[uuid.UUID] = field(default_factory=list)
    touched_incidents: list[uuid.UUID] = field(default_factory=list)


@dataclass
class _Tally:
    first: AlertHit
    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    levels: set[str] = field(default_factory=set)
    mitre: dict[str, None] = field(default_factory=dict)
    tactics: dict[str, None] = field(default_factory=dict)
    entities: dict[tuple[str, str, str], None] = field(default_factory=dict)

    def add(self, hit: AlertHit) -> None:
        self.count += 1
        self.first_seen = min(self.first_seen or hit.event_time, hit.event_time)
        self.last_seen = max(self.last_seen or hit.event_time, hit.event_time)
        self.levels.add(hit.level)
        self.mitre.update(dict.fromkeys(hit.mitre_ids))
        self.tactics.update(dict.fromkeys(hit.tactics))
        self.entities.update(dict.fromkeys(hit.entities))
        if not any(e[:2] == (hit.entity_kind, hit.entity_value) for e in hit.entities):
            self.entities[(hit.entity_kind, hit.entity_value, ACTOR)] = None


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})


def _new_hits(conn: Connection, hits: Sequence[AlertHit]) -> list[AlertHit]:
    """The hits not counted before (nor twice within this batch)."""
    unique = {(h.alert_id, h.event_id): h for h in hits}
    seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
    ids = sorted({a for a, _e in unique})
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        events = sorted({e for a, e in unique if a in set(chunk)})
        seen.update(conn.execute(select(H.c.alert_id, H.c.event_id).where(
            H.c.alert_id.in_(chunk), H.c.event_id.in_(events))))
    return [h for key, h in sorted(unique.items()) if key not in seen]


def record(conn: Connection, hits: Sequence[AlertHit], incident_window: timedelta,
           now: datetime | None = None) -> Changes:
    """Count ``hits`` into their alerts and link new alerts into incidents, in the caller's transaction."""
    changes = Changes()
    if not hits:
        return changes
    now = now or datetime.now(UTC)
    _lock(conn)
    fresh = _new_hits(conn, hits)
    if not fresh:
        return changes
    tallies: dict[uuid.UUID, _Tally] = {}
    for hit in fresh:
        tallies.setdefault(hit.alert_id, _Tally(hit)).add(hit)
    existing = {row.id: row for row in conn.execute(select(A).where(A.c.id.in_(sorted(tallies))))}
    inserts, updates = [], []
    for alert_id, t in sorted(tallies.items()):
        old = existing.get(alert_id)
        if old is None:
            h = t.first
            inserts.append({
                "id": alert_id, "detection": h.detection, "title": h.title, "level": max_level(t.levels),
                "threat_type": h.threat_type, "status": "open", "entity_kind": h.entity_kind,
                "entity_value": h.entity_value, "window_start": h.window_start, "window_seconds": h.window_seconds,
                "count": t.count, "first_seen": t.first_seen, "last_seen": t.last_seen, "mitre_ids": list(t.mitre),
                "tactics": list(t.tactics), "incident_id": None, "created_at": now, "updated_at": now})
        else:
            updates.append({
                "b_id": alert_id, "n": t.count, "fs": min(_utc(old.first_seen), t.first_seen or now),
                "ls": max(_utc(old.last_seen), t.last_seen or now), "lv": max_level({old.level, *t.levels}),
                "mi": list(dict.fromkeys([*old.mitre_ids, *t.mitre])),
                "ta": list(dict.fromkeys([*old.tactics, *t.tactics])), "now": now})
    if inserts:
        conn.execute(A.insert(), inserts)
    if updates:
        conn.execute(update(A).where(A.c.id == bindparam("b_id")).values(
            count=A.c.count + bindparam("n"), first_seen=bindparam("fs"), last_seen=bindparam("ls"),
            level=bindparam("lv"), mitre_ids=bindparam("mi", type_=A.c.mitre_ids.type),
            tactics=bindparam("ta", type_=A.c.tactics.type), updated_at=bindparam("now")), updates)
    conn.execute(H.insert(), [{"alert_id": h.alert_id, "event_id": h.event_id, "event_time": h.event_time}
                              for h in fresh])
    entity_rows = [{"kind": k, "value": v[:512], "role": r, "alert_id": a} for a, t in sorted(tallies.items())
                   for k, v, r in t.entities]
    conn.execute(_insert(conn, N).on_conflict_do_nothing(), entity_rows)
    changes.counted = len(fresh)
    changes.new_alerts = [row["id"] for row in inserts]
    touched = {old.incident_id for aid, old in existing.items() if old.incident_id is not None}
    linked, changes.new_incidents = _link_all(conn, inserts, tallies, incident_window, now)
    touched.update(linked)
    risen = refresh_incidents(conn, sorted(touched), now)
    changes.escalated_incidents = [i for i in sorted(risen) if i not in changes.new_incidents]
    changes.touched_incidents = sorted(touched)
    return changes


class _OpenAlerts:
    """The alerts of open incidents that a batch's new alerts may join, in memory: what ``_link_all`` reads instead of
    one query per new alert. Holds every such alert with an entity the new alerts name (any role), in the window of any
    of them; each new alert is added once linked, and merges move alerts between incidents here as in the table."""

    def __init__(self) -> None:
        self.alerts: dict[uuid.UUID, list[Any]] = {}  # alert id -> [incident id, first seen, last seen]
        self.by_entity: dict[tuple[str, str], list[tuple[uuid.UUID, str]]] = defaultdict(list)  # -> (alert, role)
        self.first_seen: dict[uuid.UUID, datetime] = {}  # open incident -> its first_seen (sorts the candidates)

    def add(self, alert_id: uuid.UUID, incident_id: uuid.UUID, first: datetime, last: datetime,
            entities: Iterable[tuple[str, str, str]]) -> None:
        self.alerts[alert_id] = [incident_id, _utc(first), _utc(last)]
        for kind, value, role in entities:
            self.by_entity[(kind, value)].append((alert_id, role))

    def incidents_sharing(self, alert: Mapping[str, Any], actors: Sequence[tuple[str, str]],
                          targets: Sequence[tuple[str, str]], window: timedelta) -> set[uuid.UUID]:
        """The open incidents with an alert in ``alert``'s window that shares an actor of it (in any role), or has a
        target of it as its actor (``_link_all``'s rule)."""
        low, high = _utc(alert["first_seen"]) - window, _utc(alert["last_seen"]) + window
        found: set[uuid.UUID] = set()
        for wanted, actors_only in ((actors, False), (targets, True)):
            for entity in wanted:
                for alert_id, role in self.by_entity.get(entity, ()):
                    incident_id, first, last = self.alerts[alert_id]
                    if (not actors_only or role == ACTOR) and last >= low and first <= high:
                        found.add(incident_id)
        return found

    def opened(self, incident_id: uuid.UUID, first_seen: datetime) -> None:
        """An open incident and its first_seen, which orders candidates (``ranked``)."""
        self.first_seen[incident_id] = _utc(first_seen)

    def ranked(self, candidates: Iterable[uuid.UUID]) -> list[uuid.UUID]:
        """Candidates oldest first (then by id): the first is kept, the others merge into it."""
        return sorted(candidates, key=lambda c: (self.first_seen[c], str(c)))

    def merge(self, keep: uuid.UUID, merged: Sequence[uuid.UUID]) -> None:
        gone = set(merged)
        for record in self.alerts.values():
            if record[0] in gone:
                record[0] = keep
        for incident_id in gone:
            self.first_seen.pop(incident_id, None)


def _link_all(conn: Connection, inserts: Sequence[dict[str, Any]], tallies: Mapping[uuid.UUID, _Tally],
              window: timedelta, now: datetime) -> tuple[set[uuid.UUID], list[uuid.UUID]]:
    """Join each new alert, earliest first, to the open incidents it shares an entity with in the window (merging
    them), else open one; returns the incidents linked to and those opened. Shared means: the same actor, or one
    alert's target is the other's actor (the victim acting next, e.g. brute force on a host, then lateral movement
    from it). Two attackers on one target stay two incidents.

    Why one read for the batch: one query per new alert made linking most of the alert stage, over a quarter of the
    analyzer's persist thread on real attack data (``bench/pipeline.py --real --stages``). The candidates are read
    once for all the batch's entities and windows, then each alert is linked in memory in the same order, seeing
    the alerts linked before it, as the per-alert queries did; the writes follow in that order."""
    order = sorted(inserts, key=lambda r: (r["first_seen"], r["id"]))
    plans = []
    wanted: set[tuple[str, str]] = set()
    for row in order:
        entities = [e for e in tallies[row["id"]].entities if linkable(e)]
        actors = sorted({(k, v) for k, v, r in entities if r == ACTOR})
        targets = sorted({(k, v) for k, v, r in entities if r == TARGET} - set(actors))
        plans.append((row, actors, targets))
        wanted.update(actors, targets)
    known = _OpenAlerts()
    if wanted:
        low = min(_utc(r["first_seen"]) for r in order) - window
        high = max(_utc(r["last_seen"]) for r in order) + window
        pairs = sorted(wanted)
        for start in range(0, len(pairs), 500):
            for held in conn.execute(
                    select(N.c.kind, N.c.value, N.c.role, A.c.id, A.c.first_seen, A.c.last_seen, I.c.id.label("inc"),
                           I.c.first_seen.label("inc_first"))
                    .select_from(N.join(A, A.c.id == N.c.alert_id).join(I, I.c.id == A.c.incident_id))
                    .where(tuple_(N.c.kind, N.c.value).in_(pairs[start:start + 500]), I.c.status == "open",
                           A.c.last_seen >= low, A.c.first_seen <= high)):
                known.add(held.id, held.inc, held.first_seen, held.last_seen, [(held.kind, held.value, held.role)])
                known.opened(held.inc, held.inc_first)
    opened: list[dict[str, Any]] = []
    assigned: list[dict[str, Any]] = []
    merges: list[tuple[uuid.UUID, list[uuid.UUID]]] = []
    linked: set[uuid.UUID] = set()
    for row, actors, targets in plans:
        candidates = known.incidents_sharing(row, actors, targets, window) if actors or targets else set()
        if not candidates:
            incident_id = stable_id("incident", row["id"])
            opened.append({
                "id": incident_id, "status": "open", "severity": row["level"], "title": row["title"],
                "tactics": row["tactics"], "entities": [], "alert_count": 0, "hit_count": 0,
                "first_seen": row["first_seen"], "last_seen": row["last_seen"], "created_at": now, "updated_at": now})
            known.opened(incident_id, row["first_seen"])
        else:
            incident_id, *merged = known.ranked(candidates)
            if merged:
                known.merge(incident_id, merged)
                merges.append((incident_id, merged))
        assigned.append({"b_id": row["id"], "inc": incident_id})
        linked.add(incident_id)
        known.add(row["id"], incident_id, row["first_seen"], row["last_seen"],
                  ((k, v[:512], r) for k, v, r in tallies[row["id"]].entities))  # as the entity rows hold them
    if opened:
        conn.execute(I.insert(), opened)
    if assigned:
        conn.execute(update(A).where(A.c.id == bindparam("b_id")).values(incident_id=bindparam("inc")), assigned)
    for keep, merged in merges:  # in the order they happened: a later merge may take in an earlier keeper
        conn.execute(update(A).where(A.c.incident_id.in_(merged)).values(incident_id=keep))
        conn.execute(AU.insert(), [{"incident_id": keep, "actor": "system", "action": "merged",
                                    "changes": {"merged": str(m)}, "at": now} for m in merged])
        conn.execute(delete(I).where(I.c.id.in_(merged)))
    return linked, [row["id"] for row in opened]


def refresh_incidents(conn: Connection, incident_ids: Sequence[uuid.UUID], now: datetime) -> set[uuid.UUID]:
    """Recompute incidents from their alerts (severity, chain, entities, status); returns those whose severity rose.

    Why all at once: a batch of real attack events touches several incidents, and one at a time this was four
    round trips each on the analyzer's persist thread, its bottleneck (``bench/pipeline.py --real --stages``);
    here it is three reads for all of them, one update and the status audits."""
    ids = sorted(set(incident_ids))
    if not ids:
        return set()
    before = {row.id: row for row in conn.execute(select(I.c.id, I.c.severity, I.c.status).where(I.c.id.in_(ids)))}
    if not before:
        return set()
    alerts_of: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for a in conn.execute(select(A.c.id, A.c.title, A.c.level, A.c.status, A.c.count, A.c.first_seen, A.c.last_seen,
                                 A.c.tactics, A.c.incident_id).where(A.c.incident_id.in_(sorted(before)))):
        alerts_of[a.incident_id].append(a)
    entities_of = _incident_entities(conn, sorted(alerts_of))
    updates, audits, risen = [], [], set()
    for incident_id, inc in sorted(before.items()):
        alerts = alerts_of.get(incident_id)
        if not alerts:
            conn.execute(delete(I).where(I.c.id == incident_id))
            continue
        observed = [(_utc(a.first_seen), a.tactics or []) for a in alerts]
        tactic_chain = chain(observed)
        severity = max_level(a.level for a in alerts)
        if advanced(observed):  # one alert's own tactics are one step, not an attack moving on
            severity = raise_level(severity)
        # the lead names the incident: the highest level, then the most hits, then the earliest, then the id (ties
        # went by the database's row order, which an update elsewhere in the table can change)
        lead = min(alerts, key=lambda a: (-RISK_ORDER[RiskLevel(a.level)], -a.count, _utc(a.first_seen), str(a.id)))
        title = lead.title if len(alerts) == 1 else f"{lead.title} (+{len(alerts) - 1} related alerts)"
        status = "closed" if all(a.status == "closed" for a in alerts) else "open"
        updates.append({
            "b_id": incident_id, "v_severity": severity, "v_tactics": tactic_chain,
            "v_entities": entities_of[incident_id], "v_alert_count": len(alerts),
            "v_hit_count": sum(a.count for a in alerts), "v_first_seen": min(_utc(a.first_seen) for a in alerts),
            "v_last_seen": max(_utc(a.last_seen) for a in alerts), "v_title": title[:256], "v_status": status,
            "v_updated_at": now})
        if status != inc.status:
            audits.append({"incident_id": incident_id, "actor": "system", "action": status,
                           "changes": {"status": [inc.status, status]}, "at": now})
        if RISK_ORDER[RiskLevel(severity)] > RISK_ORDER[RiskLevel(inc.severity)]:
            risen.add(incident_id)
    if updates:
        conn.execute(update(I).where(I.c.id == bindparam("b_id")).values(
            {key[2:]: bindparam(key, type_=I.c[key[2:]].type) for key in updates[0] if key != "b_id"}), updates)
    if audits:
        conn.execute(AU.insert(), audits)
    return risen


def _incident_entities(conn: Connection, incident_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[list[str]]]:
    """Per incident, the distinct (kind, value) of its alerts' entities, hosts, users and addresses first
    (``NAMED_KINDS_FIRST``), then by value; the first ``MAX_INCIDENT_ENTITIES`` of them: one query for all."""
    found: dict[uuid.UUID, list[list[str]]] = defaultdict(list)
    if not incident_ids:
        return found
    pairs = (select(A.c.incident_id, N.c.kind, N.c.value).distinct()
             .select_from(N.join(A, A.c.id == N.c.alert_id)).where(A.c.incident_id.in_(incident_ids)).subquery())
    kind_order = case({kind: i for i, kind in enumerate(NAMED_KINDS_FIRST)}, value=pairs.c.kind,
                      else_=len(NAMED_KINDS_FIRST))
    rank = func.row_number().over(partition_by=pairs.c.incident_id,
                                  order_by=(kind_order, pairs.c.kind, pairs.c.value))
    ranked = select(pairs.c.incident_id, pairs.c.kind, pairs.c.value, rank.label("rank")).subquery()
    for row in conn.execute(select(ranked.c.incident_id, ranked.c.kind, ranked.c.value)
                            .where(ranked.c.rank <= MAX_INCIDENT_ENTITIES)
                            .order_by(ranked.c.incident_id, ranked.c.rank)):
        found[row.incident_id].append([row.kind, row.value])
    return found


def set_story(conn: Connection, incident_id: uuid.UUID, story: dict[str, Any], source: str) -> None:
    set_stories(conn, {incident_id: story}, source)


def set_stories(conn: Connection, stories: Mapping[uuid.UUID, dict[str, Any]], source: str) -> None:
    """Each incident's story, in one statement (the alert stage's template stories of a batch)."""
    if stories:
        conn.execute(update(I).where(I.c.id == bindparam("b_id")).values(
            story=bindparam("v_story", type_=I.c.story.type), story_source=source),
            [{"b_id": incident_id, "v_story": story} for incident_id, story in sorted(stories.items())])


def count_suppressed(conn: Connection, counts: dict[int, int], when: datetime) -> None:
    """Add the hits each suppression stopped to its counter."""
    S = RuleSuppression.__table__
    if counts:
        conn.execute(update(S).where(S.c.id == bindparam("s_id")).values(
            hit_count=S.c.hit_count + bindparam("n"), last_hit_at=bindparam("at")),
            [{"s_id": sid, "n": n, "at": when} for sid, n in sorted(counts.items())])


def add_dead_letter(conn: Connection, target: str, kind: str, subject_id: str, payload: dict[str, Any],
                    attempts: int, error: str) -> None:
    conn.execute(DL.insert().values(target=target[:512], kind=kind, subject_id=subject_id, payload=payload,
                                    attempts=attempts, last_error=error[:2000], created_at=datetime.now(UTC)))


# ------------------------------------------------------------------------------------------------
# Triage (the API's writes)
# ------------------------------------------------------------------------------------------------

TRIAGE_FIELDS = ("status", "resolution", "assignee", "notes")


def triage(conn: Connection, alert_ids: Sequence[uuid.UUID], changes: dict[str, Any], actor: str,
           now: datetime | None = None) -> list[dict[str, Any]]:
    """Apply an analyst's change to alerts, audit it, and refresh their incidents; returns the alerts after."""
    now = now or datetime.now(UTC)
    _lock(conn)  # the analyzer's ``record`` recomputes the same incidents
    rows = conn.execute(select(A).where(A.c.id.in_(list(alert_ids)))).mappings().all()
    audits, incidents = [], set()
    for row in rows:
        diff = {k: [row[k], v] for k, v in changes.items() if k in TRIAGE_FIELDS and row[k] != v}
        if not diff:
            continue
        audits.append({"alert_id": row["id"], "incident_id": row["incident_id"], "actor": actor,
                       "action": "triage", "changes": diff, "at": now})
        if row["incident_id"] is not None:
            incidents.add(row["incident_id"])
    ids = [r["id"] for r in rows]
    if audits:
        conn.execute(update(A).where(A.c.id.in_([a["alert_id"] for a in audits]))
                     .values(**{k: v for k, v in changes.items() if k in TRIAGE_FIELDS}, updated_at=now))
        conn.execute(AU.insert(), audits)
        refresh_incidents(conn, sorted(incidents), now)
    return [dict(r) for r in conn.execute(select(A).where(A.c.id.in_(ids))).mappings()]


def _sample_hits(conn: Connection, alert_id: uuid.UUID, limit: int) -> list[Any]:
    return list(conn.execute(select(H.c.event_id, H.c.event_time).where(H.c.alert_id == alert_id)
                             .order_by(H.c.event_time, H.c.event_id).limit(limit)))


def sample_event_ids(conn: Connection, alert_id: uuid.UUID, limit: int = 10) -> list[uuid.UUID]:
    return [h.event_id for h in _sample_hits(conn, alert_id, limit)]


def hit_event_known(conn: Connection, event_id: uuid.UUID) -> bool:
    """Did an alert count this event? (Then a missing event row means retention removed it: "expired".)"""
    return conn.execute(select(H.c.event_id).where(H.c.event_id == event_id).limit(1)).first() is not None


def sample_events(conn: Connection, alert_id: uuid.UUID, limit: int = 10) -> list[dict[str, Any]]:
    """The alert's first events (id, time, ``event_title``); ``expired`` once retention dropped the event: the hit
    keeps its id, the title is gone with the row."""
    hits = _sample_hits(conn, alert_id, limit)
    stored = {ev["id"]: ev for ev in conn.execute(
        select(Event.id, Event.action, Event.source_ip, Event.source_user, Event.source_host, Event.destination_host,
               Event.payload).where(Event.id.in_([h.event_id for h in hits]))).mappings()} if hits else {}
    return [{"event_id": h.event_id, "event_time": _utc(h.event_time), "expired": h.event_id not in stored,
             "title": event_title(stored[h.event_id]) if h.event_id in stored else None} for h in hits]


def event_title(ev: Mapping[str, Any]) -> str:
    """One line for a stored event (an alert's samples, an incident's timeline): its action, where it was logged (the
    dataset and event code of a Windows event), its host, and the command line or else the first line of the message.

    Why not the message alone: a real Windows message begins with boilerplate ("Process Create:", "RuleName: -"), and
    an analyst triaging a process rule wants the command line that fired it. Why the event code: one process start
    is logged twice on a real host (Sysmon 1 and Security 4688), and two otherwise equal lines look like a duplicate."""
    payload = ev["payload"] if isinstance(ev["payload"], dict) else {}
    process = payload.get("process")
    message = payload.get("message")
    detail = process.get("command_line") if isinstance(process, dict) else None
    if not (isinstance(detail, str) and detail.strip()):
        detail = _event_object(payload)
    if not detail and isinstance(message, str):
        detail = next((line.strip() for line in message[:4096].splitlines() if line.strip()), "")  # a script block: KBs
    where = ev["destination_host"] or ev["source_host"] or ev["source_ip"] or ev["source_user"]
    parts = [ev["action"] or "event", _logged_as(payload), where, detail.strip() if isinstance(detail, str) else ""]
    line = " · ".join(p for p in parts if p)
    return line if len(line) <= TITLE_LENGTH else line[:TITLE_LENGTH - 1] + "…"  # cut: said, not hidden


TITLE_LENGTH = 200  # an event's line in an alert's samples and an incident's timeline

_EVENT_OBJECTS: tuple[tuple[tuple[tuple[str, ...], ...], str, int], ...] = (
    # (paths of the parts, joiner, the part that must be there): the first group an event has is its object
    ((("unmapped", "SourceImage"), ("unmapped", "TargetImage")), " → ", 1),  # process access, remote thread
    ((("unmapped", "TargetObject"), ("unmapped", "Details")), " = ", 0),  # registry: key = value
    ((("file", "path"),), "", 0),  # file created or deleted, image loaded
    ((("unmapped", "TargetFilename"),), "", 0),  # Sysmon 27-29 stored before the normaliser gave them file.path
    ((("dns", "query"),), "", 0),
    ((("unmapped", "PipeName"),), "", 0),
    ((("unmapped", "ObjectName"),), "", 0),  # Security 4663 and kin: the object accessed
    ((("unmapped", "ShareName"), ("unmapped", "RelativeTargetName")), "\\", 0),
    ((("unmapped", "DestinationIp"), ("unmapped", "DestinationPort")), ":", 0),
)


def _event_object(payload: Mapping[str, Any]) -> str:
    """What a non-process event acted on (a registry key and value, a file, a query, the process accessed), where it
    has one: a real Sysmon message's first line is only its kind ("Registry value set:", "Process accessed:"); a
    directory object's access by who, which rights, on which class (``windows_ad.directory_access``)."""
    unmapped = payload.get("unmapped")
    if isinstance(unmapped, dict):
        found = directory_access(unmapped)
        if found:
            return found[:200]
    for paths, joiner, main in _EVENT_OBJECTS:
        parts = [_text_at(payload, path) for path in paths]
        if parts[main]:
            return joiner.join(part for part in parts if part)
    return ""


def _text_at(payload: Mapping[str, Any], path: tuple[str, ...]) -> str:
    """The string or number at ``path``, stripped and cut to 200 characters ("" when absent or of another type)."""
    node: Any = payload
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, bool) or not isinstance(node, str | int):
        return ""
    return str(node).strip()[:200]


def _logged_as(payload: Mapping[str, Any]) -> str:
    """``windows.sysmon 1``: the dataset and the source's event code, when the event has a plain one."""
    code = _text_at(payload, ("unmapped", "EventID"))
    dataset = payload.get("dataset")
    if not code.isdigit() or len(code) > 6:
        return ""
    return f"{dataset} {code}" if isinstance(dataset, str) and dataset else f"event {code}"


# ------------------------------------------------------------------------------------------------
# Reads (the API's pages)
# ------------------------------------------------------------------------------------------------

ALERT_PAGE_FIELDS = ("id", "detection", "title", "level", "threat_type", "status", "resolution", "assignee",
                     "entity_kind", "entity_value", "count", "first_seen", "last_seen", "tactics", "incident_id")


PAGE_ORDER = "last_seen DESC, id DESC"  # the queue's keyset order (index ix_alerts_*_last_seen, backward)


@dataclass(frozen=True)
class AlertFilters:
    statuses: Sequence[str] = ()
    levels: Sequence[str] = ()
    detection: str | None = None
    entity: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    incident_id: uuid.UUID | None = None
    assignee: str | None = None
    search: str | None = None  # words of the rule's title or id, any case (``like_pattern``)


def like_pattern(words: str) -> str:
    """A ``LIKE ... ESCAPE '\\'`` pattern for text holding ``words`` (lower-cased): ``%`` and ``_`` are literal.

    Why: with a SigmaHQ pack the rule ids are UUIDs (``sigma:6419afd1-...``); an analyst filters by what the queue
    shows, a piece of the title ("certutil", "Mimikatz")."""
    escaped = words.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def alert_page_sql(f: AlertFilters, limit: int, cursor: str | None = None) -> tuple[str, dict[str, Any]]:
    """One keyset page of alerts, newest activity first, as psycopg SQL (``%(name)s`` parameters).

    Several statuses become one ordered index scan each (UNION ALL, each with its own LIMIT), so the open
    queue never walks the closed alerts; the other filters are tested in the index leaf.
    """
    params: dict[str, Any] = {"lim": limit + 1}
    conds = []
    if f.levels:
        params["levels"] = list(f.levels)
        conds.append("level = ANY(%(levels)s)")
    for name, column in (("detection", "detection"), ("entity", "entity_value"), ("assignee", "assignee"),
                         ("incident_id", "incident_id")):
        if getattr(f, name) is not None:
            params[name] = getattr(f, name)
            conds.append(f"{column} = %({name})s")
    if f.search is not None:
        params["search"] = like_pattern(f.search)
        conds.append("(lower(title) LIKE %(search)s ESCAPE '\\' OR lower(detection) LIKE %(search)s ESCAPE '\\')")
    if f.since is not None:
        params["since"] = f.since
        conds.append("last_seen >= %(since)s")
    if f.until is not None:
        params["until"] = f.until
        conds.append("last_seen < %(until)s")
    if cursor is not None:
        params["c_ts"], params["c_id"] = decode_cursor(cursor)
        conds.append("(last_seen, id) < (%(c_ts)s, %(c_id)s)")
    cols = ", ".join(ALERT_PAGE_FIELDS)
    statuses = list(dict.fromkeys(f.statuses))[:MAX_BRANCHES]
    if not statuses:
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        return f"SELECT {cols} FROM alerts {where} ORDER BY {PAGE_ORDER} LIMIT %(lim)s", params
    branches = []
    for i, status in enumerate(statuses):
        params[f"st{i}"] = status
        where = " AND ".join([f"status = %(st{i})s", *conds])
        branches.append(f"SELECT {cols} FROM alerts WHERE {where} ORDER BY {PAGE_ORDER} LIMIT %(lim)s")
    if len(branches) == 1:
        return branches[0], params
    # each branch as a derived table: SQLite (secustream up) refuses ORDER BY/LIMIT on a bare UNION member
    branches = [f"SELECT * FROM ({b}) AS s{i}" for i, b in enumerate(branches)]
    return (f"SELECT * FROM ({' UNION ALL '.join(branches)}) AS b ORDER BY {PAGE_ORDER} LIMIT %(lim)s",
            params)


_PYFORMAT = re.compile(r"%\((\w+)\)s")


def alert_page_rows(conn: Connection, f: AlertFilters, limit: int, cursor: str | None = None) -> list[tuple[Any, ...]]:
    """The same page through SQLAlchemy (any database; SQLite under `secustream up`)."""
    sql, params = alert_page_sql(f, limit, cursor)
    expanding = {k for k, v in params.items() if isinstance(v, list)}
    sql = re.sub(r"(\w+) = ANY\(%\((\w+)\)s\)", r"\1 IN :\2", sql)
    stmt = text(_PYFORMAT.sub(r":\1", sql)).bindparams(
        *(bindparam(k, expanding=True) for k in expanding),
        *(bindparam(k, type_=DateTime(timezone=True)) for k in ("since", "until", "c_ts") if k in params),
        *(bindparam(k, type_=column.type) for k, column in (("c_id", A.c.id), ("incident_id", A.c.incident_id))
          if k in params))
    stmt = stmt.columns(first_seen=DateTime(timezone=True), last_seen=DateTime(timezone=True),
                        tactics=A.c.tactics.type, incident_id=A.c.incident_id.type, id=A.c.id.type)
    rows = [tuple(r) for r in conn.execute(stmt, params)]
    if conn.dialect.name == "sqlite":  # naive there; PostgreSQL's are aware, as alert_page expects
        seen = (ALERT_PAGE_FIELDS.index("first_seen"), ALERT_PAGE_FIELDS.index("last_seen"))
        rows = [tuple(_utc(v) if i in seen else v for i, v in enumerate(r)) for r in rows]
    return rows


def alert_page(rows: Sequence[tuple[Any, ...]], limit: int) -> dict[str, Any]:
    """An ``AlertPage`` document from page rows with aware times (``limit`` + 1 rows: a next page exists)."""
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = dict(zip(ALERT_PAGE_FIELDS, rows[-1], strict=True))
        next_cursor = encode_cursor(last["last_seen"], uuid.UUID(str(last["id"])))
    return {"items": [dict(zip(ALERT_PAGE_FIELDS, r, strict=True)) for r in rows], "next_cursor": next_cursor}


def get_alert(conn: Connection, alert_id: uuid.UUID) -> dict[str, Any] | None:
    row = conn.execute(select(A).where(A.c.id == alert_id)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["sample_events"] = sample_events(conn, alert_id)
    out["sample_event_ids"] = [e["event_id"] for e in out["sample_events"]]
    out["audit"] = audit_trail(conn, alert_id=alert_id)
    return out


def audit_trail(conn: Connection, *, alert_id: uuid.UUID | None = None,
                incident_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    cond = AU.c.alert_id == alert_id if alert_id is not None else AU.c.incident_id == incident_id
    return [dict(r) for r in conn.execute(select(AU.c.alert_id, AU.c.actor, AU.c.action, AU.c.changes, AU.c.at)
                                          .where(cond).order_by(AU.c.at, AU.c.id).limit(500)).mappings()]


INCIDENT_FIELDS = ("id", "status", "severity", "title", "tactics", "entities", "alert_count", "hit_count",
                   "first_seen", "last_seen", "story_source")


def list_incidents(conn: Connection, statuses: Sequence[str], limit: int, cursor: str | None,
                   entity: tuple[str, str] | None = None) -> dict[str, Any]:
    cols = [I.c[name] for name in INCIDENT_FIELDS]
    stmt = select(*cols).order_by(I.c.last_seen.desc(), I.c.id.desc()).limit(limit + 1)
    if statuses:
        stmt = stmt.where(I.c.status.in_(list(statuses)))
    if entity is not None:
        stmt = stmt.where(I.c.id.in_(select(A.c.incident_id).join(N, N.c.alert_id == A.c.id)
                                     .where(N.c.kind == entity[0], N.c.value == entity[1])))
    if cursor is not None:
        ts, key = decode_cursor(cursor)
        stmt = stmt.where(tuple_(I.c.last_seen, I.c.id) < tuple_(bindparam("c_ts", ts, DateTime(timezone=True)),
                                                                  bindparam("c_id", key, I.c.id.type)))
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["last_seen"], rows[-1]["id"])
    return {"items": rows, "next_cursor": next_cursor}


def get_incident(conn: Connection, incident_id: uuid.UUID, samples: int = 3) -> dict[str, Any] | None:
    """An incident with its alerts, a timeline (alerts and their first events) and its story."""
    row = conn.execute(select(I).where(I.c.id == incident_id)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    alerts = [dict(r) for r in conn.execute(
        select(*[A.c[n] for n in ALERT_PAGE_FIELDS]).where(A.c.incident_id == incident_id)
        .order_by(A.c.first_seen, A.c.id)).mappings()]
    timeline: list[dict[str, Any]] = []
    for alert in alerts:
        timeline.append({"at": alert["first_seen"], "kind": "alert", "alert_id": alert["id"],
                         "title": alert["title"], "level": alert["level"], "count": alert["count"],
                         "tactics": alert["tactics"]})
        for sample in sample_events(conn, alert["id"], samples):
            expired = {"expired": True} if sample["expired"] else {}
            timeline.append({"at": sample["event_time"], "kind": "event", "alert_id": alert["id"],
                             "event_id": sample["event_id"],
                             "title": sample["title"] or "event expired (removed by retention)",
                             "level": alert["level"], "count": 1, "tactics": [], **expired})
    timeline.sort(key=lambda t: (_utc(t["at"]), t["kind"] != "alert"))
    out["alerts"] = alerts
    out["timeline"] = timeline
    out["audit"] = audit_trail(conn, incident_id=incident_id)
    return out


def incident_alerts_for_story(conn: Connection, incident_id: uuid.UUID) -> dict[str, Any] | None:
    """What a story is written from: the incident and its alerts (no events: the story must stay small)."""
    return incidents_for_stories(conn, [incident_id]).get(incident_id)


def incidents_for_stories(conn: Connection, incident_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """``incident_alerts_for_story`` for many incidents in two queries (the alert stage's template stories)."""
    ids = sorted(set(incident_ids))
    if not ids:
        return {}
    rows = conn.execute(select(I).where(I.c.id.in_(ids))).mappings()
    found = {row["id"]: {**dict(row), "alerts": []} for row in rows}
    if found:
        for alert in conn.execute(select(*[A.c[n] for n in ALERT_PAGE_FIELDS])
                                  .where(A.c.incident_id.in_(sorted(found)))
                                  .order_by(A.c.incident_id, A.c.first_seen)).mappings():
            found[alert["incident_id"]]["alerts"].append(dict(alert))
    return found


def entity_view(conn: Connection, kind: str, value: str, limit: int = 50) -> dict[str, Any]:
    """An entity's alerts and incidents (newest first); recent events come from the events list."""
    alert_ids = select(N.c.alert_id).where(N.c.kind == kind, N.c.value == value)
    alerts = [dict(r) for r in conn.execute(select(*[A.c[n] for n in ALERT_PAGE_FIELDS])
                                            .where(A.c.id.in_(alert_ids))
                                            .order_by(A.c.last_seen.desc(), A.c.id.desc()).limit(limit)).mappings()]
    incidents = list_incidents(conn, (), limit, None, (kind, value))["items"]
    return {"kind": kind, "value": value, "alerts": alerts, "incidents": incidents}


def attack_heat(conn: Connection, since: datetime | None = None) -> dict[str, Any]:
    """Alerts and hits by tactic and technique (the ATT&CK matrix view)."""
    stmt = select(A.c.tactics, A.c.mitre_ids, A.c.count)
    if since is not None:
        stmt = stmt.where(A.c.last_seen >= since)
    tactics: dict[str, dict[str, int]] = defaultdict(lambda: {"alerts": 0, "hits": 0})
    techniques: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"alerts": 0, "hits": 0})
    for tac, mitre, count in conn.execute(stmt):
        for t in tac or []:
            tactics[t]["alerts"] += 1
            tactics[t]["hits"] += count
        for m in mitre or []:
            cell = techniques[(tactic_of(m) or "unmapped", m)]
            cell["alerts"] += 1
            cell["hits"] += count
    return {"tactics": [{"tactic": t, **v} for t, v in tactics.items()],
            "techniques": [{"tactic": t, "technique": m, **v} for (t, m), v in sorted(techniques.items())]}


def list_dead_letters(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(select(DL).order_by(DL.c.id.desc()).limit(limit)).mappings()]


def suppressed_counts(conn: Connection) -> list[dict[str, Any]]:
    S = RuleSuppression.__table__
    return [dict(r) for r in conn.execute(
        select(S.c.id, S.c.rule_id, S.c.field, S.c.value, S.c.active, S.c.hit_count, S.c.last_hit_at)
        .order_by(S.c.hit_count.desc(), S.c.id)).mappings()]


def count_rows(conn: Connection) -> dict[str, int]:
    """Totals for tests and the dashboard's header."""
    return {"alerts": int(conn.scalar(select(func.count()).select_from(A)) or 0),
            "incidents": int(conn.scalar(select(func.count()).select_from(I)) or 0),
            "hits": int(conn.scalar(select(func.coalesce(func.sum(A.c.count), 0))) or 0)}


def alerts_by_id(conn: Connection, ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(select(A).where(A.c.id.in_(list(ids)))).mappings()]
