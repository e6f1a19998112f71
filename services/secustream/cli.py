"""`secustream` command line: one entry point for every workload of the single image."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from datetime import UTC, date, datetime
from pathlib import Path

from secustream import heap
from secustream.config import Settings, load_settings
from secustream.runtime import require_kafka, setup_logging, stop_on_signals

log = logging.getLogger("secustream")


def migrated_engine(settings: Settings):  # type: ignore[no-untyped-def]
    """The database engine, after checking the schema is there and current (one clear line if not)."""
    from secustream.storage.database import make_engine
    from secustream.storage.migrate import require_schema

    engine = make_engine(settings.DATABASE_URL)
    require_schema(engine)
    return engine


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    from secustream.up import run_up

    run_up(settings, stop_on_signals(), Path(args.data_dir), rate=args.rate, attack_ratio=args.attack_ratio,
           port=args.port, seed=args.seed)
    return 0


def cmd_generate(settings: Settings, args: argparse.Namespace) -> int:
    from prometheus_client import CollectorRegistry

    from secustream.generator.engine import EventGenerator
    from secustream.generator.runner import open_label_store, run_generator
    from secustream.messaging.admin import ensure_topics
    from secustream.messaging.client import TrackedProducer, producer_config
    from secustream.metrics import GeneratorMetrics, serve_metrics
    from secustream.state import make_state

    bootstrap = require_kafka(settings)
    stop = stop_on_signals()
    registry = CollectorRegistry()
    if settings.PROMETHEUS_PORT:
        serve_metrics(registry, settings.PROMETHEUS_PORT)
    ensure_topics(bootstrap, [settings.KAFKA_TOPIC], settings.KAFKA_PARTITIONS)
    state = None if args.no_redis else make_state(settings.REDIS_URL)
    metrics = GeneratorMetrics(registry)
    # Labels are a side channel: a database that is down (at start or later) costs labels, not events.
    label_sink = None if args.no_labels else open_label_store(settings.DATABASE_URL, metrics)
    rate = args.rate or settings.GENERATOR_EVENTS_PER_SECOND
    ratio = settings.GENERATOR_ATTACK_RATIO if args.attack_ratio is None else args.attack_ratio
    seed = settings.GENERATOR_SEED if args.seed is None else args.seed
    generator = EventGenerator(seed=seed, attack_ratio=ratio, rate=rate)
    producer = TrackedProducer(producer_config(bootstrap, "secustream-generator"))
    log.info("generating %s events at %.1f/s (attack ratio %.2f, seed %s) to %s",
             args.count or "unbounded", rate, ratio, seed, settings.KAFKA_TOPIC)
    produced = run_generator(generator, producer, settings.KAFKA_TOPIC, rate, stop, args.count, state, label_sink,
                             metrics, settings.RECENT_STREAM_MAXLEN)
    if label_sink is None:
        log.info("produced %d events (labels not recorded)", produced)
    else:
        log.info("produced %d events; %d labels could not be stored", produced, label_sink.failed)
    return 0


def cmd_analyze(settings: Settings, args: argparse.Namespace) -> int:
    from prometheus_client import CollectorRegistry

    from secustream.analyzer.service import build_worker
    from secustream.messaging.admin import ensure_topics
    from secustream.metrics import serve_metrics
    from secustream.state import make_state

    bootstrap = require_kafka(settings)
    if args.batch_size:
        settings = settings.model_copy(update={"ANALYZER_BATCH_SIZE": args.batch_size})
    stop = stop_on_signals()
    registry = CollectorRegistry()
    ensure_topics(bootstrap, [settings.KAFKA_TOPIC, settings.KAFKA_RESULTS_TOPIC, settings.KAFKA_DLQ_TOPIC],
                  settings.KAFKA_PARTITIONS)
    worker = build_worker(settings, bootstrap, migrated_engine(settings),
                          make_state(settings.REDIS_URL), registry)
    if settings.PROMETHEUS_PORT:
        serve_metrics(registry, settings.PROMETHEUS_PORT, health=worker.health.check)
    log.info("analyzer consuming %s as group %s", settings.KAFKA_TOPIC, settings.KAFKA_CONSUMER_GROUP)
    if not worker.run(stop):  # offsets committed, but librdkafka still holds the close: do not wait on it
        log.info("analyzer stopped; leaving without the consumer's group leave")
        logging.shutdown()
        os._exit(0)
    log.info("analyzer stopped cleanly")
    return 0


def cmd_api(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn
    from prometheus_client import CollectorRegistry

    from secustream.api.app import create_app
    from secustream.api.proxies import server_options
    from secustream.api.security import check_secret_key
    from secustream.runtime import kafka_reachable
    from secustream.state import make_state

    check_secret_key(settings)  # the signing key first: it is the more fundamental misconfiguration
    kafka = settings.KAFKA_SERVER
    app = create_app(settings, migrated_engine(settings), make_state(settings.REDIS_URL),
                     CollectorRegistry(), kafka_ready=(lambda: kafka_reachable(kafka)) if kafka else None)
    uvicorn.run(app, host=args.host or settings.API_HOST, port=args.port or settings.API_PORT, log_level="info",
                **server_options())  # type: ignore[arg-type]
    return 0


def cmd_users(settings: Settings, args: argparse.Namespace) -> int:
    """Create or update a user from the command line (e.g. the first admin, before the API is reachable)."""
    import getpass

    from secustream.api.security import PasswordHasher
    from secustream.storage import users as user_store

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.username}: ")
    if len(password) < 12 or len(password.encode()) > 72:
        raise SystemExit("users: the password needs 12 to 72 bytes")
    hashed = PasswordHasher(settings.PASSWORD_HASH_ROUNDS).hash(password)
    engine = migrated_engine(settings)
    with engine.begin() as conn:
        existing = user_store.get_user_by_name(conn, args.username)
        if existing is None:
            user_store.create_user(conn, args.username, hashed, args.role)
            print(f"created {args.role} {args.username}")
        elif not args.update:
            raise SystemExit(f"users: {args.username} exists (pass --update to reset its password and role)")
        else:
            user_store.update_user(conn, int(existing["id"]),
                                {"hashed_password": hashed, "role": args.role, "is_active": True})
            print(f"updated {args.username}: role {args.role}, password reset, active")
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from secustream.storage import migrate

    if args.downgrade:
        migrate.downgrade(settings.DATABASE_URL, args.downgrade)
    else:
        migrate.upgrade(settings.DATABASE_URL, args.revision)
    print(f"database at revision {migrate.current(settings.DATABASE_URL) or 'base (empty)'}")
    return 0


def _write_storage_metrics(args: argparse.Namespace, states, report=None) -> None:  # type: ignore[no-untyped-def]
    """One-shot commands (CronJobs) leave their gauges in a node-exporter textfile when asked."""
    if not args.metrics_file:
        return
    from prometheus_client import CollectorRegistry, write_to_textfile

    from secustream.metrics import StorageMetrics
    from secustream.storage import partitions

    registry = CollectorRegistry()
    m = StorageMetrics(registry)
    for s in states:
        m.partitions.labels(s.table).set(s.partitions)
        m.default_rows.labels(s.table).set(s.default_rows)
        if s.oldest is not None:
            m.oldest_day.labels(s.table).set(partitions.day_start(s.oldest).timestamp())
    if report is not None:
        for table in sorted({o.table for o in report.outcomes}):
            m.rows_dropped.labels(table).inc(report.rows_dropped(table))
            m.failures.labels(table).inc(sum(1 for o in report.failed if o.table == table))
    write_to_textfile(args.metrics_file, registry)


def _postgres_engine(settings: Settings):  # type: ignore[no-untyped-def]
    """The migrated engine, or None (with the reason printed) on SQLite, which keeps plain tables."""
    from secustream.storage.partitions import SQLITE_MESSAGE

    engine = migrated_engine(settings)
    if engine.dialect.name != "postgresql":
        print(SQLITE_MESSAGE)
        return None
    return engine


def cmd_partitions(settings: Settings, args: argparse.Namespace) -> int:
    """`ensure` creates day partitions ahead (and for days waiting in the default partition); `list` reports."""
    from secustream.storage import partitions

    engine = _postgres_engine(settings)
    if engine is None:
        return 0
    if args.partitions_command == "ensure":
        days_ahead = args.days_ahead or settings.PARTITION_DAYS_AHEAD
        states = partitions.ensure(engine, datetime.now(UTC).date(), days_ahead)
    else:
        states = partitions.status(engine)
    print("\n".join(partitions.report_lines(states)))
    _write_storage_metrics(args, states)
    return 0


def archiver_from(settings: Settings, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The archive retention writes before each drop; None only when the operator passed --no-archive."""
    if args.no_archive:
        return None
    url = args.archive or settings.ARCHIVE_URL
    if not url:
        raise SystemExit("retention deletes data: set ARCHIVE_URL or pass --archive URL (where expired days are "
                         "written first), or --no-archive to accept losing them")
    from secustream.archival import ArchiveError
    from secustream.archive import make_archiver

    try:
        return make_archiver(url, settings)
    except ArchiveError as exc:
        raise SystemExit(f"retention: {exc}") from None


def cmd_retention(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 1 when some expired day was kept because its archive failed (nothing is dropped unarchived)."""
    from secustream.storage import partitions, retention

    engine = _postgres_engine(settings)
    if engine is None:  # SQLite: said so, nothing to expire (before asking for an archive it would not use)
        return 0
    archiver = None if args.dry_run else archiver_from(settings, args)
    policy = retention.RetentionPolicy(events=settings.RETENTION_EVENTS_DAYS, verdicts=settings.RETENTION_VERDICTS_DAYS,
                                       alerts=settings.RETENTION_ALERTS_DAYS,
                                       incidents=settings.RETENTION_INCIDENTS_DAYS)
    report = retention.run(engine, policy, archiver, datetime.now(UTC).date(), dry_run=args.dry_run)
    if archiver is None and not args.dry_run:
        print("--no-archive: expired days are dropped without an archive")
    print("\n".join(report.lines()))
    states = partitions.status(engine)
    print("\n".join(partitions.report_lines(states)))
    _write_storage_metrics(args, states, None if args.dry_run else report)
    return 1 if report.failed else 0


def cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 when every line read is on the events topic or the DLQ; 1 when some could not be delivered or the input
    could not be read to its end (a corrupt archive: the lines before it are published)."""
    from prometheus_client import CollectorRegistry

    from secustream.ingest import ingest_lines, print_progress
    from secustream.ingest_input import IngestInputs, expand_paths
    from secustream.messaging.admin import ensure_topics
    from secustream.messaging.client import TrackedProducer, producer_config
    from secustream.metrics import GeneratorMetrics
    from secustream.normalizers import NORMALIZERS

    try:
        files = expand_paths(args.file)  # every path checked before anything is published
    except ValueError as exc:
        raise SystemExit(f"ingest: {exc}") from None
    bootstrap = require_kafka(settings)
    normalise = NORMALIZERS[args.format]
    if args.format in ("sshd", "linux-auth", "syslog") and args.year:
        from functools import partial

        normalise = partial(normalise, year=args.year)
    ensure_topics(bootstrap, [settings.KAFKA_TOPIC, settings.KAFKA_DLQ_TOPIC], settings.KAFKA_PARTITIONS)
    producer = TrackedProducer(producer_config(bootstrap, "secustream-ingest"))
    source = IngestInputs(files, sys.stdin.buffer, print_progress)  # bytes: any line, decoded per line
    report = ingest_lines(source.lines(), args.format, normalise, producer, settings.KAFKA_TOPIC,
                          settings.KAFKA_DLQ_TOPIC, GeneratorMetrics(CollectorRegistry()), progress=print_progress)
    print(report.summary(len(files)) + (f"; input incomplete: {'; '.join(source.errors)}" if source.errors else ""))
    return 0 if report.ok and not source.errors else 1


def cmd_train(settings: Settings, args: argparse.Namespace) -> int:
    import torch

    from secustream.training.classifier import TrainConfig
    from secustream.training.evaluate import real_cache_dir
    from secustream.training.pipeline import TrainPlan, run_training

    engine = migrated_engine(settings)  # first: a missing schema is one clear line, before any slow loading
    if settings.MODEL_THREADS:  # on a shared machine 1 thread trains faster than spinning on 2
        torch.set_num_threads(settings.MODEL_THREADS)
    if args.bootstrap:
        from secustream.training.bootstrap import bootstrap_model

        device = settings.MODEL_DEVICE if settings.MODEL_DEVICE != "auto" else "cpu"
        bootstrap_model(engine, Path(settings.MODEL_DIR), settings.rules_path, device,
                        say=lambda line: print(line, flush=True))
        return 0
    corpora = None if args.no_real else settings.corpora_path
    detectors = None
    if corpora is not None and (corpora / "otrf-atomic-windows").is_dir():
        from secustream.training.realdata import Detectors

        detectors = Detectors.for_settings(settings, real_cache_dir(settings))
    plan = TrainPlan(seed=args.seed, events=args.events, held_out_events=args.held_out_events,
                     attack_ratio=args.attack_ratio, use_feedback=not args.no_feedback,
                     use_weak_labels=not args.no_weak_labels,
                     train=TrainConfig(arch=args.arch, init=args.init, epochs=args.epochs, batch_size=args.batch_size,
                                       lr=args.lr, max_length=args.max_length, seed=args.seed,
                                       device=settings.MODEL_DEVICE, max_seconds=args.max_seconds,
                                       dedupe=args.dedupe),
                     corpora=corpora, detectors=detectors, real_background=args.real_background,
                     real_training=not args.no_real_training,
                     cache_dir=real_cache_dir(settings))
    outcome = run_training(plan, engine, settings.MODEL_DIR, settings.rules_path,
                           settings.MODEL_DEVICE)
    print(outcome.summary())
    return 0


def cmd_optimize_llm(settings: Settings, args: argparse.Namespace) -> int:
    from secustream.training.optimize import run_optimization

    outcome = run_optimization(settings, migrated_engine(settings), settings.MODEL_DIR,
                               demo_events=args.demo_events, seed=args.seed, max_demos=args.max_demos)
    print(outcome.summary())
    return 0


def cmd_evaluate(settings: Settings, args: argparse.Namespace) -> int:
    from secustream.training.evaluate import run_evaluation, run_real_evaluation

    if args.corpus != "synthetic":
        path = args.model or settings.MODEL_PATH or _active_classifier(settings, required=False)
        print(f"evaluating {path or 'no model (rules only)'} on {args.corpus}")
        print(run_real_evaluation(settings, Path(path) if path else None, args.corpus, args.split,
                                  args.per_recording, args.sample_seed))
        return 0
    if args.seed is None:
        raise SystemExit("evaluate: --seed is required for the synthetic corpus (a seed not used in training)")
    path = args.model or settings.MODEL_PATH or _active_classifier(settings)
    print(f"evaluating {path} on a fresh stream: seed {args.seed}, {args.events} events")
    for result in run_evaluation(settings, Path(path), args.seed, args.events, args.attack_ratio):
        print(result.render())
    return 0


def _active_classifier(settings: Settings, required: bool = True) -> str | None:
    from secustream.storage.registry import CLASSIFIER, active

    try:
        current = active(migrated_engine(settings), CLASSIFIER)
    except (Exception, SystemExit):  # no database: evaluate the rules alone
        if required:
            raise
        return None
    if current is None and required:
        raise SystemExit("evaluate: no --model given and no active classifier in the registry (run train)")
    return current.artifact_path if current else None


def cmd_rules_test(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 1 when a rule fails to load, an example fails (a rule stopped firing) or an example is broken."""
    from secustream.analyzer.sigma import SigmaRuleSet
    from secustream.analyzer.sigma.examples import run_examples

    path = Path(args.dir) if args.dir else settings.sigma_rules_path
    if path is None or not path.exists():
        raise SystemExit(f"rules test: {path} does not exist")
    ruleset = SigmaRuleSet.load(path)
    for issue in ruleset.issues:
        print(issue)
    report = run_examples(path, ruleset)
    text = report.summary()
    if args.quiet:
        text = "\n".join(line for line in text.splitlines() if not line.startswith("ok "))
    print(f"{len(ruleset.rules)} rules, {len(ruleset.correlations)} correlations loaded from {path}")
    print(text)
    return 0 if report.ok else 1


def _packs_dir(settings: Settings, args: argparse.Namespace) -> Path:
    packs = Path(args.packs_dir) if getattr(args, "packs_dir", None) else settings.sigma_packs_dir
    if packs is None:
        raise SystemExit("rules: no packs directory: set SIGMA_PACKS_DIR or pass --packs-dir")
    return packs


def cmd_rules_install(settings: Settings, args: argparse.Namespace) -> int:
    """Install a pack atomically; analyzers watching SIGMA_PACKS_DIR pick it up within RULES_RELOAD_SECONDS."""
    from secustream.analyzer.sigma.packs import PackError, install, parse_placeholders

    packs = _packs_dir(settings, args)
    try:
        result = install(args.source, packs, args.name, allow_http=args.allow_http, cache_dir=settings.sigma_cache_dir,
                         progress=lambda line: print(f"rules install: {line}", file=sys.stderr, flush=True),
                         placeholders=parse_placeholders(args.placeholder))
    except PackError as exc:
        print(f"rules install: {exc} (the active pack is unchanged)", file=sys.stderr)
        return 1
    if not result.changed:
        print(f"pack {result.name} {result.version} is already active: nothing to do")
    else:
        print(f"pack {result.name} {result.version} installed and active: {result.rules:,} rules, "
              f"{result.issues} load issues (secustream rules list --issues)")
        print(f"running analyzers load it within RULES_RELOAD_SECONDS ({settings.RULES_RELOAD_SECONDS:g} s) and log "
              "'sigma rules reloaded'; events they analysed before keep their verdicts")
    return 0


def cmd_rules_list(settings: Settings, args: argparse.Namespace) -> int:
    from secustream.analyzer.service import sigma_sources
    from secustream.analyzer.sigma.filters import RuleFilter
    from secustream.analyzer.sigma.packs import describe, installed, load_pack
    from secustream.analyzer.sigma.report import pack_counts, render_counts

    sources = sigma_sources(settings)
    keep = sources.keep if sources is not None else RuleFilter()
    packs_dir = Path(args.packs_dir) if args.packs_dir else settings.sigma_packs_dir
    cache = settings.sigma_cache_dir or (packs_dir / ".cache" if packs_dir is not None else None)
    packs = installed(packs_dir)
    if not packs:
        print("no content packs installed (secustream rules install SOURCE; docs/sigma.md)")
    for pack, line in zip(packs, describe(packs), strict=True):
        print(line)
        counts = pack_counts(load_pack(pack, cache), keep)
        print("\n".join(render_counts(counts)))
        for issue in counts.error_lines if args.issues else counts.error_lines[:5]:
            print(f"    {issue}")
    if packs:
        print(f"filters: level >= {keep.min_level}, status in {','.join(keep.statuses)}"
              + (f", include {','.join(keep.include)}" if keep.include else "")
              + (f", exclude {','.join(keep.exclude)}" if keep.exclude else ""))
    return 0


def cmd_rules_coverage(settings: Settings, args: argparse.Namespace) -> int:
    from secustream.analyzer.service import sigma_sources
    from secustream.analyzer.sigma.report import render_coverage, ruleset_coverage

    if args.packs_dir:  # as `rules list` takes it: the packs `secustream up` keeps in <data-dir>/packs
        settings = settings.model_copy(update={"SIGMA_PACKS_DIR": args.packs_dir})
    sources = sigma_sources(settings)
    if sources is None:
        print("Sigma rules are switched off (SIGMA_RULES_PATH=off and no SIGMA_PACKS_DIR)")
        return 0
    data = ruleset_coverage(sources.load())
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print("\n".join(render_coverage(data)))
    return 0


def cmd_archive_read(settings: Settings, args: argparse.Namespace) -> int:
    """Replay an archived day into the events topic (backfill, rules over history); --dry-run only counts."""
    import time

    from secustream.archival import ArchiveError
    from secustream.archive import make_archiver
    from secustream.archive.replay import ordered_records, replay
    from secustream.events import encode_event, grouping_key
    from secustream.ingest import print_progress
    from secustream.messaging import headers as h
    from secustream.messaging.admin import ensure_topics
    from secustream.messaging.client import TrackedProducer, producer_config

    try:
        archiver = make_archiver(args.url or settings.ARCHIVE_URL, settings)
        manifest = archiver.manifest("events", args.day)
        print(f"{manifest.rows} events archived for {args.day} in {len(manifest.files)} files "
              f"({archiver.url(manifest.location)})", flush=True)
        if not args.no_verify:
            archiver.verify(manifest)  # a damaged archive is refused before anything is sent
            print(f"verified: {manifest.rows} rows, digest {manifest.sha256[:16]}", flush=True)
        if args.dry_run:
            print(replay(ordered_records(archiver, manifest), None, print_progress).summary(dry_run=True))
            return 0
        bootstrap = require_kafka(settings)
        topic = args.topic or settings.KAFKA_TOPIC
        ensure_topics(bootstrap, [topic], settings.KAFKA_PARTITIONS)
        producer = TrackedProducer(producer_config(bootstrap, "secustream-archive-replay"))
        fmt = [(h.SOURCE_FORMAT, b"archive")]

        def send(event) -> None:  # type: ignore[no-untyped-def]
            producer.produce(topic, encode_event(event), key=grouping_key(event),
                             headers=[*fmt, (h.PRODUCED_AT, str(time.time()).encode())])

        report = replay(ordered_records(archiver, manifest), send, print_progress)
        producer.flush_or_raise()
    except ArchiveError as exc:
        raise SystemExit(f"archive read: {exc}") from None
    print(report.summary(dry_run=False) + f" to {topic}")
    return 0


def cmd_archive_write(settings: Settings, args: argparse.Namespace) -> int:
    """Archive one day by hand (retention does it before each drop): checks an archive location end to end."""
    from secustream.archival import ArchiveError
    from secustream.archive import make_archiver
    from secustream.storage.day_rows import DAY_COLUMN, day_rows

    engine = migrated_engine(settings)
    tables = list(DAY_COLUMN) if args.table == "all" else [args.table]
    try:
        archiver = make_archiver(args.url or settings.ARCHIVE_URL, settings)
        for table in tables:
            with engine.connect() as conn:
                receipt = archiver.archive(table, args.day, day_rows(conn, table, args.day))
            print(f"{table} {args.day}: {receipt.rows} rows archived, digest {receipt.sha256[:16]} "
                  f"({receipt.location})", flush=True)
    except ArchiveError as exc:
        raise SystemExit(f"archive write: {exc}") from None
    finally:
        engine.dispose()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="secustream", description="SecuStreamAI security event pipeline")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="generator + analyzer + API + dashboard on embedded defaults")
    up.add_argument("--rate", type=float, default=50.0, help="generated events per second (default 50)")
    up.add_argument("--attack-ratio", type=float, default=0.05, help="fraction of attack events (default 0.05)")
    up.add_argument("--port", type=int, default=8080, help="API/dashboard port (default 8080)")
    up.add_argument("--seed", type=int, default=None, help="generator seed for a reproducible stream")
    up.add_argument("--data-dir", default=".secustream", help="where the SQLite file and broker log live")
    up.set_defaults(func=cmd_up)

    gen = sub.add_parser("generate", help="produce simulated events (benign + labelled attack campaigns)")
    gen.add_argument("--rate", type=float, default=None, help="events/s (default GENERATOR_EVENTS_PER_SECOND)")
    gen.add_argument("--attack-ratio", type=float, default=None)
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument("--count", type=int, default=None, help="stop after this many events")
    gen.add_argument("--no-labels", action="store_true",
                     help="don't record ground truth in the training store (a database that is down only costs labels)")
    gen.add_argument("--no-redis", action="store_true", help="don't push to the recent-events Redis stream")
    gen.set_defaults(func=cmd_generate)

    ana = sub.add_parser("analyze", help="consume, analyse, persist and publish verdicts")
    ana.add_argument("--batch-size", type=int, default=None)
    ana.set_defaults(func=cmd_analyze)

    api = sub.add_parser("api", help="serve the API and dashboard")
    api.add_argument("--host", default=None)
    api.add_argument("--port", type=int, default=None)
    api.set_defaults(func=cmd_api)

    usr = sub.add_parser("users", help="manage API users (create the first admin)")
    usr_sub = usr.add_subparsers(dest="users_command", required=True)
    usr_create = usr_sub.add_parser("create", help="create a user (password prompted, or read from stdin)")
    usr_create.add_argument("username")
    usr_create.add_argument("--role", choices=["viewer", "analyst", "admin"], default="admin")
    usr_create.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    usr_create.add_argument("--update", action="store_true", help="reset password and role if the user exists")
    usr_create.set_defaults(func=cmd_users)

    mig = sub.add_parser("migrate", help="apply database migrations (alembic)")
    mig.add_argument("--revision", default="head")
    mig.add_argument("--downgrade", default=None, metavar="REV", help="downgrade to REV (e.g. base)")
    mig.set_defaults(func=cmd_migrate)

    part = sub.add_parser("partitions", help="day partitions of events/verdicts (PostgreSQL): create ahead, report")
    part_sub = part.add_subparsers(dest="partitions_command", required=True)
    ensure = part_sub.add_parser("ensure", help="create the day partitions ahead and for late rows in the default")
    ensure.add_argument("--days-ahead", type=int, default=0, help="days after today (default PARTITION_DAYS_AHEAD)")
    part_sub.add_parser("list", help="partitions per table, oldest/newest day, rows in the default partition")
    for p in (part, *part_sub.choices.values()):
        p.add_argument("--metrics-file", default="", help="also write the storage gauges here (textfile format)")
    part.set_defaults(func=cmd_partitions)

    ret = sub.add_parser("retention", help="archive, then drop, what is older than RETENTION_*_DAYS")
    ret_sub = ret.add_subparsers(dest="retention_command", required=True)
    rrun = ret_sub.add_parser("run", help="expire events/verdicts day partitions and old alerts/incidents")
    rrun.add_argument("--dry-run", action="store_true", help="print what would go; change nothing")
    where = rrun.add_mutually_exclusive_group()
    where.add_argument("--archive", default="", metavar="URL",
                       help="archive location, a path or fsspec URL (default: ARCHIVE_URL)")
    where.add_argument("--no-archive", action="store_true", help="drop without archiving (accepts the loss)")
    rrun.add_argument("--metrics-file", default="", help="also write the storage metrics here (textfile format)")
    ret.set_defaults(func=cmd_retention)

    ing = sub.add_parser("ingest", help="normalise a log file and publish it (bad lines go to the DLQ)")
    from secustream.normalizers import NORMALIZERS

    ing.add_argument("--format", required=True, choices=sorted(NORMALIZERS))
    ing.add_argument("--year", type=int, default=None, help="year for syslog lines without one")
    ing.add_argument("file", nargs="+", help=(
        "files or directories (every file under one, recursively, hidden ones skipped), or - for stdin; read as "
        "bytes: any line, invalid UTF-8 escaped; a gzip file or stream is decompressed, a zip archive's members are "
        "read in turn (macOS resource forks skipped), e.g. an OTRF recording or a folder of them"))
    ing.set_defaults(func=cmd_ingest)

    rules = sub.add_parser("rules", help="detection content tools")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    rtest = rules_sub.add_parser("test", help="load the Sigma rules in DIR and run their fires/quiet examples")
    rtest.add_argument("dir", nargs="?", default=None, help="rules directory (default: SIGMA_RULES_PATH)")
    rtest.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    rtest.set_defaults(func=cmd_rules_test)
    rinst = rules_sub.add_parser("install", help="install a Sigma content pack (directory, zip or https URL to a zip)")
    rinst.add_argument("source", help="a directory of Sigma rules, a SigmaHQ release zip, or an https:// URL to one")
    rinst.add_argument("--name", default=None, help="pack name (default: from the source, e.g. sigma_core)")
    rinst.add_argument("--packs-dir", default=None, help="default: SIGMA_PACKS_DIR")
    rinst.add_argument("--allow-http", action="store_true", help="also fetch http:// URLs (local test servers)")
    rinst.add_argument("--placeholder", action="append", default=[], metavar="NAME=VALUE[,VALUE...]",
                       help="values for the rules' %%NAME%% placeholders (|expand), e.g. known_cdcs=dc01,10.0.0.5; "
                            "repeatable; '*' is a wildcard. Rules with a placeholder left without values are "
                            "reported, not loaded")
    rinst.set_defaults(func=cmd_rules_install)
    rlist = rules_sub.add_parser("list", help="installed packs: rule counts by level, status, logsource; load issues")
    rlist.add_argument("--packs-dir", default=None, help="default: SIGMA_PACKS_DIR")
    rlist.add_argument("--issues", action="store_true", help="print every load error, not the first five")
    rlist.set_defaults(func=cmd_rules_list)
    rcov = rules_sub.add_parser("coverage", help="ATT&CK tactic x technique counts of the loaded Sigma rules")
    rcov.add_argument("--json", action="store_true")
    rcov.add_argument("--packs-dir", default=None, help="default: SIGMA_PACKS_DIR")
    rcov.set_defaults(func=cmd_rules_coverage)

    arc = sub.add_parser("archive", help="the OCSF Parquet archive of dropped days (docs/storage.md)")
    arc_sub = arc.add_subparsers(dest="archive_command", required=True)
    arc_read = arc_sub.add_parser("read", help="replay an archived day of events into the events topic")
    arc_read.add_argument("--day", required=True, type=date.fromisoformat, help="the event day, YYYY-MM-DD (UTC)")
    arc_read.add_argument("--url", default=None, help="archive path or fsspec URL (default: ARCHIVE_URL)")
    arc_read.add_argument("--topic", default=None, help="where to replay (default: KAFKA_TOPIC)")
    arc_read.add_argument("--dry-run", action="store_true", help="count the archived events per OCSF class, send none")
    arc_read.add_argument("--no-verify", action="store_true", help="skip re-reading the day against its digest first")
    arc_read.set_defaults(func=cmd_archive_read)
    arc_write = arc_sub.add_parser("write", help="archive one day of the database by hand (nothing is dropped)")
    arc_write.add_argument("--day", required=True, type=date.fromisoformat, help="the day, YYYY-MM-DD (UTC)")
    arc_write.add_argument("--table", default="all", choices=["all", "events", "verdicts", "alerts", "incidents"])
    arc_write.add_argument("--url", default=None, help="archive path or fsspec URL (default: ARCHIVE_URL)")
    arc_write.set_defaults(func=cmd_archive_write)

    tr = sub.add_parser("train", help="fine-tune the classifier, register it, promote it if it beats the active one")
    tr.add_argument("--seed", type=int, default=7, help="generator seed of the training stream")
    tr.add_argument("--events", type=int, default=12_000, help="generated training events")
    tr.add_argument("--held-out-events", type=int, default=4_000, help="held-out events (another seed)")
    tr.add_argument("--attack-ratio", type=float, default=0.3)
    tr.add_argument("--arch", default="student", choices=["student", "student-l1", "minilm", "tiny"])
    tr.add_argument("--init", default="minilm", choices=["minilm", "random"])
    tr.add_argument("--epochs", type=int, default=3)
    tr.add_argument("--batch-size", type=int, default=64)
    tr.add_argument("--lr", type=float, default=None)
    tr.add_argument("--max-length", type=int, default=64)
    tr.add_argument("--max-seconds", type=float, default=None, help="stop training after this long")
    tr.add_argument("--no-feedback", action="store_true", help="ignore analyst feedback")
    tr.add_argument("--no-weak-labels", action="store_true", help="ignore high-confidence LLM verdicts")
    tr.add_argument("--no-real", action="store_true",
                    help="skip real data (Sigma weak labels, OTRF background, the real dev judge)")
    tr.add_argument("--no-real-training", action="store_true",
                    help="train without real examples; the candidate is still judged on the real dev split")
    tr.add_argument("--real-background", type=int, default=200,
                    help="OTRF background events sampled per recording for training and the dev judge")
    tr.add_argument("--dedupe", action="store_true", help="merge identical (text, label) examples (faster epochs)")
    tr.add_argument("--bootstrap", action="store_true",
                    help="train the small first model `up` uses when none is active (other options ignored)")
    tr.set_defaults(func=cmd_train)

    opt = sub.add_parser("optimize-llm", help="optimise the DSPy program on feedback (BootstrapFewShot)")
    opt.add_argument("--demo-events", type=int, default=40, help="generated examples added to feedback")
    opt.add_argument("--seed", type=int, default=3)
    opt.add_argument("--max-demos", type=int, default=4)
    opt.set_defaults(func=cmd_optimize_llm)

    ev = sub.add_parser("evaluate", help="rules-only vs model-only vs hybrid on a fresh labelled stream or real data")
    ev.add_argument("--corpus", choices=["synthetic", "otrf", "sigmahq"], default="synthetic",
                    help="synthetic: a generator stream; otrf: the OTRF recordings (CORPORA_DIR); sigmahq: its "
                         "regression events")
    ev.add_argument("--split", choices=["train", "dev", "test"], default="test", help="OTRF split")
    ev.add_argument("--per-recording", type=int, default=300,
                    help="OTRF background events sampled per recording (0 = all); attack events are all kept")
    ev.add_argument("--sample-seed", type=int, default=0, help="seed of the OTRF background sample")
    ev.add_argument("--seed", type=int, default=None, help="synthetic: a generator seed not used in training")
    ev.add_argument("--events", type=int, default=20_000)
    ev.add_argument("--attack-ratio", type=float, default=0.05)
    ev.add_argument("--model", default=None, help="classifier artifact (default: MODEL_PATH or the active one)")
    ev.set_defaults(func=cmd_evaluate)

    bench = sub.add_parser("bench", help="run a benchmark from bench/ (each prints a ratio to a same-run baseline)")
    bench.add_argument("name", choices=sorted(BENCHMARKS), help="which benchmark")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER, help="passed to the script (see its --help)")
    bench.set_defaults(func=cmd_bench)
    return parser


BENCHMARKS = {"pipeline": "pipeline.py", "model": "model.py", "api": "api.py", "sigma": "sigma_eval.py",
              "sigma-corpus": "sigma_corpus.py", "sigma-latency": "sigma_latency.py", "sigma-fp": "sigma_fp.py",
              "native-fp": "native_fp.py", "archive": "archive.py"}


def bench_script(name: str, checkout: Path) -> Path:
    """The benchmark script for ``name``; benchmarks ship with the source checkout, not the wheel."""
    script = checkout / "bench" / BENCHMARKS[name]
    if not script.is_file():
        raise FileNotFoundError(f"benchmark scripts live in the source checkout's bench/; {script} not found")
    return script


def cmd_bench(_settings: Settings, args: argparse.Namespace) -> int:
    import subprocess

    try:
        script = bench_script(args.name, Path(__file__).resolve().parents[2])
    except FileNotFoundError as exc:
        log.error("%s", exc)
        return 2
    return subprocess.call([sys.executable, str(script), *args.bench_args])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings()
    setup_logging(settings.LOG_LEVEL)
    heap.tune(settings.GC_YOUNG_THRESHOLD)
    return int(args.func(settings, args) or 0)


if __name__ == "__main__":
    threading.current_thread().name = "main"
    sys.exit(main())
