"""Every detection rule the analyzers run (native YAML and Sigma), as the rules API lists them.

Why a cached catalog: a Sigma pack can hold thousands of rules and takes seconds to compile, so the
API loads it once and again only when the rules path or an installed pack changes (the analyzers'
reload check); it lists what analyzers with the same settings run (packs filtered the same way).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from secustream.analyzer.native.schema import RuleSet
from secustream.analyzer.service import sigma_sources
from secustream.analyzer.sigma.loader import RuleInfo
from secustream.config import Settings
from secustream.verdict import RiskLevel


@dataclass(frozen=True, slots=True)
class CatalogRule:
    id: str
    description: str
    severity: RiskLevel
    threat_type: str
    mitre_ids: list[str]
    enabled: bool  # the rule file's own switch
    about: RuleAbout | None = None  # a Sigma rule's attribution and triage notes


@dataclass(frozen=True, slots=True)
class RuleAbout:
    """What an analyst reads beside a Sigma rule's alert: its description, attribution (the Detection Rule License
    asks for it wherever a rule's output is shown) and the false positives its authors know."""

    author: str
    references: list[str]
    description: str
    false_positives: list[str]


class RuleCatalog:
    def __init__(self, settings: Settings) -> None:
        self._native_path = settings.rules_path
        self._sources = sigma_sources(settings)  # the rules path and the installed packs, filtered as analyzers do
        self._lock = threading.Lock()
        self._sigma: tuple[str, list[CatalogRule]] | None = None

    def rules(self) -> list[CatalogRule]:
        """Native rules first (file order), then Sigma rules and correlations; raises RuleError on a bad file."""
        native = [CatalogRule(r.id, r.spec.description, r.spec.severity, r.spec.threat_type.value,
                              list(r.spec.mitre), r.spec.enabled) for r in RuleSet.load(self._native_path).rules]
        return native + self._sigma_rules()

    def find(self, rule_id: str) -> CatalogRule | None:
        return next((r for r in self.rules() if r.id == rule_id), None)

    def about(self, rule_id: str) -> RuleAbout | None:
        """A loaded Sigma rule's description, attribution and false positives (None for any other detection)."""
        if not rule_id.startswith("sigma:"):
            return None
        return next((r.about for r in self._sigma_rules() if r.id == rule_id), None)

    def _sigma_rules(self) -> list[CatalogRule]:
        if self._sources is None:
            return []
        with self._lock:
            fingerprint = self._sources.watch_fingerprint()
            if self._sigma is None or self._sigma[0] != fingerprint:
                ruleset = self._sources.load()
                found = [CatalogRule(r.rule_id, r.title, r.severity, r.threat_type, list(r.mitre), True,
                                     _about(r.info)) for r in ruleset.rules if r.emits]
                found += [CatalogRule(c.rule_id, c.title, c.severity, c.threat_type, list(c.mitre), True,
                                      _about(c.info)) for c in ruleset.correlations]
                self._sigma = (fingerprint, found)
            return self._sigma[1]


def _about(info: RuleInfo) -> RuleAbout:
    return RuleAbout(info.author, list(info.references), info.description, list(info.falsepositives))
