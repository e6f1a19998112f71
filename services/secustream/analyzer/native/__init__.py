"""Rules tier: YAML rules (data, hot-reloadable) with stateful thresholds in shared state."""

from secustream.analyzer.native.engine import RuleHit, RulesEngine
from secustream.analyzer.native.schema import Rule, RuleError, RuleSet

__all__ = ["Rule", "RuleError", "RuleHit", "RuleSet", "RulesEngine"]
