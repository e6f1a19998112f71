"""Verdicts → deduplicated alerts → incidents (entities, ATT&CK chain, story) → notifications (docs/alerts.md)."""
