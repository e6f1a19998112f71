"""Typed settings from the environment, so every workload reads one validated source of truth.

A bad value stops start-up with one line naming the variable (see ``load_settings``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from secustream.feedback import PROPOSAL_DAYS

DEFAULT_SECRET_KEY = "change-me"


class SettingsError(SystemExit):
    """Raised (as a clean exit) when the environment holds an invalid setting."""


class Settings(BaseSettings):
    """All knobs; names match the environment variables (documented in .env.example)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- project
    PROJECT_NAME: str = "SecuStreamAI"
    PROJECT_VERSION: str = "0.1.0"
    API_V1_STR: str = "/api/v1"
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # allocations between two young-generation passes of Python's collector (CPython's default is 700;
    # see heap.py: a batch of events is walked again and again below ~10,000)
    GC_YOUNG_THRESHOLD: int = Field(default=10_000, ge=100, le=10_000_000)

    # --- Kafka
    KAFKA_SERVER: str = ""
    KAFKA_TOPIC: str = "security-events"
    KAFKA_RESULTS_TOPIC: str = "security-results"
    KAFKA_DLQ_TOPIC: str = "security-events-dlq"
    KAFKA_CONSUMER_GROUP: str = "secustream-analyzer"
    KAFKA_PARTITIONS: int = Field(default=6, ge=1, le=1024)
    KAFKA_SESSION_TIMEOUT_MS: int = Field(default=6000, ge=1000)

    # --- Redis
    REDIS_HOST: str = "127.0.0.1"
    REDIS_PORT: int = Field(default=6379, ge=1, le=65535)
    REDIS_DB: int = Field(default=0, ge=0)
    REDIS_URL_OVERRIDE: str = Field(default="", alias="REDIS_URL")
    RECENT_STREAM_MAXLEN: int = Field(default=10_000, ge=10)

    # --- PostgreSQL
    POSTGRES_HOST: str = "127.0.0.1"
    POSTGRES_PORT: int = Field(default=5432, ge=1, le=65535)
    POSTGRES_DB: str = "secustream"
    POSTGRES_USER: str = "secustream"
    POSTGRES_PASSWORD: str = ""
    DATABASE_URL_OVERRIDE: str = Field(default="", alias="DATABASE_URL")

    # --- auth (used by the API)
    SECRET_KEY: str = DEFAULT_SECRET_KEY
    ALGORITHM: Literal["HS256", "HS384", "HS512"] = "HS256"
    ACCESS_TOKEN_EXPIRE_MINUTES: int = Field(default=30, ge=1, le=7 * 24 * 60)

    # --- LLM tier
    OPENAI_API_KEY: str = ""
    LLM_MODEL: str = "openai/gpt-4o-mini"
    LLM_API_BASE: str = ""

    # --- metrics / API
    PROMETHEUS_PORT: int = Field(default=9100, ge=0, le=65535)
    API_HOST: str = "0.0.0.0"
    API_PORT: int = Field(default=8080, ge=1, le=65535)

    # --- generator
    GENERATOR_EVENTS_PER_SECOND: float = Field(default=50.0, gt=0, le=1_000_000)
    GENERATOR_ATTACK_RATIO: float = Field(default=0.05, ge=0, le=1)
    GENERATOR_SEED: int | None = None

    # --- analyzer
    ANALYZER_BATCH_SIZE: int = Field(default=500, ge=1, le=100_000)
    ANALYZER_MAX_BATCH_SIZE: int = Field(default=2000, ge=1, le=100_000)  # a batch grows to this under load
    ANALYZER_POLL_TIMEOUT_SECONDS: float = Field(default=0.5, gt=0, le=60)
    # poison isolation and retries (docs/pipeline.md "Poison isolation")
    ANALYZER_RETRY_INITIAL_SECONDS: float = Field(default=0.5, gt=0, le=60)  # first infrastructure retry delay
    ANALYZER_RETRY_MAX_SECONDS: float = Field(default=10.0, gt=0, le=600)  # cap of the exponential backoff
    ANALYZER_MAX_ATTEMPTS: int = Field(default=5, ge=1, le=1000)  # same batch failing this often is isolated
    ANALYZER_STALL_SECONDS: float = Field(default=120.0, gt=0)  # /healthz 503 after this long without a commit
    # on stop: the wait for the consumer to leave its group (a rebalance can hold it) before exiting without it
    ANALYZER_CLOSE_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0, le=300)
    EVENT_MAX_BYTES: int = Field(default=1_048_576, ge=1024)  # larger messages go to the DLQ ("oversized")
    DLQ_MAX_PAYLOAD_BYTES: int = Field(default=262_144, ge=1024)  # DLQ copies are truncated to this (+size, hash)
    EVENT_TIME_EARLIEST: datetime = datetime(1970, 1, 1, tzinfo=UTC)  # earlier event times are flagged, re-timed
    EVENT_TIME_MAX_AHEAD_SECONDS: float = Field(default=86_400.0, ge=0)  # later than now + this: flagged, re-timed
    RULES_PATH: str = ""  # file or directory of YAML rules; empty = the packaged defaults
    RULES_RELOAD_SECONDS: float = Field(default=5.0, ge=0)
    SIGMA_RULES_PATH: str = ""  # Sigma rules dir (recursive) or file; empty = packaged starter set; "off" = none
    # installed Sigma content packs (docs/sigma.md "Content packs"): `secustream rules install` writes here
    SIGMA_PACKS_DIR: str = ""  # empty = none (`secustream up` uses <data-dir>/packs)
    SIGMA_CACHE_DIR: str = ""  # compiled rules by content fingerprint; empty = <packs dir>/.cache, else no cache
    SIGMA_MIN_LEVEL: Literal["informational", "low", "medium", "high", "critical"] = "medium"  # packs only
    SIGMA_STATUSES: str = "stable,test"  # comma list of stable/test/experimental (packs only)
    SIGMA_INCLUDE: str = ""  # comma list of tag/id/logsource patterns (fnmatch); empty = all
    SIGMA_EXCLUDE: str = ""  # comma list of tag/id/logsource patterns; wins over SIGMA_INCLUDE
    MODEL_DIR: str = "./models"

    # --- hybrid analyzer: model tier (docs/analyzer.md)
    MODEL_ENABLED: bool = True
    MODEL_PATH: str = ""  # explicit classifier artifact; empty = the registry's active version under MODEL_DIR
    MODEL_DEVICE: str = "auto"  # auto = cuda when present, else cpu
    MODEL_BACKEND: Literal["torch", "int8"] = "torch"
    MODEL_BATCH_SIZE: int = Field(default=256, ge=1, le=8192)
    MODEL_THREADS: int = Field(default=0, ge=0, le=256)  # 0 = torch's default
    MODEL_RELOAD_SECONDS: float = Field(default=30.0, ge=0)  # registry poll for hot swap; 0 = never
    # out-of-distribution gate (docs/analyzer.md): outside what it was trained on, the model abstains
    MODEL_OOD_ENABLED: bool = True
    MODEL_OOD_UNSEEN_KIND: bool = True  # abstain on a product / event kind never seen in training
    MODEL_OOD_DISTANCE_QUANTILE: float = Field(default=0.995, ge=0.5, le=1)  # abstain farther than this share of
    #   held-out training events from the nearest training centroid (embedding space)
    MODEL_OOD_MIN_KIND_EXAMPLES: int = Field(default=20, ge=1)  # a kind seen fewer times in training is unseen
    # a failed login is brute force by the model only after this many failures from its source in 60 s
    MODEL_BRUTE_FORCE_MIN_FAILURES: int = Field(default=4, ge=1, le=1000)  # 1 = no evidence required
    MODEL_BOOTSTRAP: bool = True  # `secustream up`: train a small model in the background when none is active
    CORPORA_DIR: str = ""  # real corpora (SigmaHQ, OTRF) for train/evaluate; empty = ../shared/corpora

    # --- hybrid analyzer: LLM tier (OPENAI_API_KEY, LLM_MODEL, LLM_API_BASE above)
    LLM_ENABLED: bool = True
    LLM_TIMEOUT_SECONDS: float = Field(default=20.0, gt=0, le=600)
    LLM_MAX_CALLS_PER_MINUTE: int = Field(default=60, ge=0)
    LLM_MAX_CONCURRENCY: int = Field(default=4, ge=1, le=256)
    LLM_CACHE_TTL_SECONDS: int = Field(default=86_400, ge=0)
    LLM_MAX_TOKENS: int = Field(default=800, ge=16)

    # --- hybrid analyzer: adaptive router
    ROUTER_ESCALATE_BELOW_CONFIDENCE: float = Field(default=0.8, ge=0, le=1)
    ROUTER_ESCALATE_AT_RISK: float = Field(default=0.9, ge=0, le=1.01)
    ROUTER_LAG_THRESHOLD: int = Field(default=1000, ge=0)

    # --- alerts, incidents and notifications (docs/alerts.md)
    ALERTS_ENABLED: bool = True
    ALERT_MIN_LEVEL: Literal["low", "medium", "high", "critical"] = "medium"  # verdicts at or above alert
    ALERT_DEDUP_WINDOW_SECONDS: int = Field(default=600, ge=1, le=7 * 86_400)  # or the rule's window if longer
    INCIDENT_WINDOW_SECONDS: int = Field(default=3600, ge=1, le=30 * 86_400)  # alerts sharing an entity this close
    INCIDENT_STORY_LLM: bool = True  # incident stories by the LLM tier when one is configured, else the template
    ALERT_WEBHOOK_URL: str = ""  # empty = no notifications
    ALERT_WEBHOOK_FORMAT: Literal["json", "alertmanager"] = "json"
    ALERT_WEBHOOK_MIN_LEVEL: Literal["low", "medium", "high", "critical"] = "high"  # quieter alerts/incidents
    ALERT_WEBHOOK_RETRIES: int = Field(default=5, ge=1, le=20)  # attempts before the dead-letter table
    ALERT_WEBHOOK_BACKOFF_SECONDS: float = Field(default=1.0, ge=0, le=300)  # first retry delay, doubling
    ALERT_WEBHOOK_TIMEOUT_SECONDS: float = Field(default=5.0, gt=0, le=120)
    ALERT_WEBHOOK_SECRET: str = ""  # HMAC-SHA256 signing key for X-SecuStream-Signature; empty = unsigned

    # --- storage: day partitions and retention (docs/storage.md)
    PARTITION_DAYS_AHEAD: int = Field(default=7, ge=1, le=366)  # `partitions ensure` creates this many days ahead
    RETENTION_EVENTS_DAYS: int = Field(default=30, ge=1)  # days kept, today included; older day partitions go
    RETENTION_VERDICTS_DAYS: int = Field(default=90, ge=1)
    RETENTION_ALERTS_DAYS: int = Field(default=365, ge=1)  # alerts/incidents: rows by day of last activity
    RETENTION_INCIDENTS_DAYS: int = Field(default=365, ge=1)

    # --- archive before drop, in OCSF Parquet (docs/storage.md "Archive layout")
    ARCHIVE_URL: str = ""  # fsspec URL or path (s3://bucket, file:///data/archive, /data/archive); empty = none
    ARCHIVE_SOURCE: str = Field(default="secustream", pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")  # ext/<source>-<class>/
    ARCHIVE_REGION: str = Field(default="local", pattern=r"^[a-z0-9-]{1,32}$")  # region=<region>/ of the layout
    ARCHIVE_ACCOUNT_ID: str = Field(default="000000000000", pattern=r"^[A-Za-z0-9-]{1,64}$")  # accountId=<id>/
    ARCHIVE_CLOUD_PROVIDER: str = "local"  # OCSF cloud.provider (AWS for Security Lake)
    ARCHIVE_FINDING_MIN_LEVEL: Literal["low", "medium", "high", "critical"] = "medium"  # below: OCSF Base Event
    ARCHIVE_ROWS_PER_FILE: int = Field(default=1_000_000, ge=1)  # a larger day of one class is split into parts
    ARCHIVE_STORAGE_OPTIONS: str = ""  # JSON object handed to fsspec, e.g. {"endpoint_url": "http://minio:9000"}
    ARCHIVE_WORKERS: int = Field(default=0, ge=0)  # processes mapping rows to OCSF; 0 = cores available - 1

    # --- API security and dashboard (docs/api.md)
    DEV_MODE: bool = False  # allows the default/missing SECRET_KEY; never in production
    FIRST_ADMIN_USERNAME: str = ""  # bootstrapped once at API start when both are set
    FIRST_ADMIN_PASSWORD: str = ""
    # login throttling (docs/api.md "Security"): per account + client, then 1 s doubling per failure
    LOGIN_MAX_FAILURES: int = Field(default=5, ge=1, le=1000)
    LOGIN_WINDOW_SECONDS: int = Field(default=300, ge=1, le=86_400)  # failures count until this long passes
    LOGIN_CLIENT_MAX_FAILURES: int = Field(default=20, ge=1, le=100_000)  # per client across usernames (spray)
    LOGIN_SLOWDOWN_SECONDS: float = Field(default=1.0, ge=0, le=30)  # wait on an account being guessed
    TRUSTED_PROXIES: str = ""  # comma-separated CIDRs whose X-Forwarded-For is believed; empty = none
    CORS_ORIGINS: str = ""  # comma-separated origins; empty = CORS off
    GRAFANA_URL: str = ""  # dashboard links to Grafana when set
    MAX_REQUEST_BYTES: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    PASSWORD_HASH_ROUNDS: int = Field(default=12, ge=4, le=16)  # bcrypt cost factor
    # an analyst's false positive proposes a rule + entity suppression that lapses after this many days
    SUPPRESSION_PROPOSAL_DAYS: float = Field(default=PROPOSAL_DAYS, gt=0, le=365)

    @field_validator("API_V1_STR")
    @classmethod
    def _api_prefix(cls, value: str) -> str:
        if not value.startswith("/") or value.endswith("/"):
            raise ValueError("must start with '/' and not end with '/', e.g. /api/v1")
        return value

    @field_validator("TRUSTED_PROXIES")
    @classmethod
    def _trusted_proxies(cls, value: str) -> str:
        parse_networks(value)  # raises ValueError naming the bad entry
        return value

    @field_validator("ARCHIVE_STORAGE_OPTIONS")
    @classmethod
    def _storage_options(cls, value: str) -> str:
        parse_storage_options(value)  # raises ValueError saying what is wrong
        return value

    @property
    def archive_storage_options(self) -> dict[str, object]:
        return parse_storage_options(self.ARCHIVE_STORAGE_OPTIONS)

    @property
    def trusted_proxies(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return parse_networks(self.TRUSTED_PROXIES)

    @cached_property
    def DATABASE_URL(self) -> str:
        """SQLAlchemy URL: DATABASE_URL when set, else built from POSTGRES_*."""
        if self.DATABASE_URL_OVERRIDE:
            return normalise_database_url(self.DATABASE_URL_OVERRIDE)
        auth = quote(self.POSTGRES_USER, safe="")
        if self.POSTGRES_PASSWORD:
            auth += ":" + quote(self.POSTGRES_PASSWORD, safe="")
        return (
            f"postgresql+psycopg://{auth}@{self.POSTGRES_HOST}:{self.POSTGRES_PORT}/{self.POSTGRES_DB}"
        )

    @cached_property
    def REDIS_URL(self) -> str:
        """Redis URL: REDIS_URL when set, else built from REDIS_HOST/PORT/DB."""
        return self.REDIS_URL_OVERRIDE or f"redis://{self.REDIS_HOST}:{self.REDIS_PORT}/{self.REDIS_DB}"

    @property
    def rules_path(self) -> Path:
        if self.RULES_PATH:
            return Path(self.RULES_PATH)
        return Path(__file__).parent / "rules"

    @property
    def corpora_path(self) -> Path:
        """Where ``evaluate --corpus`` and ``train`` find the real corpora (``../shared/corpora`` by default)."""
        if self.CORPORA_DIR:
            return Path(self.CORPORA_DIR)
        return Path(__file__).resolve().parents[2].parent / "shared" / "corpora"

    @property
    def sigma_rules_path(self) -> Path | None:
        """Sigma rules location (docs/sigma.md); None when ``SIGMA_RULES_PATH=off``."""
        if self.SIGMA_RULES_PATH.strip().lower() == "off":
            return None
        if self.SIGMA_RULES_PATH:
            return Path(self.SIGMA_RULES_PATH)
        return Path(__file__).parent / "rules" / "sigma"

    @property
    def sigma_packs_dir(self) -> Path | None:
        return Path(self.SIGMA_PACKS_DIR) if self.SIGMA_PACKS_DIR else None

    @property
    def sigma_cache_dir(self) -> Path | None:
        if self.SIGMA_CACHE_DIR:
            return Path(self.SIGMA_CACHE_DIR)
        packs = self.sigma_packs_dir
        return packs / ".cache" if packs is not None else None


def parse_networks(value: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` -> networks (a bare address is a /32 or /128)."""
    out = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            out.append(ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR (e.g. 10.0.0.0/8)") from None
    return tuple(out)


def parse_storage_options(value: str) -> dict[str, object]:
    """``ARCHIVE_STORAGE_OPTIONS``: empty, or a JSON object of fsspec options (no credentials: those come
    from the environment, e.g. AWS_ACCESS_KEY_ID from a Secret)."""
    if not value.strip():
        return {}
    try:
        options = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg}") from None
    if not isinstance(options, dict):
        raise ValueError("must be a JSON object, e.g. {\"endpoint_url\": \"http://minio:9000\"}")
    return options


def normalise_database_url(url: str) -> str:
    """Accept the URL shapes users have (CNPG's ``postgresql://``, ``postgres://``) and pick psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def describe_validation_error(exc: ValidationError) -> str:
    """One line per bad variable: ``NAME: reason (got 'value')``."""
    lines = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err.get("loc", ())) or "settings"
        got = err.get("input")
        shown = "" if isinstance(got, dict) or got is None else f" (got {str(got)[:60]!r})"
        lines.append(f"invalid setting {name}: {err.get('msg')}{shown}")
    return "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Build settings or stop with a clear one-line message naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None
