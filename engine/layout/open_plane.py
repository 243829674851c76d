"""The ``open`` sampler: CLEVR-like primitives (cube, sphere, cylinder, cone) on a plane.

``room.type`` is ``open``, ``room.size`` = [sx, sy, 0] (the plane's extents, centred at the
origin), no walls. Primitives stand on the plane (support ``floor``) with uniform yaw, at least
``clearance.primitives`` m apart and ``plane.margin`` m inside its edges.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from engine.layout.drafts import Draft, Picker, Stats, check_counts, resolve_categories, sample_attributes, sample_size
from engine.layout.errors import LayoutInfeasibleError
from engine.layout.occupancy import PRIMITIVE, Occupancy
from engine.layout.poses import free_pose, place
from engine.layout.room import _area_bound, gap_table
from engine.scene.catalog import Catalog
from engine.scene.graph import Room


def sample_open(cfg: Mapping, catalog: Catalog, rng: np.random.Generator) -> tuple[Room, list[Draft], Stats, dict]:
    """Sample one open-plane layout. Returns (room, drafts, stats, extra stats)."""
    prims = resolve_categories(cfg["categories"]["primitives"], catalog, "open", ("primitive",),
                               "categories.primitives")
    picker = Picker(prims)
    pc, gap = cfg["plane"], float(cfg["clearance"]["primitives"])
    lo, hi = cfg["counts"]["primitives"]
    margin = float(pc["margin"])
    big_x, big_y = pc["size_x"][1] - 2 * margin, pc["size_y"][1] - 2 * margin
    if lo > 0 and (big_x <= 0 or big_y <= 0 or _area_bound(lo, [catalog[k] for k in prims], gap, big_x, big_y)):
        raise LayoutInfeasibleError(
            f"scene.counts.primitives: {lo} primitives cannot fit on the largest plane "
            f"{pc['size_x'][1]} x {pc['size_y'][1]} m with clearance {gap} m and margin {margin} m; fix: request "
            f"fewer objects, a larger plane (plane.size_x/size_y) or a smaller clearance")
    gaps = gap_table({"primitives": gap})
    max_att = int(cfg["max_attempts"])
    stats = Stats()
    for scene_attempt in range(1, int(cfg["max_scene_attempts"]) + 1):
        stats = Stats()
        sx, sy = float(rng.uniform(*pc["size_x"])), float(rng.uniform(*pc["size_y"]))
        occ = Occupancy(gaps, gap, sx / 2, sy / 2, None)
        drafts: list[Draft] = []
        n = int(rng.integers(lo, hi + 1))
        for _ in range(n):
            c = catalog[picker.pick(rng)]
            attrs = sample_attributes(c, rng)

            def propose(c=c, attrs=attrs):
                d = Draft(c.key, sample_size(c, rng), (0.0, 0.0, 0.0), 0.0, has_front=c.has_front, attributes=attrs)
                return free_pose(d, sx / 2, sy / 2, margin, "any", math.pi, rng, PRIMITIVE, any_yaw=True)

            d = place(propose, occ, stats, max_att)
            if d is None:
                stats.drop(c.key, "primitive", "no_room")
            else:
                drafts.append(d)
        if len(drafts) >= lo:
            return Room("open", [sx, sy, 0.0], []), drafts, stats, {"scene_attempts": scene_attempt}
    check_counts({"primitives": 0}, {"primitives": lo}, int(cfg["max_scene_attempts"]), stats,
                 "request fewer primitives (counts.primitives), a larger plane or a smaller clearance")
    raise LayoutInfeasibleError("open layout failed; fix: request fewer objects")  # unreachable
