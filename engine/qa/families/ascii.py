"""ASCII family: top-down maps (engine/qa/ascii_map.py) as answers and as question context.

- ``draw_map``: the image is shown; the answer is the map of the objects visible enough in it
  (the legend lists them; walls and the camera arrow are drawn). Asked only when the camera
  stands over the room and every listed object has a unique expression in the scene.
- ``map_direction``: text only; the map (camera arrow and every object with a scene-unique
  expression, so no two legend entries could name the same object, hypernyms included) and its
  legend are given, and the 8-way compass direction from letter b to letter a is asked.
  Directions are computed from the centroids of the letters' cells; the world centres must give
  the same direction, both at least ``min_angle_deg`` from a sector boundary and
  ``min_abs_diff`` metres apart.
- ``map_nearest``: text only; which of several letters is nearest the camera arrow, by the
  smallest cell-centre distance from the arrow's cell (in cells); the winner must lead by
  ``params.min_cell_lead`` cells and be the nearest by true camera-object distance as well,
  clearing the template's distance margins.
- ``describe_to_map``: text only; a description with exact floor outlines
  (:func:`engine.qa.describe.describe_scene` with ``footprints``) and the answer map (no camera).
  Asked only when the map is unchanged with every outline grown and shrunk by 2 cm (so the
  rounding of the text cannot change a cell).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import numpy as np

from engine.qa.ascii_map import AsciiMap, build_ascii_map
from engine.qa.candidate import Candidate, choice_candidate, text_candidate
from engine.qa.context import FamilyContext
from engine.qa.describe import COMPASS_8, compass_8, describe_scene
from engine.qa.egomotion import norm
from engine.qa.schema import Template
from engine.scene.graph import SceneGraph

TASKS = ("draw_map", "map_direction", "map_nearest", "describe_to_map")
ROBUST_M = 0.02


def validate_template(t: Template) -> None:
    """``resolution_m`` > 0 (metres) and ``max_cells`` >= 4."""
    r = t.param("resolution_m", 0.5)
    if not isinstance(r, (int, float)) or isinstance(r, bool) or r <= 0:
        raise t.error("params.resolution_m", f"must be a positive number of metres, got {r!r}")
    lead = t.param("min_cell_lead", 1.0)
    if not isinstance(lead, (int, float)) or isinstance(lead, bool) or lead < 0:
        raise t.error("params.min_cell_lead", f"must be a non-negative number of cells, got {lead!r}")
    mc = t.param("max_cells", 400)
    if not isinstance(mc, int) or isinstance(mc, bool) or mc < 4:
        raise t.error("params.max_cells", f"must be an integer >= 4, got {mc!r}")


def scene_names(ctx: FamilyContext, ids: list[str]) -> dict[str, str] | None:
    """Scene-unique referring expressions for ``ids``, or None when one has none."""
    r = ctx.referrer()
    names = {}
    for oid in ids:
        e = r.expression(oid, "scene")
        if e is None:
            return None
        names[oid] = e
    return names


def legend_line(m: AsciiMap) -> str:
    """``A = the bed, B = the red chair`` in letter order."""
    return ", ".join(f"{k} = {v}" for k, v in m.legend.items())


def letter_centroid(m: AsciiMap, oid: str) -> np.ndarray:
    """(2,) world (x, y) of the mean cell centre of ``oid``'s letter."""
    return np.mean([m.cell_center(r, c) for r, c in m.cells[oid]], axis=0)


def _memo(derived: dict, key: str, make: Callable[[], Any]) -> Any:
    """``derived[key]``, computed by ``make()`` on first use: a view's map is shared by the map
    templates, and its text, centroids and cell distances serve all their candidates."""
    if key not in derived:
        derived[key] = make()
    return derived[key]


def _owner_cache(ctx: FamilyContext) -> dict:
    """The scene's cache of map cells (``build_ascii_map(cache=...)``): the maps of the scene's
    views differ only in the camera mark."""
    return ctx.world.cache.setdefault("ascii_owner", {})


def _fits(ctx: FamilyContext, t: Template) -> bool:
    """True when the room type is one of the template's and the map (cells of ``resolution_m``,
    plus the wall ring) has at most ``max_cells`` cells."""
    room = ctx.scene.room
    if room.type not in t.constraints.get("room_types", [room.type]):
        return False
    r = float(t.param("resolution_m", 0.5))
    cells = (math.ceil(room.size[0] / r - 1e-9) + 2) * (math.ceil(room.size[1] / r - 1e-9) + 2)
    return cells <= int(t.param("max_cells", 400))


def generate(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """Candidates of ``t`` for ``ctx.view`` (see the module docstring); maps are in the world
    frame, north (+y) up, ``params.resolution_m`` metres per cell."""
    if not _fits(ctx, t):
        return []
    res = float(t.param("resolution_m", 0.5))
    if t.task == "draw_map":
        return _draw(ctx, t, rng, res)
    if t.task in ("map_direction", "map_nearest"):
        cache = ctx.cache.setdefault("ascii", {})
        if res not in cache:  # one map per view and resolution, shared by the map question templates
            # These questions show the map as text and no image, so the legend must name every
            # object uniquely (scene-unique expressions, which respect the catalog's hypernyms:
            # never a bare "the table" beside a coffee table). An object without one is left off
            # the map and its legend, as is one that gets no cell at this resolution (under a taller
            # one; the other cells do not change, since a hidden object owned none).
            names = {}
            for oid in ctx.world.ids:
                e = ctx.referrer().expression(oid, "scene")
                if e is not None:
                    names[oid] = e
            m = build_ascii_map(ctx.scene, ctx.view.view, res, names, object_ids=list(names), cache=_owner_cache(ctx))
            if m.hidden:
                drop = set(m.hidden)
                m = build_ascii_map(ctx.scene, ctx.view.view, res, names,
                                    object_ids=[o for o in names if o not in drop], cache=_owner_cache(ctx))
            cache[res] = m
        m = cache[res]
        if m.hidden:
            return []
        derived = ctx.cache.setdefault("ascii_derived", {}).setdefault(res, {})  # values of the map m
        return (_direction if t.task == "map_direction" else _nearest)(ctx, t, rng, m, derived)
    if t.task == "describe_to_map":
        return _describe(ctx, t, rng, res)
    raise t.error("task", f"unknown ascii task {t.task!r}")


def _map_slots(m: AsciiMap) -> dict[str, str]:
    return {"rows": str(len(m.grid)), "cols": str(len(m.grid[0])), "resolution": f"{m.resolution_m:g}",
            "legend": legend_line(m)}


def _draw(ctx: FamilyContext, t: Template, rng: np.random.Generator, res: float) -> list[Candidate]:
    ids = ctx.referents(t)
    names = scene_names(ctx, ids)
    if not ids or names is None:
        return []
    m = build_ascii_map(ctx.scene, ctx.view.view, res, names, object_ids=ids, cache=_owner_cache(ctx))
    if m.hidden or m.camera_cell is None:
        return []
    rat = (f"The room is {ctx.scene.room.size[0]:.2f} m by {ctx.scene.room.size[1]:.2f} m, so at {res:g} m per cell the map "
           f"has {len(m.grid)} rows and {len(m.grid[0])} columns including the wall ring; each object fills the cells "
           f"whose centres lie in its floor outline and the camera is the arrow '{m.camera_mark}'.")
    c = text_candidate(ctx, t, rng, _map_slots(m), None, m.text(), rat, answer_type="ascii", frame="world")
    c.objects = list(m.letters)
    return [c]


def _map_text(m: AsciiMap) -> str:
    return m.text() + "\nLegend: " + legend_line(m)


def _direction(ctx: FamilyContext, t: Template, rng: np.random.Generator,
               m: AsciiMap, derived: dict) -> list[Candidate]:
    w = ctx.world
    mg, dmin = ctx.margin(t, "min_angle_deg"), ctx.margin(t, "min_abs_diff")
    n = int(t.constraints.get("num_options", 4))
    out = []
    map_text = _memo(derived, "text", lambda: _map_text(m))
    centroid = _memo(derived, "centroids", lambda: {oid: letter_centroid(m, oid) for oid in m.letters})
    for a, b in ctx.tuples(list(m.letters), 2, rng):
        ca, cb = centroid[a], centroid[b]
        pa, pb = w.centers[w.index[a], :2], w.centers[w.index[b], :2]
        if norm(ca - cb) < dmin or norm(pa - pb) < dmin:
            continue
        d_map, g_map = compass_8(*(ca - cb))
        d_world, g_world = compass_8(*(pa - pb))
        if d_map != d_world or min(g_map, g_world) < mg:
            continue
        others = [d for d in COMPASS_8 if d != d_map]
        options = [others[int(i)] for i in rng.choice(len(others), size=n - 1, replace=False)] + [d_map]
        la, lb = m.letters[a], m.letters[b]
        rat = (f"On the map (north up) {la}'s cells centre at ({ca[0]:.2f}, {ca[1]:.2f}) m and {lb}'s at "
               f"({cb[0]:.2f}, {cb[1]:.2f}) m, so {la} is {d_map} of {lb}.")
        c = choice_candidate(ctx, t, rng, {"map": map_text, "a": la, "b": lb}, None, options, n - 1, rat,
                             answer_space=COMPASS_8, frame="world")
        c.objects, c.view_ids = [a, b], []
        out.append(c)
    return out


def _nearest(ctx: FamilyContext, t: Template, rng: np.random.Generator,
             m: AsciiMap, derived: dict) -> list[Candidate]:
    if m.camera_cell is None:
        return []
    v = ctx.view
    n = int(t.constraints.get("num_options", 3))
    lead = float(t.param("min_cell_lead", 1.0))
    r0, c0 = m.camera_cell
    cell_d = _memo(derived, "cell_d", lambda: {oid: min(math.hypot(r - r0, c - c0) for r, c in cells)
                                         for oid, cells in m.cells.items()})
    map_text = _memo(derived, "text", lambda: _map_text(m))
    out, asked = [], set()
    for group in ctx.tuples(list(m.letters), n, rng):
        if frozenset(group) in asked:
            continue
        asked.add(frozenset(group))
        ds = sorted(group, key=lambda o: cell_d[o])
        best = ds[0]
        if cell_d[ds[1]] - cell_d[best] < lead:
            continue
        true = sorted(group, key=lambda o: v.cam_dist[v.i(o)])
        if true[0] != best or not ctx.clears(t, v.cam_dist[v.i(true[0])], v.cam_dist[v.i(true[1])]):
            continue
        options = [m.letters[o] for o in group]
        rat = ("Cell distances from the camera arrow: " + ", ".join(f"{m.letters[o]} {cell_d[o]:.1f}" for o in ds)
               + f"; {m.letters[best]} is nearest (true distance {v.cam_dist[v.i(best)]:.2f} m).")
        c = choice_candidate(ctx, t, rng, {"map": map_text}, None, options, list(group).index(best), rat,
                             answer_key="nearest", answer_space=None, frame="world")
        c.objects, c.view_ids = list(group), []
        out.append(c)
    return out


def _resized(scene: SceneGraph, delta: float) -> SceneGraph:
    """A shallow copy of ``scene`` whose objects' footprints are grown by ``delta`` m on every side."""
    return dataclasses.replace(scene, objects=[
        dataclasses.replace(o, size=[max(1e-3, o.size[0] + 2 * delta), max(1e-3, o.size[1] + 2 * delta), o.size[2]])
        for o in scene.objects])


def _robust_scene_map(ctx: FamilyContext, res: float) -> tuple[AsciiMap, dict[str, str]] | None:
    """The camera-less map of the whole scene and its names, or None when it cannot be asked:
    an object without a scene-unique expression, a hidden object, or a cell that a 2 cm change of
    any outline would flip. View-independent, so cached on the scene's WorldFacts."""
    cache = ctx.world.cache.setdefault("ascii_scene_maps", {})
    if res not in cache:
        ids = list(ctx.world.ids)
        names = scene_names(ctx, ids)
        out = None
        if ids and names is not None:
            m = build_ascii_map(ctx.scene, None, res, names)
            if not m.hidden and all(build_ascii_map(_resized(ctx.scene, d), None, res, names).grid == m.grid
                                    for d in (ROBUST_M, -ROBUST_M)):
                out = (m, names)
        cache[res] = out
    return cache[res]


def _describe(ctx: FamilyContext, t: Template, rng: np.random.Generator, res: float) -> list[Candidate]:
    got = _robust_scene_map(ctx, res)
    if got is None:
        return []
    m, names = got
    desc = describe_scene(ctx.scene, names, rng, footprints=True)
    slots = dict(_map_slots(m), description=desc.text)
    rat = (f"Each object fills the {res:g} m cells whose centres lie inside its stated outline (the higher object wins "
           f"a shared cell; one smaller than a cell takes the cell of its centre), with a ring of walls around.")
    c = text_candidate(ctx, t, rng, slots, None, m.text(), rat, answer_type="ascii", frame="world")
    c.objects, c.view_ids = list(m.letters), []
    return [c]
