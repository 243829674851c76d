"""Shape parameters of parametric mesh recipes: declaration, sampling and recipe expressions.

A category's recipe in ``scenes/meshes.yaml`` may declare ``params`` (data): each a ``choice``
(a list of values, optional ``weights``), a ``range`` ([lo, hi] fractions or ratios, quantised
to ``step``, default 0.01) or an ``int`` ([lo, hi] inclusive). An object's values are drawn in
the declared order from the scene's layout Generator (:func:`sample_shape_params`) and recorded
on the object as ``shape_params`` (docs/record.md); the mesh builder evaluates the recipe's
expressions (``"0.5 - seat"``, ``"back == 'slatted'"``) with them (:func:`evaluate`).

Expressions are a small, safe subset of Python: numbers, strings, parameter names, ``i`` and
``n`` (a repeated part's index and count), + - * / // % **, comparisons, and/or/not,
``a if c else b`` and the functions min, max, abs, round, int, float, cosd, sind (degrees).
"""

from __future__ import annotations

import ast
import bisect
import operator
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from engine.paths import SCENES_DIR
from engine.yamlio import load_yaml

PARAM_KINDS = ("choice", "range", "int")
_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_CMP = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
        ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}
_FUNCS = {"min": min, "max": max, "abs": abs, "round": round, "int": int, "float": float,
          "cosd": lambda d: float(np.cos(np.radians(d))), "sind": lambda d: float(np.sin(np.radians(d)))}


class ShapeParamError(ValueError):
    """A bad parameter declaration or expression; the message names the category and field."""


@lru_cache(maxsize=None)
def compile_expr(text: str) -> ast.AST:
    """Parse ``text`` as an expression of the allowed subset (raises ShapeParamError otherwise)."""
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as e:
        raise ShapeParamError(f"expression {text!r} does not parse: {e.msg}") from None
    for node in ast.walk(tree):
        ok = isinstance(node, (ast.Constant, ast.Name, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.IfExp,
                               ast.Call, ast.Load, ast.Tuple, ast.List, ast.operator, ast.unaryop, ast.cmpop,
                               ast.boolop))
        if not ok or (isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCS)):
            raise ShapeParamError(f"expression {text!r}: {type(node).__name__} is not allowed "
                                  f"(numbers, names, arithmetic, comparisons, if/else, {sorted(_FUNCS)})")
    return tree


def _eval(node: ast.AST, env: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise ShapeParamError(f"unknown name {node.id!r} (parameters: {sorted(env)})")
        return env[node.id]
    if isinstance(node, ast.BinOp):
        return _BIN[type(node.op)](_eval(node.left, env), _eval(node.right, env))
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env)
        return -v if isinstance(node.op, ast.USub) else (+v if isinstance(node.op, ast.UAdd) else not v)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, right in zip(node.ops, node.comparators):
            r = _eval(right, env)
            if not _CMP[type(op)](left, r):
                return False
            left = r
        return True
    if isinstance(node, ast.BoolOp):
        vals = (_eval(v, env) for v in node.values)
        return all(vals) if isinstance(node.op, ast.And) else any(vals)
    if isinstance(node, ast.IfExp):
        return _eval(node.body, env) if _eval(node.test, env) else _eval(node.orelse, env)
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_eval(e, env) for e in node.elts)
    if isinstance(node, ast.Call):
        return _FUNCS[node.func.id](*(_eval(a, env) for a in node.args))
    raise ShapeParamError(f"{type(node).__name__} is not allowed in an expression")


def evaluate(value: Any, env: Mapping[str, Any]) -> Any:
    """A recipe field's value: strings are expressions over ``env`` (parameter values, ``i``,
    ``n``), lists are evaluated element-wise, anything else is returned as is."""
    if isinstance(value, str):
        return _eval(compile_expr(value), env)
    if isinstance(value, list):
        return [evaluate(v, env) for v in value]
    return value


def parse_params(spec: Any, where: str) -> dict[str, dict]:
    """Validate a recipe's ``params`` mapping; returns name -> normalised declaration
    (``kind``, ``values``/``weights`` or ``lo``/``hi``/``step``, ``default``)."""
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise ShapeParamError(f"{where}: must map parameter names to {{choice: [...]}}, {{range: [lo, hi]}} "
                              f"or {{int: [lo, hi]}}")
    out = {}
    for name, d in spec.items():
        pw = f"{where}.{name}"
        if not isinstance(d, Mapping) or len(set(d) & set(PARAM_KINDS)) != 1:
            raise ShapeParamError(f"{pw}: must have exactly one of {PARAM_KINDS}, got {d!r}")
        if set(d) - {*PARAM_KINDS, "weights", "step", "default"}:
            raise ShapeParamError(f"{pw}: unknown keys {sorted(set(d) - {*PARAM_KINDS, 'weights', 'step', 'default'})}")
        if name in ("i", "n") or name in _FUNCS or not str(name).isidentifier():
            raise ShapeParamError(f"{pw}: the name must be an identifier other than i, n and {sorted(_FUNCS)}")
        if "choice" in d:
            vals = d["choice"]
            if not isinstance(vals, list) or not vals or any(isinstance(v, (list, dict)) for v in vals):
                raise ShapeParamError(f"{pw}.choice: must be a non-empty list of values")
            w = d.get("weights", [1.0] * len(vals))
            if not (isinstance(w, list) and len(w) == len(vals) and all(isinstance(x, (int, float)) and x >= 0 for x in w)
                    and sum(w) > 0):
                raise ShapeParamError(f"{pw}.weights: must be {len(vals)} numbers >= 0, not all 0")
            q = {"kind": "choice", "values": list(vals), "weights": np.asarray(w, float) / float(sum(w)),
                 "default": d.get("default", vals[0])}
            if q["default"] not in vals:
                raise ShapeParamError(f"{pw}.default: {q['default']!r} is not one of the choices")
        else:
            kind = "range" if "range" in d else "int"
            lohi = d[kind]
            if not (isinstance(lohi, list) and len(lohi) == 2 and all(isinstance(x, (int, float)) for x in lohi)
                    and lohi[0] <= lohi[1]) or (kind == "int" and not all(isinstance(x, int) for x in lohi)):
                raise ShapeParamError(f"{pw}.{kind}: must be [lo, hi] {'integers' if kind == 'int' else 'numbers'}"
                                      f" with lo <= hi, got {lohi!r}")
            step = float(d.get("step", 0.01 if kind == "range" else 1))
            if step <= 0:
                raise ShapeParamError(f"{pw}.step: must be > 0")
            mid = (lohi[0] + lohi[1]) / 2
            default = d.get("default", round(mid / step) * step if kind == "range" else int(lohi[0]))
            q = {"kind": kind, "lo": lohi[0], "hi": lohi[1], "step": step,
                 "default": _quantise(q_lo=lohi[0], q_hi=lohi[1], step=step, v=default) if kind == "range" else int(default)}
        out[str(name)] = q
    return out


def _quantise(q_lo: float, q_hi: float, step: float, v: float) -> float:
    """``v`` snapped to the grid lo + k * step inside [lo, hi], rounded to 6 decimals."""
    k = round((v - q_lo) / step)
    return round(min(max(q_lo + k * step, q_lo), q_hi), 6)


def default_params(params: Mapping[str, dict]) -> dict[str, Any]:
    """Each parameter's default value (the first choice unless declared, a range's midpoint)."""
    return {k: d["default"] for k, d in params.items()}


_CUMSUMS: dict[int, tuple[Any, list]] = {}  # id(weights) -> (weights, np.cumsum(weights) as a list)


def _cumsum(weights: Any) -> list:
    """``np.cumsum(weights).tolist()``, kept per weights object (the specs are loaded once)."""
    hit = _CUMSUMS.get(id(weights))
    if hit is None or hit[0] is not weights:
        hit = _CUMSUMS[id(weights)] = (weights, np.cumsum(weights).tolist())
    return hit[1]


def draw_params(params: Mapping[str, dict], rng: np.random.Generator) -> dict[str, Any]:
    """One value per parameter, in declared order, one draw of ``rng`` each; JSON-safe values."""
    out: dict[str, Any] = {}
    for name, d in params.items():
        u = float(rng.random())
        if d["kind"] == "choice":
            k = min(bisect.bisect_right(_cumsum(d["weights"]), u), len(d["values"]) - 1)  # np.searchsorted(.., "right")
            out[name] = d["values"][k]
        elif d["kind"] == "range":
            out[name] = _quantise(d["lo"], d["hi"], d["step"], d["lo"] + u * (d["hi"] - d["lo"]))
        else:
            out[name] = int(d["lo"] + min(int(u * (d["hi"] - d["lo"] + 1)), d["hi"] - d["lo"]))
    return out


def check_values(params: Mapping[str, dict], values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``values`` completed with defaults; raises ShapeParamError naming an unknown parameter or a
    value outside its declaration (records read back are checked before a mesh is built)."""
    unknown = set(values) - set(params)
    if unknown:
        raise ShapeParamError(f"{where}: unknown shape parameters {sorted(unknown)}; known: {sorted(params)}")
    out = default_params(params)
    for k, v in values.items():
        d = params[k]
        ok = (v in d["values"]) if d["kind"] == "choice" else (
            isinstance(v, (int, float)) and not isinstance(v, bool) and d["lo"] - 1e-9 <= v <= d["hi"] + 1e-9)
        if not ok:
            allowed = d["values"] if d["kind"] == "choice" else f"[{d['lo']}, {d['hi']}]"
            raise ShapeParamError(f"{where}.{k}: {v!r} is outside its declaration {allowed}")
        out[k] = v
    return out


@lru_cache(maxsize=4)
def load_shape_specs(path: str | None = None) -> dict[str, dict[str, dict]]:
    """Category -> parameter declarations from the mesh recipe file (default
    ``scenes/meshes.yaml``; categories without ``params`` map to {}). Cached per path; the
    recipes themselves are validated by engine.assets.meshes.load_recipes."""
    p = Path(path) if path else SCENES_DIR / "meshes.yaml"
    with open(p, encoding="utf-8") as f:
        data = load_yaml(f)
    return {str(k): parse_params(v.get("params") if isinstance(v, Mapping) else None, f"{p}: categories.{k}.params")
            for k, v in (data.get("categories") or {}).items()}


def sample_shape_params(objects: list, specs: Mapping[str, Mapping], rng: np.random.Generator) -> None:
    """Set ``obj.shape_params`` on every object, in object order ({} for a category without
    parameters, which draws nothing).

    Args:
        objects: SceneObjects (``category`` read, ``shape_params`` written).
        specs: category -> parameter declarations (:func:`load_shape_specs`).
        rng: the scene's layout Generator, after the layout (so layouts do not change).
    """
    for o in objects:
        spec = specs.get(o.category) or {}
        o.shape_params = draw_params(spec, rng) if spec else {}
