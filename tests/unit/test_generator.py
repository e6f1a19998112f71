"""The generator: reproducible, correctly labelled, campaign-shaped, cheap."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from secustream.events import EventType, ThreatClass, encode_event, grouping_key
from secustream.generator import EventGenerator, GeneratedEvent

START = datetime(2026, 1, 1, tzinfo=UTC)
CAMPAIGN_CLASSES = set(ThreatClass) - {ThreatClass.BENIGN, ThreatClass.OTHER_THREAT}


def _by_campaign(batch: list[GeneratedEvent], unfinished: frozenset[str]) -> dict[str, list[GeneratedEvent]]:
    out: dict[str, list[GeneratedEvent]] = defaultdict(list)
    for g in batch:
        if g.campaign_id and g.campaign_id not in unfinished:
            out[g.campaign_id].append(g)
    return out


def test_same_seed_and_start_give_identical_streams() -> None:
    a = EventGenerator(seed=42, attack_ratio=0.1, start=START).next_batch(3000)
    b = EventGenerator(seed=42, attack_ratio=0.1, start=START).next_batch(3000)
    assert [encode_event(g.event) for g in a] == [encode_event(g.event) for g in b]
    assert [(g.label, g.campaign_id) for g in a] == [(g.label, g.campaign_id) for g in b]
    c = EventGenerator(seed=43, attack_ratio=0.1, start=START).next_batch(3000)
    assert [g.event.event_id for g in a] != [g.event.event_id for g in c]


def test_batches_continue_one_stream() -> None:
    whole = EventGenerator(seed=3, attack_ratio=0.1, start=START).next_batch(1000)
    gen = EventGenerator(seed=3, attack_ratio=0.1, start=START)
    parts = gen.next_batch(400) + gen.next_batch(600)
    assert [g.event for g in whole] == [g.event for g in parts]


def test_event_time_advances_one_over_rate_per_event() -> None:
    gen = EventGenerator(seed=1, attack_ratio=0.1, start=START, rate=200)
    batch = gen.next_batch(1000)
    for i in (0, 1, 500, 999):
        assert abs((batch[i].event.timestamp - START).total_seconds() - i / 200) < 1e-5
    assert gen.clock == START + timedelta(seconds=5)


def test_live_now_moves_the_clock_forward_but_never_back() -> None:
    gen = EventGenerator(seed=1, attack_ratio=0.0, start=START, rate=10)
    later = START + timedelta(hours=1)
    batch = gen.next_batch(5, now=later)
    assert batch[0].event.timestamp == later
    assert batch[-1].event.timestamp == later + timedelta(seconds=0.4)
    again = gen.next_batch(1, now=later)  # "now" in the past of the clock: keep going forward
    assert again[0].event.timestamp == later + timedelta(seconds=0.5)


def test_zero_attack_ratio_is_benign_only() -> None:
    batch = EventGenerator(seed=9, attack_ratio=0.0, start=START).next_batch(5000)
    assert {g.label for g in batch} == {ThreatClass.BENIGN}
    assert all(g.campaign_id is None for g in batch)
    # and it is varied background traffic, not one kind of event
    assert {g.event.event_type for g in batch} >= {
        EventType.AUTH, EventType.NETWORK, EventType.PROCESS, EventType.FILE, EventType.DNS, EventType.HTTP
    }
    failed_ssh = [g for g in batch if g.event.action == "ssh_login" and g.event.outcome == "failure"]
    assert len(failed_ssh) >= 20, "benign noise includes occasional failed logins"
    per_source: dict[str | None, int] = defaultdict(int)
    for g in failed_ssh:
        per_source[g.event.source.ip] += 1
    assert max(per_source.values()) <= 3, "benign failures come from many different sources"


@pytest.mark.parametrize("ratio", [0.02, 0.1, 0.3])
def test_attack_ratio_is_approximately_respected(ratio: float) -> None:
    batch = EventGenerator(seed=5, attack_ratio=ratio, start=START).next_batch(6000)
    share = sum(g.label != ThreatClass.BENIGN for g in batch) / len(batch)
    assert ratio * 0.8 <= share <= ratio * 1.2 + 0.005


def test_every_campaign_class_appears_and_labels_are_consistent() -> None:
    gen = EventGenerator(seed=11, attack_ratio=0.1, start=START)
    batch = gen.next_batch(6000)
    campaigns = _by_campaign(batch, gen.active_campaign_ids)
    assert {events[0].label for events in campaigns.values()} == CAMPAIGN_CLASSES
    for cid, events in campaigns.items():
        assert len({g.label for g in events}) == 1, cid
        assert events[0].label.value in cid
        assert len(events) >= 3, f"{cid} should be a multi-event sequence"


def test_campaigns_are_one_attacker_interleaved_with_benign() -> None:
    gen = EventGenerator(seed=21, attack_ratio=0.1, start=START)
    batch = gen.next_batch(6000)
    index = {g.event.event_id: i for i, g in enumerate(batch)}
    for cid, events in _by_campaign(batch, gen.active_campaign_ids).items():
        assert len({g.event.source.ip for g in events}) == 1, f"{cid}: one attacker entity"
        positions = [index[g.event.event_id] for g in events]
        span = positions[-1] - positions[0] + 1
        assert span > len(events), f"{cid}: interleaved with other traffic"


def test_campaign_shapes_match_what_the_rules_look_for() -> None:
    gen = EventGenerator(seed=4, attack_ratio=0.1, start=START)
    batch = gen.next_batch(12000)
    seen: set[ThreatClass] = set()
    for cid, events in _by_campaign(batch, gen.active_campaign_ids).items():
        label = events[0].label
        seen.add(label)
        evs = [g.event for g in events]
        if label == ThreatClass.BRUTE_FORCE:
            fails = [e for e in evs if e.action == "ssh_login" and e.outcome == "failure"]
            assert len(fails) >= 12, cid
            assert (fails[9].timestamp - fails[0].timestamp).total_seconds() < 60, cid
        elif label == ThreatClass.PORT_SCAN:
            assert len({e.destination.port for e in evs}) >= 20, cid
            assert len({e.destination.ip for e in evs}) == 1, cid
        elif label == ThreatClass.DATA_EXFILTRATION:
            big = [e for e in evs if e.network and (e.network.bytes_out or 0) >= 50_000_000]
            tunnel = [e for e in evs if e.dns and e.dns.query and len(e.dns.query.split(".")[0]) >= 30]
            assert big or len(tunnel) >= 20, cid
        elif label == ThreatClass.MALICIOUS_PROCESS:
            cmds = " ".join(e.process.command_line or "" for e in evs if e.process).lower()
            markers = ("-enc", "-e ", "-ec ", "urlcache", "| sh", "| bash", "mshta", "regsvr32")
            assert any(s in cmds for s in markers), cid
        elif label == ThreatClass.PRIVILEGE_ESCALATION:
            assert any(e.action == "sudo" or e.action == "group_member_added" or "chmod" in str(e.process)
                       or "usermod" in str(e.process) for e in evs), cid
        elif label == ThreatClass.LATERAL_MOVEMENT:
            assert len({e.destination.ip for e in evs if e.destination.ip}) >= 5, cid
    assert seen == CAMPAIGN_CLASSES


def test_ground_truth_stays_out_of_the_payload_and_key_is_the_entity() -> None:
    gen = EventGenerator(seed=2, attack_ratio=0.2, start=START)
    batch = gen.next_batch(3000)
    for g in batch:
        payload = encode_event(g.event).decode()
        assert g.label.value not in payload or g.label == ThreatClass.BENIGN
        if g.campaign_id:
            assert g.campaign_id not in payload
        assert g.key() == grouping_key(g.event)
    brute = next(g for g in batch if g.label == ThreatClass.BRUTE_FORCE)
    assert brute.key() == brute.event.source.ip


def test_restricting_campaign_classes() -> None:
    batch = EventGenerator(seed=8, attack_ratio=0.2, start=START,
                           campaigns=[ThreatClass.PORT_SCAN]).next_batch(2000)
    assert {g.label for g in batch} == {ThreatClass.BENIGN, ThreatClass.PORT_SCAN}


@pytest.mark.parametrize("kwargs", [{"attack_ratio": -0.1}, {"attack_ratio": 1.5}, {"rate": 0},
                                    {"campaigns": [ThreatClass.BENIGN]}])
def test_bad_arguments_are_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        EventGenerator(seed=1, **kwargs)  # type: ignore[arg-type]


def test_throughput_at_least_5000_events_per_second() -> None:
    gen = EventGenerator(seed=1, attack_ratio=0.1, start=START)
    gen.next_batch(500)  # warm up
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        gen.next_batch(5000)
        best = max(best, 5000 / (time.perf_counter() - t0))
    assert best >= 5000, f"{best:.0f} events/s"
