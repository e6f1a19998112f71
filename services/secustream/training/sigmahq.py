"""SigmaHQ's regression suite as events: each case names a rule and the event that must trigger it.

The ``.json`` beside each ``info.yml`` holds one or more evtx_dump objects back to back; every one
goes through the real Windows normaliser, as shipped events would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from secustream.events import SecurityEvent
from secustream.normalizers.windows import normalize_windows

REGRESSION_DIR = Path("sigmahq") / "regression_data"


@dataclass(frozen=True)
class RegressionEvent:
    case: str  # the case folder, relative to regression_data
    event: SecurityEvent


def json_objects(text: str) -> list[dict[str, object]]:
    """All JSON objects in ``text``, written one after another (not a JSON array)."""
    decoder = json.JSONDecoder()
    out: list[dict[str, object]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return out
        obj, pos = decoder.raw_decode(text, pos)
        if isinstance(obj, dict):
            out.append(obj)


def regression_events(corpora: Path) -> list[RegressionEvent]:
    root = Path(corpora) / REGRESSION_DIR
    out: list[RegressionEvent] = []
    for info in sorted(root.rglob("info.yml")):
        case = str(info.parent.relative_to(root))
        for path in sorted(info.parent.glob("*.json")):
            for obj in json_objects(path.read_text(encoding="utf-8", errors="backslashreplace")):
                try:
                    out.append(RegressionEvent(case, normalize_windows(json.dumps(obj))))
                except ValueError:
                    continue
    return out
