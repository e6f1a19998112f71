"""Login throttling that slows attackers without locking out the account's owner (OWASP ASVS V2 soft lockout).

Why three budgets: the old per-user lock let anyone lock any account (the admin's included) with five
guesses every five minutes, and its per-IP counter was bypassed by a forged X-Forwarded-For. Now:

- account + client (username, client address): after ``max_failures`` the pair is blocked 1 s, doubling
  per further failure (cap: the window). A correct password is refused (429) from that client only.
- client (client address, any username): after ``client_max_failures`` the client is blocked for the
  window (a password spray), whatever it sends.
- account (username, any client): after ``max_failures`` every attempt waits ``slowdown`` seconds first,
  and a correct password is still accepted.

Failures count until ``window`` seconds pass without one. A success clears its own account + client
budget. Locks and slowdowns are reported (the API writes them to the audit log); an admin can unlock an
account. The client address is the one ``api/proxies.py`` resolved (trusted proxies only). Counters live
in ``secustream.counters`` (Redis, shared by replicas; in-process when Redis is down); keys are hashes.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from secustream.config import Settings
from secustream.counters import Counters

PREFIX = "secustream:login:"
LOCKOUT_SCOPES = ("account_client", "client", "account")  # Lockout.scope values (a metric label)


def _h(value: str) -> str:
    return hashlib.sha256(value.lower().encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    max_failures: int  # per account + client before delays start; per account before every attempt slows
    window: int  # seconds without a failure before the counts reset
    client_max_failures: int  # per client across usernames (spray)
    slowdown_seconds: float  # wait for every attempt on an account that is being guessed

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottlePolicy:
        return cls(settings.LOGIN_MAX_FAILURES, settings.LOGIN_WINDOW_SECONDS, settings.LOGIN_CLIENT_MAX_FAILURES,
                   settings.LOGIN_SLOWDOWN_SECONDS)

    def pair_delay(self, failures: int) -> float:
        """Seconds the account + client pair is blocked after its ``failures``-th failure (0 = not blocked)."""
        if failures < self.max_failures:
            return 0.0
        return float(min(2 ** min(failures - self.max_failures, 30), self.window))

    def client_delay(self, failures: int) -> float:
        return float(self.window) if failures >= self.client_max_failures else 0.0

    def slowdown(self, account_failures: int) -> float:
        return self.slowdown_seconds if account_failures >= self.max_failures else 0.0


@dataclass(frozen=True, slots=True)
class Gate:
    """What to do with a login attempt before its password is checked."""

    retry_after: int = 0  # > 0: refuse with 429 and this Retry-After
    slowdown: float = 0.0  # seconds to wait first
    scope: str = ""  # which budget refused: "account_client" | "client"


@dataclass(frozen=True, slots=True)
class Lockout:
    """A budget spent by this failure (reported once, when it is first spent)."""

    scope: str  # "account_client" (blocked) | "client" (blocked) | "account" (slowed)
    failures: int
    seconds: float


@dataclass(frozen=True, slots=True)
class _Keys:
    pair: str
    pair_block: str
    client: str
    client_block: str
    account: str

    @classmethod
    def of(cls, username: str, client: str) -> _Keys:
        u, c = _h(username), _h(client)
        return cls(f"{PREFIX}n:pair:{u}:{c}", f"{PREFIX}b:pair:{u}:{c}", f"{PREFIX}n:client:{c}",
                   f"{PREFIX}b:client:{c}", f"{PREFIX}n:account:{u}")


class LoginThrottle:
    def __init__(self, counters: Counters, policy: ThrottlePolicy) -> None:
        self.counters = counters
        self.policy = policy

    def check(self, username: str, client: str) -> Gate:
        keys = _Keys.of(username, client)
        (account,), (pair_left, client_left) = self.counters.read([keys.account], [keys.pair_block, keys.client_block])
        if pair_left > 0 or client_left > 0:
            scope = "account_client" if pair_left >= client_left else "client"
            return Gate(retry_after=max(1, math.ceil(max(pair_left, client_left))), scope=scope)
        return Gate(slowdown=self.policy.slowdown(account))

    def failed(self, username: str, client: str) -> list[Lockout]:
        keys, p = _Keys.of(username, client), self.policy
        pair, client_n, account = self.counters.hit([keys.pair, keys.client, keys.account], p.window)
        spent = []
        if delay := p.pair_delay(pair):
            self.counters.block(keys.pair_block, delay)
            if pair == p.max_failures:
                spent.append(Lockout("account_client", pair, delay))
        if delay := p.client_delay(client_n):
            self.counters.block(keys.client_block, delay)
            if client_n == p.client_max_failures:
                spent.append(Lockout("client", client_n, delay))
        if account == p.max_failures:
            spent.append(Lockout("account", account, p.slowdown_seconds))
        return spent

    def succeeded(self, username: str, client: str) -> None:
        keys = _Keys.of(username, client)
        self.counters.delete([keys.pair, keys.pair_block])

    def unlock(self, username: str) -> int:
        """An admin's unlock: every client's block on this account and the account's slowdown; returns keys."""
        u = _h(username)
        return self.counters.clear([f"{PREFIX}n:pair:{u}:", f"{PREFIX}b:pair:{u}:", f"{PREFIX}n:account:{u}"])
