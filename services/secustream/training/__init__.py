"""Continuous learning: labelled sets, classifier fine-tuning, DSPy optimisation, the model registry."""
