"""The one event schema every source is normalised into, so rules, models and storage see one shape.

Lossless by design: whatever a normaliser cannot map stays in ``unmapped`` and the original
line stays in ``raw``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache, lru_cache, partial
from ipaddress import ip_address
from typing import Any, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from secustream.native import construct


class EventType(StrEnum):
    AUTH = "auth"
    NETWORK = "network"
    PROCESS = "process"
    FILE = "file"
    DNS = "dns"
    HTTP = "http"
    REGISTRY = "registry"
    MALWARE_ALERT = "malware_alert"
    SYSTEM = "system"
    OTHER = "other"


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


class ThreatClass(StrEnum):
    """What the generator labels and what the classifier tier predicts."""

    BENIGN = "benign"
    BRUTE_FORCE = "brute_force"
    PORT_SCAN = "port_scan"
    DATA_EXFILTRATION = "data_exfiltration"
    MALICIOUS_PROCESS = "malicious_process"
    PRIVILEGE_ESCALATION = "privilege_escalation"
    LATERAL_MOVEMENT = "lateral_movement"
    OTHER_THREAT = "other_threat"


_CANONICAL_IPV4 = re.compile(r"^(?:0|[1-9]\d{0,2})(?:\.(?:0|[1-9]\d{0,2})){3}$")


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


_ZERO = timedelta(0)


@lru_cache(maxsize=65_536)
def _canonical_ip(value: str) -> str:
    """Canonical text of an address (raises ValueError); memoised, since the same addresses recur."""
    if _CANONICAL_IPV4.match(value) and all(int(o) <= 255 for o in value.split(".")):
        return value  # already a canonical dotted quad, no need for ipaddress
    return str(ip_address(value.strip("[]")))


# Bounds of the indexed columns (storage/tables.py); the schema enforces them so that a record the
# database would refuse is refused at decode, with a reason, instead of failing a whole batch's COPY.
MAX_IP = 45  # the longest textual IPv6 (IPv4-mapped); a longer scope id is refused
MAX_NAME = 256  # host, user, domain
MAX_PRODUCT = 128
MAX_ACTION = 128
MAX_MESSAGE = 8192
MAX_RAW = 65536


class Endpoint(_Part):
    ip: str | None = None
    port: int | None = Field(default=None, ge=0, le=65535)
    host: str | None = Field(default=None, max_length=MAX_NAME)
    user: str | None = Field(default=None, max_length=MAX_NAME)
    domain: str | None = Field(default=None, max_length=MAX_NAME)

    @field_validator("ip")
    @classmethod
    def _valid_ip(cls, value: str | None) -> str | None:
        return endpoint_ip(value)


def endpoint_ip(value: str | None) -> str | None:
    """What ``Endpoint.ip`` holds for ``value``: its canonical text, or ValueError (not an address, too long)."""
    if value is None or value == "":
        return None
    if len(value) > MAX_IP + 2:
        raise ValueError(f"address longer than {MAX_IP} characters")
    canonical = _canonical_ip(value)
    if len(canonical) > MAX_IP:
        raise ValueError(f"address longer than {MAX_IP} characters")
    return canonical


class ProcessInfo(_Part):
    name: str | None = None
    pid: int | None = None
    executable: str | None = None
    command_line: str | None = None
    user: str | None = None
    parent_name: str | None = None
    parent_pid: int | None = None
    parent_command_line: str | None = None


class FileInfo(_Part):
    path: str | None = None
    name: str | None = None
    size: int | None = Field(default=None, ge=0)
    sha256: str | None = None
    action: str | None = None


class NetworkInfo(_Part):
    protocol: str | None = None
    transport: str | None = None
    direction: str | None = None
    bytes_in: int | None = Field(default=None, ge=0)
    bytes_out: int | None = Field(default=None, ge=0)


class DnsInfo(_Part):
    query: str | None = None
    record_type: str | None = None
    answers: list[str] = Field(default_factory=list)


class HttpInfo(_Part):
    method: str | None = None
    url: str | None = None
    status_code: int | None = Field(default=None, ge=100, le=599)
    user_agent: str | None = None
    bytes: int | None = Field(default=None, ge=0)


class SecurityEvent(BaseModel):
    """A normalised security event. Ground-truth labels never live here (see ``messaging.headers``)."""

    model_config = ConfigDict(extra="forbid")

    event_id: UUID = Field(default_factory=uuid4)
    timestamp: datetime = Field(default_factory=lambda: datetime.now(UTC))
    event_type: EventType
    action: str | None = Field(default=None, max_length=MAX_ACTION)
    outcome: Outcome = Outcome.UNKNOWN
    message: str | None = Field(default=None, max_length=MAX_MESSAGE)
    source: Endpoint = Field(default_factory=Endpoint)
    destination: Endpoint = Field(default_factory=Endpoint)
    process: ProcessInfo | None = None
    file: FileInfo | None = None
    network: NetworkInfo | None = None
    dns: DnsInfo | None = None
    http: HttpInfo | None = None
    product: str | None = Field(default=None, max_length=MAX_PRODUCT)
    vendor: str | None = Field(default=None, max_length=MAX_PRODUCT)
    dataset: str | None = Field(default=None, max_length=MAX_PRODUCT)
    unmapped: dict[str, Any] = Field(default_factory=dict)
    raw: str | None = Field(default=None, max_length=MAX_RAW)

    @field_validator("timestamp")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        return aware_utc(value)


def aware_utc(value: datetime) -> datetime:
    """What ``SecurityEvent.timestamp`` holds for ``value``: the same instant in UTC (naive means UTC)."""
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() == _ZERO:
        return value.replace(tzinfo=UTC)  # cheaper than astimezone for the common "Z" stamps
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+05:00: the UTC instant is before year 1
        edge = datetime.min if value.year < 5000 else datetime.max
        return edge.replace(tzinfo=UTC)  # kept; the analyzer flags it as outside the sane window


ModelT = TypeVar("ModelT", bound=BaseModel)


@cache
def trusted_builder(cls: type[ModelT]) -> Callable[[dict[str, Any]], ModelT]:
    """A function making ``cls`` from ``values`` without validation: the same instance ``cls(**values)``
    makes (field order, defaults, ``model_fields_set``) when every value already is what validation
    would return — the caller's duty (enum members, canonical IPs, bounded strings, sub-models built
    here too). Why: pydantic's validation, and even ``model_construct``, cost more than the rest of a
    normaliser on its hot path; the normaliser that uses this checks its own output first and has
    pydantic validate whatever it cannot vouch for. Only immutable plain defaults are allowed, since
    they are shared between instances where pydantic would copy them. The build itself is
    ``native.construct`` (C where the extension is built).
    """
    if cls.__pydantic_post_init__ or cls.model_config.get("extra") == "allow":
        raise TypeError(f"{cls.__name__}: post-init or extra fields, which a trusted build would skip")
    defaults: dict[str, Any] = {}  # every field, in declaration order (the order model_dump writes)
    factories: list[tuple[str, Callable[[], Any]]] = []
    required: list[str] = []
    for name, field in cls.model_fields.items():
        defaults[name] = None
        if field.default_factory is not None:
            factory = field.default_factory
            if isinstance(factory, type) and issubclass(factory, BaseModel):
                factories.append((name, partial(trusted_builder(factory), {})))
            else:
                factories.append((name, factory))  # type: ignore[arg-type]
        elif field.is_required():
            required.append(name)
        elif isinstance(field.default, str | int | float | type(None)):  # bool and enums are ints / strs
            defaults[name] = field.default
        else:
            raise TypeError(f"{cls.__name__}.{name}: a mutable default, which a trusted build cannot share")
    if not factories and not required:
        return partial(construct, cls, defaults)
    checked = frozenset(name for name, _factory in factories) | frozenset(required)

    def build(values: dict[str, Any]) -> ModelT:
        model = construct(cls, defaults, values)
        if not values.keys() >= checked:  # a factory's field or a required one is missing
            for name in required:
                if name not in values:
                    raise TypeError(f"{cls.__name__}: {name} is required")
            fields = model.__dict__
            for name, factory in factories:
                if name not in values:
                    fields[name] = factory()
        return model

    return build


class EventDecodeError(ValueError):
    """A message that is not a valid SecurityEvent; ``reason`` goes to the DLQ header."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode_event(event: SecurityEvent) -> bytes:
    """``model_dump_json(exclude_none=True)`` as bytes, without the str in between (~11 % of the encode on
    real Windows events, whose raw line and message dominate the payload)."""
    return type(event).__pydantic_serializer__.to_json(event, exclude_none=True)


DEFAULT_MAX_EVENT_BYTES = 1_048_576


def decode_event(payload: bytes | str | None, max_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> SecurityEvent:
    """Parse a Kafka payload, raising ``EventDecodeError`` with a short human reason.

    Hostile input is an ordinary outcome here: pydantic-core's parser bounds nesting depth and
    refuses invalid UTF-8 and lone surrogates; anything else it raises becomes a reason too, so
    one record can never escape as an exception that fails its batch.
    """
    if payload is None:
        raise EventDecodeError("empty message (tombstone)")
    if len(payload) > max_bytes:
        raise EventDecodeError(f"oversized: {len(payload)} bytes > {max_bytes}")
    try:
        return SecurityEvent.model_validate_json(payload)  # one pass in pydantic-core
    except ValidationError as exc:
        raise EventDecodeError(_decode_reason(exc)) from None
    except (ValueError, OverflowError, RecursionError, TypeError, UnicodeError) as exc:
        raise EventDecodeError(f"undecodable: {type(exc).__name__}: {str(exc)[:200]}") from None


def _decode_reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    kind, msg = first.get("type"), str(first.get("msg"))
    if kind == "json_invalid":
        return f"malformed JSON: {msg.removeprefix('Invalid JSON: ')}"
    if kind == "model_type":
        return f"expected a JSON object: {msg}"
    where = ".".join(str(p) for p in first.get("loc", ())) or "event"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"schema violation at {where}: {msg}{more}"


def split_account(account: str | None) -> tuple[str | None, str | None]:
    """``THESHIRE\\pgustavo`` → (``pgustavo``, ``THESHIRE``), split at the last backslash, as Security events give
    SubjectUserName and SubjectDomainName apart, so one account is one user whichever log or field names it; an
    account without a backslash, or with nothing after it, stays whole with no domain (None); an empty domain
    (``\\pgustavo``) is ``""``."""
    domain, separator, user = (account or "").rpartition("\\")
    return (user, domain) if separator and user else (account, None)


def grouping_key(event: SecurityEvent) -> str:
    """The entity stateful rules group by; used as the Kafka key so one entity stays ordered."""
    return (
        event.source.ip
        or event.source.host
        or event.source.user
        or (event.process.user if event.process else None)
        or str(event.event_id)
    )


def get_field(event_dict: dict[str, Any], path: str) -> Any:
    """Dotted-path lookup (``source.ip``, ``unmapped.EventID``) in a dumped event; None when absent."""
    node: Any = event_dict
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
        if node is None:
            return None
    return node
