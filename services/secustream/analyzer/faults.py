"""Tell a record fault from an infrastructure fault, and space retries of the latter.

Why: a batch that fails because one record is poison must not be retried as a whole forever, and
a batch that fails because PostgreSQL is down must not be bisected into the DLQ. The exception's
class is the first hint; a probe of the dependency (``isolate``'s ``probe``) settles the cases the
class cannot, e.g. PostgreSQL's "index row size exceeds maximum", an ``OperationalError`` that one
record causes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

import psycopg
import redis.exceptions
import sqlalchemy.exc
from confluent_kafka import KafkaError, KafkaException

from secustream.messaging.client import PublishError

T = TypeVar("T")
R = TypeVar("R")


class FaultKind(StrEnum):
    INFRASTRUCTURE = "infrastructure"
    RECORD = "record"


_INFRASTRUCTURE: tuple[type[BaseException], ...] = (
    ConnectionError, TimeoutError, BrokenPipeError,
    psycopg.OperationalError, psycopg.InterfaceError,
    sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.TimeoutError,
    sqlalchemy.exc.DisconnectionError,
    redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.BusyLoadingError,
    PublishError,
)
_RECORD_KAFKA_CODES = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_MSG, KafkaError.INVALID_RECORD,
                                 KafkaError.INVALID_MSG_SIZE, KafkaError._INVALID_ARG, KafkaError._MSG_TIMED_OUT})


def classify(exc: BaseException) -> FaultKind:
    """The likely kind of ``exc`` from its class alone (a probe may still overrule INFRASTRUCTURE)."""
    if isinstance(exc, KafkaException):
        err = exc.args[0] if exc.args else None
        code = err.code() if isinstance(err, KafkaError) else None
        return FaultKind.RECORD if code in _RECORD_KAFKA_CODES else FaultKind.INFRASTRUCTURE
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.orig is not None and exc.orig is not exc:
        return classify(exc.orig)
    return FaultKind.INFRASTRUCTURE if isinstance(exc, _INFRASTRUCTURE) else FaultKind.RECORD


def describe(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line`` of an exception: the reason a DLQ header carries."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:limit]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with equal jitter: attempt n waits between d/2 and d, d = min(cap, initial·2ⁿ⁻¹)."""

    initial: float = 0.5
    cap: float = 10.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def ceiling(self, attempt: int) -> float:
        return min(self.cap, self.initial * 2 ** max(0, min(attempt - 1, 60)))

    def delay(self, attempt: int) -> float:
        d = self.ceiling(attempt)
        return d / 2 + self.rng.uniform(0, d / 2)


class InfrastructureDown(RuntimeError):
    """Isolation stopped: a record failed alone and the dependency's probe failed too."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(describe(cause))
        self.cause = cause


@dataclass
class Isolated(Generic[T, R]):
    """What bisection found: sub-batches that succeeded (with their results) and the poison records."""

    done: list[tuple[Sequence[T], R]] = field(default_factory=list)
    poison: list[tuple[T, BaseException]] = field(default_factory=list)
    attempts: int = 0


def isolate(items: Sequence[T], action: Callable[[Sequence[T]], R], probe: Callable[[], bool]) -> Isolated[T, R]:
    """Run ``action`` on halves of ``items`` recursively until only records that fail alone remain.

    A record that fails alone is poison when its fault is a record fault, or when the dependency
    answers its probe (so the fault cannot be the infrastructure's). Otherwise the dependency is
    down and ``InfrastructureDown`` is raised: the caller keeps the batch and backs off. ``action``
    must be idempotent for sub-batches it already completed (the stores are insert-or-ignore).
    """
    found: Isolated[T, R] = Isolated()
    pending: list[Sequence[T]] = [items]
    while pending:
        part = pending.pop()
        found.attempts += 1
        try:
            found.done.append((part, action(part)))
            continue
        except Exception as exc:
            if len(part) > 1:
                middle = len(part) // 2
                pending.extend((part[middle:], part[:middle]))  # left half runs first (pop from the end)
                continue
            if classify(exc) is FaultKind.INFRASTRUCTURE and not _probe_ok(probe):
                raise InfrastructureDown(exc) from exc
            found.poison.append((part[0], exc))
    return found


def _probe_ok(probe: Callable[[], bool]) -> bool:
    try:
        return bool(probe())
    except Exception:
        return False
