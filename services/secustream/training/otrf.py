"""The OTRF Security-Datasets recordings as labelled real telemetry: a fixed split and "the attack events".

Why by recording: events of one recording share hosts, users and the attacker's process tree, so an
event-level split would leak the attack into training. ``otrf_split.json`` (next to this module)
fixes which recording (``<tactic folder>/<zip name>``) is train, dev or test; it never changes with
the code.

The attack events of a recording (docs/analyzer.md, "Real-data evaluation") are derived from its
``_metadata/*.yaml``, never from our own detectors:
- **the attacker's agent processes**: each row of the agents table in ``adversary_view`` (machine
  name and PID of the Empire/Covenant implant) marks events on that host whose process, parent,
  source or PowerShell host process is that PID;
- **the attacker's indicators**: file names of tools, scripts and payloads (``*.exe|dll|ps1|…``)
  and the distinctive words of the commands typed at the attacker's prompt (``(Empire: X) > shell
  …``, ``(wardog) > ShellCmd …``, ``C:\\> …``, ``PS …>``), minus common system binaries and words;
  an event whose command line, script block, image, target or loaded module contains one is an
  attack event. An indicator that matches more than a fifth of a recording is dropped as too generic.
Everything else in the recording is background. Background is "almost all benign", not "all":
the measure of noise is the share of background events a tier puts at high or critical.
"""

from __future__ import annotations

import io
import json
import random
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from secustream.events import SecurityEvent
from secustream.ingest_input import resource_fork
from secustream.normalizers.windows import normalize_windows

SPLITS = ("train", "dev", "test")
SPLIT_FILE = Path(__file__).with_name("otrf_split.json")
OTRF_DIR = "otrf-atomic-windows"

# Fields an attacker's indicator shows up in (Sysmon, Security 4688, PowerShell 4103/4104, services).
TEXT_FIELDS = ("CommandLine", "ParentCommandLine", "ScriptBlockText", "Payload", "ContextInfo", "Image",
               "ParentImage", "TargetFilename", "ImageLoaded", "TargetObject", "Details", "ServiceFileName",
               "ImagePath", "NewProcessName", "ProcessName", "PipeName", "QueryName", "TargetImage")
PID_FIELDS = ("ProcessId", "ParentProcessId", "SourceProcessId", "NewProcessId", "TargetProcessId")
_PROMPT = re.compile(r"^\s*(?:\([^)]*\)\s*>|[A-Za-z]:\\[^>\n]*>|PS [^>\n]*>|msf\d?[^>\n]*>|meterpreter[^>\n]*>"
                     r"|[\w.-]+@[\w.-]+:[^$#\n]*[$#])\s*(\S.*)$", re.M)
_FILE = re.compile(r"[\w.-]+\.(?:exe|dll|ps1|psm1|vbs|sct|hta|bat|js|xml|xsl|dmp|bin|lnk|cpl|msi|inf|scr)\b", re.I)
_AGENT_ROW = re.compile(r"^\s*\w{6,12}\s+\w{2,4}\s+\d{1,3}(?:\.\d{1,3}){3}\s+(\S+)\s+\S+\s+\S+\s+(\d+)\s", re.M)
_IP = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_WORD = re.compile(r"[\w$.:\\/-]{6,}")
ATTACKER_VERBS = frozenset({
    "shell", "shellcmd", "scriptcmd", "scriptimport", "usemodule", "set", "execute", "run", "interact", "info",
    "agents", "back", "use", "upload", "download", "powershell", "assembly", "powershellimport", "sleep", "kill",
    "exit", "main", "listeners", "usestager", "generate", "options", "jobs", "sessions", "load", "shellcommand",
})
COMMON = frozenset({
    "powershell.exe", "cmd.exe", "conhost.exe", "svchost.exe", "rundll32.exe", "explorer.exe", "services.exe",
    "lsass.exe", "wmiprvse.exe", "taskhostw.exe", "dllhost.exe", "winlogon.exe", "csrss.exe", "system32",
    "windows", "c:\\windows", "c:\\windows\\system32", "program", "files", "microsoft", "powershell", "command",
    "-command", "-noprofile", "/shellcommand", "http://", "https://", "localhost", "workstation5",
    "workstation6", "theshire", "mordor.local", "kernel32.dll", "ntdll.dll", "user32.dll", "system.dll",
    "success", "completed", "launcher", "listener", "default", "language", "required", "description",
    "options", "running", "started", "session", "module",
})
GENERIC_SHARE = 0.2


@dataclass(frozen=True)
class Indicators:
    words: frozenset[str] = frozenset()
    agents: frozenset[tuple[str, int]] = frozenset()  # (lower-case machine name, pid)


@dataclass(frozen=True)
class Recording:
    name: str  # ``<tactic folder>/<zip name without .zip>`` (two folders hold a zip of the same name)
    path: Path
    tactic: str  # the folder it sits in (windows/<tactic>/host)
    split: str
    metadata_id: str | None = None
    title: str = ""
    techniques: tuple[str, ...] = ()
    indicators: Indicators = field(default_factory=Indicators)


@dataclass(frozen=True)
class CorpusEvent:
    recording: str
    attack: bool
    event: SecurityEvent


def _distinctive(word: str) -> bool:
    """A word typed at the attacker's prompt that names something (``get-service``, ``http.server``,
    ``t1055.002``), not plain English, a switch, an address or a module path of the C2 itself."""
    if len(word) < 6 or word[0] in "-/." or "/" in word or _IP.fullmatch(word) or word.endswith(".local") \
            or word.startswith("reg_"):
        return False
    return any(c in word for c in "-._") or (any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
                                            and not re.fullmatch(r"[a-z0-9]{6,8}", word))


def indicators_from(metadata: dict[str, Any]) -> Indicators:
    """What the metadata says the attacker ran (see the module docstring)."""
    sim = metadata.get("simulation") or {}
    view = str(sim.get("adversary_view") or "")
    words: set[str] = {m.group(0).lower() for m in _FILE.finditer(view)}
    for match in _PROMPT.finditer(view):
        tokens = match.group(1).split()
        if tokens and tokens[0].lower() in ATTACKER_VERBS:
            tokens = tokens[1:]
        for token in tokens:
            for word in _WORD.findall(token.strip("\"'`")):
                word = word.lower().rstrip(".:\\/").rsplit("\\", 1)[-1]
                if _distinctive(word):
                    words.add(word)
    for tool in sim.get("tools") or []:
        name = str((tool or {}).get("name") or "").lower()
        if len(name) >= 6:
            words.add(name)
    words = {w for w in words if len(w) >= 6 and w not in COMMON}
    agents = {(m.group(1).lower(), int(m.group(2))) for m in _AGENT_ROW.finditer(view)}
    return Indicators(frozenset(words), frozenset(agents))


def _pid(value: Any) -> int | None:
    text = str(value or "").strip()
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


def matches_indicators(doc: dict[str, Any], ind: Indicators, words: Iterable[str] | None = None) -> bool:
    words = ind.words if words is None else words
    text = " ".join(str(doc.get(f) or "") for f in TEXT_FIELDS).lower()
    if text.strip() and any(w in text for w in words):
        return True
    if ind.agents:
        host = str(doc.get("Hostname") or doc.get("Computer") or "").lower()
        pids = {_pid(doc.get(f)) for f in PID_FIELDS}
        if str(doc.get("Channel") or "").startswith("Microsoft-Windows-PowerShell") or \
                str(doc.get("Channel") or "") == "Windows PowerShell":
            pids.add(_pid(doc.get("ExecutionProcessID")))
        return any(host.startswith(machine) and pid in pids for machine, pid in ind.agents)
    return False


def read_split(path: Path = SPLIT_FILE) -> dict[str, str]:
    """Recording name → split, from the file fixed in the repository."""
    data = json.loads(path.read_text())
    return {name: split for split in SPLITS for name in data[split]}


def _metadata_by_zip(root: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((root / "_metadata").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for f in doc.get("files") or []:
            if str(f.get("type", "")).lower() == "host" and f.get("link"):
                out.setdefault(Path(str(f["link"])).stem, doc)
    return out


@lru_cache(maxsize=4)
def recordings(corpora: Path) -> tuple[Recording, ...]:
    """Every recording with its split, techniques and indicators (metadata may be missing: then the
    recording has only the tactic of its folder and no attack events can be named)."""
    root = Path(corpora) / OTRF_DIR
    split = read_split()
    meta = _metadata_by_zip(root)
    out: list[Recording] = []
    for path in sorted((root / "windows").glob("*/host/*.zip")):
        name = f"{path.parent.parent.name}/{path.stem}"
        if name not in split:
            raise ValueError(f"{name} is not in {SPLIT_FILE.name}: the split must name every recording")
        doc = meta.get(path.stem, {})
        techniques = tuple(sorted({f"{m['technique']}" + (f".{m['sub-technique']}" if m.get("sub-technique") else "")
                                   for m in doc.get("attack_mappings") or [] if m.get("technique")}))
        out.append(Recording(name, path, path.parent.parent.name, split[name], doc.get("id"), str(doc.get("title", "")),
                             techniques, indicators_from(doc) if doc else Indicators()))
    return tuple(out)


SUCCESSORS: Mapping[str, tuple[str, ...]] = MappingProxyType({"T1562": ("T1685", "T1686")})
"""ATT&CK v18 split Impair Defenses (T1562, the OTRF metadata's id) into new techniques that SigmaHQ's rules tag
now: the corpus's rules citing Atomic Red Team's T1562.001 tests carry T1685, those citing T1562.004 (firewall)
T1686.003. Compared at the parent technique only: which sub-technique took which is not in the corpus."""


def names_technique(named: Iterable[str], own: Iterable[str]) -> bool:
    """Whether detections that named the techniques ``named`` named one of a recording's own (``own``, from its
    metadata): the same technique, one with the same parent (T1003 for T1003.002), or, for a retired parent, one of
    its successors' (``SUCCESSORS``). The benchmarks' "was the attack seen" figure (bench/sigma_fp.py,
    bench/native_fp.py)."""
    own = set(own)
    parents = {t.split(".", 1)[0] for t in own}
    parents |= {new for old in list(parents) for new in SUCCESSORS.get(old, ())}
    return any(t in own or t.split(".", 1)[0] in parents for t in named)


def _lines(path: Path) -> Iterator[str]:
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.is_dir() or resource_fork(info.filename):  # 14 zips hold a binary __MACOSX/._*.json
                continue
            with zf.open(info) as fh:
                for raw in io.TextIOWrapper(fh, encoding="utf-8", errors="backslashreplace"):
                    if raw.strip():
                        yield raw


def _usable_words(lines: list[str], ind: Indicators) -> frozenset[str]:
    """Drop indicators that match more than GENERIC_SHARE of the recording's lines (too generic)."""
    lowered = [line.lower() for line in lines]
    limit = GENERIC_SHARE * max(1, len(lines))
    return frozenset(w for w in ind.words if sum(w.replace("\\", "\\\\") in line for line in lowered) <= limit)


def sample_recording(rec: Recording, background: int, seed: int = 0, attack_limit: int = 200) -> list[CorpusEvent]:
    """All attack events (up to ``attack_limit``) and ``background`` others drawn at random (0: all)."""
    lines = list(_lines(rec.path))
    words = _usable_words(lines, rec.indicators)
    attack_idx: list[int] = []
    other_idx: list[int] = []
    needles = tuple(w.replace("\\", "\\\\") for w in words) + tuple(f"{pid}" for _m, pid in rec.indicators.agents)
    for i, line in enumerate(lines):
        low = line.lower()
        if needles and any(n in low for n in needles) and matches_indicators(json.loads(line), rec.indicators, words):
            attack_idx.append(i)
        else:
            other_idx.append(i)
    rng = random.Random(f"{seed}:{rec.name}")
    if len(attack_idx) > attack_limit:
        attack_idx = sorted(rng.sample(attack_idx, attack_limit))
    if background and len(other_idx) > background:
        other_idx = sorted(rng.sample(other_idx, background))
    out: list[CorpusEvent] = []
    for flag, idx in ((True, attack_idx), (False, other_idx)):
        for i in idx:
            try:
                event = normalize_windows(lines[i])
            except ValueError:
                continue
            out.append(CorpusEvent(rec.name, flag, event))
    out.sort(key=lambda c: c.event.timestamp)
    return out


def sample_split(corpora: Path, split: str, background: int, seed: int = 0,
                 limit_recordings: int | None = None) -> list[CorpusEvent]:
    recs = [r for r in recordings(Path(corpora)) if r.split == split][:limit_recordings]
    return [c for r in recs for c in sample_recording(r, background, seed)]
