"""GET /api/v1/rules/coverage: ATT&CK coverage of the loaded Sigma rules, following installed packs."""

from __future__ import annotations

from pathlib import Path

from secustream.analyzer.sigma.packs import install
from tests.api.conftest import build_api
from tests.unit.test_sigma_packs import write_rule


def test_coverage_follows_installed_packs(tmp_path: Path, module_pg_url: str, module_redis_url: str) -> None:
    source = tmp_path / "src"
    write_rule(source, "mimi", "sekurlsa::logonpasswords")
    packs = tmp_path / "packs"
    api = build_api(module_pg_url, module_redis_url, SIGMA_PACKS_DIR=str(packs), SIGMA_RULES_PATH="off")
    try:
        url = "/api/v1/rules/coverage"
        assert api.client.get(url).status_code == 401
        empty = api.client.get(url, headers=api.headers("viewer")).json()
        assert empty == {"rules": 0, "with_attack_tags": 0, "techniques": 0, "tactics": {}}
        install(str(source), packs, "core")
        body = api.client.get(url, headers=api.headers("viewer")).json()
        assert body == {"rules": 1, "with_attack_tags": 1, "techniques": 1,
                        "tactics": {"credential_access": {"T1003.001": 1}}}
    finally:
        api.app.state.ctx.hub.close()
        api.app.state.ctx.pages.close()
        api.state.close()
        api.engine.dispose()
