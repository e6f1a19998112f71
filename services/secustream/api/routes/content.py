"""Detection content: ATT&CK coverage of the Sigma rules an analyzer with these settings loads."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from fastapi import APIRouter, Request

from secustream.analyzer.service import sigma_sources
from secustream.analyzer.sigma.report import ruleset_coverage
from secustream.api.deps import AUTH_RESPONSES, Viewer
from secustream.api.schemas import RuleCoverage
from secustream.config import Settings

router = APIRouter()


@dataclass
class CoverageView:
    """The coverage table, recomputed only when the rules or an installed pack changed (cheap check)."""

    settings: Settings
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seen: str | None = None
    _data: dict | None = None

    def get(self) -> dict:
        sources = sigma_sources(self.settings)
        if sources is None:
            return {"rules": 0, "with_attack_tags": 0, "techniques": 0, "tactics": {}}
        with self._lock:
            fingerprint = sources.watch_fingerprint()
            if self._data is None or fingerprint != self._seen:
                self._data, self._seen = ruleset_coverage(sources.load()), fingerprint
            return self._data


@router.get("/rules/coverage", response_model=RuleCoverage, tags=["rules"], responses=AUTH_RESPONSES)
def rules_coverage(request: Request, _user: Viewer) -> RuleCoverage:
    """ATT&CK tactic → technique → number of loaded Sigma rules tagged with both (`secustream rules coverage`)."""
    return RuleCoverage.model_validate(request.app.state.coverage.get())
