"""Which entity an alert is keyed on (``alerts.hits.grouping_entity``): an account that names everybody (SYSTEM,
LOCAL SERVICE, ANONYMOUS LOGON …) never keys an alert while the event names a host, so one rule's hits on two hosts
are two alerts. Over the whole OTRF corpus 45 of 644 alerts were keyed "user system" before."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from secustream.alerts.hits import grouping_entity
from secustream.events import SecurityEvent

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)


def _event(**fields: Any) -> SecurityEvent:
    return SecurityEvent.model_validate({"timestamp": NOW, "event_type": "process", **fields})


def test_a_well_known_account_gives_way_to_the_host() -> None:
    on_a = _event(source={"host": "WS-A.corp.example", "user": "SYSTEM", "domain": "NT AUTHORITY"})
    on_b = _event(source={"host": "WS-B.corp.example", "user": "SYSTEM", "domain": "NT AUTHORITY"})
    assert grouping_entity(on_a, None, ()) == ("host", "ws-a.corp.example")
    assert grouping_entity(on_b, None, ()) == ("host", "ws-b.corp.example")
    zerologon = _event(event_type="auth", action="computer_account_changed",
                       source={"host": "MORDORDC.theshire.local", "user": "ANONYMOUS LOGON"},
                       destination={"host": "MORDORDC.theshire.local", "user": "MORDORDC$"})
    assert grouping_entity(zerologon, None, ()) == ("host", "mordordc.theshire.local")
    for account in ("LOCAL SERVICE", "NETWORK SERVICE", "root", "www-data"):
        assert grouping_entity(_event(source={"host": "srv-1", "user": account}), None, ())[0] == "host"


def test_a_person_an_address_or_the_rules_own_field_still_key_the_alert() -> None:
    assert grouping_entity(_event(source={"host": "WS-A", "user": "pgustavo"}), None, ()) == ("user", "pgustavo")
    assert grouping_entity(_event(source={"ip": "10.0.0.5", "user": "SYSTEM"}), None, ()) == ("ip", "10.0.0.5")
    assert grouping_entity(_event(source={"user": "SYSTEM"}), None, ()) == ("user", "system")  # nothing else named
    event = _event(source={"host": "WS-A", "user": "SYSTEM"})
    assert grouping_entity(event, event.model_dump(mode="json"), ("source.user",)) == ("user", "system")
