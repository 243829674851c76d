"""The ``room`` sampler: a walled room with furniture, wall-mounted objects and small objects.

Order: room size and walls -> doorway keep-out zone -> furniture (largest first; against-wall
pieces flush with a wall facing in, free pieces facing the room or axis-aligned, satellites
such as chairs, coffee tables and nightstands next to their anchor) -> wall objects -> small
objects on support surfaces (a few on the floor). Each object gets at most ``max_attempts``
proposals; the scene is redrawn (at most ``max_scene_attempts`` times) when a kind falls short
of its minimum count, then :class:`LayoutInfeasibleError` is raised.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from engine.layout.architecture import place_openings
from engine.layout.drafts import Draft, Picker, Stats, check_counts, resolve_categories, sample_attributes, sample_size
from engine.layout.errors import LayoutInfeasibleError
from engine.layout.occupancy import (DOOR, FREE, N_CLASSES, PRIMITIVE, SMALL, WALL_FURNITURE, WALL_OBJECT,
                                     Occupancy, rect_corners)
from engine.layout.room_types import draw_room_type
from engine.layout.poses import (against_wall_pose, beside_window_pose, free_pose, make_walls, near_pose,
                                 on_support_pose, place,
                                 wall_mount_pose)
from engine.scene.catalog import Catalog
from engine.scene.graph import Room
from engine.scene.relations import AGAINST_WALL

DOOR_GAP = 0.01        # m: nothing may overlap the doorway zone
CEILING_GAP = 0.05     # m: object tops stay this far below the ceiling


def gap_table(clearance: Mapping[str, float]) -> np.ndarray:
    """(N_CLASSES, N_CLASSES) footprint gaps (m) from the config's ``clearance`` block.

    Precedence: doorway, then small objects, then wall objects, then furniture pairs (two
    against-wall pieces: ``side_by_side``; any pair with a free-standing piece: ``walkway``).
    """
    g = np.full((N_CLASSES, N_CLASSES), float(clearance.get("walkway", 0.0)))
    g[WALL_FURNITURE, WALL_FURNITURE] = clearance.get("side_by_side", 0.0)
    if "primitives" in clearance:
        g[PRIMITIVE, :] = g[:, PRIMITIVE] = clearance["primitives"]
    for cls, key in ((WALL_OBJECT, "wall_objects"), (SMALL, "small")):
        if key in clearance:
            g[cls, :] = g[:, cls] = clearance[key]
    g[DOOR, :] = g[:, DOOR] = DOOR_GAP
    return g


def _area_bound(n: int, cats: list, gap: float, sx: float, sy: float) -> bool:
    """True when ``n`` footprints of the smallest category, pairwise ``gap`` apart, cannot fit in
    a sx x sy floor (each footprint grown by gap/2 is disjoint and inside (sx+gap) x (sy+gap))."""
    if n <= 0 or not cats:
        return False
    a = min((c.size["depth"][0] + gap) * (c.size["width"][0] + gap) for c in cats)
    return n * a > (sx + gap) * (sy + gap)


class RoomPlan:
    """Resolved room config: category pickers and limits, checked against the catalog."""

    def __init__(self, cfg: Mapping, catalog: Catalog):
        self.cfg, self.catalog = cfg, catalog
        cats = cfg["categories"]
        self.furniture = resolve_categories(cats["furniture"], catalog, "room", ("furniture",), "categories.furniture")
        self.wall = resolve_categories(cats["wall"], catalog, "room", ("wall",), "categories.wall")
        self.small = resolve_categories(cats["small"], catalog, "room", ("small",), "categories.small")
        self.f_keys = list(self.furniture)
        self.f_picker = Picker(self.furniture)
        self.w_picker = Picker(self.wall)
        self.s_picker = Picker(self.small)
        mpc = cfg.get("max_per_category") or {}
        self.cap = {k: int(mpc.get(k, cfg["default_max_per_category"])) for k in self.f_keys}
        self.surface_mask = np.array([catalog[k].surface for k in self.f_keys])
        self.required = [str(k) for k in cfg.get("required") or ()]  # a room type's must-have furniture
        for k in self.required:
            if self.furniture.get(k, 0) <= 0:
                raise ValueError(f"scene.required.{k}: not among the furniture categories with weight > 0")
        for k in self.wall:
            mh = catalog[k].extra.get("mount_height")
            if not (isinstance(mh, list) and len(mh) == 2):
                raise ValueError(f"scene.categories.wall.{k}: catalog category has no mount_height [min, max]; "
                                 f"fix: add it to {catalog.path}")
            bw = catalog[k].extra.get("beside_window")
            if bw is not None and not (isinstance(bw, list) and len(bw) == 2 and all(isinstance(x, (int, float)) for x in bw)
                                       and 0 <= bw[0] <= bw[1]):
                raise ValueError(f"catalog category {k}: beside_window must be a gap range [min, max] in metres "
                                 f"(0 <= min <= max), got {bw!r}; fix: correct it in {catalog.path}")
        for k in self.f_keys:
            c = catalog[k]
            if c.near is not None:
                anchor = c.near
                if c.extra.get("near_mode") not in ("around", "front", "beside"):
                    raise ValueError(f"catalog category {k}: placement {c.placement} needs near_mode around|front|beside")
                if anchor not in self.furniture:
                    raise ValueError(f"scene.categories.furniture.{k}: placed near {anchor!r}, which is not in the "
                                     f"list; fix: add {anchor} or remove {k}")
        self.check_feasible()

    def check_feasible(self) -> None:
        """Up-front impossibility checks (raise LayoutInfeasibleError with what to relax)."""
        cfg, cat = self.cfg, self.catalog
        (nf, _), (nw, _), (ns, _) = cfg["counts"]["furniture"], cfg["counts"]["wall"], cfg["counts"]["small"]
        sx, sy = cfg["room"]["size_x"][1], cfg["room"]["size_y"][1]
        cl = cfg["clearance"]
        pos = [k for k in self.f_keys if self.furniture[k] > 0]
        capped = sum(self.cap[k] for k in pos)
        if nf > capped:
            raise LayoutInfeasibleError(
                f"scene.counts.furniture: at least {nf} furniture pieces requested but the allowed categories "
                f"({', '.join(pos)}) allow at most {capped} (max_per_category); fix: request fewer objects, "
                f"allow more categories or raise max_per_category")
        n_surf = sum(self.cap[k] for k in pos if cat[k].surface)
        if cfg["min_surface_furniture"] > n_surf:
            raise LayoutInfeasibleError(
                f"scene.min_surface_furniture: {cfg['min_surface_furniture']} surfaces requested but the allowed "
                f"furniture offers at most {n_surf}; fix: lower it or allow tables, desks, cabinets...")
        gap = min(cl["group"], cl["side_by_side"], cl["walkway"])
        if _area_bound(nf, [cat[k] for k in pos], gap, sx, sy):
            raise LayoutInfeasibleError(
                f"scene.counts.furniture: {nf} furniture pieces cannot fit on the largest floor {sx} x {sy} m "
                f"(their minimum footprints alone exceed it); fix: request fewer objects or a larger room "
                f"(room.size_x, room.size_y)")
        for k in pos:
            c = cat[k]
            if min(c.size["depth"][0], c.size["width"][0]) > min(sx, sy) or \
                    max(c.size["depth"][0], c.size["width"][0]) > max(sx, sy):
                raise LayoutInfeasibleError(
                    f"scene.categories.furniture.{k}: its minimum footprint {c.size['depth'][0]} x "
                    f"{c.size['width'][0]} m does not fit in the largest room {sx} x {sy} m; fix: a larger room "
                    f"or remove {k}")
        if nw > 0 and not any(w > 0 for w in self.wall.values()):
            raise LayoutInfeasibleError("scene.categories.wall: wall objects requested but no category has weight > 0")
        if ns > 0 and not any(w > 0 for w in self.small.values()):
            raise LayoutInfeasibleError("scene.categories.small: small objects requested but no category has weight > 0")

    def draw_furniture(self, n: int, rng: np.random.Generator) -> list[str]:
        """Up to ``n`` furniture categories: the first ``min_surface_furniture`` with a surface,
        per-category caps respected, satellites only after an anchor with spare capacity; ordered
        anchors/free pieces by decreasing minimum footprint, then satellites."""
        cat = self.catalog
        counts = {k: self.required.count(k) for k in self.f_keys}
        chosen: list[str] = list(self.required)
        n_surface = int(self.cfg["min_surface_furniture"]) - sum(cat[k].surface for k in self.required)
        for i in range(n - len(chosen)):
            for _ in range(20):
                capmask = np.array([counts[k] < self.cap[k] for k in self.f_keys])
                mask = capmask & self.surface_mask if i < n_surface else capmask
                k = self.f_picker.pick(rng, mask)
                if k is None:
                    break
                c = cat[k]
                if c.near is not None:
                    room_for = counts[c.near] * int(c.extra.get("near_max", 1)) - counts[k]
                    if room_for <= 0:
                        continue
                counts[k] += 1
                chosen.append(k)
                break
        def order(k: str) -> tuple:
            c = cat[k]
            sat = c.near is not None
            return (sat, -c.size["depth"][0] * c.size["width"][0])
        return sorted(chosen, key=order)


def sample_room(cfg: Mapping, catalog: Catalog, rng: np.random.Generator) -> tuple[Room, list[Draft], Stats, dict]:
    """Sample one room layout. Returns (room, drafts in placement order, stats, extra stats).

    With ``cfg["room_types"]`` set, first draws the room type (engine/layout/room_types.py) and
    samples with that type's priors; ``room.room_type`` records it."""
    if cfg.get("room_types"):  # the config's own lists are unused then, but a bad name is still an error
        for kind in ("furniture", "wall", "small"):
            resolve_categories(cfg["categories"][kind], catalog, "room", (kind,), f"categories.{kind}")
    cfg, room_type = draw_room_type(cfg, rng)
    plan = RoomPlan(cfg, catalog)
    max_scene = int(cfg["max_scene_attempts"])
    mins = {k: int(cfg["counts"][k][0]) for k in ("furniture", "wall", "small")}
    for scene_attempt in range(1, max_scene + 1):
        stats = Stats()
        room, drafts, extra, placed = _attempt(plan, rng, stats)
        room.room_type = room_type
        missing = set(plan.required) - {d.category for d in drafts}
        if all(placed[k] >= mins[k] for k in mins) and not missing:
            extra["scene_attempts"] = scene_attempt
            return room, drafts, stats, extra
    if missing and all(placed[k] >= mins[k] for k in mins):
        raise LayoutInfeasibleError(f"layout infeasible after {max_scene} scene attempts: the {room_type} always "
                                    f"lacked its required {sorted(missing)}; fix: a larger room or fewer objects")
    check_counts(placed, mins, max_scene, stats,
                 "request fewer objects (counts.*), a larger room (room.size_x/size_y), a smaller clearance "
                 "(clearance.*) or more max_attempts")
    raise AssertionError("unreachable: check_counts raises when a kind is short")


def _attempt(plan: RoomPlan, rng: np.random.Generator, stats: Stats) -> tuple[Room, list[Draft], dict, dict]:
    """One scene attempt; returns (room, drafts, extra stats, placed count per kind)."""
    cfg, cat = plan.cfg, plan.catalog
    rc, cl = cfg["room"], cfg["clearance"]
    sx = float(rng.uniform(*rc["size_x"]))
    sy = float(rng.uniform(*rc["size_y"]))
    sz = float(rng.uniform(*rc["height"]))
    walls, lines = make_walls(sx, sy, sz, float(rc["wall_thickness"]))
    room = Room("room", [sx, sy, sz], walls)
    occ = Occupancy(gap_table(cl), cl["group"], sx / 2, sy / 2, sz - CEILING_GAP)
    max_att = int(cfg["max_attempts"])
    jitter = float(cfg["yaw_jitter"])
    corner = float(cl["corner"])
    extra: dict = {}

    door = cfg.get("doorway")
    if door is not None:
        k = int(rng.integers(4))
        wl = lines[k]
        lo, hi = corner + door["width"] / 2, wl.length - corner - door["width"] / 2
        if lo <= hi:
            t = float(rng.uniform(lo, hi))
            x, y = wl.point(t, door["clear_depth"] / 2)
            occ.add(rect_corners(x, y, door["clear_depth"] / 2, door["width"] / 2, wl.yaw_in), 0.0,
                    float(door["height"]), DOOR)
            px, py = wl.point(t, 0.0)
            extra["doorway"] = {"wall": wl.id, "center": [px, py], "width": float(door["width"]),
                                "height": float(door["height"]), "clear_depth": float(door["clear_depth"])}
    if cfg.get("architecture") is not None:
        room.architecture = place_openings(cfg["architecture"], extra.get("doorway"), lines, occ, corner, rng)

    drafts: list[Draft] = []
    placed = {"furniture": 0, "wall": 0, "small": 0}
    # ---- furniture
    n_f = int(rng.integers(cfg["counts"]["furniture"][0], cfg["counts"]["furniture"][1] + 1))
    for key in plan.draw_furniture(n_f, rng):
        c = cat[key]
        near = c.near is not None
        anchor_i = None
        if near:
            anchor_cat = c.near
            cands = [i for i, d in enumerate(drafts) if d.category == anchor_cat
                     and d.satellites < int(c.extra.get("near_max", 1))]
            if not cands:
                stats.drop(key, "furniture", "no_anchor")
                continue
            anchor_i = cands[int(rng.integers(len(cands)))]
        anchor = drafts[anchor_i] if anchor_i is not None else None
        attrs = sample_attributes(c, rng)
        group = anchor.group if anchor is not None else len(drafts)
        mode = c.extra.get("near_mode")
        cls = WALL_FURNITURE if (c.placement == AGAINST_WALL or (near and mode == "beside" and
                                                                   anchor.wall_index is not None)) else FREE

        def propose(c=c, anchor=anchor, attrs=attrs, group=group, cls=cls, mode=mode):
            d = Draft(c.key, sample_size(c, rng), (0.0, 0.0, 0.0), 0.0, has_front=c.has_front,
                      attributes=attrs, group=group)
            if anchor is not None:
                return near_pose(d, anchor, mode, tuple(c.extra.get("near_gap", (0.05, 0.2))), c.facing,
                                 lines, rng, cls)
            if c.placement == AGAINST_WALL:
                k = int(rng.integers(4))
                return against_wall_pose(d, lines[k], k, corner, rng, cls)
            return free_pose(d, sx / 2, sy / 2, cl["from_walls"], c.facing, jitter, rng, cls)

        d = place(propose, occ, stats, max_att)
        if d is None:
            stats.drop(key, "furniture", "no_room")
            continue
        if anchor is not None:
            anchor.satellites += 1
        drafts.append(d)
        placed["furniture"] += 1

    # ---- wall objects
    n_w = int(rng.integers(cfg["counts"]["wall"][0], cfg["counts"]["wall"][1] + 1))
    windows = [o for o in (room.architecture or {}).get("openings", ()) if o["kind"] == "window"]
    wall_index = {ln.id: k for k, ln in enumerate(lines)}
    for _ in range(n_w):
        key = plan.w_picker.pick(rng)
        c = cat[key]
        attrs = sample_attributes(c, rng)
        mount = tuple(c.extra["mount_height"])
        beside = c.extra.get("beside_window") and room.architecture is not None  # curtains flank a window
        if beside and not windows:
            stats.drop(key, "wall", "no_window")
            continue

        def propose(c=c, attrs=attrs, mount=mount, beside=beside):
            d = Draft(c.key, sample_size(c, rng), (0.0, 0.0, 0.0), 0.0, has_front=c.has_front, attributes=attrs)
            if beside:
                win = windows[int(rng.integers(len(windows)))]
                k = wall_index[win["wall"]]
                return beside_window_pose(d, lines[k], k, win, corner, mount, tuple(c.extra["beside_window"]), rng,
                                          WALL_OBJECT)
            k = int(rng.integers(4))
            return wall_mount_pose(d, lines[k], k, corner, mount, rng, WALL_OBJECT)

        d = place(propose, occ, stats, max_att)
        if d is None:
            stats.drop(key, "wall", "no_room")
            continue
        drafts.append(d)
        placed["wall"] += 1

    # ---- small objects
    n_s = int(rng.integers(cfg["counts"]["small"][0], cfg["counts"]["small"][1] + 1))
    floor_p = float(cfg["small_on_floor_prob"])
    n_furn = len(drafts)
    present = {d.category for d in drafts[:n_furn]}
    # Only categories that can stand somewhere in this scene (a present holder or the floor).
    s_mask = np.array([("floor" in cat[k].stands_on) or any(h in present for h in cat[k].stands_on)
                       for k in plan.s_picker.keys])
    on_count: dict[tuple[int, str], int] = {}  # (support index, category) -> objects on it
    for _ in range(n_s):
        key = plan.s_picker.pick(rng, s_mask)
        if key is None:
            stats.drop("any", "small", "no_support")
            continue
        c = cat[key]
        attrs = sample_attributes(c, rng)
        cap = c.extra.get("max_per_support")
        holders = [i for i in range(n_furn) if drafts[i].category in c.stands_on
                   and (cap is None or on_count.get((i, key), 0) < cap)]
        on_floor_ok = "floor" in c.stands_on
        if not holders and not on_floor_ok:
            stats.drop(key, "small", "support_full")
            continue
        if holders:
            hpick = Picker({str(i): drafts[i].size[0] * drafts[i].size[1] for i in holders})

        def propose(c=c, attrs=attrs, holders=holders, on_floor_ok=on_floor_ok):
            d = Draft(c.key, sample_size(c, rng), (0.0, 0.0, 0.0), 0.0, has_front=c.has_front, attributes=attrs)
            if on_floor_ok and (not holders or rng.random() < floor_p):
                return free_pose(d, sx / 2, sy / 2, 0.0, "any", jitter, rng, SMALL, any_yaw=True)
            si = int(hpick.pick(rng))
            return on_support_pose(d, drafts[si], si, c.has_front, jitter, rng, SMALL)

        d = place(propose, occ, stats, max_att)
        if d is None:
            stats.drop(key, "small", "no_room")
            continue
        drafts.append(d)
        placed["small"] += 1
        if d.support == "on":
            on_count[(d.support_index, key)] = on_count.get((d.support_index, key), 0) + 1

    return room, drafts, extra, placed
