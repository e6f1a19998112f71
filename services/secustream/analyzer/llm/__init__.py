"""LLM tier: a DSPy program over an OpenAI-compatible LM, bounded by a shared budget, cached by fingerprint."""
