"""One settings contract: every env key the operator gives a container is one ``Settings`` reads.

``Settings`` ignores unknown env vars (``extra="ignore"``), so a misspelt key would silently do nothing;
this renders the builders over the spec matrix and checks every key of the settings ConfigMap and of
every container's ``env`` against the fields and aliases of ``secustream.config.Settings``.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import AliasChoices

from secustream.config import Settings
from secustream_operator import builders
from secustream_operator.builders import config
from secustream_operator.spec import normalise

from .specs import MATRIX, spec


def settings_env_names() -> set[str]:
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        names.add(name)
        for alias in (field.alias, field.validation_alias):
            if isinstance(alias, str):
                names.add(alias)
            elif isinstance(alias, AliasChoices):
                names.update(a for a in alias.choices if isinstance(a, str))
    return names


def emitted_env(children: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Env key → where it comes from, for the settings ConfigMap and every container of every workload."""
    found: dict[str, set[str]] = {}
    configmaps = {c["metadata"]["name"]: c for c in children if c["kind"] == "ConfigMap"}
    for child in children:
        pod = (child.get("spec", {}).get("template", {}).get("spec")
               or child.get("spec", {}).get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec"))
        if not pod:
            continue
        for c in [*pod.get("initContainers", []), *pod.get("containers", [])]:
            where = f"{child['kind']}/{child['metadata']['name']}/{c['name']}"
            for item in c.get("env", []):
                found.setdefault(item["name"], set()).add(where)
            for source in c.get("envFrom", []):
                if "configMapRef" not in source:  # a Secret of the object store's own variables (AWS_*)
                    continue
                data = configmaps[source["configMapRef"]["name"]]["data"]
                for key in data:
                    found.setdefault(key, set()).add(f"{where} (ConfigMap)")
    return found


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_every_emitted_env_key_is_a_settings_field(case: str) -> None:
    children = builders.build_children("demo", "ns1", normalise(MATRIX[case]))
    emitted = emitted_env(children)
    assert "DATABASE_URL" in emitted and "KAFKA_SERVER" in emitted  # the walk found the containers
    unknown = {k: sorted(v) for k, v in emitted.items() if k not in settings_env_names()}
    assert not unknown, f"env keys no Settings field reads: {unknown}"


def test_cr_values_reach_the_settings_they_name() -> None:
    """The two mismatches this contract caught: escalateBelowConfidence and llm.enabled."""
    data = config.settings(normalise(spec(**{"analyzer.tiers.model.escalateBelowConfidence": 0.65,
                                             "analyzer.tiers.llm.enabled": False})))
    loaded = Settings.model_validate({k: v for k, v in data.items()})
    assert loaded.ROUTER_ESCALATE_BELOW_CONFIDENCE == 0.65
    assert loaded.LLM_ENABLED is False
    on = Settings.model_validate(config.settings(normalise(spec(**{"analyzer.tiers.llm.enabled": True}))))
    assert on.LLM_ENABLED is True


def test_the_contract_catches_an_unknown_key() -> None:
    assert "MODEL_ESCALATE_BELOW_CONFIDENCE" not in settings_env_names()
    assert {"REDIS_URL", "DATABASE_URL", "ROUTER_ESCALATE_BELOW_CONFIDENCE"} <= settings_env_names()
