"""The operator's own settings as one pydantic model (env vars ``SECUSTREAM_OPERATOR_*``), read once.

Why a model and not ``os.environ`` lookups: one place lists every knob with its type and default, a bad
value fails at start with the variable's name, and tests build an instance instead of patching the env.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SECUSTREAM_OPERATOR_", extra="ignore", frozen=True)

    LIVENESS: str = "http://0.0.0.0:8080/healthz"
    METRICS_PORT: int = Field(default=9090, ge=0, le=65535)
    PEERING: str = "secustream-operator"
    STANDALONE: bool = False
    VERBOSE: bool = False
    RESYNC_SECONDS: float = Field(default=30.0, gt=0)
    AUTOSCALE_TICK_SECONDS: float = Field(default=5.0, gt=0)
    KAFKA_TIMEOUT_SECONDS: float = Field(default=5.0, gt=0)
    WORKERS: int = Field(default=32, ge=4, le=256)  # threads for the sync handlers and timers (Kopf's executor)
    # dev/test: an insecure Kubernetes API URL instead of kubeconfig or the service account
    KUBE_API_URL: str = Field(default="", validation_alias=AliasChoices("SECUSTREAM_KUBE_API_URL"))
    # this replica's pod name (downward API), for its peering priority; the host name when unset
    POD_NAME: str = Field(default="", validation_alias=AliasChoices("POD_NAME"))


def load_operator_settings() -> OperatorSettings:
    return OperatorSettings()
