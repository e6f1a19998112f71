"""Validate objects against a CRD's openAPIV3Schema the way the API server would, offline.

Why: no cluster here. jsonschema covers types/enums/bounds/required/patterns; this module adds
what it lacks: ``nullable``, int-or-string, strict unknown-field rejection (as ``kubectl
--validate=strict``), API-server defaulting, and the few simple CEL rules our CRD uses.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import jsonschema


def to_jsonschema(node: Any, strict: bool) -> Any:
    """OpenAPI v3 (Kubernetes flavour) -> JSON Schema draft 4/7 compatible dict."""
    if isinstance(node, list):
        return [to_jsonschema(n, strict) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_jsonschema(v, strict) for k, v in node.items()
           if not k.startswith("x-kubernetes-") and k not in ("nullable", "default", "format")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if (strict and node.get("type") == "object" and "properties" in node
            and "additionalProperties" not in node and not node.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def apply_defaults(schema: dict[str, Any], obj: Any) -> Any:
    """API-server defaulting: fill ``default`` for absent properties, recursing into objects."""
    if not isinstance(obj, dict) or schema.get("type") != "object":
        return obj
    out = dict(obj)
    for key, sub in (schema.get("properties") or {}).items():
        if key not in out and "default" in sub:
            out[key] = copy.deepcopy(sub["default"])
        if key in out:
            out[key] = apply_defaults(sub, out[key])
    return out


def _cel_to_python(rule: str) -> str:
    expr = re.sub(r"has\(self\.(\w+)\)", r"('\1' in self)", rule)
    expr = re.sub(r"self((?:\.\w+)+)", lambda m: "self" + "".join(f"['{p}']" for p in m[1][1:].split(".")), expr)
    expr = re.sub(r"\(\s*(\('\w+' in self\))\s*\?\s*(self\['\w+'\])\s*:\s*(\d+)\s*\)", r"(\2 if \1 else \3)", expr)
    expr = re.sub(r"!\s*\(", "not (", expr)
    return expr.replace("&&", " and ").replace("||", " or ")


def cel_errors(schema: dict[str, Any], obj: Any, path: str = "") -> list[str]:
    """Evaluate simple CEL rules (ours and KEDA's min<=max); an unsupported rule raises SyntaxError."""
    errors: list[str] = []
    if not isinstance(obj, dict):
        return errors
    for rule in schema.get("x-kubernetes-validations") or []:
        if not eval(_cel_to_python(rule["rule"]), {}, {"self": obj}):
            errors.append(f"{path or '<root>'}: {rule['message']}")
    for key, sub in (schema.get("properties") or {}).items():
        if key in obj:
            errors += cel_errors(sub, obj[key], f"{path}.{key}" if path else key)
    return errors


def validate(schema: dict[str, Any], obj: dict[str, Any], strict: bool = True) -> list[str]:
    """Readable reasons the API server would reject ``obj`` (after defaulting); [] if accepted."""
    defaulted = apply_defaults(schema, obj)
    validator = jsonschema.Draft7Validator(to_jsonschema(schema, strict))
    errors = [f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
              for e in validator.iter_errors(defaulted)]
    return errors + (cel_errors(schema, defaulted) if not errors else [])
