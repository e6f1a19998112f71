"""Detection rules with the admins' enable/disable overrides."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from secustream.analyzer.native.schema import RuleError, RuleSet
from secustream.api.deps import AUTH_RESPONSES, Admin, Conn, Ctx, Viewer
from secustream.api.schemas import RULE_ID_PATTERN, Message, RuleOut, RuleToggle
from secustream.storage import rules as rule_store

router = APIRouter()


def _load_rules(ctx: Ctx) -> RuleSet:
    try:
        return RuleSet.load(ctx.settings.rules_path)
    except RuleError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"rules cannot be loaded: {exc}") from None


RuleId = Annotated[str, Path(pattern=RULE_ID_PATTERN)]


@router.get("/rules", response_model=list[RuleOut], tags=["rules"], responses=AUTH_RESPONSES)
def list_rules(ctx: Ctx, conn: Conn, _user: Viewer) -> list[RuleOut]:
    """Detection rules (from the YAML rule files) with the admins' enable/disable overrides applied."""
    overrides = rule_store.rule_overrides(conn)
    out = []
    for rule in _load_rules(ctx).rules:
        spec, ov = rule.spec, overrides.get(rule.id)
        out.append(RuleOut(id=spec.id, description=spec.description, severity=spec.severity,
                           threat_type=spec.threat_type.value, mitre_ids=spec.mitre,
                           enabled=bool(ov["enabled"]) if ov else spec.enabled, overridden=ov is not None,
                           updated_at=ov["updated_at"] if ov else None))
    return out


@router.put("/rules/{rule_id}", response_model=RuleOut, tags=["rules"],
            responses={**AUTH_RESPONSES, 404: {"model": Message}})
def toggle_rule(rule_id: RuleId, body: RuleToggle, ctx: Ctx, conn: Conn, user: Admin) -> RuleOut:
    """Enable or disable a rule (admin). The YAML stays the source; this stores an override."""
    rule = next((r for r in _load_rules(ctx).rules if r.id == rule_id), None)
    if rule is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no rule {rule_id}")
    ov = rule_store.set_rule_override(conn, rule_id, body.enabled, int(user["id"]))
    spec = rule.spec
    return RuleOut(id=spec.id, description=spec.description, severity=spec.severity,
                   threat_type=spec.threat_type.value, mitre_ids=spec.mitre, enabled=bool(ov["enabled"]),
                   overridden=True, updated_at=ov["updated_at"])
