"""Property-based API testing from our own OpenAPI document (schemathesis), authenticated as an admin.

Every generated request must get a documented status with a body matching the documented schema, and never
a 5xx. The live stream is excluded (its response never ends); test_live.py covers it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from prometheus_client import CollectorRegistry
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from secustream.api.app import create_app
from secustream.state import MemoryState
from secustream.storage.database import make_engine
from tests.api.conftest import Api, build_api, make_settings, seed, seed_alerts


@pytest.fixture(scope="module")
def fuzz_api(module_pg_url: str, module_redis_url: str) -> Iterator[Api]:
    built = build_api(module_pg_url, module_redis_url, LOGIN_MAX_FAILURES=1000)
    seed_alerts(built.engine, seed(built.engine, 30))
    try:
        yield built
    finally:
        built.engine.dispose()


@pytest.fixture(scope="module")
def api_schema(fuzz_api: Api) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzz_api.app)


def _operation_cases() -> list[tuple[str, GenerationMode]]:
    """(operation, mode) pairs from an app that never touches its (unused) database: parametrize ids only.

    Negative mode needs something to break, so operations without inputs run in positive mode only.
    """
    app = create_app(make_settings(), make_engine("sqlite://"), MemoryState(), CollectorRegistry())
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    cases = []
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path == "/api/v1/stream":
            continue
        cases.append((op.label, GenerationMode.POSITIVE))
        if any(len(part) for part in (op.path_parameters, op.query, op.body)):
            cases.append((op.label, GenerationMode.NEGATIVE))
    return sorted(cases, key=lambda c: (c[0], c[1].value))


# schemathesis' own pytest plugin does not run under pytest 9, so hypothesis drives each operation here.
@pytest.mark.parametrize(("label", "mode"), _operation_cases(), ids=lambda v: v.value if isinstance(v, GenerationMode)
                         else v)
def test_api_conforms_to_its_openapi(label: str, mode: GenerationMode, api_schema: schemathesis.BaseSchema,
                                     fuzz_api: Api) -> None:
    """Valid requests (positive) and schema-violating ones (negative) alike: documented 2xx/4xx, never 5xx."""
    operation = next(r.ok() for r in api_schema.get_all_operations() if r.ok().label == label)
    headers = fuzz_api.headers("admin")

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=[
            not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance])

    run()


def test_openapi_has_examples_and_security(fuzz_api: Api) -> None:
    doc = fuzz_api.client.get("/api/v1/openapi.json").json()
    components = doc["components"]
    assert components["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"]
    for name in ("EventOut", "VerdictOut", "FeedbackIn", "Stats", "UserCreate"):
        assert components["schemas"][name].get("examples"), f"{name} has no example"
    assert "/api/v1/events" in doc["paths"] and "/api/v1/stream" in doc["paths"]
