"""Login throttling that cannot be turned against the account's owner (issue 14, failures 1, 2 and 5).

- An attacker's failures block the attacker's client, never the owner's login from another client (only
  slowed), with an exponential delay per (account, client); an admin can unlock; locks are audited.
- A password spray with a rotating X-Forwarded-For from an untrusted peer (127.0.0.1, as with
  `kubectl port-forward`) is throttled, over real HTTP through uvicorn; a trusted proxy is believed.
- With Redis stopped, logins still work and the throttle keeps counting in-process (a metric says so).

Each test module gets its own redis-server (so other suites flushing the shared test database cannot
disturb the counters, and the outage test can stop it).
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from ipaddress import ip_network

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from secustream.api.proxies import client_address
from secustream.api.throttle import ThrottlePolicy
from secustream.counters import FallbackCounters, MemoryCounters, RedisCounters
from secustream.messaging.local_broker import free_port
from secustream.storage import audit
from tests.api.conftest import PASSWORD, Api, LiveServer, build_api
from tests.conftest import service_missing

TOKEN = "/api/v1/auth/token"
RIGHT = {"username": "admin-user", "password": PASSWORD}
WRONG = {"username": "admin-user", "password": "not the password"}
_n = itertools.count()


class RedisProcess:
    """A redis-server of the test's own (no persistence), which the test may stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisProcess:
        binary = shutil.which("redis-server")
        if binary is None:
            service_missing("redis-server binary (to start a Redis the test may stop)")
        self.proc = subprocess.Popen([str(binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return self
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisProcess]:
    server = RedisProcess().start()
    try:
        yield server
    finally:
        server.stop()


def _api(module_pg_url: str, own_redis: RedisProcess, **overrides: object) -> Api:
    redis.Redis.from_url(own_redis.url).flushdb()
    settings: dict[str, object] = {"LOGIN_MAX_FAILURES": 3, "LOGIN_WINDOW_SECONDS": 60,
                                   "LOGIN_CLIENT_MAX_FAILURES": 50, "LOGIN_SLOWDOWN_SECONDS": 0.3}
    return build_api(module_pg_url, own_redis.url, **{**settings, **overrides})


def _from(api: Api, address: str) -> TestClient:
    """A client connecting from ``address`` (the TCP peer the app sees)."""
    return TestClient(api.app, client=(address, 40000))


def _until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _metric(api: Api, sample: str) -> float:
    """The value of one exported sample, e.g. ``secustream_login_lockouts_total{scope="client"}``."""
    for line in api.client.get("/metrics").text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{sample} not exported")


def _audit(api: Api, action: str) -> list[dict[str, object]]:
    with api.engine.connect() as conn:
        return audit.entries(conn, 100, action=action)


def test_an_attackers_failures_do_not_stop_the_owner_from_another_client(module_pg_url: str,
                                                                          own_redis: RedisProcess) -> None:
    api = _api(module_pg_url, own_redis)
    attacker, owner = _from(api, "203.0.113.66"), _from(api, "198.51.100.10")
    before_locks, before_slow = len(_audit(api, "login_locked")), len(_audit(api, "login_slowed"))
    for _ in range(3):
        assert attacker.post(TOKEN, data=WRONG).status_code == 401
    refused = attacker.post(TOKEN, data=RIGHT)  # the attacker's client is blocked, even with the password
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1", refused.text

    started = time.monotonic()
    accepted = owner.post(TOKEN, data=RIGHT)  # the owner, from elsewhere: slowed, never blocked
    assert accepted.status_code == 200, accepted.text
    assert time.monotonic() - started >= 0.3

    # the delay doubles per further failure of the same (account, client): 1 s, then 2 s
    _until(lambda: attacker.post(TOKEN, data=WRONG).status_code == 401)
    again = attacker.post(TOKEN, data=RIGHT)
    assert again.status_code == 429 and again.headers["retry-after"] == "2"
    assert owner.post(TOKEN, data=RIGHT).status_code == 200  # and still the owner gets in

    locks = _audit(api, "login_locked")[: len(_audit(api, "login_locked")) - before_locks]
    assert [(e["target"], e["detail"]["scope"], e["detail"]["client"]) for e in locks] == [
        ("username:admin-user", "account_client", "203.0.113.66")]
    assert len(_audit(api, "login_slowed")) == before_slow + 1
    assert _metric(api, 'secustream_login_lockouts_total{scope="account_client"}') == 1
    assert _metric(api, 'secustream_login_lockouts_total{scope="account"}') == 1
    assert _metric(api, 'secustream_login_lockouts_total{scope="client"}') == 0


def test_an_admin_unlocks_an_account(module_pg_url: str, own_redis: RedisProcess) -> None:
    api = _api(module_pg_url, own_redis, LOGIN_WINDOW_SECONDS=600, LOGIN_MAX_FAILURES=2)
    client = _from(api, "203.0.113.70")
    for _ in range(6):  # 2 s, 4 s, ... blocks: the next attempt waits
        client.post(TOKEN, data=WRONG)
    assert client.post(TOKEN, data=RIGHT).status_code == 429
    admin_id = api.users["admin"]["id"]
    viewer = api.client.post(f"/api/v1/users/{admin_id}/unlock", headers=api.headers("viewer"))
    assert viewer.status_code == 403
    unlocked = api.client.post(f"/api/v1/users/{admin_id}/unlock", headers=api.headers("admin"))
    assert unlocked.status_code == 204, unlocked.text
    gate = api.app.state.ctx.throttle.check("admin-user", "198.51.100.99")
    assert (gate.retry_after, gate.slowdown) == (0, 0)  # the account's slowdown went too
    assert client.post(TOKEN, data=RIGHT).status_code == 200
    assert _audit(api, "login_unlocked")[0]["target"] == f"user:{admin_id}"


def test_a_success_clears_only_its_own_client(module_pg_url: str, own_redis: RedisProcess) -> None:
    api = _api(module_pg_url, own_redis)
    typo = _from(api, "192.0.2.50")
    for _ in range(2):
        assert typo.post(TOKEN, data=WRONG).status_code == 401
    assert typo.post(TOKEN, data=RIGHT).status_code == 200
    for _ in range(2):  # the count started again: two more typos are not a third strike
        assert typo.post(TOKEN, data=WRONG).status_code == 401
    assert typo.post(TOKEN, data=RIGHT).status_code == 200


def test_counters_in_redis_are_hashes(module_pg_url: str, own_redis: RedisProcess) -> None:
    api = _api(module_pg_url, own_redis)
    _from(api, "192.0.2.77").post(TOKEN, data=WRONG)
    keys = [k.decode() for k in redis.Redis.from_url(own_redis.url).keys("secustream:login:*")]
    assert len(keys) == 3  # account + client, client, account
    assert not any("admin-user" in k or "192.0.2.77" in k for k in keys)


# --------------------------------------------------------------------------- proxies


def _spray(base: str, peer_headers: Callable[[int], dict[str, str]], users: int = 40) -> list[int]:
    """One wrong password for each of ``users`` accounts, each with its own X-Forwarded-For."""
    with httpx.Client(base_url=base, timeout=10) as client:
        return [client.post(TOKEN, data={"username": f"sprayed-{i}", "password": "Winter2026!"},
                            headers=peer_headers(i)).status_code for i in range(users)]


def test_a_spray_with_a_rotating_forwarded_for_from_an_untrusted_peer_is_throttled(
        module_pg_url: str, own_redis: RedisProcess) -> None:
    """Over real HTTP through uvicorn, from 127.0.0.1 (kubectl port-forward's address): the header is not
    believed, so all 40 guesses come from one client, whose spray budget (10) runs out."""
    api = _api(module_pg_url, own_redis, LOGIN_CLIENT_MAX_FAILURES=10)
    with LiveServer(api.app) as live:
        statuses = _spray(live.base, lambda i: {"X-Forwarded-For": f"10.{i}.0.1"})
    assert statuses == [401] * 10 + [429] * 30
    assert _metric(api, 'secustream_login_lockouts_total{scope="client"}') == 1
    assert _audit(api, "login_locked")[0]["detail"]["client"] == "127.0.0.1"


def test_a_trusted_proxys_forwarded_for_is_believed(module_pg_url: str, own_redis: RedisProcess) -> None:
    """With TRUSTED_PROXIES naming the peer, each forwarded client has a budget of its own; a client cannot
    forge its way past the proxy (the proxy appends the real address: the rightmost untrusted hop wins)."""
    api = _api(module_pg_url, own_redis, LOGIN_CLIENT_MAX_FAILURES=10, TRUSTED_PROXIES="127.0.0.0/8")
    with LiveServer(api.app) as live:
        assert _spray(live.base, lambda i: {"X-Forwarded-For": f"10.{i}.0.1"}, 20) == [401] * 20
        forged = _spray(live.base, lambda i: {"X-Forwarded-For": f"192.0.2.{i}, 10.99.0.1"}, 12)
    assert forged == [401] * 10 + [429] * 2


@pytest.mark.parametrize(("peer", "header", "trusted", "client"), [
    ("127.0.0.1", ["6.6.6.6"], "", "127.0.0.1"),  # nothing trusted: the header is ignored
    ("10.0.0.2", ["6.6.6.6, 203.0.113.9"], "10.0.0.0/8", "203.0.113.9"),  # forged left part ignored
    ("10.0.0.2", ["203.0.113.9, 10.0.0.7"], "10.0.0.0/8", "203.0.113.9"),  # two trusted hops
    ("10.0.0.2", ["203.0.113.9", "10.0.0.7"], "10.0.0.0/8", "203.0.113.9"),  # repeated headers
    ("10.0.0.2", ["not-an-ip"], "10.0.0.0/8", "10.0.0.2"),  # garbage: stop at the proxy
    ("192.0.2.1", ["6.6.6.6"], "10.0.0.0/8", "192.0.2.1"),  # an untrusted peer's header is ignored
    ("fd00::1", ["2001:db8::5"], "fd00::/8", "2001:db8::5"),
])
def test_client_address(peer: str, header: list[str], trusted: str, client: str) -> None:
    nets = [ip_network(n) for n in trusted.split(",") if n]
    assert client_address(peer, header, nets) == client


# --------------------------------------------------------------------------- Redis outage


def test_login_works_with_redis_stopped(module_pg_url: str) -> None:
    server = RedisProcess().start()
    try:
        api = build_api(module_pg_url, server.url, LOGIN_MAX_FAILURES=3, LOGIN_WINDOW_SECONDS=60)
        client = _from(api, "198.51.100.200")
        assert client.post(TOKEN, data=RIGHT).status_code == 200
        server.stop()
        started = time.monotonic()
        assert client.post(TOKEN, data=RIGHT).status_code == 200  # not a 500
        assert time.monotonic() - started < 5
        statuses = [client.post(TOKEN, data=WRONG).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]  # still throttled, in-process
        assert _metric(api, "secustream_login_throttle_fallback_total") > 0
        assert api.client.get("/readyz").status_code == 503  # readiness still tells the truth
        with LiveServer(api.app) as live:  # the live stream needs Redis: an outage answer, not a 500
            stream = httpx.get(live.base + "/api/v1/stream", headers=api.headers("viewer"), timeout=15)
        assert stream.status_code == 503 and "Redis" in stream.json()["detail"]
    finally:
        server.stop()


# --------------------------------------------------------------------------- units


def test_trusted_proxies_setting_is_validated() -> None:
    from secustream.config import SettingsError, load_settings

    assert [str(n) for n in load_settings(TRUSTED_PROXIES=" 10.0.0.0/8, 192.0.2.1 ,").trusted_proxies] == [
        "10.0.0.0/8", "192.0.2.1/32"]
    assert load_settings(TRUSTED_PROXIES="").trusted_proxies == ()
    with pytest.raises(SettingsError, match=r"TRUSTED_PROXIES.*ingress"):
        load_settings(TRUSTED_PROXIES="10.0.0.0/8,ingress")


def test_policy_delays_double_and_cap() -> None:
    policy = ThrottlePolicy(max_failures=3, window=60, client_max_failures=20, slowdown_seconds=1.0)
    assert [policy.pair_delay(n) for n in range(1, 11)] == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert policy.pair_delay(10_000) == 60  # no overflow
    assert (policy.client_delay(19), policy.client_delay(20)) == (0, 60)
    assert (policy.slowdown(2), policy.slowdown(3)) == (0, 1.0)


def test_memory_counters_expire_like_redis() -> None:
    now = [1000.0]
    counters = MemoryCounters(clock=lambda: now[0])
    assert counters.hit(["a", "b"], 10) == [1, 1]
    now[0] += 9
    assert counters.hit(["a"], 10) == [2]  # sliding: 10 s after the last hit
    now[0] += 9.5
    assert counters.read(["a", "b"], []) == ([2, 0], [])
    counters.block("x", 5)
    assert counters.read([], ["x"])[1] == [5]
    now[0] += 5
    assert counters.read([], ["x"])[1] == [0]
    assert counters.clear(["a"]) == 1 and counters.read(["a"], [])[0] == [0]


def test_fallback_counters_retry_redis_after_a_pause() -> None:
    now = [0.0]
    fell_back = []
    dead = RedisCounters(redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1))
    counters = FallbackCounters(dead, MemoryCounters(), on_fallback=lambda: fell_back.append(1),
                                retry_seconds=5, clock=lambda: now[0])
    assert counters.hit(["k"], 60) == [1] and counters.hit(["k"], 60) == [2]
    assert counters.degraded and len(fell_back) == 2
