"""The normalisers' hot steps, and the analyzer's NUL test on every payload: in C where ``secustream._native`` is
built (setup.py), else the same in Python.

Why a module of its own: the trusted model build (``events.trusted_builder``) and the looks over a parsed
line's dict (``normalizers.windows``) were a third of normalising a real Windows event in Python; both layers
take them from here. The Python functions are the reference the C ones are tested against
(tests/unit/test_native.py) and the fallback where no C compiler was present at install time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

_setattr = object.__setattr__
ModelT = TypeVar("ModelT")


def construct_python(cls: type[ModelT], defaults: dict[str, Any], values: dict[str, Any]) -> ModelT:
    """The pydantic model ``{**defaults, **values}`` makes without validation (``__pydantic_fields_set__`` is
    ``values``' keys, extra and private None); TypeError where ``values`` names a field ``defaults`` lacks."""
    fields = {**defaults, **values}
    if len(fields) != len(defaults):
        raise TypeError(f"{cls.__name__}: unknown fields {sorted(set(values) - set(defaults))}")
    model = object.__new__(cls)
    _setattr(model, "__dict__", fields)
    _setattr(model, "__pydantic_fields_set__", set(values))
    _setattr(model, "__pydantic_extra__", None)
    _setattr(model, "__pydantic_private__", None)
    return model


def any_none_python(d: dict[Any, Any]) -> bool:
    """Whether a value of ``d`` is None."""
    return any(value is None for value in d.values())


def any_spaced_key_python(d: dict[Any, Any]) -> bool:
    """Whether a key of ``d`` is a str holding a blank."""
    return any(isinstance(key, str) and " " in key for key in d)


def take_first_python(d: dict[Any, Any], groups: tuple[tuple[str, tuple[Any, ...]], ...],
                      on_dict: Callable[[dict[Any, Any]], Any]) -> dict[str, Any]:
    """For each ``(name, keys)`` of ``groups``: pops ``keys`` from ``d`` in order until one holds a value other
    than None, which becomes ``name``'s (``on_dict(value)`` where it is a dict); the keys after it stay in ``d``.
    Why: an export names one System field several ways (``EventID``, ``EventCode`` …); the first one wins."""
    taken: dict[str, Any] = {}
    for name, keys in groups:
        for key in keys:
            value = d.pop(key, None)
            if value is not None:
                taken[name] = on_dict(value) if isinstance(value, dict) else value
                break
    return taken


def json_may_hold_nul_python(payload: bytes) -> bool:
    """Whether a JSON payload holds NUL: as ``\\u0000`` (the one way JSON writes it) or a bare NUL byte (invalid)."""
    return b"\\u0000" in payload or b"\x00" in payload


try:
    from secustream._native import any_none, any_spaced_key, construct, json_may_hold_nul, take_first
except ImportError:  # no C compiler at install time (setup.py: optional)
    construct, any_none, any_spaced_key, take_first = (construct_python, any_none_python, any_spaced_key_python,
                                                        take_first_python)
    json_may_hold_nul = json_may_hold_nul_python

NATIVE = construct is not construct_python
"""Whether these steps run in C (``secustream._native``) or in Python."""
