"""Rules tier: YAML rules (data, hot-reloadable) with stateful thresholds in shared state."""

from secustream.analyzer.native.engine import RulesEngine
from secustream.analyzer.native.schema import Rule, RuleError, RuleSet

__all__ = ["Rule", "RuleError", "RuleSet", "RulesEngine"]
