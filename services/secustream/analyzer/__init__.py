"""Adaptive hybrid analyzer: router, tiers (rules now; model and LLM plug in), and the worker."""
