"""`secustream up`: the whole pipeline in one process on embedded defaults (no cluster needed).

Embedded broker (Tansu), SQLite file and in-process state, unless KAFKA_SERVER / DATABASE_URL /
REDIS_URL point at real services.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import uvicorn
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from secustream.analyzer.service import build_worker
from secustream.analyzer.sigma.packs import installed
from secustream.api.app import create_app
from secustream.api.proxies import server_options
from secustream.api.security import dev_settings
from secustream.config import Settings
from secustream.generator.engine import EventGenerator
from secustream.generator.runner import run_generator
from secustream.messaging.admin import ensure_topics
from secustream.messaging.client import TrackedProducer, producer_config
from secustream.messaging.local_broker import LocalBroker
from secustream.metrics import GeneratorMetrics
from secustream.runtime import counter_total, gauge_value, kafka_reachable
from secustream.state import make_state
from secustream.storage.database import make_engine
from secustream.storage.migrate import quiet_alembic, upgrade
from secustream.storage.repository import VerdictRepository

log = logging.getLogger("secustream.up")


def dev_admin_password(data_dir: Path) -> str:
    """The dev admin's password, kept (mode 0600) beside the SQLite file it belongs to.

    Why: the admin is created once per database; a password generated afresh on every run would be
    printed, and refused, from the second run on.
    """
    path = data_dir / "dev-admin-password"
    if path.is_file() and (kept := path.read_text().strip()):
        return kept
    password = secrets.token_urlsafe(12)
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password


def ensure_port_free(host: str, port: int) -> None:
    """Stop before starting anything when the dashboard's port is taken (e.g. by another `up`).

    Why: uvicorn's bind failure only ended the API thread; the rest ran on, headless, while the
    printed dashboard URL pointed at the other process.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise SystemExit(f"up: port {port} is already in use ({exc.strerror}); is another `secustream up` "
                             f"running? Stop it, or pass --port") from None


SIGMA_CORE_URL = "https://github.com/SigmaHQ/sigma/releases/latest/download/sigma_core.zip"


def with_packs(settings: Settings, data_dir: Path) -> tuple[Settings, str]:
    """Settings whose Sigma packs live in ``<data-dir>/packs`` (unless SIGMA_PACKS_DIR says otherwise), and
    the line telling the one command that adds the SigmaHQ corpus (picked up by the hot reload)."""
    if not settings.SIGMA_PACKS_DIR:
        settings = settings.model_copy(update={"SIGMA_PACKS_DIR": str(data_dir / "packs")})
    packs_dir = settings.sigma_packs_dir
    assert packs_dir is not None
    packs_dir.mkdir(parents=True, exist_ok=True)
    found = installed(packs_dir)
    names = ", ".join(f"{p.name} ({p.meta.get('rules', '?')} rules)" for p in found) or "none"
    return settings, (f"sigma    : packs {names} in {packs_dir}; add the SigmaHQ corpus with\n"
                      f"           secustream rules install {SIGMA_CORE_URL} --packs-dir {packs_dir}")


def run_up(settings: Settings, stop: threading.Event, data_dir: Path, rate: float, attack_ratio: float,
           port: int, seed: int | None = None, status_every: float = 5.0) -> None:
    ensure_port_free(settings.API_HOST, port)
    data_dir.mkdir(parents=True, exist_ok=True)
    broker: LocalBroker | None = None
    threads: list[threading.Thread] = []
    server: uvicorn.Server | None = None
    producer: TrackedProducer | None = None
    try:
        if settings.KAFKA_SERVER:
            bootstrap = settings.KAFKA_SERVER
        else:
            broker = LocalBroker(log_path=data_dir / "broker.log").start()
            bootstrap = broker.bootstrap
        db_url = settings.DATABASE_URL if settings.DATABASE_URL_OVERRIDE else f"sqlite:///{data_dir / 'secustream.db'}"
        state = make_state(settings.REDIS_URL_OVERRIDE or None)
        print(f"kafka    : {bootstrap}{' (embedded Tansu broker)' if broker else ''}", flush=True)
        print(f"database : {_redact(db_url)}", flush=True)
        print(f"state    : {'redis ' + _redact(settings.REDIS_URL) if settings.REDIS_URL_OVERRIDE else 'in-process'}",
              flush=True)
        with quiet_alembic():
            upgrade(db_url)
        db = make_engine(db_url)
        settings, model_dir = _model_settings(settings, data_dir)
        if _should_bootstrap(settings, db):  # first, so the first model trains while the rest starts
            threads.append(_thread("bootstrap-model", _bootstrap, db_url, model_dir, settings, stop))
        ensure_topics(bootstrap, [settings.KAFKA_TOPIC, settings.KAFKA_RESULTS_TOPIC, settings.KAFKA_DLQ_TOPIC],
                      settings.KAFKA_PARTITIONS)
        registry = CollectorRegistry()
        repo = VerdictRepository(db)

        settings, packs_line = with_packs(settings, data_dir)
        print(packs_line, flush=True)
        worker = build_worker(settings, bootstrap, db, state, registry, client_id="secustream-up-analyzer")
        gen_metrics = GeneratorMetrics(registry)
        producer = TrackedProducer(producer_config(bootstrap, "secustream-up-generator"))
        generator = EventGenerator(seed=seed, attack_ratio=attack_ratio, rate=rate)
        threads.append(_thread("analyzer", worker.run, stop))
        threads.append(_thread("generator", _guard(stop, run_generator), generator, producer, settings.KAFKA_TOPIC,
                               rate, stop, None, state, repo.store_labels, gen_metrics,
                               settings.RECENT_STREAM_MAXLEN))
        api_settings, login_hint = dev_settings(settings, dev_admin_password(data_dir))
        app = create_app(api_settings, db, state, registry, kafka_ready=lambda: kafka_reachable(bootstrap))
        server = uvicorn.Server(uvicorn.Config(app, host=settings.API_HOST, port=port, log_level="warning",
                                               lifespan="off", **server_options()))  # type: ignore[arg-type]
        threads.append(_thread("api", _guard(stop, server.run)))
        print(f"dashboard: http://127.0.0.1:{port}/", flush=True)
        print(f"events   : http://127.0.0.1:{port}{settings.API_V1_STR}/events", flush=True)
        print(f"metrics  : http://127.0.0.1:{port}/metrics", flush=True)
        print(f"API docs : http://127.0.0.1:{port}/docs   (Ctrl-C stops everything)", flush=True)
        print(f"login    : {login_hint}", flush=True)
        _report_rates(registry, stop, status_every)
    finally:
        stop.set()
        if server is not None:
            server.should_exit = True
        for thread in threads:
            thread.join(timeout=30)
        if producer is not None:  # the analyzer closed its own; the broker goes last
            producer.close()
        if broker is not None:
            broker.stop()
        print("stopped.", flush=True)


def _model_settings(settings: Settings, data_dir: Path) -> tuple[Settings, Path]:
    """Models live in the data dir unless MODEL_DIR says otherwise; the registry is polled every 5 s
    (a first model becomes active within seconds of being trained)."""
    defaults = Settings.model_fields
    model_dir = Path(settings.MODEL_DIR) if defaults["MODEL_DIR"].default != settings.MODEL_DIR \
        else data_dir / "models"
    update: dict[str, object] = {"MODEL_DIR": str(model_dir)}
    if defaults["MODEL_RELOAD_SECONDS"].default == settings.MODEL_RELOAD_SECONDS:
        update["MODEL_RELOAD_SECONDS"] = 5.0
    return settings.model_copy(update=update), model_dir


def _should_bootstrap(settings: Settings, db: Engine) -> bool:
    if not (settings.MODEL_BOOTSTRAP and settings.MODEL_ENABLED) or settings.MODEL_PATH:
        return False
    from secustream.training.bootstrap import needs_bootstrap

    return needs_bootstrap(db)


def _bootstrap(db_url: str, model_dir: Path, settings: Settings, stop: threading.Event) -> None:
    """`secustream train --bootstrap` in a child process (training in a thread would fight the pipeline's
    threads for the GIL); its progress lines are relayed. A failure leaves the rules (and the LLM) running."""
    env = {**os.environ, "DATABASE_URL": db_url, "MODEL_DIR": str(model_dir),
           "MODEL_THREADS": str(settings.MODEL_THREADS or 1)}
    proc = subprocess.Popen([sys.executable, "-m", "secustream.cli", "train", "--bootstrap"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if stop.is_set():
            proc.terminate()
            break
        if line.startswith("model    :"):
            print(line.rstrip(), flush=True)
    if proc.wait() != 0 and not stop.is_set():
        log.error("model    : first-model training failed (exit %s); the rules keep deciding (run `secustream "
                  "train`)", proc.returncode)


def _guard(stop: threading.Event, fn):  # type: ignore[no-untyped-def]
    """A component that dies takes `up` down with it rather than leaving a half pipeline running."""

    def wrapped(*args):  # type: ignore[no-untyped-def]
        try:
            return fn(*args)
        except (Exception, SystemExit):  # uvicorn exits its thread with SystemExit when it cannot serve
            log.exception("%s failed; stopping", getattr(fn, "__name__", fn))
            stop.set()
            raise

    return wrapped


def _thread(name: str, target, *args) -> threading.Thread:  # type: ignore[no-untyped-def]
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.start()
    return thread


def _report_rates(registry: CollectorRegistry, stop: threading.Event, every: float) -> None:
    last = time.monotonic()
    prev = {"p": 0.0, "a": 0.0}
    while not stop.wait(every):
        now = time.monotonic()
        produced = counter_total(registry, "secustream_events_produced_total")
        analyzed = counter_total(registry, "secustream_events_analyzed_total")
        high = sum(
            registry.get_sample_value("secustream_events_analyzed_total", {"tier": t, "risk_level": r}) or 0
            for t in ("rules", "model", "llm") for r in ("high", "critical")
        )
        dt = max(now - last, 1e-6)
        print(f"[{time.strftime('%H:%M:%S')}] produced {(produced - prev['p']) / dt:7.1f}/s  "
              f"analyzed {(analyzed - prev['a']) / dt:7.1f}/s  total {int(analyzed)}  high+critical {int(high)}  "
              f"dlq {int(counter_total(registry, 'secustream_dlq_messages_total'))}  "
              f"lag {int(gauge_value(registry, 'secustream_consumer_lag'))}", flush=True)
        prev = {"p": produced, "a": analyzed}
        last = now


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"
    return url
