"""Procedural triangle meshes for scene objects and room surfaces.

Object shapes come from the recipes in ``scenes/meshes.yaml`` (parts in the object's unit box,
see the header of that file). Each category's part geometry is built once per process in the
unit box [-0.5, 0.5]^3 (local x = depth/front, y = width, z = height) and scaled so its bounds
fill that box exactly; an object's mesh is then only a scale by ``size``, a yaw rotation and a
translation to ``center`` (world metres). So an object's mesh bounds in its local frame equal its
box exactly, which the renderer's depth and the amodal boxes rely on.

Colours are linear RGB. Room surfaces carry UVs in metres / ``scale_m`` and a procedural
texture (engine/assets/textures.py, gamma-2.2 encoded) that holds the surface colour; their
vertex colours are white (the renderer multiplies the decoded texel by the vertex colour).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import trimesh

from engine.assets.architecture import architecture_meshes
from engine.scene.shape_params import ShapeParamError, check_values, compile_expr, default_params, evaluate, parse_params
from engine.assets.textures import make_texture
from engine.assets.types import RenderMesh
from engine.paths import SCENES_DIR
from engine.scene.catalog import Catalog
from engine.scene.graph import SceneGraph, SceneObject
from engine.yamlio import load_yaml

DEFAULT_RECIPES = SCENES_DIR / "meshes.yaml"
SHAPES = ("box", "cylinder", "sphere", "capsule", "torus", "lathe")
_AXES = {"x": 0, "y": 1, "z": 2}
_SMOOTH_ANGLE = np.radians(40.0)  # edges sharper than this keep split (flat) normals
_SECTIONS = 16  # segments round a revolved part (16: smooth at 512 px, a third fewer triangles than 24)


class MeshRecipeError(ValueError):
    """scenes/meshes.yaml is malformed; the message names the category, part and field."""


@dataclass(frozen=True)
class UnitMesh:
    """A category's geometry in its unit box (built once per process, read-only arrays).

    Attributes:
        vertices: (N, 3) float64 in [-0.5, 0.5]^3, bounds exactly the unit box.
        normals: (N, 3) float64 unit normals in the unit-box frame.
        faces: (M, 3) uint32, counter-clockwise seen from outside.
        color_slot: (N,) int: 0 = primary, 1 = secondary, 2 + k = ``named_colors[k]``.
        named_colors: (K, 3) float64 linear RGB of the fixed colours used by the recipe.
        material_area: ``(material role, area)`` pairs in recipe order (role ``primary`` or a
            catalog material), area in unit-box units, for :func:`dominant_material`.
    """

    vertices: np.ndarray
    normals: np.ndarray
    faces: np.ndarray
    color_slot: np.ndarray
    named_colors: np.ndarray
    material_area: tuple[tuple[str, float], ...]


# ----------------------------------------------------------------------------- recipes


def _vec3(where: str, v: Any, positive: bool = False) -> list[float]:
    ok = isinstance(v, (list, tuple)) and len(v) == 3 and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
    if not ok or (positive and min(v) <= 0):
        need = "3 positive numbers" if positive else "3 numbers"
        raise MeshRecipeError(f"{where}: must be {need} (fractions of the object's box), got {v!r}")
    return [float(x) for x in v]


_PART_KEYS = {"shape", "center", "size", "axis", "taper", "profile", "arc", "arc_center", "minor", "rotate", "mirror",
              "color", "material", "when", "repeat"}


def _check_part_static(p: Any, pw: str, colors: Mapping, catalog: Catalog | None) -> dict:
    """Checks of a part's fields that do not depend on shape parameters; expressions compiled."""
    if not isinstance(p, Mapping):
        raise MeshRecipeError(f"{pw}: must be a mapping with shape, center, size")
    if p.get("shape") not in SHAPES:
        raise MeshRecipeError(f"{pw}.shape: {p.get('shape')!r} is not one of {SHAPES}")
    unknown = set(p) - _PART_KEYS
    if unknown:
        raise MeshRecipeError(f"{pw}: unknown keys {sorted(unknown)}; fix: see the header of scenes/meshes.yaml")
    for k in ("center", "size"):
        if k not in p:
            raise MeshRecipeError(f"{pw}.{k}: missing; fix: give [x, y, z] fractions of the object's box")
    if p.get("axis", "z") not in _AXES:
        raise MeshRecipeError(f"{pw}.axis: {p.get('axis')!r} must be x, y or z")
    mirror = p.get("mirror", [])
    if not isinstance(mirror, list) or any(a not in _AXES for a in mirror):
        raise MeshRecipeError(f"{pw}.mirror: must be a list of axes among x, y, z, got {mirror!r}")
    color = p.get("color", "primary")
    if color not in ("primary", "secondary") and color not in colors:
        raise MeshRecipeError(f"{pw}.color: {color!r} is not primary, secondary or a name under colors:")
    mat = p.get("material", "primary")
    if catalog is not None and mat != "primary" and mat not in catalog.materials:
        raise MeshRecipeError(f"{pw}.material: {mat!r} is not 'primary' or a catalog material {catalog.materials}")
    q = dict(p)
    q.update(axis=p.get("axis", "z"), mirror=sorted(set(mirror), key=_AXES.get), color=color, material=mat)

    def walk(v: Any) -> None:
        if isinstance(v, str):
            try:
                compile_expr(v)
            except ShapeParamError as e:
                raise MeshRecipeError(f"{pw}: {e}") from None
        elif isinstance(v, list):
            for x in v:
                walk(x)
    for k in ("center", "size", "rotate", "taper", "profile", "arc", "arc_center", "minor", "when", "repeat"):
        walk(q.get(k))
    return q


def _concrete_part(q: Mapping, env: Mapping, pw: str) -> dict:
    """A part with every expression evaluated in ``env`` and its numbers checked."""
    try:
        ev = {k: evaluate(q[k], env) for k in ("center", "size", "rotate", "taper", "profile", "arc", "arc_center",
                                                 "minor") if k in q}
    except (ShapeParamError, TypeError, ZeroDivisionError) as e:
        raise MeshRecipeError(f"{pw}: {e}") from None
    out = {"shape": q["shape"], "axis": q["axis"], "mirror": q["mirror"], "color": q["color"], "material": q["material"]}
    out["center"] = _vec3(f"{pw}.center", ev["center"])
    out["size"] = _vec3(f"{pw}.size", ev["size"], positive=True)
    out["rotate"] = _vec3(f"{pw}.rotate", ev.get("rotate", [0, 0, 0]))
    taper = ev.get("taper", [1, 1])
    if not (isinstance(taper, (list, tuple)) and len(taper) == 2 and all(isinstance(t, (int, float)) and t >= 0
                                                                        for t in taper) and max(taper) > 0):
        raise MeshRecipeError(f"{pw}.taper: must be [bottom, top] radius ratios >= 0, not both 0, got {taper!r}")
    out["taper"] = [float(t) for t in taper]
    if q["shape"] == "lathe":
        prof = ev.get("profile")
        ok = isinstance(prof, (list, tuple)) and len(prof) >= 3 and all(
            isinstance(r, (list, tuple)) and len(r) == 2 and 0 <= r[0] <= 1 and 0 <= r[1] <= 1 for r in prof)
        if not ok or prof[0][0] != 0 or prof[-1][0] != 0:
            raise MeshRecipeError(f"{pw}.profile: must be >= 3 [r, h] points in [0, 1] starting and "
                                  f"ending on the axis (r = 0), got {prof!r}")
        out["profile"] = [[float(a), float(b)] for a, b in prof]
    out["arc"] = float(ev.get("arc", 360.0))
    out["arc_center"] = float(ev.get("arc_center", 0.0))
    out["minor"] = float(ev.get("minor", 0.2))
    if not (0 < out["arc"] <= 360) or not (0 < out["minor"] < 1):
        raise MeshRecipeError(f"{pw}: torus needs 0 < arc <= 360 and 0 < minor < 1")
    return out


def resolve_parts(rec: Mapping, category: str, values: Mapping[str, Any]) -> list[dict]:
    """The category's concrete parts for shape parameter ``values`` (complete, checked): parts
    whose ``when`` is false are left out, ``repeat: n`` parts are expanded (``i`` = 0..n-1), and
    every part must stay in the unit box and the union reach every face (within
    ``fill_tolerance``); raises MeshRecipeError naming the category, part and values otherwise."""
    where = f"{rec['path']}: categories.{category}"
    tol = rec["fill_tolerance"]
    out = []
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for j, q in enumerate(rec["categories"][category]):
        pw = f"{where}[{j}]"
        env = dict(values)
        try:
            if "when" in q and not evaluate(q["when"], env):
                continue
            n = int(evaluate(q.get("repeat", 1), env))
        except (ShapeParamError, TypeError) as e:
            raise MeshRecipeError(f"{pw}: {e} (shape params {dict(values)})") from None
        for i in range(n):
            part = _concrete_part(q, {**env, "i": i, "n": n}, pw)
            c = np.array(part["center"])
            s = np.abs(_euler_xyz(part["rotate"])) @ np.array(part["size"])  # bounds of the rotated part's box
            if np.any(c - s / 2 < -0.5 - tol) or np.any(c + s / 2 > 0.5 + tol):
                raise MeshRecipeError(f"{pw}: part bounds {np.round(c - s / 2, 3).tolist()}..{np.round(c + s / 2, 3).tolist()} "
                                      f"leave the unit box [-0.5, 0.5]^3 (shape params {dict(values)}); fix: shrink or "
                                      f"move the part")
            for sign in _mirror_signs(part["mirror"]):
                lo = np.minimum(lo, c * sign - s / 2)
                hi = np.maximum(hi, c * sign + s / 2)
            out.append(part)
    if not out:
        raise MeshRecipeError(f"{where}: no part is kept for shape params {dict(values)}; fix: a part without `when`")
    if np.any(lo > -0.5 + tol) or np.any(hi < 0.5 - tol):
        raise MeshRecipeError(f"{where}: parts span {np.round(lo, 3).tolist()}..{np.round(hi, 3).tolist()} for shape "
                              f"params {dict(values)}, which does not reach every face of the unit box (tolerance "
                              f"{tol}); fix: extend a part")
    return out


def parse_recipes(data: Mapping, catalog: Catalog | None = None, path: str = "<meshes>") -> dict:
    """Validate the mesh recipe dict (as loaded from YAML); returns it with parts normalised.

    A category is a list of parts, or ``{params: {...}, parts: [...]}`` with shape parameters
    (engine/assets/shape_params.py) that part fields, ``when`` and ``repeat`` may use. Each
    category is resolved with its default parameters here. With ``catalog`` also checks that
    every catalog category has a recipe and that part materials are catalog materials. Raises
    :class:`MeshRecipeError` naming the bad field.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("categories"), Mapping):
        raise MeshRecipeError(f"{path}: top level must have 'colors' and 'categories' mappings")
    colors = {}
    for name, rgb in (data.get("colors") or {}).items():
        if not (isinstance(rgb, list) and len(rgb) == 3 and all(isinstance(x, (int, float)) and 0 <= x <= 1 for x in rgb)):
            raise MeshRecipeError(f"{path}: colors.{name}: must be [r, g, b] linear RGB in [0, 1], got {rgb!r}")
        colors[str(name)] = [float(x) for x in rgb]
    tol = float(data.get("fill_tolerance", 0.03))
    cats, params = {}, {}
    for key, entry in data["categories"].items():
        where = f"{path}: categories.{key}"
        if isinstance(entry, Mapping):
            if set(entry) - {"params", "parts"}:
                raise MeshRecipeError(f"{where}: unknown keys {sorted(set(entry) - {'params', 'parts'})}; a "
                                      f"parametric recipe has params and parts")
            parts = entry.get("parts")
            try:
                params[str(key)] = parse_params(entry.get("params"), f"{where}.params")
            except ShapeParamError as e:
                raise MeshRecipeError(str(e)) from None
        else:
            parts, params[str(key)] = entry, {}
        if not isinstance(parts, list) or not parts:
            raise MeshRecipeError(f"{where}: must be a non-empty list of parts")
        cats[str(key)] = [_check_part_static(p, f"{where}[{i}]", colors, catalog) for i, p in enumerate(parts)]
    rec = {"colors": colors, "categories": cats, "params": params, "fill_tolerance": tol, "path": path}
    for key in cats:
        resolve_parts(rec, key, default_params(params[key]))
    if catalog is not None:
        missing = [k for k in catalog.categories if k not in cats]
        if missing:
            raise MeshRecipeError(f"{path}: no recipe for catalog categories {missing}; fix: add them under categories:")
    return rec


@lru_cache(maxsize=4)
def load_recipes(path: str | None = None) -> dict:
    """Load and validate ``scenes/meshes.yaml`` (or ``path``); cached per path."""
    p = Path(path) if path else DEFAULT_RECIPES
    if not p.exists():
        raise MeshRecipeError(f"mesh recipe file {p} does not exist")
    with open(p) as f:
        return parse_recipes(load_yaml(f), None, str(p))


def _mirror_signs(axes: list[str]) -> list[np.ndarray]:
    signs = [np.ones(3)]
    for a in axes:
        flipped = []
        for s in signs:
            t = s.copy()
            t[_AXES[a]] = -1.0
            flipped.append(t)
        signs += flipped
    return signs


# ----------------------------------------------------------------------------- part geometry


def _lathe(profile: list[list[float]], sections: int) -> trimesh.Trimesh:
    """Revolve (r, h) points about +Z (r, h in [0, 1]); a closed solid for axis-to-axis profiles."""
    pts = np.asarray(profile, dtype=float)
    keep = np.ones(len(pts), bool)
    keep[1:] = np.any(np.diff(pts, axis=0) != 0, axis=1)  # drop repeated points
    return trimesh.creation.revolve(pts[keep], sections=sections)


def _torus(arc_deg: float, arc_center_deg: float, minor: float) -> trimesh.Trimesh:
    """A ring about +Z of radius 1 and tube radius ``minor``, kept over ``arc_deg``; capped ends."""
    nu = max(4, int(np.ceil(_SECTIONS * arc_deg / 360.0)))
    nv = 12
    full = arc_deg >= 360.0
    a0 = np.radians(arc_center_deg - arc_deg / 2)
    u = a0 + np.radians(arc_deg) * np.arange(nu + (0 if full else 1)) / nu
    v = 2 * np.pi * np.arange(nv) / nv
    U, V = np.meshgrid(u, v, indexing="ij")
    rad = 1.0 + minor * np.cos(V)
    verts = np.stack([rad * np.cos(U), rad * np.sin(U), minor * np.sin(V)], -1).reshape(-1, 3)
    nrow = len(u)
    faces = []
    for i in range(nrow if full else nrow - 1):
        i2 = (i + 1) % nrow
        for j in range(nv):
            j2 = (j + 1) % nv
            a, b, c, d = i * nv + j, i2 * nv + j, i2 * nv + j2, i * nv + j2
            faces += [[a, b, c], [a, c, d]]
    if not full:
        for row, ang in ((0, u[0]), (nrow - 1, u[-1])):
            ci = len(verts)
            verts = np.vstack([verts, [np.cos(ang), np.sin(ang), 0.0]])
            faces += [[ci, row * nv + (j + 1) % nv, row * nv + j] for j in range(nv)]
    mesh = trimesh.Trimesh(verts, np.asarray(faces), process=True)
    trimesh.repair.fix_normals(mesh)
    return mesh


def _raw_shape(part: Mapping) -> trimesh.Trimesh:
    """The part's primitive about +Z, any size (normalised to its bounds afterwards)."""
    shape = part["shape"]
    small = max(part["size"]) < 0.15  # tiny parts (knobs, wicks, handles) get fewer triangles
    if shape == "box":
        return trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    if shape == "sphere":
        return trimesh.creation.uv_sphere(radius=1.0, count=[6, 8] if small else [10, 14])
    if shape == "capsule":
        return trimesh.creation.capsule(height=1.0, radius=0.5, count=[10, 10])
    if shape == "torus":
        return _torus(part["arc"], part["arc_center"], part["minor"])
    if shape == "lathe":
        return _lathe(part["profile"], 10 if small else _SECTIONS)
    b, t = part["taper"]  # cylinder / cone / frustum
    return _lathe([[0, 0], [b, 0], [t, 1], [0, 1]], 10 if small else _SECTIONS)


def _euler_xyz(deg: list[float]) -> np.ndarray:
    rx, ry, rz = np.radians(deg)
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    Rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return Rz @ Ry @ Rx


def _prim_key(part: Mapping) -> tuple:
    """What a part's primitive depends on (not its size, place or rotation)."""
    small = max(part["size"]) < 0.15
    return (part["shape"], part["axis"], small, tuple(part["taper"]) if part["shape"] == "cylinder" else (),
            tuple(map(tuple, part.get("profile") or ())) if part["shape"] == "lathe" else (),
            (part["arc"], part["arc_center"], part["minor"]) if part["shape"] == "torus" else ())


_PRIMS: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _primitive(part: Mapping) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The part's primitive along its axis with bounds the unit box [-0.5, 0.5]^3, smooth-shaded
    there (edges sharper than 40 degrees split): (vertices (N, 3), unit normals (N, 3), faces
    (M, 3) int64). Cached per :func:`_prim_key`, so a variant costs only affine maps."""
    key = _prim_key(part)
    got = _PRIMS.get(key)
    if got is None:
        m = _raw_shape(part)
        v = np.asarray(m.vertices, dtype=float)
        perm = {"z": [0, 1, 2], "x": [2, 0, 1], "y": [1, 2, 0]}[part["axis"]]  # +Z -> axis (x: new = (z, x, y)), a proper rotation
        v = v[:, perm]
        lo, hi = v.min(0), v.max(0)
        v = (v - (lo + hi) / 2) / (hi - lo)
        s = trimesh.graph.smooth_shade(trimesh.Trimesh(v, np.asarray(m.faces), process=False), angle=_SMOOTH_ANGLE,
                                       facet_minarea=None)
        got = (np.asarray(s.vertices, float), np.asarray(s.vertex_normals, float), np.asarray(s.faces, np.int64))
        _PRIMS[key] = got
    return got


def _unit_key(params: Mapping[str, Any] | None) -> tuple:
    return tuple(sorted((params or {}).items()))


def unit_mesh(category: str, recipes_path: str | None = None, params: Mapping[str, Any] | None = None) -> UnitMesh:
    """The category's geometry in the unit box for shape parameters ``params`` (missing ones take
    their defaults; unknown or out-of-range ones raise MeshRecipeError). Cached per process
    (the last 512 variants); see :class:`UnitMesh`."""
    return _unit_mesh(category, recipes_path, _unit_key(params))


@lru_cache(maxsize=512)
def _unit_mesh(category: str, recipes_path: str | None, key: tuple) -> UnitMesh:
    rec = load_recipes(recipes_path)
    if category not in rec["categories"]:
        raise KeyError(f"category {category!r} has no mesh recipe in {rec['path']}; fix: add it under categories:")
    try:
        values = check_values(rec["params"][category], dict(key), f"shape_params of {category}")
    except ShapeParamError as e:
        raise MeshRecipeError(str(e)) from None
    parts = resolve_parts(rec, category, values)
    named = sorted({p["color"] for p in parts} - {"primary", "secondary"})
    slot_of = {"primary": 0, "secondary": 1, **{n: 2 + k for k, n in enumerate(named)}}
    verts, norms, faces, slots, mats = [], [], [], [], []
    base = 0
    for p in parts:
        pv, pn, pf = _primitive(p)
        size = np.asarray(p["size"])
        v, n = pv * size, pn / size
        if any(p["rotate"]):
            R = _euler_xyz(p["rotate"])
            v, n = v @ R.T, n @ R.T
        v = v + np.asarray(p["center"])
        for sign in _mirror_signs(p["mirror"]):
            verts.append(v * sign)
            norms.append(n * sign)
            faces.append((pf[:, ::-1] if np.prod(sign) < 0 else pf) + base)
            slots.append(np.full(len(v), slot_of[p["color"]]))
            mats.append((p["material"], len(pf)))
            base += len(v)
    V, N, F = np.vstack(verts), np.vstack(norms), np.vstack(faces)
    lo, hi = V.min(0), V.max(0)
    mid, ext = (lo + hi) / 2, hi - lo
    V = np.clip((V - mid) / ext, -0.5, 0.5)
    N = N * ext
    N /= np.linalg.norm(N, axis=1, keepdims=True)
    tri = V[F]
    tri_area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    areas: dict[str, float] = {}
    start = 0
    for mat, nf in mats:
        areas[mat] = areas.get(mat, 0.0) + float(tri_area[start:start + nf].sum())
        start += nf
    um = UnitMesh(
        vertices=V, normals=N, faces=F.astype(np.uint32), color_slot=np.concatenate(slots).astype(np.int64),
        named_colors=np.array([rec["colors"][n] for n in named], dtype=float).reshape(-1, 3),
        material_area=tuple(areas.items()),
    )
    for a in (um.vertices, um.normals, um.faces, um.color_slot, um.named_colors):
        a.setflags(write=False)
    return um


def dominant_material(category: str, material: str, params: Mapping[str, Any] | None = None) -> str:
    """The material covering the largest surface of ``category``'s mesh with shape parameters
    ``params`` (``primary`` -> ``material``)."""
    best: dict[str, float] = {}
    for role, area in unit_mesh(category, params=params).material_area:
        name = material if role == "primary" else role
        best[name] = best.get(name, 0.0) + area
    return max(best, key=lambda k: (best[k], k == material))


# ----------------------------------------------------------------------------- objects


def _rgb(where: str, v: Any) -> np.ndarray:
    a = np.asarray(v, dtype=float)
    if a.shape != (3,) or not np.all(np.isfinite(a)) or a.min() < 0 or a.max() > 1:
        raise ValueError(f"{where}: must be linear RGB [r, g, b] in [0, 1], got {v!r}")
    return a


def object_mesh(obj: SceneObject, catalog: Catalog, appearance: Mapping) -> RenderMesh:
    """The object's mesh in world metres, its bounds in the local frame equal to its box.

    Args:
        obj: the object (center, size, yaw, category).
        catalog: the catalog (checks the category exists).
        appearance: this object's entry of ``scene.materials["objects"]`` written by
            :func:`engine.assets.appearance.sample_appearance`: ``color`` and ``secondary``
            (linear RGB), ``specular`` in [0, 1], ``shininess`` (Phong exponent).

    Returns a :class:`RenderMesh` with float32 vertices/normals/colours and uint32 faces.
    """
    catalog[obj.category]  # KeyError naming the category when unknown
    um = unit_mesh(obj.category, params=getattr(obj, "shape_params", None))
    for key in ("color", "secondary", "specular", "shininess"):
        if key not in appearance:
            raise ValueError(f"materials.objects.{obj.id}.{key}: missing; fix: run sample_appearance on the scene")
    table = np.vstack([_rgb(f"materials.objects.{obj.id}.color", appearance["color"]),
                       _rgb(f"materials.objects.{obj.id}.secondary", appearance["secondary"]), um.named_colors])
    size = np.asarray(obj.size, dtype=float)
    R = obj.rotation
    verts = (um.vertices * size) @ R.T + np.asarray(obj.center, dtype=float)
    n = um.normals / size
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    return RenderMesh(
        instance_id=int(obj.instance_id), name=obj.id,
        vertices=verts.astype(np.float32), normals=(n @ R.T).astype(np.float32),
        faces=um.faces, colors=table[um.color_slot].astype(np.float32),
        specular=float(appearance["specular"]), shininess=float(appearance["shininess"]),
    )


def box_meshes(scene: SceneGraph) -> list[RenderMesh]:
    """Each object as its exact box (24 vertices, flat normals), gray; in scene order."""
    out = []
    for o in scene.objects:
        R, size = o.rotation, np.asarray(o.size, dtype=float)
        V, N, F, _ = _quad_box(-size / 2, np.eye(3), size, 1.0)
        v = V @ R.T + np.asarray(o.center, dtype=float)
        out.append(RenderMesh(int(o.instance_id), o.id, v.astype(np.float32), (N @ R.T).astype(np.float32),
                              F, np.full((len(v), 3), 0.6, np.float32)))
    return out


# ----------------------------------------------------------------------------- room


def _quad_box(origin: np.ndarray, axes: np.ndarray, extents: np.ndarray, scale_m: float) -> tuple:
    """A box spanned from ``origin`` along the 3 unit ``axes`` (rows) by ``extents`` metres.

    Returns (vertices (24, 3), normals (24, 3), faces (12, 3), uv (24, 2)); UVs are the face's
    in-plane metres / ``scale_m`` so textures keep a constant size on every face.
    """
    V, N, F, UV = [], [], [], []
    for k in range(3):
        i, j = (k + 1) % 3, (k + 2) % 3  # (i, j, k) right-handed, so i x j = +k
        for side in (0.0, 1.0):
            base = origin + axes[k] * extents[k] * side
            corners = [base, base + axes[i] * extents[i], base + axes[i] * extents[i] + axes[j] * extents[j],
                       base + axes[j] * extents[j]]
            uv = [[0, 0], [extents[i], 0], [extents[i], extents[j]], [0, extents[j]]]
            n = axes[k] if side else -axes[k]
            b = len(V)
            V += corners
            UV += uv
            N += [n] * 4
            F += [[b, b + 1, b + 2], [b, b + 2, b + 3]] if side else [[b, b + 2, b + 1], [b, b + 3, b + 2]]
    return np.array(V), np.array(N), np.array(F, dtype=np.uint32), np.array(UV) / scale_m


def _surface(spec: Mapping, where: str) -> tuple[np.ndarray, float, float, float]:
    for key in ("texture", "color", "color2", "scale_m", "seed", "specular", "shininess"):
        if key not in spec:
            raise ValueError(f"materials.{where}.{key}: missing; fix: run sample_appearance on the scene")
    return make_texture(spec), float(spec["scale_m"]), float(spec["specular"]), float(spec["shininess"])


def room_meshes(scene: SceneGraph, appearance: Mapping) -> list[RenderMesh]:
    """Floor and walls (instance_id 0) in world metres, textured.

    Args:
        scene: the scene; ``room.size`` [sx, sy, sz] m, ``room.walls``.
        appearance: ``scene.materials`` (needs ``floor`` and, with walls, ``wall``).

    The floor is the room rectangle x in [-sx/2, sx/2], y in [-sy/2, sy/2] at z = 0 (normal +Z);
    ``materials.floor.extent_m``, when set (open scenes), widens it to a square of that side.
    Each wall is a box ``thickness`` m thick behind its segment (outside the room), extended by
    the thickness at both ends so corners close, from z = 0 to its height.
    """
    if "floor" not in appearance:
        raise ValueError("materials.floor: missing; fix: run sample_appearance on the scene")
    tex, scale, spec, shin = _surface(appearance["floor"], "floor")
    sx, sy = float(scene.room.size[0]), float(scene.room.size[1])
    ext = appearance["floor"].get("extent_m")
    if ext:
        sx, sy = max(sx, float(ext)), max(sy, float(ext))
    v = np.array([[-sx / 2, -sy / 2, 0], [sx / 2, -sy / 2, 0], [sx / 2, sy / 2, 0], [-sx / 2, sy / 2, 0]], float)
    white = lambda n: np.ones((n, 3), np.float32)  # noqa: E731
    out = [RenderMesh(0, "floor", v.astype(np.float32), np.tile([0, 0, 1], (4, 1)).astype(np.float32),
                      np.array([[0, 1, 2], [0, 2, 3]], np.uint32), white(4), uv=(v[:, :2] / scale).astype(np.float32),
                      texture=tex, specular=spec, shininess=shin)]
    if scene.room.walls:
        if "wall" not in appearance:
            raise ValueError("materials.wall: missing; fix: run sample_appearance on the scene")
        wtex, wscale, wspec, wshin = _surface(appearance["wall"], "wall")
        if scene.room.architecture is not None:  # walls with openings, ceiling, trim, backdrop
            return out + architecture_meshes(scene, (wtex, wscale, wspec, wshin))
        for w in scene.room.walls:
            a, b = np.asarray(w.start, float), np.asarray(w.end, float)
            length = float(np.linalg.norm(b - a))
            along = np.array([*(b - a) / length, 0.0])
            inward = np.array([*w.inward_normal, 0.0])
            t = float(w.thickness)
            # (along, inward, up) is right-handed; start at the outer face, before the segment start
            axes = np.stack([along, inward, [0.0, 0.0, 1.0]])
            origin = np.array([*a, 0.0]) - along * t - inward * t
            V, N, F, UV = _quad_box(origin, axes, np.array([length + 2 * t, t, float(w.height)]), wscale)
            out.append(RenderMesh(0, w.id, V.astype(np.float32), N.astype(np.float32), F, white(len(V)),
                                  uv=UV.astype(np.float32), texture=wtex, specular=wspec, shininess=wshin))
    return out


def scene_meshes(scene: SceneGraph, catalog: Catalog) -> list[RenderMesh]:
    """All meshes of a scene: its objects in scene order, then floor and walls.

    Reads ``scene.materials`` written by :func:`engine.assets.appearance.sample_appearance`;
    raises ValueError naming the missing field when the scene has not been through it.
    """
    objs = scene.materials.get("objects")
    if objs is None:
        raise ValueError(f"scene {scene.scene_id}: materials.objects missing; fix: run sample_appearance on the scene")
    out = []
    for o in scene.objects:
        if o.id not in objs:
            raise ValueError(f"materials.objects.{o.id}: missing; fix: run sample_appearance after the layout")
        out.append(object_mesh(o, catalog, objs[o.id]))
    return out + room_meshes(scene, scene.materials)
