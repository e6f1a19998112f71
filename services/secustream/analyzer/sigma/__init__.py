"""Sigma rules (SigmaHQ format) in the rules tier: parsed and validated by pySigma, evaluated in process.

``SigmaRuleSet.load(dir)`` parses, validates and compiles; ``SigmaEngine(ruleset, state)`` evaluates
batches and returns ``RuleHit``s like the native engine. See docs/sigma.md.
"""

from secustream.analyzer.sigma.engine import SigmaEngine
from secustream.analyzer.sigma.loader import Correlation, DetectionRule, LoadIssue, SigmaRuleSet

__all__ = ["Correlation", "DetectionRule", "LoadIssue", "SigmaEngine", "SigmaRuleSet"]
