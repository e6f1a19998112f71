from __future__ import annotations

import uuid

import pytest

from secustream.events import EventDecodeError, SecurityEvent, decode_event, encode_event, get_field, grouping_key


def test_round_trip_is_lossless() -> None:
    event = SecurityEvent(event_type="process", source={"ip": "10.1.2.3", "user": "alice"},
                          process={"name": "powershell.exe", "command_line": "powershell -enc AAAA"},
                          unmapped={"EventID": 4688, "nested": {"a": [1, 2]}}, raw="original line")
    assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(
    ("payload", "reason"),
    [(b"{not json", "malformed JSON"), (b"[1,2]", "expected a JSON object"), (None, "empty message"),
     (b'{"event_type": "teleport"}', "schema violation at event_type"),
     (b'{"event_type": "auth", "source": {"ip": "999.1.1.1"}}', "schema violation at source.ip"),
     (b'{"event_type": "auth", "surprise": 1}', "schema violation at surprise"),
     (b"\xff\xfe", "malformed JSON")],
)
def test_decode_errors_carry_a_reason(payload: bytes | None, reason: str) -> None:
    with pytest.raises(EventDecodeError) as info:
        decode_event(payload)
    assert info.value.reason.startswith(reason)


def test_naive_timestamps_become_utc() -> None:
    event = decode_event(b'{"event_type": "auth", "timestamp": "2026-01-01T00:00:00"}')
    assert event.timestamp.utcoffset() is not None


def test_grouping_key_prefers_source_ip() -> None:
    assert grouping_key(SecurityEvent(event_type="auth", source={"ip": "1.2.3.4", "user": "u"})) == "1.2.3.4"
    assert grouping_key(SecurityEvent(event_type="auth", source={"user": "bob"})) == "bob"
    eid = uuid.uuid4()
    assert grouping_key(SecurityEvent(event_id=eid, event_type="other")) == str(eid)


def test_get_field_dotted() -> None:
    doc = {"a": {"b": {"c": 1}}, "x": None}
    assert get_field(doc, "a.b.c") == 1
    assert get_field(doc, "a.z") is None
    assert get_field(doc, "x.y") is None


def test_encode_event_is_model_dump_json_as_bytes() -> None:
    from secustream.events import SecurityEvent, encode_event

    event = SecurityEvent.model_validate({
        "event_type": "process", "action": "process_start", "timestamp": "2026-03-02T14:30:00Z",
        "message": "quote \" backslash \\ nul-free \u00e9 \U0001f600", "process": {"name": "cmd.exe", "pid": 4},
        "unmapped": {"Image": "C:\\Windows\\System32\\cmd.exe", "n": 1, "none": None, "list": [1, "a"]}})
    assert encode_event(event) == event.model_dump_json(exclude_none=True).encode()
