"""Revocation and write ordering (issue 14, failures 3 and 4).

- Old tokens are refused after a password reset, disable, role change, delete/re-create, logout and an
  admin's revocation, on the generic path (/auth/me) and the hot paths (events list, alert queue).
- A write is committed before its response: the very next request sees it, and a commit that fails is a
  503 with nothing stored (real PostgreSQL deferred triggers make the commit slow or fail).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text

from secustream.storage import audit
from secustream.storage import users as user_store
from tests.api.conftest import PASSWORD, Api, LiveServer

ME = "/api/v1/auth/me"
EVENTS = "/api/v1/events?limit=1"
ALERTS = "/api/v1/alerts?limit=1"
TOKEN = "/api/v1/auth/token"
USERS = "/api/v1/users"
_n = itertools.count()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _new_user(api: Api, prefix: str = "rev", role: str = "analyst") -> tuple[int, str, str]:
    """A fresh account through the API; returns its id, name and a token from a real login."""
    name = f"{prefix}-{next(_n)}"
    created = api.client.post(USERS, headers=api.headers("admin"),
                              json={"username": name, "password": PASSWORD, "role": role})
    assert created.status_code == 201, created.text
    login = api.client.post(TOKEN, data={"username": name, "password": PASSWORD})
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    assert _works(api, token)
    return int(created.json()["id"]), name, token


def _works(api: Api, token: str) -> bool:
    """The auth paths agree: /auth/me (generic), the events list (account check pipelined ahead of its page)
    and the alert queue (account check and page in one statement), down to the refusal's detail."""
    answers = [api.client.get(url, headers=_bearer(token)) for url in (ME, EVENTS, ALERTS)]
    outcomes = {(r.status_code, None if r.status_code == 200 else r.json()["detail"]) for r in answers}
    assert len(outcomes) == 1, outcomes
    return answers[0].status_code == 200


def _audit_actions(api: Api, target: str) -> list[str]:
    with api.engine.connect() as conn:
        return [e["action"] for e in audit.entries(conn, 500) if e["target"] == target]


@pytest.mark.parametrize("change", [{"password": "a brand new passphrase"}, {"is_active": False},
                                    {"role": "viewer"}], ids=["password reset", "disable", "role change"])
def test_old_tokens_are_refused_after_an_account_change(api: Api, change: dict[str, object]) -> None:
    user_id, name, token = _new_user(api)
    response = api.client.patch(f"{USERS}/{user_id}", headers=api.headers("admin"), json=change)
    assert response.status_code == 200, response.text
    assert not _works(api, token)
    if change.get("is_active") is False:
        api.client.patch(f"{USERS}/{user_id}", headers=api.headers("admin"), json={"is_active": True})
        assert not _works(api, token)  # re-enabling does not bring the old token back
    password = str(change.get("password", PASSWORD))
    fresh = api.client.post(TOKEN, data={"username": name, "password": password})
    assert fresh.status_code == 200 and _works(api, fresh.json()["access_token"])  # a new sign-in works
    assert "user_updated" in _audit_actions(api, f"user:{user_id}")


def test_a_deleted_and_recreated_account_refuses_the_old_accounts_tokens(api: Api) -> None:
    user_id, name, token = _new_user(api)
    assert api.client.delete(f"{USERS}/{user_id}", headers=api.headers("admin")).status_code == 204
    assert api.client.get(ME, headers=_bearer(token)).json()["detail"] == "unknown user"
    again = api.client.post(USERS, headers=api.headers("admin"),
                            json={"username": name, "password": PASSWORD, "role": "admin"})
    assert again.status_code == 201 and again.json()["id"] != user_id
    assert not _works(api, token)  # same name, another account: the old token names the old id
    assert api.client.delete(f"{USERS}/{user_id}", headers=api.headers("admin")).status_code == 404
    assert "user_deleted" in _audit_actions(api, f"user:{user_id}")


def test_admins_cannot_delete_themselves(api: Api) -> None:
    admin_id = api.users["admin"]["id"]
    assert api.client.delete(f"{USERS}/{admin_id}", headers=api.headers("admin")).status_code == 409


def test_logout_ends_the_accounts_tokens(api: Api) -> None:
    _user_id, name, token = _new_user(api)
    other = api.client.post(TOKEN, data={"username": name, "password": PASSWORD}).json()["access_token"]
    assert api.client.post("/api/v1/auth/logout", headers=_bearer(token)).status_code == 204
    assert not _works(api, token) and not _works(api, other)  # every session of the account
    assert api.client.post("/api/v1/auth/logout", headers=_bearer(token)).status_code == 401
    fresh = api.client.post(TOKEN, data={"username": name, "password": PASSWORD}).json()["access_token"]
    assert _works(api, fresh)


def test_admin_revokes_one_user_or_everyone_else(api: Api) -> None:
    one_id, _one, one_token = _new_user(api)
    _two_id, _two, two_token = _new_user(api)
    assert api.client.post(f"{USERS}/{one_id}/revoke-tokens", headers=api.headers("admin")).status_code == 204
    assert not _works(api, one_token) and _works(api, two_token)
    assert "tokens_revoked" in _audit_actions(api, f"user:{one_id}")
    assert api.client.post(f"{USERS}/999999/revoke-tokens", headers=api.headers("admin")).status_code == 404

    admin_token = api.token("admin")
    everyone = api.client.post(f"{USERS}/revoke-tokens", headers=_bearer(admin_token))
    assert everyone.status_code == 200 and everyone.json()["accounts"] >= 2
    assert not _works(api, two_token)
    assert _works(api, admin_token)  # the caller keeps working (POST /auth/logout ends theirs)


def test_revocation_is_immediate_despite_the_verified_token_cache(api: Api) -> None:
    """The cache remembers a token's signature, never its account: the version is compared per request."""
    user_id, _name, token = _new_user(api)
    for _ in range(3):
        assert _works(api, token)  # cached now
    assert token in api.app.state.ctx.verified._seen
    api.client.post(f"{USERS}/{user_id}/revoke-tokens", headers=api.headers("admin"))
    assert api.client.get(ME, headers=_bearer(token)).json()["detail"] == "token revoked: sign in again"


# --------------------------------------------------------------------------- commit before answering


@pytest.fixture(scope="module")
def commit_triggers(api: Api) -> Iterator[None]:
    """Deferred triggers (they run at COMMIT): 'slow-*' users take 0.5 s to commit, 'doomed-*' users fail."""
    with api.engine.begin() as conn:
        conn.execute(text("""
            CREATE OR REPLACE FUNCTION test_commit_hook() RETURNS trigger AS $$ BEGIN
              IF NEW.username LIKE 'slow-%' THEN PERFORM pg_sleep(0.5); END IF;
              IF NEW.username LIKE 'doomed-%' THEN RAISE EXCEPTION 'refused at commit'; END IF;
              RETURN NULL; END $$ LANGUAGE plpgsql"""))
        conn.execute(text("CREATE CONSTRAINT TRIGGER test_commit_hook AFTER INSERT OR UPDATE ON users "
                          "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_commit_hook()"))
    try:
        yield
    finally:
        with api.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER test_commit_hook ON users"))
            conn.execute(text("DROP FUNCTION test_commit_hook()"))


def test_a_write_is_visible_to_the_very_next_request(api: Api, commit_triggers: None) -> None:
    """Over real HTTP: the disable's response arrives only after its (slow) commit, so the next request is
    refused. Committing after the response served this request with the account still enabled."""
    user_id, _name, token = _new_user(api, prefix="slow")
    with LiveServer(api.app) as live, httpx.Client(base_url=live.base, timeout=10) as client:
        patched = client.patch(f"{USERS}/{user_id}", headers=api.headers("admin"), json={"is_active": False})
        assert patched.status_code == 200, patched.text
        after = client.get(ME, headers=_bearer(token))
        assert (after.status_code, after.json()["detail"]) == (401, "account disabled")


def test_a_failed_commit_is_a_5xx_and_stores_nothing(api: Api, commit_triggers: None) -> None:
    name = f"doomed-{next(_n)}"
    response = api.client.post(USERS, headers=api.headers("admin"),
                               json={"username": name, "password": PASSWORD, "role": "viewer"})
    assert response.status_code == 503, response.text
    with api.engine.connect() as conn:
        assert user_store.get_user_by_name(conn, name) is None
        assert not [e for e in audit.entries(conn, 500) if e["detail"].get("username") == name]
