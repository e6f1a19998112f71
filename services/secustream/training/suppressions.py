"""Kept for imports: suppressions live with the rules tier (``analyzer.rules.suppressions``)."""

from secustream.analyzer.rules.suppressions import SuppressionIndex, suppress_false_positive, sync_from_feedback

__all__ = ["SuppressionIndex", "suppress_false_positive", "sync_from_feedback"]
