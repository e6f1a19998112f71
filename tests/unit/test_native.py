"""The normalisers' C steps (``secustream/_native.c``) against their Python reference (``secustream.native``).

``make setup`` compiles the extension; where it is built, the trusted model build and the normaliser's dict
looks run in C. Both must give the same models and answers on every input, hostile ones included, and the C
side must raise, never crash or leak, on anything else.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Any

import pytest

from secustream import native
from secustream.events import Endpoint, EventType, ProcessInfo, SecurityEvent, trusted_builder

try:
    from secustream import _native
except ImportError:  # only outside CI (below)
    _native = None  # type: ignore[assignment]


def _c() -> Any:
    if _native is None:
        if os.environ.get("CI"):
            pytest.fail("secustream._native is not built: make setup compiles it (setup.py)")
        pytest.skip("secustream._native not built here (no C compiler at install)")
    return _native


def test_the_c_steps_are_built_where_the_setup_ran() -> None:
    c = _c()
    assert native.NATIVE and native.construct is c.construct and native.any_none is c.any_none


def _defaults(cls: type) -> dict[str, Any]:
    return {name: None for name in cls.model_fields}


@pytest.mark.parametrize(("cls", "values"), [
    (Endpoint, {}),
    (Endpoint, {"host": "WS5", "user": "bob", "port": 22}),
    (Endpoint, {"domain": "D", "ip": "10.0.0.1", "host": "h", "user": "u", "port": 0}),
    (ProcessInfo, {"pid": 4, "command_line": "cmd.exe /c \x00 whoami", "name": "Ḝ\udcff"}),
])
def test_construct_makes_the_model_python_and_pydantic_make(cls: type, values: dict[str, Any]) -> None:
    c = _c()
    defaults = _defaults(cls)
    kept = dict(defaults)
    ours, reference, validated = c.construct(cls, defaults, values), native.construct_python(cls, defaults, values), \
        cls(**values)
    for model in (ours, reference):
        assert type(model) is cls and model == validated
        assert list(model.__dict__.items()) == list(validated.__dict__.items())  # field order too
        assert model.model_fields_set == validated.model_fields_set
        assert model.__pydantic_extra__ is None and model.__pydantic_private__ is None
        assert model.model_dump() == validated.model_dump()
    assert defaults == kept and ours.__dict__ is not defaults  # the defaults are shared, never written


def test_construct_refuses_unknown_fields_and_wrong_types_as_python_does() -> None:
    c = _c()
    defaults = _defaults(Endpoint)
    for construct in (c.construct, native.construct_python):
        with pytest.raises(TypeError, match=r"Endpoint: unknown fields \['nope', 'zz'\]"):
            construct(Endpoint, defaults, {"zz": 1, "host": "h", "nope": 2})
    for args in [(Endpoint, defaults), (Endpoint, [], {}), (Endpoint, defaults, None), ("Endpoint", defaults, {}),
                 (Endpoint, defaults, {}, {})]:
        with pytest.raises(TypeError):
            c.construct(*args)


def test_construct_holds_no_reference_it_should_not() -> None:
    c = _c()
    marker = object()  # stands for a value the normaliser hands over
    defaults = _defaults(Endpoint)
    before = sys.getrefcount(marker)
    for _ in range(1000):
        c.construct(Endpoint, defaults, {"host": marker})
        with pytest.raises(TypeError):
            c.construct(Endpoint, defaults, {"host": marker, marker: 1})  # type: ignore[dict-item]
    gc.collect()
    assert sys.getrefcount(marker) == before


def test_the_trusted_builder_fills_factories_and_refuses_a_missing_required_field() -> None:
    event = trusted_builder(SecurityEvent)({"event_type": EventType.AUTH})
    assert event.source == Endpoint() and event.source is not event.destination and event.unmapped == {}
    assert event.model_fields_set == {"event_type"} and list(event.__dict__) == list(SecurityEvent.model_fields)
    with pytest.raises(TypeError, match="event_type is required"):
        trusted_builder(SecurityEvent)({"action": "x"})


DICTS: list[dict[Any, Any]] = [
    {},
    {"a": 1},
    {"a": None},
    {"EventID": 1, "Image": "x", "User": None, "Message": "a b c"},
    {"Source Name": "Defender", "x": 1},
    {"Source\u00a0Name": 1, "tab\there": 2, "nl\nx": 3},  # only " " counts: Sigma rules spell keys without it
    {" ": 0, "": None},
    {1: "a b", None: 2, ("t u",): 3, b"by te": 4},  # keys that are not str (not from JSON, but possible)
    {"\x00 \x00": False, "k": 0, "z": ""},
    {f"k{i}": f"v {i}" for i in range(500)},
    {**{f"k{i}": i for i in range(300)}, "last one": None},
    {"Ḝ \udcff": "\udcff"},
]


@pytest.mark.parametrize("d", DICTS, ids=range(len(DICTS)))
def test_dict_looks_agree_with_python(d: dict[Any, Any]) -> None:
    c = _c()
    assert c.any_none(d) is native.any_none_python(d) is (None in list(d.values()))
    assert c.any_spaced_key(d) is native.any_spaced_key_python(d)


def test_dict_looks_refuse_what_is_not_a_dict() -> None:
    c = _c()
    for look in (c.any_none, c.any_spaced_key):
        for value in (None, [], "a b", [("a b", None)]):
            with pytest.raises(TypeError):
                look(value)


GROUPS = (("EventID", ("EventID", "EventCode")), ("Time", ("TimeCreated", "@timestamp", "timestamp")),
          ("Computer", ("Computer", "Hostname")))
TAKEN: list[dict[Any, Any]] = [
    {},
    {"EventID": 4688, "EventCode": 1, "Hostname": "WS5", "Other": "x"},  # the first alias wins, the next stays
    {"EventID": None, "EventCode": "7", "TimeCreated": None, "@timestamp": {"SystemTime": "2020"}, "timestamp": 1},
    {"EventCode": {"#text": "4624"}, "Computer": "", "Hostname": "h"},  # "" is a value; only None is absent
    {"Computer": None, "Hostname": None, 3: "int key", "\x00EventID": 1},
    {f"k{i}": i for i in range(300)} | {"timestamp": "t"},
]


def _on_dict(value: dict[Any, Any]) -> Any:
    return ("from a dict", sorted(value.items()))


@pytest.mark.parametrize("d", TAKEN, ids=range(len(TAKEN)))
def test_take_first_agrees_with_python(d: dict[Any, Any]) -> None:
    c = _c()
    ours, reference = dict(d), dict(d)
    assert c.take_first(ours, GROUPS, _on_dict) == native.take_first_python(reference, GROUPS, _on_dict)
    assert list(ours.items()) == list(reference.items())  # the same keys popped, the rest kept in order


def test_take_first_refuses_bad_groups_and_passes_on_errors() -> None:
    c = _c()
    for groups in [(("a",),), (("a", "b"),), ["x"], (("a", ["b"]),), None]:
        with pytest.raises(TypeError):
            c.take_first({"b": 1}, groups, _on_dict)

    def refuse(_value: object) -> object:
        raise ValueError("not this one")

    with pytest.raises(ValueError, match="not this one"):
        c.take_first({"EventID": {"x": 1}}, GROUPS, refuse)
    with pytest.raises(TypeError):
        c.take_first({("un", "hashable"): 1, "EventID": 1}, ((["list"], ("EventID",)),), _on_dict)


def _nul_cases() -> list[bytes]:
    """Every offset and length around a 16-byte block, the escape whole, cut short, behind an escaped backslash, in
    upper case (not JSON's), a bare NUL, and random JSON-like text full of backslashes and zeros."""
    import random

    rng = random.Random(17)
    cases = [b"", b"\\", b"\\u", b"\\u000", b"\\u0000", b"\\\\u0000", b"\\U0000", b"\\u00000", b"\x00", b"u0000",
             b"\\u0001", b"\\u00\\u0000"]
    for length in range(0, 40):
        filler = bytes(rng.choice(b'\\u0"ab') for _ in range(length))
        for at in range(length + 1):
            cases.append(filler[:at] + b"\\u0000" + filler[at:])
            cases.append(filler[:at] + b"\\u000" + filler[at:])
            cases.append(filler[:at] + b"\x00" + filler[at:])
        cases.append(filler)
    alphabet = b'\\\\\\u0000 "abc:{}'
    cases += [bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 300))) for _ in range(3_000)]
    return cases


def test_json_may_hold_nul_agrees_with_python() -> None:
    c = _c()
    cases = _nul_cases()
    answers = [c.json_may_hold_nul(case) for case in cases]
    assert answers == [native.json_may_hold_nul_python(case) for case in cases]
    assert any(answers) and not all(answers)
    with pytest.raises(TypeError):
        c.json_may_hold_nul("\\u0000")
