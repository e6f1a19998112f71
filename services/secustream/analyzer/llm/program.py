"""The DSPy program: a typed signature, its LM from settings, and validation of what comes back.

Why a typed signature plus pydantic validation: DSPy parses the fields, but an LLM can still say
"threat_type: ransomware" or give a confidence of 7; only validated output may become a verdict.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch metadata at run time

import dspy
from pydantic import BaseModel, Field, field_validator

from secustream.config import Settings
from secustream.events import ThreatClass
from secustream.verdict import RiskLevel

_MITRE = re.compile(r"^T\d{4}(?:\.\d{3})?$")
THREAT_TYPES = tuple(c.value for c in ThreatClass)


class AssessEvent(dspy.Signature):
    """You are a SOC analyst. Assess one normalised security event given its context (what the
    classifier and rules said, recent activity of the source). Choose the threat type from the list,
    a risk level, your confidence in [0, 1], a short analysis, concrete recommended actions and the
    MITRE ATT&CK technique ids that apply (empty when benign)."""

    event: str = dspy.InputField(desc="the event, compact rendering plus key raw fields")
    context: str = dspy.InputField(desc="classifier verdict and other context")
    risk_level: Literal["low", "medium", "high", "critical"] = dspy.OutputField()
    threat_type: Literal[THREAT_TYPES] = dspy.OutputField()  # type: ignore[valid-type]
    confidence: float = dspy.OutputField(desc="between 0 and 1")
    analysis: str = dspy.OutputField(desc="two or three sentences")
    recommended_actions: list[str] = dspy.OutputField()
    mitre_ids: list[str] = dspy.OutputField(desc="ATT&CK ids like T1110 or T1059.001")


class SecurityAnalyst(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.assess = dspy.Predict(AssessEvent)

    def forward(self, event: str, context: str) -> dspy.Prediction:
        return self.assess(event=event, context=context)


class LLMAssessment(BaseModel):
    """The only shape of LLM output that may become a verdict."""

    risk_level: RiskLevel
    threat_type: str
    confidence: float = Field(ge=0, le=1)
    analysis: str = Field(max_length=4000)
    recommended_actions: list[str] = Field(max_length=12)
    mitre_ids: list[str] = Field(max_length=12)

    @field_validator("threat_type")
    @classmethod
    def _known_class(cls, value: str) -> str:
        norm = value.strip().lower().replace(" ", "_").replace("-", "_")
        if norm not in THREAT_TYPES:
            raise ValueError(f"unknown threat type {value!r}")
        return norm

    @field_validator("mitre_ids")
    @classmethod
    def _mitre(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _MITRE.match(v.strip())]
        if bad:
            raise ValueError(f"not ATT&CK technique ids: {bad}")
        return [v.strip() for v in value]


def make_lm(settings: Settings, timeout: float | None = None) -> dspy.LM | None:
    """OpenAI when OPENAI_API_KEY is set, any OpenAI-compatible server when LLM_API_BASE is; else None."""
    if not settings.LLM_API_BASE and not settings.OPENAI_API_KEY:
        return None
    kwargs: dict[str, Any] = {"cache": False, "num_retries": 0, "max_tokens": settings.LLM_MAX_TOKENS,
                              "timeout": timeout or settings.LLM_TIMEOUT_SECONDS, "temperature": 0.0}
    if settings.LLM_API_BASE:
        kwargs["api_base"] = settings.LLM_API_BASE
    kwargs["api_key"] = settings.OPENAI_API_KEY or "not-needed"
    return dspy.LM(settings.LLM_MODEL, **kwargs)


def load_program(path: Path | None) -> SecurityAnalyst:
    """The built-in zero-shot program, or an optimised one saved by ``secustream optimize-llm``."""
    program = SecurityAnalyst()
    if path is not None:
        program.load(str(path))
    return program


def adapter() -> dspy.ChatAdapter:
    # No silent JSON-adapter retry: a malformed answer is one call, one fallback.
    return dspy.ChatAdapter(use_json_adapter_fallback=False)
