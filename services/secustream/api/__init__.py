"""FastAPI application: events and verdicts for analysts, health, metrics, dashboard."""
