"""FastAPI application: JWT auth, events and verdicts for analysts, live stream, health, metrics, dashboard."""
