"""Services and ServiceMonitors.

Why: the API needs a stable Service; generator and analyzer get headless metrics Services so
kube-prometheus-stack can scrape them through ServiceMonitors carrying its ``release`` label.
"""

from __future__ import annotations

from typing import Any

from secustream_operator import naming
from secustream_operator.builders.common import Context

SCRAPED = {"generator": ("metrics", 9100), "analyzer": ("metrics", 9100), "api": ("http", 8080)}


def enabled_components(spec: dict[str, Any]) -> list[str]:
    return [c for c in ("generator", "api", "analyzer") if c != "generator" or spec["generator"]["enabled"]]


def service(ctx: Context, component: str) -> dict[str, Any]:
    port_name, port = SCRAPED[component]
    spec: dict[str, Any] = {
        "selector": naming.selector_labels(ctx.name, component),
        "ports": [{"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}],
    }
    if component == "api":
        spec["type"] = ctx.spec["api"]["serviceType"]
    else:
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": ctx.meta(component), "spec": spec}


def service_monitor(ctx: Context, component: str) -> dict[str, Any]:
    monitoring = ctx.spec["monitoring"]
    meta = ctx.meta(component)
    meta["labels"]["release"] = monitoring["prometheusReleaseLabel"]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": meta,
        "spec": {
            "selector": {"matchLabels": naming.selector_labels(ctx.name, component)},
            "namespaceSelector": {"matchNames": [ctx.namespace]},
            "endpoints": [{"port": SCRAPED[component][0], "path": "/metrics", "interval": monitoring["interval"]}],
        },
    }


def build_services(ctx: Context) -> list[dict[str, Any]]:
    components = enabled_components(ctx.spec)
    out = [service(ctx, c) for c in components]
    if ctx.spec["monitoring"]["serviceMonitor"]:
        out += [service_monitor(ctx, c) for c in components]
    return out
