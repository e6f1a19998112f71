"""When an incident's tactic chain counts as an attack moving on (``attack.advanced``): one detection's tactic
followed by a later kill-chain tactic of another detection, never one detection's own list of tactics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from secustream.attack import advanced

T = datetime(2026, 3, 3, 8, tzinfo=UTC)


def test_one_alert_naming_two_tactics_is_one_step() -> None:
    assert not advanced([(T, ["persistence", "execution"])])  # a Run key that starts PowerShell
    assert not advanced([(T, ["credential-access", "lateral-movement"])])
    assert not advanced([])


def test_two_alerts_advance_when_the_later_one_is_further_along() -> None:
    brute, fanout = (T, ["credential-access"]), (T + timedelta(minutes=5), ["lateral-movement"])
    assert advanced([brute, fanout]) and advanced([fanout, brute])  # order of the list is not the order of time
    assert not advanced([(T, ["lateral-movement"]), (T + timedelta(minutes=5), ["credential-access"])])
    assert not advanced([(T, ["credential-access"]), (T, ["lateral-movement"])])  # one moment (rules on one event)
    assert not advanced([(T, ["execution"]), (T + timedelta(minutes=1), ["execution"])])  # the same step again
    assert not advanced([(T, []), (T + timedelta(minutes=1), ["impact"])])  # no mapped tactic is no step
    assert advanced([(T, ["execution", "persistence"]), (T + timedelta(minutes=1), ["discovery", "execution"])])


def test_many_alerts_stay_cheap() -> None:
    same = [(T + timedelta(seconds=i), ["execution"]) for i in range(5000)]
    assert not advanced(same)
    assert advanced([*same, (T + timedelta(hours=2), ["exfiltration"])])
