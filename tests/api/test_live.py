"""Live stream: a verdict published the way the analyzer publishes it reaches an SSE client within 1 s.

Runs against a real uvicorn server and real Redis pub/sub; also the stream's row of the role matrix.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry

from secustream.analyzer.worker import feed_item_bytes
from secustream.api.app import create_app
from secustream.state import VERDICTS_CHANNEL, MemoryState, RedisState, StateStore
from secustream.storage import users as user_store
from secustream.storage.database import make_engine
from secustream.verdict import RiskLevel
from tests.api.conftest import Api, LiveServer, make_settings, seed_item

STREAM = "/api/v1/stream"


@pytest.fixture(scope="module")
def server(api: Api) -> Iterator[LiveServer]:
    with LiveServer(api.app) as live:
        yield live


def read_verdicts(client: httpx.Client, url: str, headers: dict[str, str], publish: object, want: int,
                  timeout: float = 5.0) -> list[tuple[float, dict[str, object]]]:
    """Open the stream, call ``publish()`` once it is connected, return (arrival time, message) per verdict."""
    got: list[tuple[float, dict[str, object]]] = []
    publisher: threading.Thread | None = None
    with client.stream("GET", url, headers=headers, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line == ": connected":  # publish from another thread, as the analyzer would, while we read
                publisher = threading.Thread(target=publish, daemon=True)  # type: ignore[arg-type]
                publisher.start()
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "verdict":
                got.append((time.perf_counter(), json.loads(line[6:])))
                if len(got) >= want:
                    break
    if publisher is not None:  # its last publish may still await Redis's reply when the message arrives
        publisher.join(timeout)
    return got


def published(state: StateStore, n: int, risk: str | None = None, ids: list[str] | None = None,
              sent: list[float] | None = None) -> None:
    """Publish ``n`` verdicts exactly as AnalyzerWorker does (feed_item_bytes JSON on VERDICTS_CHANNEL)."""
    ids = [] if ids is None else ids
    sent = [] if sent is None else sent
    for i in range(n):
        item = seed_item(1000 + i)
        verdict = item.verdict if risk is None else item.verdict.model_copy(update={"risk_level": RiskLevel(risk)})
        ids.append(str(item.event.event_id))
        sent.append(time.perf_counter())
        state.publish(VERDICTS_CHANNEL, [feed_item_bytes(item.event, verdict).decode()])
        time.sleep(0.05)


def test_stream_delivers_within_one_second(api: Api, server: LiveServer, module_redis_url: str) -> None:
    analyzer_side = RedisState.from_url(module_redis_url)  # another connection, as another process would have
    ids: list[str] = []
    sent: list[float] = []

    def publish() -> None:
        published(analyzer_side, 5, ids=ids, sent=sent)

    with httpx.Client() as client:
        got = read_verdicts(client, server.base + STREAM, api.headers("viewer"), publish, want=5)
    analyzer_side.close()
    assert [m["event"]["event_id"] for _, m in got] == ids  # type: ignore[index]
    latencies = [arrived - at for (arrived, _), at in zip(got, sent, strict=True)]
    print(f"\nlive stream latency (publish -> SSE client): max {max(latencies) * 1000:.1f} ms, "
          f"mean {sum(latencies) / len(latencies) * 1000:.1f} ms over {len(latencies)} verdicts")
    assert max(latencies) < 1.0
    first = got[0][1]
    assert first["verdict"]["risk_level"] and first["event"]["timestamp"]  # type: ignore[index]


def test_stream_filters_by_risk(api: Api, server: LiveServer, module_redis_url: str) -> None:
    analyzer_side = RedisState.from_url(module_redis_url)

    def publish() -> None:
        published(analyzer_side, 2, risk="low")
        published(analyzer_side, 1, risk="critical")

    with httpx.Client() as client:
        got = read_verdicts(client, server.base + STREAM + "?risk_level=critical", api.headers("analyst"), publish,
                            want=1)
    analyzer_side.close()
    assert [m["verdict"]["risk_level"] for _, m in got] == ["critical"]  # type: ignore[index]


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("disabled", 401), ("viewer", 200), ("analyst", 200),
                                             ("admin", 200)])
def test_stream_role_matrix(api: Api, server: LiveServer, who: str | None, status: int) -> None:
    with httpx.Client() as client, client.stream("GET", server.base + STREAM, headers=api.headers(who),
                                                 timeout=5) as response:
        assert response.status_code == status
        if status == 200:
            assert next(response.iter_lines()).startswith("retry:")


def test_stream_in_process_state_for_up(tmp_path: object) -> None:
    """`secustream up` has no Redis: the same stream is fed by MemoryState's in-process subscription."""
    from secustream.storage.migrate import upgrade

    state = MemoryState()

    db = tmp_path / "up.db"  # type: ignore[operator]
    upgrade(f"sqlite:///{db}")
    engine = make_engine(f"sqlite:///{db}")
    app = create_app(make_settings(DEV_MODE=True, SECRET_KEY="", FIRST_ADMIN_USERNAME="nobody",
                                   FIRST_ADMIN_PASSWORD="p" * 12), engine, state, CollectorRegistry())
    with engine.connect() as conn:
        admin = user_store.get_user_by_name(conn, "nobody")
    assert admin is not None
    token = app.state.ctx.tokens.issue(admin["id"], admin["token_version"], "admin")[0]
    with LiveServer(app) as live, httpx.Client() as client:
        got = read_verdicts(client, live.base + STREAM, {"Authorization": f"Bearer {token}"},
                            lambda: published(state, 1), want=1)
    assert len(got) == 1
    engine.dispose()
