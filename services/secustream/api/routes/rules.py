"""Detection rules (native and Sigma) with the admins' overrides: on/off and level."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status

from secustream.analyzer.native.schema import RuleError
from secustream.api.deps import AUTH_RESPONSES, Admin, Conn, Ctx, Viewer
from secustream.api.rule_catalog import CatalogRule
from secustream.api.schemas import RULE_ID_PATTERN, Message, RuleOut, RuleToggle
from secustream.storage import rules as rule_store

router = APIRouter()


def _catalog(ctx: Ctx) -> list[CatalogRule]:
    try:
        return ctx.rules.rules()
    except RuleError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"rules cannot be loaded: {exc}") from None


def _out(rule: CatalogRule, ov: dict[str, Any] | None) -> RuleOut:
    return RuleOut(id=rule.id, description=rule.description, severity=rule.severity, threat_type=rule.threat_type,
                   mitre_ids=rule.mitre_ids, enabled=bool(ov["enabled"]) if ov else rule.enabled,
                   level_override=ov["level"] if ov else None, overridden=ov is not None,
                   updated_at=ov["updated_at"] if ov else None)


RuleId = Annotated[str, Path(pattern=RULE_ID_PATTERN)]


@router.get("/rules", response_model=list[RuleOut], tags=["rules"], responses=AUTH_RESPONSES)
def list_rules(ctx: Ctx, conn: Conn, _user: Viewer) -> list[RuleOut]:
    """Detection rules (native YAML, then Sigma) with the admins' overrides applied."""
    overrides = rule_store.rule_overrides(conn)
    return [_out(rule, overrides.get(rule.id)) for rule in _catalog(ctx)]


@router.put("/rules/{rule_id}", response_model=RuleOut, tags=["rules"],
            responses={**AUTH_RESPONSES, 404: {"model": Message}})
def override_rule(rule_id: RuleId, body: RuleToggle, ctx: Ctx, conn: Conn, user: Admin) -> RuleOut:
    """Switch a rule (native or Sigma) on or off, or give it another level (admin).

    The rule files stay the source; this stores an override that running analyzers apply within
    ``RULES_RELOAD_SECONDS`` (at least a second).
    """
    rule = next((r for r in _catalog(ctx) if r.id == rule_id), None)
    if rule is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no rule {rule_id}")
    level = body.level.value if body.level is not None else None
    return _out(rule, rule_store.set_rule_override(conn, rule_id, body.enabled, level, int(user["id"])))
