"""Layers point down and no module imports itself back: checked by walking every import with ``ast``.

Bottom to top: the domain (events, verdict, settings, …) → storage / messaging / state → normalizers,
generator, ingest → analyzer / alerts / training / api → cli / up. Function-level (lazy) imports count
too: a lazy import hides a dependency, it does not remove it.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "services" / "secustream"

LAYERS: list[set[str]] = [
    {"secustream", "__version__", "config", "events", "verdict", "feedback", "sanitize", "metrics", "runtime",
     "alert_hit", "attack", "archival", "evtx", "heap", "native", "windows_ad"},
    {"storage", "messaging", "state", "counters", "archive"},
    {"normalizers", "generator", "ingest", "ingest_input"},
    {"analyzer", "alerts", "training", "api"},
    {"cli", "up"},
]
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}

# Sideways arrows allowed inside a layer (the domain's modules may use each other; the cycle test still
# applies). Everything else inside a layer is refused:
SIDEWAYS = {
    ("cli", "up"),
    ("state", "counters"),  # the Redis/in-process counters the backends hand out
    ("normalizers", "messaging"),  # header names
    ("ingest", "normalizers"), ("ingest_input", "ingest"), ("generator", "storage"),
    ("training", "analyzer"), ("api", "analyzer"), ("alerts", "analyzer"),  # they build on the analyzer's shapes
    ("api", "alerts"),
    ("analyzer", "alerts"),  # the worker runs the alert stage after persisting (analyzer/service.py, worker.py)
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        found[".".join(rel.parts).removesuffix(".__init__")] = path
    return found


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the secustream modules it imports (``from pkg import submodule`` counts the submodule)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    if sub in modules:
                        graph[name].add(sub)
                    elif node.module in modules:
                        graph[name].add(node.module)
    return graph


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_every_top_level_module_has_a_layer() -> None:
    missing = sorted({_part(m) for m in _modules()} - set(LEVEL))
    assert not missing, f"give these a layer in LAYERS: {missing}"


def test_layers_only_point_down() -> None:
    wrong = []
    for src, targets in _imports(_modules()).items():
        for dst in targets:
            a, b = _part(src), _part(dst)
            if a == b or LEVEL[b] < LEVEL[a] or LEVEL[a] == LEVEL[b] == 0 or (a, b) in SIDEWAYS:
                continue
            wrong.append(f"{src} -> {dst} ({a} is layer {LEVEL[a]}, {b} layer {LEVEL[b]})")
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles() -> None:
    graph = _imports(_modules())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(_modules()):
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """A test that cannot fail is a defect: an upward import in a copied tree is reported."""
    global PACKAGE
    copy = tmp_path / "services" / "secustream"
    (copy / "storage").mkdir(parents=True)
    (copy / "api").mkdir()
    (copy / "__init__.py").write_text("")
    (copy / "storage" / "__init__.py").write_text("")
    (copy / "api" / "__init__.py").write_text("")
    (copy / "storage" / "x.py").write_text("from secustream.api import y\n")
    (copy / "api" / "y.py").write_text("from secustream.storage import x\n")
    saved, PACKAGE = PACKAGE, copy
    try:
        for check, expected in ((test_layers_only_point_down, "secustream.storage.x -> secustream.api.y"),
                                (test_no_import_cycles, "secustream.api.y")):
            with pytest.raises(AssertionError, match=re.escape(expected)):
                check()
    finally:
        PACKAGE = saved
