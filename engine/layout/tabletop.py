"""The ``tabletop`` sampler: one table near the middle of a walled room, a few chairs around it,
and small objects on the table top.

The table is always ``obj_00``; its id is recorded in ``scene.stats["table_id"]`` (and
``stats["focus_ids"]`` lists the table and the objects on it) so the camera sampler can aim at
it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from engine.layout.drafts import Draft, Picker, Stats, object_ids, resolve_categories, sample_attributes, sample_size
from engine.layout.errors import LayoutInfeasibleError
from engine.layout.occupancy import FREE, SMALL, Occupancy
from engine.layout.poses import HALF_PI, floor_draft, make_walls, near_pose, on_support_pose, place, wrap_angle
from engine.layout.room import CEILING_GAP, gap_table
from engine.scene.catalog import Catalog
from engine.scene.graph import Room


def sample_tabletop(cfg: Mapping, catalog: Catalog, rng: np.random.Generator) -> tuple[Room, list[Draft], Stats, dict]:
    """Sample one tabletop layout. Returns (room, drafts, stats, extra stats)."""
    table_key = cfg["table"]["category"]
    if table_key not in catalog:
        raise ValueError(f"scene.table.category: {table_key!r} is not a catalog category; fix: use e.g. table")
    table = catalog[table_key]
    if not table.surface or table.kind != "furniture":
        raise ValueError(f"scene.table.category: {table_key!r} must be furniture with surface: true")
    chairs = resolve_categories(cfg["categories"]["chairs"], catalog, "tabletop", ("furniture",), "categories.chairs")
    for k in chairs:
        if catalog[k].near is None or not catalog[k].extra.get("near_mode"):
            raise ValueError(f"scene.categories.chairs.{k}: needs a catalog placement near:<category> with a near_mode")
    small = resolve_categories(cfg["categories"]["small"], catalog, "tabletop", ("small",), "categories.small")
    if cfg["categories"]["small"] is None:  # all: keep those that can stand on the table
        small = {k: w for k, w in small.items() if table_key in catalog[k].stands_on}
    for k in small:
        if table_key not in catalog[k].stands_on:
            raise ValueError(f"scene.categories.small.{k}: cannot stand on {table_key} (catalog stands_on); fix: remove it")
    chair_picker, small_picker = Picker(chairs), Picker(small)
    n_small_min = int(cfg["counts"]["small"][0])
    top_max = table.size["depth"][1] * table.size["width"][1]
    foot_min = min(catalog[k].size["depth"][0] * catalog[k].size["width"][0] for k in small)
    if n_small_min * foot_min > top_max:
        raise LayoutInfeasibleError(
            f"scene.counts.small: {n_small_min} objects cannot fit on the largest {table_key} top "
            f"({top_max:.2f} m^2; their minimum footprints need {n_small_min * foot_min:.2f}); fix: request fewer "
            f"objects")
    rc, cl = cfg["room"], cfg["clearance"]
    max_att, jitter = int(cfg["max_attempts"]), float(cfg["yaw_jitter"])
    gaps = gap_table({"walkway": cl["group"], "small": cl["small"]})
    stats = Stats()
    for scene_attempt in range(1, int(cfg["max_scene_attempts"]) + 1):
        stats = Stats()
        sx, sy, sz = (float(rng.uniform(*rc[k])) for k in ("size_x", "size_y", "height"))
        walls, lines = make_walls(sx, sy, sz, float(rc["wall_thickness"]))
        occ = Occupancy(gaps, cl["group"], sx / 2, sy / 2, sz - CEILING_GAP)
        attrs = sample_attributes(table, rng)
        pj = float(cfg["table"]["position_jitter"])

        def propose_table():
            d = Draft(table_key, sample_size(table, rng), (0.0, 0.0, 0.0), 0.0, has_front=table.has_front,
                      attributes=attrs, group=0)
            yaw = wrap_angle(int(rng.integers(2)) * HALF_PI + float(rng.uniform(-jitter, jitter)))
            return floor_draft(d, float(rng.uniform(-pj, pj)), float(rng.uniform(-pj, pj)), yaw, FREE)

        t = place(propose_table, occ, stats, max_att)
        if t is None:
            continue
        drafts = [t]
        n_c = int(rng.integers(cfg["counts"]["chairs"][0], cfg["counts"]["chairs"][1] + 1))
        for _ in range(n_c):
            c = catalog[chair_picker.pick(rng)]
            cattrs = sample_attributes(c, rng)

            def propose_chair(c=c, cattrs=cattrs):
                d = Draft(c.key, sample_size(c, rng), (0.0, 0.0, 0.0), 0.0, has_front=c.has_front,
                          attributes=cattrs, group=0)
                return near_pose(d, t, c.extra["near_mode"], tuple(c.extra.get("near_gap", (0.05, 0.2))),
                                 c.facing, lines, rng, FREE)

            d = place(propose_chair, occ, stats, max_att)
            if d is None:
                stats.drop(c.key, "furniture", "no_room")
            else:
                drafts.append(d)
        n_s = int(rng.integers(cfg["counts"]["small"][0], cfg["counts"]["small"][1] + 1))
        placed_small = 0
        on_table: dict[str, int] = {}
        for _ in range(n_s):
            c = catalog[small_picker.pick(rng)]
            cap = c.extra.get("max_per_support")
            if cap is not None and on_table.get(c.key, 0) >= cap:
                stats.drop(c.key, "small", "support_full")
                continue
            sattrs = sample_attributes(c, rng)

            def propose_small(c=c, sattrs=sattrs):
                d = Draft(c.key, sample_size(c, rng), (0.0, 0.0, 0.0), 0.0, has_front=c.has_front, attributes=sattrs)
                return on_support_pose(d, t, 0, c.has_front, jitter, rng, SMALL)

            d = place(propose_small, occ, stats, max_att)
            if d is None:
                stats.drop(c.key, "small", "no_room")
            else:
                drafts.append(d)
                placed_small += 1
                on_table[c.key] = on_table.get(c.key, 0) + 1
        if placed_small >= n_small_min:
            ids = object_ids(len(drafts))
            focus = [ids[0]] + [ids[i] for i, d in enumerate(drafts) if d.support == "on"]
            extra = {"scene_attempts": scene_attempt, "table_id": ids[0], "focus_ids": focus}
            return Room("tabletop", [sx, sy, sz], walls), drafts, stats, extra
    rej = ", ".join(f"{r} {n}" for r, n in sorted(stats.rejected.items()))
    raise LayoutInfeasibleError(
        f"tabletop layout infeasible after {cfg['max_scene_attempts']} scene attempts (needs the {table_key} and "
        f"at least {n_small_min} objects on it; rejections: {rej or 'none'}); fix: request fewer small objects "
        f"(counts.small), a larger room (room.size_x/size_y) or more max_attempts")
