"""Room architecture the layout decides: the door in the doorway and the windows.

Openings are placed before any furniture. Each window reserves a keep-out zone in front of it
(``clear_depth`` m deep, from its sill to its top) in the occupancy, so no piece taller than the
sill stands in front of a window and no wall object hangs over one; the door keeps the existing
doorway zone (``scene.doorway``), from the floor to the door's height, which also holds the
swing of an open leaf (leaf width = door width <= ``clear_depth``, checked by the config).

The result is the record's ``room.architecture`` (docs/record.md): ``ceiling`` (bool),
``skirting_height`` (m) and ``openings``, a list of dicts in placement order (door first):

    {"id": "door_0" | "window_<k>", "kind": "door" | "window", "wall": "wall_<k>",
     "center": [x, y]  (on the wall's inner face, world m), "width": m, "sill": m (0 for doors),
     "height": m (opening height above the sill), "open_deg": 0 (closed) .. 90 (doors only),
     "hinge": "left" | "right" (doors only; seen from inside the room)}
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from engine.layout.occupancy import DOOR, Occupancy, rect_corners
from engine.layout.poses import WallLine
from engine.scene.openings import CASING, CASING_PROUD

OPENING_GAP = 0.3  # m of wall kept between two openings on the same wall


def _free_interval(t: float, half: float, taken: list[tuple[float, float]]) -> bool:
    """True when [t - half, t + half] stays OPENING_GAP m clear of every taken interval."""
    return all(t + half + OPENING_GAP <= a or t - half - OPENING_GAP >= b for a, b in taken)


def place_openings(arch: Mapping, doorway: Mapping | None, lines: list[WallLine], occ: Occupancy, corner: float,
                   rng: np.random.Generator) -> dict:
    """Decide the door leaf and the windows of one room; reserve the windows' keep-out zones.

    Args:
        arch: the ``scene.architecture`` config block (conf/scene/room.yaml).
        doorway: the layout's doorway stats (``wall``, ``center`` [x, y] on the wall's inner
            face, ``width``, ``height``, ``clear_depth``) or None when the room has no door.
        lines: the room's wall lines (engine.layout.poses.make_walls), wall_<k> = lines[k].
        occ: the occupancy; each window adds a DOOR-class zone (z from sill to top).
        corner: m kept between an opening and the ends of its wall.
        rng: the layout stage's generator (draw order: door state, then per window: wall,
            width, height, sill, position).

    Returns the record's ``room.architecture`` dict (see the module docstring).
    """
    taken: dict[str, list[tuple[float, float]]] = {ln.id: [] for ln in lines}
    openings = []
    if doorway is not None:
        wl = next(ln for ln in lines if ln.id == doorway["wall"])
        t = (doorway["center"][0] - wl.sx) * wl.dx + (doorway["center"][1] - wl.sy) * wl.dy
        taken[wl.id].append((t - doorway["width"] / 2, t + doorway["width"] / 2))
        d = arch["door"]
        is_open = bool(rng.random() < float(d["open_prob"]))
        open_deg = float(rng.uniform(*d["open_deg"])) if is_open else 0.0
        hinge = "left" if rng.random() < 0.5 else "right"
        # the casing beside and above the opening stands proud of the wall: keep that strip clear too
        x, y = wl.point(t, CASING_PROUD / 2 + 0.005)
        occ.add(rect_corners(x, y, CASING_PROUD / 2 + 0.005, doorway["width"] / 2 + CASING + 0.01, wl.yaw_in), 0.0,
                float(doorway["height"]) + CASING + 0.01, DOOR)
        openings.append({"id": "door_0", "kind": "door", "wall": wl.id, "center": [float(v) for v in doorway["center"]],
                         "width": float(doorway["width"]), "sill": 0.0, "height": float(doorway["height"]),
                         "open_deg": open_deg, "hinge": hinge})
    w = arch["windows"]
    n_win = int(rng.integers(w["count"][0], w["count"][1] + 1))
    for k in range(n_win):
        wi = int(rng.integers(len(lines)))
        width = float(rng.uniform(*w["width"]))
        height = float(rng.uniform(*w["height"]))
        sill = float(rng.uniform(*w["sill"]))
        u = float(rng.random())
        wl = lines[wi]
        lo, hi = corner + width / 2, wl.length - corner - width / 2
        if lo > hi:
            continue
        t = lo + u * (hi - lo)
        if not _free_interval(t, width / 2, taken[wl.id]):
            continue
        taken[wl.id].append((t - width / 2, t + width / 2))
        x, y = wl.point(t, float(w["clear_depth"]) / 2)
        occ.add(rect_corners(x, y, float(w["clear_depth"]) / 2, width / 2, wl.yaw_in), sill, sill + height, DOOR)
        px, py = wl.point(t, 0.0)
        openings.append({"id": f"window_{len(openings) - (1 if doorway is not None else 0)}", "kind": "window",
                         "wall": wl.id, "center": [float(px), float(py)], "width": width, "sill": sill,
                         "height": height})
    return {"ceiling": True, "skirting_height": float(arch["skirting_height"]), "openings": openings}


def architecture_cfg_errors(c) -> None:
    """Add the ``scene.architecture`` checks to the room config's Checker ``c`` (in place)."""
    if c.keys("architecture", ("door", "windows", "skirting_height"), see="conf/scene/room.yaml and docs/layout.md"):
        if c.keys("architecture.door", ("open_prob", "open_deg"), see="docs/layout.md"):
            c.number("architecture.door.open_prob", 0.0, 1.0)
            c.pair("architecture.door.open_deg", 0.0, 90.0)
        if c.keys("architecture.windows", ("count", "width", "height", "sill", "clear_depth"), see="docs/layout.md"):
            c.pair("architecture.windows.count", 0, integer=True)
            for k in ("width", "height"):
                c.pair(f"architecture.windows.{k}", 0.0, positive=True)
            ok = c.pair("architecture.windows.sill", 0.0)
            c.number("architecture.windows.clear_depth", 0.0, strict=True)
            h, lo_h = c.get("architecture.windows.height"), c.get("room.height")
            if ok and isinstance(h, (list, tuple)) and isinstance(lo_h, (list, tuple)) and len(h) == 2 and len(lo_h) == 2:
                top = float(c.get("architecture.windows.sill")[1]) + float(h[1])
                if top > float(lo_h[0]) - 0.1:
                    c.err("architecture.windows.height", f"sill + height reach {top:g} m, above the lowest ceiling "
                          f"{lo_h[0]} m less 0.1 m; fix: lower architecture.windows.sill/height or raise room.height")
        door, dw = c.get("architecture.door"), c.get("doorway")
        if isinstance(dw, Mapping) and isinstance(door, Mapping):
            if float(dw.get("width", 0)) > float(dw.get("clear_depth", 0)) + 1e-9:
                c.err("doorway.clear_depth", f"{dw.get('clear_depth')} m is less than the door width {dw.get('width')} m, "
                      "so an open leaf would swing out of the keep-out zone; fix: clear_depth >= width")
        c.number("architecture.skirting_height", 0.0, 0.5)
