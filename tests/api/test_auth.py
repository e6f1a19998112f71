"""Authentication: token tampering, login throttling, start-up refusal of weak keys, bootstrap and admin flows."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from jose import jwt
from prometheus_client import CollectorRegistry

from secustream.api.app import create_app
from secustream.api.security import TokenCodec, dev_settings
from secustream.config import DEFAULT_SECRET_KEY, SettingsError
from secustream.state import MemoryState
from secustream.storage import users as user_store
from secustream.storage.database import make_engine
from tests.api.conftest import PASSWORD, Api, build_api, make_settings

ME = "/api/v1/auth/me"
TOKEN = "/api/v1/auth/token"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _me(api: Api, token: str) -> tuple[int, str]:
    response = api.client.get(ME, headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json().get("detail", "")


def test_login_issues_a_working_token(api: Api) -> None:
    response = api.client.post(TOKEN, data={"username": "analyst-user", "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 30 * 60
    status, _ = _me(api, body["access_token"])
    assert status == 200
    assert api.client.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"}).json()["role"] == "analyst"


def _claims(api: Api, role: str) -> dict[str, object]:
    """Valid claims for the role's user at the account's current token version."""
    with api.engine.connect() as conn:
        user = user_store.get_user(conn, int(api.users[role]["id"]))  # type: ignore[call-overload]
    now = int(time.time())
    return {"sub": str(user["id"]), "ver": user["token_version"], "role": user["role"], "iat": now,
            "exp": now + 600}


def test_tampered_tokens_are_rejected(api: Api) -> None:
    key, alg = api.settings.SECRET_KEY, api.settings.ALGORITHM
    now = int(time.time())
    good = _claims(api, "admin")
    assert _me(api, jwt.encode(good, key, algorithm=alg))[0] == 200  # the control: a proper token works

    alg_none = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(good) + "."
    wrong_key = jwt.encode(good, "another-secret-key-of-sufficient-length!!", algorithm=alg)
    other_alg = jwt.encode(good, key, algorithm="HS512")
    expired = jwt.encode({**good, "iat": now - 7200, "exp": now - 3600}, key, algorithm=alg)
    no_exp = jwt.encode({"sub": good["sub"], "ver": good["ver"]}, key, algorithm=alg)
    no_sub = jwt.encode({"role": "admin", "ver": 0, "exp": now + 600}, key, algorithm=alg)
    empty_sub = jwt.encode({**good, "sub": ""}, key, algorithm=alg)
    name_sub = jwt.encode({**good, "sub": "admin-user"}, key, algorithm=alg)  # the old, name-only shape
    no_ver = jwt.encode({k: v for k, v in good.items() if k != "ver"}, key, algorithm=alg)
    other_ver = jwt.encode({**good, "ver": int(good["ver"]) + 1}, key, algorithm=alg)  # type: ignore[call-overload]
    unknown = jwt.encode({**good, "sub": "999999"}, key, algorithm=alg)
    disabled = jwt.encode({**_claims(api, "disabled"), "role": "admin"}, key, algorithm=alg)
    header, _payload, sig = jwt.encode(good, key, algorithm=alg).split(".")
    forged_payload = f"{header}.{_b64({**_claims(api, 'viewer'), 'role': 'admin'})}.{sig}"

    cases = {
        "alg none": (alg_none, "algorithm"), "wrong signature": (wrong_key, "invalid"),
        "other algorithm": (other_alg, "algorithm"), "expired": (expired, "expired"),
        "no exp": (no_exp, "invalid"), "no subject": (no_sub, "invalid"), "empty subject": (empty_sub, ""),
        "name as subject": (name_sub, "subject"), "no version": (no_ver, "version"),
        "another version": (other_ver, "revoked"),
        "unknown subject": (unknown, "unknown user"), "disabled user": (disabled, "disabled"),
        "payload swapped": (forged_payload, "invalid"), "garbage": ("not-a-jwt", "malformed"),
    }
    for name, (token, hint) in cases.items():
        status, detail = _me(api, token)
        assert status == 401, f"{name}: {status} {detail}"
        assert hint in detail, f"{name}: {detail!r}"


def test_role_claim_is_not_trusted(api: Api) -> None:
    """A viewer's token claiming admin gets the viewer's rights: roles come from the database."""
    claims = _claims(api, "viewer")
    token = api.app.state.ctx.tokens.issue(int(claims["sub"]), claims["ver"], "admin")[0]  # type: ignore[call-overload]
    assert api.client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"}).status_code == 403


def test_remembered_tokens_still_expire_and_still_meet_the_account(api: Api) -> None:
    """The verified-token cache skips only the signature check: expiry and the user row are checked every time."""
    key, alg = api.settings.SECRET_KEY, api.settings.ALGORITHM
    exp = int(time.time()) + 2
    short = jwt.encode({**_claims(api, "viewer"), "exp": exp}, key, algorithm=alg)
    events = "/api/v1/events?limit=1"
    assert api.client.get(events, headers={"Authorization": f"Bearer {short}"}).status_code == 200  # now remembered
    assert _me(api, short)[0] == 200
    time.sleep(max(0.0, exp + 1 - time.time()) + 0.1)  # jose accepts through the second of exp
    assert _me(api, short) == (401, "token expired")
    assert api.client.get(events, headers={"Authorization": f"Bearer {short}"}).status_code == 401

    viewer_id = api.users["viewer"]["id"]
    token = api.token("viewer")
    assert api.client.get(events, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    admin = api.headers("admin")
    assert api.client.patch(f"/api/v1/users/{viewer_id}", headers=admin, json={"is_active": False}).status_code == 200
    try:
        denied = api.client.get(events, headers={"Authorization": f"Bearer {token}"})
        assert (denied.status_code, denied.json()["detail"]) == (401, "account disabled")
    finally:
        api.client.patch(f"/api/v1/users/{viewer_id}", headers=admin, json={"is_active": True})
    # re-enabled, the account takes new tokens only: the one issued before the disable stays refused
    assert api.client.get(events, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert api.client.get(events, headers=api.headers("viewer")).status_code == 200


def test_expiry_follows_settings() -> None:
    codec = TokenCodec("k" * 40, "HS256", 5)
    issued = datetime.now(UTC) - timedelta(minutes=6)
    token, lifetime = codec.issue(1, 0, "viewer", now=issued)
    assert lifetime == 300
    with pytest.raises(Exception, match="expired"):
        codec.verify(token)


def test_disabling_a_user_revokes_their_live_token(api: Api) -> None:
    created = api.client.post("/api/v1/users", headers=api.headers("admin"),
                              json={"username": "temp-analyst", "password": PASSWORD, "role": "analyst"})
    assert created.status_code == 201, created.text
    login = api.client.post(TOKEN, data={"username": "temp-analyst", "password": PASSWORD}).json()["access_token"]
    assert _me(api, login)[0] == 200
    patched = api.client.patch(f"/api/v1/users/{created.json()['id']}", headers=api.headers("admin"),
                               json={"is_active": False})
    assert patched.status_code == 200 and patched.json()["is_active"] is False
    assert _me(api, login) == (401, "account disabled")
    assert api.client.post(TOKEN, data={"username": "temp-analyst", "password": PASSWORD}).status_code == 401
    # re-role and re-enable
    again = api.client.patch(f"/api/v1/users/{created.json()['id']}", headers=api.headers("admin"),
                             json={"is_active": True, "role": "viewer"})
    assert (again.json()["role"], again.json()["is_active"]) == ("viewer", True)
    assert api.client.post("/api/v1/users", headers=api.headers("admin"),
                           json={"username": "temp-analyst", "password": PASSWORD}).status_code == 409


def test_admin_cannot_lock_themselves_out(api: Api) -> None:
    admin_id = api.users["admin"]["id"]
    for change in ({"is_active": False}, {"role": "viewer"}):
        response = api.client.patch(f"/api/v1/users/{admin_id}", headers=api.headers("admin"), json=change)
        assert response.status_code == 409, response.text


@pytest.mark.parametrize("key", ["", DEFAULT_SECRET_KEY, "short-key"])
def test_refuses_to_start_with_a_weak_secret_key(key: str) -> None:
    settings = make_settings(SECRET_KEY=key)
    engine = make_engine("sqlite://")
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        create_app(settings, engine, MemoryState(), CollectorRegistry())
    # ... unless explicitly in dev mode
    create_app(make_settings(SECRET_KEY=key, DEV_MODE=True), engine, MemoryState(), CollectorRegistry())


def test_cli_api_refuses_default_key() -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEV_MODE")}
    env["DATABASE_URL"] = "sqlite://"
    proc = subprocess.run([sys.executable, "-m", "secustream.cli", "api", "--port", "1"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "SECRET_KEY is missing or the default" in proc.stderr


def test_first_admin_bootstrap_is_idempotent(pg_url: str, redis_url: str) -> None:
    first = build_api(pg_url, redis_url, FIRST_ADMIN_USERNAME="boss", FIRST_ADMIN_PASSWORD="boss-password-1")
    response = first.client.post(TOKEN, data={"username": "boss", "password": "boss-password-1"})
    assert response.status_code == 200
    # a restart with another password neither duplicates nor changes the existing admin
    second = build_api(pg_url, redis_url, FIRST_ADMIN_USERNAME="boss", FIRST_ADMIN_PASSWORD="other-password-2")
    assert second.client.post(TOKEN, data={"username": "boss", "password": "boss-password-1"}).status_code == 200
    with first.engine.connect() as conn:
        assert [u["role"] for u in user_store.list_users(conn) if u["username"] == "boss"] == ["admin"]
    for built in (first, second):
        built.engine.dispose()


def test_dev_settings_generate_key_and_admin() -> None:
    settings, hint = dev_settings(make_settings(SECRET_KEY=DEFAULT_SECRET_KEY))
    assert settings.SECRET_KEY != DEFAULT_SECRET_KEY and len(settings.SECRET_KEY) >= 32
    assert settings.FIRST_ADMIN_USERNAME == "admin" and settings.FIRST_ADMIN_PASSWORD in hint
    kept, hint2 = dev_settings(make_settings(FIRST_ADMIN_USERNAME="me", FIRST_ADMIN_PASSWORD="p" * 12))
    assert kept.FIRST_ADMIN_PASSWORD == "p" * 12 and "p" * 12 not in hint2


def test_cli_users_create(pg_url: str) -> None:
    import os
    import subprocess
    import sys

    env = dict(os.environ, DATABASE_URL=pg_url, PASSWORD_HASH_ROUNDS="4")
    cmd = [sys.executable, "-m", "secustream.cli", "users", "create", "ops", "--role", "analyst", "--password-stdin"]
    proc = subprocess.run(cmd, env=env, input="a-long-password\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    again = subprocess.run(cmd, env=env, input="a-long-password\n", capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "exists" in again.stderr
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        user = user_store.get_user_by_name(conn, "ops")
    engine.dispose()
    assert user is not None and user["role"] == "analyst" and user["hashed_password"].startswith("$2")
