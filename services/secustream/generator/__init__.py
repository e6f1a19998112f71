"""Scenario-driven event generator: benign noise plus labelled attack campaigns (pure, no I/O)."""

from secustream.generator.engine import EventGenerator, GeneratedEvent

__all__ = ["EventGenerator", "GeneratedEvent"]
