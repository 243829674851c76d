"""Meshes of a room's architecture (``scene.room.architecture``, engine/layout/architecture.py).

Everything here is a room surface (``instance_id`` 0), in world metres, built from the scene
record alone, so a record re-renders to the same pixels:

- walls with rectangular holes for the door and the windows (each wall split into boxes around
  its openings; texture coordinates continue across the pieces);
- a ceiling at z = sz facing down, with one emissive light fixture above each ``point`` light
  (the room centre when the scene has none);
- skirting boards along the walls' inner faces, interrupted at the door;
- the door: a casing (two jambs and a head, CASING_PROUD proud of the wall, a strip the layout
  keeps clear) and a leaf ``open_deg`` degrees open into the room
  about its hinge, with a knob; behind the opening a short corridor (a box open towards the room)
  so nothing outside shows through the door;
- each window: a frame, a mullion when wider than 1 m, and a sill board, all inside the wall's
  thickness (so they hide no object); no glass is drawn;
- the outdoor backdrop seen through the windows: an emissive ground just below z = 0 beyond each
  wall that has a window, out to ``GROUND_HALF`` m; above it the sky is the renderer's background colour
  (``render.background``; depth 0, id 0). An enclosing sky box would add a full-screen layer to
  every pass (+35% render time on llvmpipe); the background costs nothing.

Emissive meshes (``RenderMesh.emissive``) are drawn in their colour, unlit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from engine.assets.types import RenderMesh
from engine.scene.graph import SceneGraph, Wall
from engine.scene.openings import CASING, CASING_PROUD

GROUND_HALF = 25.0    # m: the outdoor ground reaches this far from the room's centre (depth < 65.5 m)
GROUND_Z = -0.005     # m: the outdoor ground, just below the floor
LEAF_T = 0.04         # m: door leaf thickness
SKIRT_T = 0.015       # m: skirting board depth into the room
CORRIDOR_DEPTH = 1.5  # m: how far the corridor behind the door reaches
FIXTURE_R = 0.22      # m: half side of a ceiling light fixture
GROUND_RGB = (0.30, 0.36, 0.22)
TRIM_RGB = (0.86, 0.85, 0.82)
DOOR_RGB = (0.62, 0.47, 0.33)
FIXTURE_RGB = (1.0, 0.98, 0.92)


def box(origin: np.ndarray, axes: np.ndarray, extents: np.ndarray, inside: bool = False,
        skip: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A box spanned from ``origin`` (3,) along the rows of ``axes`` (3, 3; right-handed unit
    vectors) by ``extents`` (3,) m. Returns (vertices (4F, 3), normals (4F, 3), faces (2F, 3)
    uint32, read-only: shared by every box with the same ``skip`` and ``inside``).

    Faces face outwards (counter-clockwise seen from outside), or inwards when ``inside``; face
    ``2k + side`` is the one at ``side`` (0 or 1) along axis k; ``skip`` lists faces left out.
    """
    k, side, i, j, sign, F = _box_layout(tuple(skip), bool(inside))
    axes = np.asarray(axes, dtype=float)
    step = axes * np.asarray(extents, dtype=float)[:, None]  # row k: axes[k] * extents[k]
    base = origin + step[k] * side
    edge = base + step[i]
    across = step[j]
    V = np.stack([base, edge, edge + across, base + across], axis=1).reshape(-1, 3)  # 4 corners per face
    return V, np.repeat(axes[k] * sign, 4, axis=0), F


@lru_cache(maxsize=64)
def _box_layout(skip: tuple[int, ...], inside: bool) -> tuple:
    """Per face kept by :func:`box`: its axis k, side (column, 0./1.), the two in-plane axes,
    normal sign (column, +-1.) and the (2F, 3) uint32 faces (read-only)."""
    face = np.array([f for f in range(6) if f not in skip], dtype=np.intp)
    k, side = face // 2, face % 2
    out = (side == 1) != inside
    F = np.where(out[:, None, None], np.array([[0, 1, 2], [0, 2, 3]], np.uint32), np.array([[0, 2, 1], [0, 3, 2]], np.uint32))
    F = (F + 4 * np.arange(len(face), dtype=np.uint32)[:, None, None]).reshape(-1, 3)
    F.setflags(write=False)
    return k, side[:, None].astype(float), (k + 1) % 3, (k + 2) % 3, np.where(out, 1.0, -1.0)[:, None], F


def _mesh(name: str, parts: list[tuple], rgb, emissive: bool = False, colors: np.ndarray | None = None,
          specular: float = 0.1, shininess: float = 16.0) -> RenderMesh:
    """One id-0 RenderMesh from several (V, N, F) parts, of one colour (or per-vertex ``colors``)."""
    Vs, Ns, Fs, off = [], [], [], 0
    for V, N, F in parts:
        Vs.append(V)
        Ns.append(N)
        Fs.append(F + off)
        off += len(V)
    V = np.concatenate(Vs)
    col = np.tile(np.asarray(rgb, np.float32), (len(V), 1)) if colors is None else colors
    return RenderMesh(0, name, V.astype(np.float32), np.concatenate(Ns).astype(np.float32),
                      np.concatenate(Fs).astype(np.uint32), col.astype(np.float32),
                      specular=specular, shininess=shininess, emissive=emissive)


def _frame(w: Wall) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """(a (3,) wall start at z 0, along (3,), inward (3,), length m, thickness m) of a wall."""
    a, b = np.asarray(w.start, float), np.asarray(w.end, float)
    length = float(np.linalg.norm(b - a))
    return np.array([*a, 0.0]), np.array([*(b - a) / length, 0.0]), np.array([*w.inward_normal, 0.0]), length, float(w.thickness)


def opening_span(op: Mapping, w: Wall) -> tuple[float, float, float, float]:
    """(s0, s1, z0, z1): an opening's extent along its wall (m from the wall's start) and in z."""
    a, along, _, _, _ = _frame(w)
    s = float((np.array([*op["center"], 0.0]) - a) @ along)
    return s - op["width"] / 2, s + op["width"] / 2, float(op["sill"]), float(op["sill"] + op["height"])


def wall_pieces(w: Wall, holes: list[tuple[float, float, float, float]]) -> list[tuple[float, float, float, float]]:
    """Rectangles (s0, s1, z0, z1) of a wall's face, from s = -t to length + t and z = 0 to its
    height, that cover it except the ``holes`` (non-overlapping (s0, s1, z0, z1) rectangles)."""
    _, _, _, length, t = _frame(w)
    H = float(w.height)
    out, s = [], -t
    for s0, s1, z0, z1 in sorted(holes):
        if s0 > s:
            out.append((s, s0, 0.0, H))
        if z0 > 0:
            out.append((s0, s1, 0.0, z0))
        if z1 < H:
            out.append((s0, s1, z1, H))
        s = s1
    if s < length + t:
        out.append((s, length + t, 0.0, H))
    return out


def _wall_mesh(w: Wall, holes: list, tex, scale: float, spec: float, shin: float) -> RenderMesh:
    a, along, inward, _, t = _frame(w)
    axes = np.stack([along, inward, [0.0, 0.0, 1.0]])
    parts = []
    for s0, s1, z0, z1 in wall_pieces(w, holes):
        origin = a + along * s0 - inward * t + np.array([0.0, 0.0, z0])
        parts.append(box(origin, axes, np.array([s1 - s0, t, z1 - z0])))
    m = _mesh(w.id, parts, (1.0, 1.0, 1.0), specular=spec, shininess=shin)
    p = m.vertices.astype(float) - a
    m.uv = (np.stack([p @ along + p @ inward, p[:, 2]], axis=1) / scale).astype(np.float32)
    m.texture = tex
    return m


def _door_meshes(op: Mapping, w: Wall, tex, scale: float) -> list[RenderMesh]:
    a, along, inward, _, t = _frame(w)
    up = np.array([0.0, 0.0, 1.0])
    s0, s1, _, h = opening_span(op, w)
    axes = np.stack([along, inward, up])
    at = lambda s, n, z: a + along * s + inward * n + up * z  # noqa: E731
    depth = t + 0.01 + CASING_PROUD
    casing = [box(at(s0 - CASING, -t - 0.01, 0.0), axes, np.array([CASING, depth, h + CASING])),
              box(at(s1, -t - 0.01, 0.0), axes, np.array([CASING, depth, h + CASING])),
              box(at(s0, -t - 0.01, h), axes, np.array([s1 - s0, depth, CASING]))]
    th = math.radians(float(op["open_deg"]))
    width, leaf_h = s1 - s0 - 0.01, h - 0.01
    if op["hinge"] == "left":
        hinge, d = at(s0 + 0.005, 0.0, 0.0), math.cos(th) * along + math.sin(th) * inward
    else:
        hinge, d = at(s1 - 0.005, 0.0, 0.0), -math.cos(th) * along + math.sin(th) * inward
    n = np.cross(up, d)
    # the leaf lies on the wall side of the hinge line when closed (inward in [-LEAF_T, 0])
    origin = hinge - n * LEAF_T if op["hinge"] == "left" else hinge
    leaf = box(origin, np.stack([d, n, up]), np.array([width, LEAF_T, leaf_h]))
    knob_c = origin + d * (width - 0.08) + up * 1.0
    knob = box(knob_c - d * 0.02 - n * 0.03 - up * 0.02, np.stack([d, n, up]), np.array([0.04, LEAF_T + 0.06, 0.04]))
    corridor = box(at(s0 - 0.3, -t - CORRIDOR_DEPTH, 0.0), axes, np.array([s1 - s0 + 0.6, CORRIDOR_DEPTH, h + 0.3]),
                   inside=True, skip=(3,))
    cm = _mesh(f"{op['id']}_corridor", [corridor], (0.75, 0.74, 0.72))
    return [_mesh(f"{op['id']}_casing", casing, TRIM_RGB, specular=0.2, shininess=32.0),
            _mesh(f"{op['id']}_leaf", [leaf], DOOR_RGB, specular=0.15, shininess=24.0),
            _mesh(f"{op['id']}_knob", [knob], (0.75, 0.70, 0.55), specular=0.6, shininess=64.0), cm]


def _window_meshes(op: Mapping, w: Wall) -> list[RenderMesh]:
    a, along, inward, _, t = _frame(w)
    up = np.array([0.0, 0.0, 1.0])
    s0, s1, z0, z1 = opening_span(op, w)
    axes = np.stack([along, inward, up])
    at = lambda s, n, z: a + along * s + inward * n + up * z  # noqa: E731
    c, n0, depth = CASING, -t / 2 - 0.03, 0.06
    bars = [box(at(s0, n0, z0), axes, np.array([c, depth, z1 - z0])),
            box(at(s1 - c, n0, z0), axes, np.array([c, depth, z1 - z0])),
            box(at(s0 + c, n0, z0), axes, np.array([s1 - s0 - 2 * c, depth, c])),
            box(at(s0 + c, n0, z1 - c), axes, np.array([s1 - s0 - 2 * c, depth, c]))]
    if s1 - s0 > 1.0:
        mid = (s0 + s1) / 2
        bars.append(box(at(mid - c / 2, n0, z0 + c), axes, np.array([c, depth, z1 - z0 - 2 * c])))
    # the sill board stays in the reveal (inside the wall's thickness): it hides nothing in the room
    sill = box(at(s0, -t / 2, z0), axes, np.array([s1 - s0, t / 2 - 0.002, 0.03]))
    return [_mesh(f"{op['id']}_frame", bars + [sill], TRIM_RGB, specular=0.2, shininess=32.0)]


def _skirting(scene: SceneGraph, height: float, door_spans: dict[str, list]) -> RenderMesh | None:
    parts = []
    for w in scene.room.walls:
        a, along, inward, length, _ = _frame(w)
        axes = np.stack([along, inward, [0.0, 0.0, 1.0]])
        s = 0.0
        for s0, s1 in sorted(door_spans.get(w.id, [])) + [(length + CASING, length + CASING)]:
            if s0 - CASING > s:
                parts.append(box(a + along * s, axes, np.array([s0 - CASING - s, SKIRT_T, height])))
            s = s1 + CASING
    return _mesh("skirting", parts, TRIM_RGB, specular=0.2, shininess=32.0) if parts else None


def _ceiling(scene: SceneGraph) -> list[RenderMesh]:
    sx, sy, sz = (float(v) for v in scene.room.size)
    # a box whose bottom face (inward-facing, so it faces down) is the ceiling plane z = sz
    ceil = box(np.array([-sx / 2, -sy / 2, sz]), np.eye(3), np.array([sx, sy, 0.05]), skip=(0, 1, 2, 3, 5))
    pts = [l["position"] for l in scene.lights if l.get("type") == "point"] or [[0.0, 0.0, sz]]
    fixtures = [box(np.array([p[0] - FIXTURE_R, p[1] - FIXTURE_R, sz - 0.03]), np.eye(3),
                    np.array([2 * FIXTURE_R, 2 * FIXTURE_R, 0.03]), skip=(5,)) for p in pts]
    return [_mesh("ceiling", [ceil], (0.92, 0.92, 0.90)), _mesh("ceiling_lights", fixtures, FIXTURE_RGB, emissive=True)]


def _backdrop(scene: SceneGraph) -> list[RenderMesh]:
    """The outdoor ground seen through the windows: for each wall with a window, one emissive quad
    at GROUND_Z covering the half-plane beyond that wall's outer face out to GROUND_HALF m (only
    where a window can see: it adds no layer under the floor or behind windowless walls)."""
    sx, sy, _ = (float(v) for v in scene.room.size)
    G = GROUND_HALF
    parts = []
    for w in scene.room.walls:
        if not any(op["kind"] == "window" and op["wall"] == w.id for op in scene.room.openings):
            continue
        n, t = w.inward_normal, float(w.thickness)
        x0, y0, x1, y1 = -G, -G, G, G
        if n[1] > 0.5:      # the wall at y = -sy/2 faces +y: ground at y < -sy/2 - t
            y1 = -sy / 2 - t
        elif n[1] < -0.5:
            y0 = sy / 2 + t
        elif n[0] > 0.5:
            x1 = -sx / 2 - t
        else:
            x0 = sx / 2 + t
        parts.append(box(np.array([x0, y0, GROUND_Z - 0.01]), np.eye(3), np.array([x1 - x0, y1 - y0, 0.01]),
                         skip=(0, 1, 2, 3, 4)))
    return [_mesh("ground", parts, GROUND_RGB, emissive=True)] if parts else []


def architecture_meshes(scene: SceneGraph, wall_surface: tuple) -> list[RenderMesh]:
    """The room's walls (with holes), ceiling, trim, door, windows and outdoor backdrop.

    Args:
        scene: a scene whose ``room.architecture`` is set (walls in ``room.walls``).
        wall_surface: (texture (H, W, 3) uint8, scale_m, specular, shininess) of the walls.

    Returns id-0 RenderMeshes (world metres): replaces the plain wall boxes of
    engine.assets.meshes.room_meshes; the floor stays there.
    """
    arch = scene.room.architecture or {}
    tex, scale, spec, shin = wall_surface
    walls = {w.id: w for w in scene.room.walls}
    holes: dict[str, list] = {k: [] for k in walls}
    door_spans: dict[str, list] = {k: [] for k in walls}
    out: list[RenderMesh] = []
    for op in arch.get("openings", []):
        w = walls[op["wall"]]
        s0, s1, z0, z1 = opening_span(op, w)
        holes[w.id].append((s0, s1, z0, z1))
        if op["kind"] == "door":
            door_spans[w.id].append((s0, s1))
            out += _door_meshes(op, w, tex, scale)
        else:
            out += _window_meshes(op, w)
    walls_out = [_wall_mesh(w, holes[w.id], tex, scale, spec, shin) for w in scene.room.walls]
    sk = float(arch.get("skirting_height", 0.0))
    skirt = _skirting(scene, sk, door_spans) if sk > 0 else None
    out = walls_out + out + ([skirt] if skirt is not None else [])
    if arch.get("ceiling"):
        out += _ceiling(scene)
    if any(op["kind"] == "window" for op in arch.get("openings", [])):
        out += _backdrop(scene)
    return out
