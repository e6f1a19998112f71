from __future__ import annotations

import pytest

from secustream.config import SettingsError, load_settings, normalise_database_url


def test_defaults_build_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DATABASE_URL", "REDIS_URL", "POSTGRES_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    settings = load_settings()
    assert settings.DATABASE_URL == "postgresql+psycopg://secustream@127.0.0.1:5432/secustream"
    assert settings.REDIS_URL == "redis://127.0.0.1:6379/0"


def test_password_is_quoted_in_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_PASSWORD", "p@ss/word")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert "p%40ss%2Fword@" in load_settings().DATABASE_URL


def test_url_forms_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:pw@demo-db-rw:5432/app")
    monkeypatch.setenv("REDIS_URL", "redis://demo-redis:6379/1")
    settings = load_settings()
    assert settings.DATABASE_URL == "postgresql+psycopg://app:pw@demo-db-rw:5432/app"
    assert settings.REDIS_URL == "redis://demo-redis:6379/1"


@pytest.mark.parametrize(
    ("var", "value"),
    [("REDIS_PORT", "abc"), ("POSTGRES_PORT", "70000"), ("ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
     ("ALGORITHM", "none"), ("API_V1_STR", "api/v1"), ("GENERATOR_ATTACK_RATIO", "2")],
)
def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert var in message and "\n" not in message


def test_postgres_scheme_normalised() -> None:
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_cli_reports_bad_setting_in_one_line() -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "secustream.cli", "migrate"], capture_output=True, text=True,
                          env={"REDIS_PORT": "nope", "PATH": "/usr/bin:/bin"}, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("invalid setting REDIS_PORT")


def test_env_example_documents_every_setting() -> None:
    from pathlib import Path

    from secustream.config import Settings

    text = (Path(__file__).parents[2] / ".env.example").read_text()
    documented = {line.split("=", 1)[0] for line in text.splitlines() if "=" in line and not line.startswith("#")}
    names = {field.alias or name for name, field in Settings.model_fields.items()}
    assert names - documented == set(), "settings missing from .env.example"
    assert documented - names == set(), ".env.example documents settings that do not exist"
