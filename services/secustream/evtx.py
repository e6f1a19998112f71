"""How Windows event exports write values: one reading shared by the normaliser and the OCSF archive.

Why in the domain layer: both the Windows normaliser (normalizers/) and the archive's Windows mapping
(archive/, a lower layer) read the same EventData fields, and must agree on what "absent" and "an id" mean.
"""

from __future__ import annotations

from typing import Any


def evtx_text(value: Any) -> str | None:
    """EVTX placeholders (``-``, empty) mean absent."""
    if value.__class__ is str:  # nearly every value: no str() call
        text = value.strip()
    elif value is None:
        return None
    else:
        text = str(value).strip()
    return text if text and text != "-" else None


def evtx_int(value: Any) -> int | None:
    """Decimal or ``0x``-hex ids (Security log pids are hex)."""
    if value.__class__ is int:  # what the text round trip below gives back (a bool is not an int here)
        return value
    text = evtx_text(value)
    if text is None:
        return None
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None
