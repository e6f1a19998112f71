"""The Windows normaliser's unvalidated build (issue 13) makes exactly the event pydantic would.

``normalize_windows`` builds the event with ``trusted_builder`` when its own checks vouch for every
value, and has pydantic validate it otherwise. Here the same lines go through both ways (the
trusted build switched off by patching ``_built`` to decline) and must give the same instance: same
repr (types: enum members, UUID, aware UTC datetime), same JSON, same ``model_fields_set`` at every
level, and a JSON round trip that gives the event back (no invalid state slipped in). Real lines:
OTRF recordings and SigmaHQ's regression events; hostile ones: over-long fields, odd addresses,
huge numbers, NUL, nulls, odd stamps, which must give the same event or the same reason.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from itertools import islice

import pytest

from secustream.events import Endpoint, EventType, ProcessInfo, SecurityEvent, trusted_builder
from secustream.normalizers import NormalizationError, normalize_windows
from secustream.normalizers import windows as windows_module
from secustream.normalizers.base import EVENT_ID_NAMESPACE, line_event_id
from tests.corpora import OTRF, otrf_lines, otrf_recordings, regression_cases, require

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def _otrf_sample(per_recording: int = 4, stride: int = 97) -> list[str]:
    require(OTRF)
    lines: list[str] = []
    for recording in otrf_recordings():
        lines.extend(islice((line for i, line in enumerate(otrf_lines(recording)) if i % stride == 0), per_recording))
    return lines


def _outcome(normalise: Callable[[str], SecurityEvent], line: str) -> tuple[str, ...]:
    try:
        event = normalise(line)
    except NormalizationError as exc:
        return ("refused", exc.reason)
    return ("event", repr(event), event.model_dump_json(), *_fields_sets(event))


def _fields_sets(event: SecurityEvent) -> Iterator[str]:
    yield repr(sorted(event.model_fields_set))
    for name in ("source", "destination", "process", "file", "network", "dns"):
        part = getattr(event, name)
        if part is not None:
            yield f"{name}: {sorted(part.model_fields_set)}"


@pytest.fixture
def validated(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], SecurityEvent]:
    """``normalize_windows`` with the trusted build declined: every event goes through pydantic."""

    def normalise(line: str) -> SecurityEvent:
        with monkeypatch.context() as patch:
            patch.setattr(windows_module, "_built", lambda values: None)
            return normalize_windows(line)

    return normalise


def _assert_same(lines: list[str], validated: Callable[[str], SecurityEvent]) -> int:
    built = 0
    for line in lines:
        fast, slow = _outcome(normalize_windows, line), _outcome(validated, line)
        assert fast == slow, line[:300]
        if fast[0] == "event":
            built += 1
            event = normalize_windows(line)
            again = SecurityEvent.model_validate_json(event.model_dump_json())
            assert again == event or "NaN" in line  # NaN != NaN; it goes out as null
            assert again.model_dump_json() == event.model_dump_json()
            assert type(event.event_type) is EventType and event.timestamp.utcoffset() is not None
    return built


def test_otrf_lines_build_the_validated_event(validated: Callable[[str], SecurityEvent]) -> None:
    lines = _otrf_sample()
    assert len(lines) >= 300
    assert _assert_same(lines, validated) == len(lines)


def test_regression_events_build_the_validated_event(validated: Callable[[str], SecurityEvent]) -> None:
    lines = [line for case in regression_cases() for line in case.events]
    assert len(lines) >= 200
    assert _assert_same(lines, validated) >= 200


def _hostile() -> Iterator[str]:
    protos = [
        {"EventID": 4624, "Channel": "Security", "Computer": "FS01"},
        {"EventID": 4688, "Channel": "Security"},
        {"EventID": 4728, "Channel": "Security", "MemberName": "CN=bob,OU=x"},
        {"EventID": 3, "Channel": SYSMON},
        {"EventID": 22, "Channel": SYSMON, "QueryResults": "::ffff:1.2.3.4;type: 5 x;10.0.0.1"},
        {"EventID": 7045, "Channel": "System"},
        {"EventID": 5156, "Channel": "Security", "Direction": "%%14592", "SourcePort": "53", "DestPort": "49713"},
        {"EventID": 5145, "Channel": "Security", "AccessList": "%%1538\r\n\t\t\t\t%%4417"},
        {"EventID": 9, "Channel": SYSMON, "Device": "\\Device\\HarddiskVolume2"},  # raw read: Device is the file
        {"EventID": 28, "Channel": SYSMON, "TargetFilename": "C:\\x.log"},  # blocked: outcome failure
        {"EventID": 20, "Channel": SYSMON, "User": "NT AUTHORITY\\SYSTEM"},  # no process, the account acts
        {"EventID": 4742, "Channel": "Security", "SubjectUserSid": "S-1-5-7", "PasswordLastSet": "-"},  # accounts
        {"EventID": 4702, "Channel": "Security", "TaskName": "\\Microsoft\\Windows\\x"},  # scheduled tasks
        {"EventID": 10, "Channel": SYSMON, "TargetImage": "C:\\Windows\\lsass.exe", "GrantedAccess": "0x1010"},
    ]
    values: list[object] = [
        "x" * 257, "x" * 9000, "\x00", "a\x00b", "-", "", None, 10**30, "1" * 200, "0x1f", [1, {"a": None}],
        "fe80::1%" + "e" * 60, "fe80::1%eth0", "::ffff:10.0.0.5", "[::1]", "999.1.1.1", 1.5, True,
    ]
    keys = ["Computer", "IpAddress", "IpPort", "TargetUserName", "TargetDomainName", "WorkstationName",
            "SubjectUserName", "ProcessName", "ProcessId", "NewProcessName", "Image", "ParentImage", "User",
            "SourceIp", "DestinationIp", "DestinationPort", "DestinationHostname", "QueryName", "ServiceName",
            "EventID", "Channel", "Message", "Source Name", "Device", "TargetFilename", "Hashes",
            "SourceAddress", "DestAddress", "SourcePort", "DestPort", "Direction", "Protocol", "Initiated",
            "AccessList", "SubjectUserSid", "SubjectDomainName", "PasswordLastSet", "TaskName", "TaskContentNew",
            "SourceImage", "TargetImage", "GrantedAccess", "SourceUser", "TargetUser", "Properties"]
    for proto in protos:
        for key in keys:
            for value in values:
                yield json.dumps({**proto, "TimeCreated": "2026-03-02T10:00:00.1234567Z", key: value})
    for stamp in ("2026-03-02 10:00:00", "2026-03-02T10:00:00.5+05:00", "0001-01-01T00:00:00+05:00",
                  "9999-12-31T23:59:59-05:00", "yesterday", 1_700_000_000_000, "2026-03-02T24:00:00"):
        yield json.dumps({"EventID": 4624, "Channel": "Security", "TimeCreated": stamp})
    yield '{"EventID": 4624, "Channel": "Security", "TimeCreated": "2026-03-02T10:00:00Z", "IpAddress": NaN}'
    yield '{"EventID": 4624, "Channel": "Security", "TimeCreated": "2026-03-02T10:00:00Z", "TargetUserName": "\\ud800"}'
    yield '{"EventID": 4624, "Channel": "Security", "TimeCreated": "2026-03-02T10:00:00Z", "EventData": {"a": null}}'


def test_hostile_lines_give_the_same_event_or_reason(validated: Callable[[str], SecurityEvent]) -> None:
    lines = list(_hostile())
    built = _assert_same(lines, validated)
    assert 0 < built < len(lines)  # some are refused, by the schema's own reason on both ways


def test_flat_nulls_are_absent_but_the_mapper_sees_what_it_saw() -> None:
    base = {"EventID": 4688, "Channel": "Security", "TimeCreated": "2026-03-02T10:00:00Z",
            "NewProcessName": "C:\\a\\b.exe", "Image": None, "Note": None}
    event = normalize_windows(json.dumps(base))
    assert "Note" not in event.unmapped and event.unmapped["Image"] == "C:\\a\\b.exe"
    nested = normalize_windows(json.dumps({**base, "EventData": {"Note": None, "Extra": "y"}}))
    assert "Note" not in nested.unmapped and nested.unmapped["Extra"] == "y"
    spaced = normalize_windows(json.dumps({"EventID": 1, "Channel": SYSMON, "Utc Time": "2020-01-01 00:00:00",
                                           "TimeCreated": "2026-03-02T10:00:00Z", "Source Name": "x"}))
    assert spaced.unmapped["SourceName"] == "x" and spaced.timestamp.year == 2026


def test_line_event_id_is_uuid5() -> None:
    for line in ["", "a", "é\x00x" * 100, *(str(i) for i in range(500))]:
        ours, reference = line_event_id(line), uuid.uuid5(EVENT_ID_NAMESPACE, line)
        assert ours == reference and str(ours) == str(reference) and ours.version == 5
        assert hash(ours) == hash(reference) and ours.is_safe == reference.is_safe


def test_trusted_builder_makes_the_validated_instance() -> None:
    values = {"host": "h", "user": None, "port": 22}
    built, checked = trusted_builder(Endpoint)(values), Endpoint(**values)
    assert built == checked and built.model_fields_set == checked.model_fields_set
    assert list(built.__dict__) == list(checked.__dict__)
    event = trusted_builder(SecurityEvent)({"event_type": EventType.AUTH, "process": ProcessInfo(pid=1)})
    assert event.source == Endpoint() and event.source is not event.destination
    assert event.model_fields_set == {"event_type", "process"}
    with pytest.raises(TypeError, match="unknown fields"):
        trusted_builder(Endpoint)({"nope": 1})
    with pytest.raises(TypeError, match="required"):
        trusted_builder(SecurityEvent)({})
