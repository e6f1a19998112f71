"""The incident story: summary, verdict, confidence, next steps; from the LLM when it can, else a template.

Why both: an analyst opening an incident must always find a story. The LLM one goes through the same
plumbing as the LLM tier (the shared calls/minute budget, the fingerprint cache, a timeout), and a story
always says which wrote it (``source``: ``llm``, ``cached llm`` or ``template``, with the reason).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from secustream.attack import advanced
from secustream.verdict import RISK_ORDER

log = logging.getLogger(__name__)

VERDICTS = ("true_positive", "false_positive", "suspicious")
_STEPS = {
    # one step for guessing and for dumping: a tactic says which, its techniques not (an NTDS.dit copy is not a
    # source address to block)
    "credential-access": "Where credentials were guessed, block or rate-limit the source and check whether any "
                         "login succeeded; where they were dumped (LSASS, SAM/SECURITY hives, NTDS.dit), reset "
                         "every account they hold and look for those accounts on other hosts.",
    "lateral-movement": "Isolate the hosts reached from the first one and review the credentials used to reach them.",
    "execution": "Collect the process tree and command lines on the host; quarantine the binaries involved.",
    "exfiltration": "Block the destination, size the data that left and identify its owner.",
    "privilege-escalation": "Review privileged group membership and sudo rules on the host; revert unexpected changes.",
    "discovery": "Where a source scanned the network, check what it reached and whether it is a known scanner; "
                 "where an account listed users, groups, shares or domain policy (net, LDAP, SAMR), confirm its "
                 "owner ran it and what was looked up.",
    "persistence": "Look for new services, scheduled tasks and accounts on the host and remove unexpected ones.",
    "defense-evasion": "Check the host for tampering with logging and security tooling.",
    "stealth": "Look for what was hidden or disguised on the host: renamed or masquerading binaries, hidden files "
               "and accounts, cleared or edited logs.",
    "defense-impairment": "Check the host for tampering with logging and security tooling (disabled services, "
                          "changed audit policy, removed agents) and restore them.",
    "command-and-control": "Block the remote address and look for other hosts talking to it.",
    "initial-access": "Confirm how the first foothold was gained and close that path.",
    "collection": "Find what data was gathered (archives, screenshots, clipboard, mail) and where it was staged.",
    "impact": "Contain first: isolate the host, then check what was deleted, encrypted, stopped or wiped and "
              "whether backups and logs are intact.",
    "reconnaissance": "Check what the source learned about the environment and whether it is a known scanner.",
    "resource-development": "Block the infrastructure or accounts the attacker prepared and look for their use.",
}


class Story(BaseModel):
    """What may be stored as a story (LLM output is validated into this)."""

    summary: str = Field(max_length=4000)
    verdict: Literal["true_positive", "false_positive", "suspicious"]
    confidence: float = Field(ge=0, le=1)
    next_steps: list[str] = Field(max_length=12)


def describe_incident(incident: Mapping[str, Any]) -> str:
    """A compact, identity-free-enough rendering the LLM reads (and the cache key hashes)."""
    lines = [f"severity {incident['severity']}; tactic chain: {' -> '.join(incident.get('tactics') or []) or 'none'}"]
    for a in incident.get("alerts", [])[:20]:
        lines.append(f"- {a['title']} [{a['level']}] x{a['count']} on {a['entity_kind']} {a['entity_value']} "
                     f"from {a['first_seen']:%Y-%m-%d %H:%M:%S} to {a['last_seen']:%H:%M:%S}")
    return "\n".join(lines)


def _rank(alert: Mapping[str, Any]) -> tuple[int, int, str]:
    """The highest alert of an incident: by level, then hits, then title (stable between runs)."""
    return RISK_ORDER.get(alert.get("level"), -1), alert.get("count") or 0, alert.get("title") or ""


def template_story(incident: Mapping[str, Any], why: str = "no LLM configured") -> dict[str, Any]:
    """A deterministic story from the incident's own facts."""
    alerts = incident.get("alerts", [])
    tactics = list(incident.get("tactics") or [])
    hits = sum(a["count"] for a in alerts)
    entities = sorted({f"{a['entity_kind']} {a['entity_value']}" for a in alerts})
    chain_text = " → ".join(tactics) if tactics else "no mapped tactic"
    highest = max(alerts, key=_rank, default=None)
    summary = (f"{len(alerts)} alert(s), {hits} hit(s) on {', '.join(entities[:5]) or 'unknown entities'}: "
               f"{chain_text}. Highest alert: {highest['title'] if highest else '-'}.")
    advancing = advanced([(a["first_seen"], a.get("tactics") or []) for a in alerts if a.get("first_seen")])
    verdict = "true_positive" if advancing else "suspicious"
    confidence = 0.8 if advancing else (0.6 if incident.get("severity") in ("high", "critical") else 0.4)
    steps = [_STEPS[t] for t in tactics if t in _STEPS] or ["Review the alerts' events and resolve each alert."]
    return {"summary": summary, "verdict": verdict, "confidence": confidence, "next_steps": steps[:6],
            "source": "template", "why": why}


def story_key(text: str, program_version: str) -> str:
    return "story:" + hashlib.sha256(f"{program_version}\n{text}".encode()).hexdigest()[:32]


class StoryWriter:
    """LLM stories within the shared budget and cache, with a deadline; the template when any of them says no."""

    def __init__(self, program: Any, lm: Any, budget: Any, cache: Any, *, timeout: float = 20.0,
                 program_version: str = "builtin") -> None:
        self.program, self.lm, self.budget, self.cache = program, lm, budget, cache
        self.timeout = timeout
        self.program_version = program_version
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="story")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _call(self, text: str) -> dict[str, Any]:
        import dspy

        from secustream.analyzer.llm.program import adapter

        with dspy.context(lm=self.lm, adapter=adapter()):
            pred = self.program(incident=text)
        return {k: pred.get(k) for k in Story.model_fields}

    def write(self, incident: Mapping[str, Any]) -> dict[str, Any]:
        text = describe_incident(incident)
        key = story_key(text, self.program_version)
        cached = self.cache.get_many([key])[0]
        if cached is not None:
            return {**cached, "source": "cached llm"}
        if not self.budget.try_acquire():
            return template_story(incident, f"llm budget exhausted ({self.budget.limit} calls/min shared)")
        try:
            raw = self._pool.submit(self._call, text).result(timeout=self.timeout)
            story = Story.model_validate(raw).model_dump()
        except FutureTimeout:
            return template_story(incident, f"llm timeout after {self.timeout:g}s")
        except ValidationError as exc:
            return template_story(incident, f"llm output invalid: {exc.errors()[0]['msg']}")
        except Exception as exc:  # the LM is an outside service: any failure falls back, with its reason
            log.warning("incident story by llm failed: %s", exc)
            return template_story(incident, f"llm error: {type(exc).__name__}")
        self.cache.put(key, story)
        return {**story, "source": "llm", "why": f"llm ({self.program_version})"}


def build_program() -> Any:
    """The DSPy program (imported lazily: DSPy loads only when an LLM is configured)."""
    import dspy

    class WriteIncidentStory(dspy.Signature):
        """You are a SOC analyst. Given an incident (its alerts in time order and its ATT&CK tactic chain),
        write a short summary of what happened, a verdict (true_positive, false_positive or suspicious),
        your confidence in [0, 1] and concrete next steps for the responder."""

        incident: str = dspy.InputField(desc="the incident's alerts and tactic chain")
        summary: str = dspy.OutputField(desc="three sentences at most")
        verdict: Literal["true_positive", "false_positive", "suspicious"] = dspy.OutputField()
        confidence: float = dspy.OutputField(desc="between 0 and 1")
        next_steps: list[str] = dspy.OutputField()

    return dspy.Predict(WriteIncidentStory)


def build_story_writer(settings: Any, llm_tier: Any | None) -> StoryWriter | None:
    """LLM stories through the LLM tier's own budget and cache (None, i.e. template stories, without one)."""
    if llm_tier is None or not settings.INCIDENT_STORY_LLM:
        return None
    from secustream.analyzer.llm.program import make_lm

    return StoryWriter(build_program(), make_lm(settings), llm_tier.budget, llm_tier.cache,
                       timeout=settings.LLM_TIMEOUT_SECONDS, program_version=llm_tier.program_version)
