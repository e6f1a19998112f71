"""Process plumbing shared by the CLI commands: logging, signals, clients from settings."""

from __future__ import annotations

import logging
import os
import signal
import threading

from confluent_kafka.admin import AdminClient
from prometheus_client import CollectorRegistry

from secustream.config import Settings


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # transformers draws a "Loading weights" tqdm bar (carriage returns) into the service log at each model load;
    # read when huggingface_hub is first imported, so set before any model code loads (an explicit value wins)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def stop_on_signals() -> threading.Event:
    """SIGTERM/SIGINT set the returned event; workers finish their batch and exit 0."""
    stop = threading.Event()

    def _handler(signum: int, _frame: object) -> None:
        logging.getLogger("secustream").info("received %s, finishing the current batch", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    return stop


def require_kafka(settings: Settings) -> str:
    if not settings.KAFKA_SERVER:
        raise SystemExit("KAFKA_SERVER is not set (bootstrap servers, e.g. localhost:9092); "
                         "`secustream up` runs everything on an embedded broker instead, and to feed a running "
                         "one set KAFKA_SERVER to the `kafka :` address it printed")
    return settings.KAFKA_SERVER


def kafka_reachable(bootstrap: str) -> bool:
    try:
        AdminClient({"bootstrap.servers": bootstrap, "logger": logging.getLogger("librdkafka")}).list_topics(
            timeout=2)
        return True
    except Exception:
        return False


def counter_total(registry: CollectorRegistry, name: str) -> float:
    """Sum of a counter over all label sets (for progress lines)."""
    total = 0.0
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == name:
                total += sample.value
    return total


def gauge_value(registry: CollectorRegistry, name: str) -> float:
    value = registry.get_sample_value(name)
    return float(value) if value is not None else 0.0
