"""Rules tier: YAML rules (data, hot-reloadable) with stateful thresholds in shared state."""

from secustream.analyzer.rules.engine import RuleHit, RulesEngine
from secustream.analyzer.rules.model import Rule, RuleError, RuleSet

__all__ = ["Rule", "RuleError", "RuleHit", "RuleSet", "RulesEngine"]
