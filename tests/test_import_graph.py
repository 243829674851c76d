"""The package layers of engine/ (docs/architecture.md): no package imports a downstream one,
no module imports another by string or by a computed name, and the module import graph has no
cycle. Imports are read from the source with ``ast`` (top-level and inside functions alike)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "engine"

# Lower layers first. A module may import its own package and packages of lower layers only.
LAYERS = [
    {"engine", "plain", "rng", "atomic", "paths", "yamlio"},  # the root package and its plain helpers
    {"schema"},  # the config checker every group uses
    {"geometry"},
    {"scene"},
    {"layout", "camera", "assets"},  # assets: meshes, textures, appearance (what a scene looks like)
    {"render"},
    {"qa", "ingest"},  # ingest: scenes users bring (converters, annotations from their boxes, depth, masks)
    {"eval", "export", "viewer"},
    {"pipeline"},
    {"cli"},
]
LAYER = {p: k for k, ps in enumerate(LAYERS) for p in ps}
NOT_IMPORTS = {"getLogger", "get"}  # calls that take a module-like name without importing it


def _modules() -> dict[str, Path]:
    out = {}
    for f in ENGINE.rglob("*.py"):
        parts = f.relative_to(ENGINE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = f
    return out


def _package(module: str) -> str:
    """Top-level part below engine: engine.qa.balance -> qa; engine.rng -> rng; engine -> engine."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "engine"


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> engine modules it imports (an imported name that is a module counts as one)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for name, f in mods.items():
        here = name if f.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            edges[name].update(t for t in targets if t in mods and t != name)
    return edges


def _string_imports(mods: dict[str, Path]) -> list[str]:
    """Calls whose first argument is a string naming an engine module (``import_module("engine.x")``,
    a helper that imports by name): a reader or a static tool cannot follow them."""
    out = []
    for name, f in mods.items():
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                arg = node.args[0].value
                fn = node.func
                called = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "?")
                if isinstance(arg, str) and arg in mods and called not in NOT_IMPORTS:
                    out.append(f"{name}: {called}({arg!r})")
    return out


def _dynamic_imports(mods: dict[str, Path]) -> list[str]:
    """Calls of ``import_module`` or ``__import__`` whatever their argument (a name built at run
    time escapes ``_string_imports``): plug-ins are imported by name in their registry."""
    out = []
    for name, f in mods.items():
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                fn = node.func
                called = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "?")
                if called in ("import_module", "__import__"):
                    out.append(f"{name}:{node.lineno}: {called}(...)")
    return out


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    for root in sorted(set(edges) | {t for ts in edges.values() for t in ts}):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_every_package_has_a_layer():
    assert {_package(m) for m in _modules()} <= set(LAYER), {_package(m) for m in _modules()} - set(LAYER)


def test_no_package_imports_a_downstream_one():
    mods = _modules()
    bad = []
    for src, targets in _imports(mods).items():
        for t in targets:
            a, b = _package(src), _package(t)
            if a != b and LAYER[b] >= LAYER[a]:
                bad.append(f"{src} -> {t} ({a} is layer {LAYER[a]}, {b} is layer {LAYER[b]})")
    assert not bad, "\n".join(bad)


def test_no_module_imports_by_string():
    assert not _string_imports(_modules())


def test_no_dynamic_imports():
    assert not _dynamic_imports(_modules())


def test_no_import_cycles():
    assert not _cycles(_imports(_modules()))


def test_the_checker_catches_a_cycle_and_a_back_edge():
    """The checks can fail: a planted cycle and a planted upward import are found."""
    edges = {"engine.a.x": {"engine.a.y"}, "engine.a.y": {"engine.a.z"}, "engine.a.z": {"engine.a.x"},
             "engine.b": {"engine.a.x"}}
    assert _cycles(edges) == [["engine.a.x", "engine.a.y", "engine.a.z"]]
    assert LAYER[_package("engine.qa.balance")] > LAYER[_package("engine.scene.graph")]
    assert _package("engine.pipeline.run") == "pipeline" and _package("engine") == "engine"


def test_the_checker_catches_an_import_by_a_computed_name(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("import importlib\nmod = importlib.import_module('engine.' + 'rng')\n")
    assert _dynamic_imports({"engine.planted": planted}) == ["engine.planted:2: import_module(...)"]
