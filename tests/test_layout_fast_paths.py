"""The layout samplers' fast paths give exactly what their plain formulations give.

Each test compares a shortcut with the code as first written (copied here) on random inputs:
the same verdicts, the same draws, the same values, so layouts do not change by a single bit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from engine.layout import sample_layout
from engine.layout.drafts import Picker, sample_attributes
from engine.layout.occupancy import DOOR, FREE, N_CLASSES, SMALL, TOL, WALL_FURNITURE, Occupancy, rect_corners
from engine.scene.shape_params import draw_params


class _NumpyOccupancy:
    """Occupancy.check / add as first written: numpy arrays of the placed boxes."""

    def __init__(self, gap_table, group_gap, half_x, half_y, ceiling):
        self.gap_table = np.asarray(gap_table, dtype=float)
        self.group_gap, self.half_x, self.half_y, self.ceiling = float(group_gap), half_x, half_y, ceiling
        self.aabb, self.z, self.cls, self.group, self.polys = [], [], [], [], []

    def check(self, corners, z_lo, z_hi, cls, group=-1, inside=True):
        if inside and (np.abs(corners[:, 0]).max() > self.half_x + TOL or np.abs(corners[:, 1]).max() > self.half_y + TOL):
            return "outside_room"
        if self.ceiling is not None and z_hi > self.ceiling:
            return "ceiling"
        if not self.aabb:
            return None
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        z, box, kls = np.array(self.z), np.array(self.aabb), np.array(self.cls)
        zover = (np.minimum(z[:, 1], z_hi) - np.maximum(z[:, 0], z_lo)) > 0.0
        if not zover.any():
            return None
        gaps = self.gap_table[cls, kls]
        if group >= 0:
            gaps = np.where(np.array(self.group) == group, self.group_gap, gaps)
        dx = np.maximum(np.maximum(box[:, 0] - hi[0], lo[0] - box[:, 2]), 0.0)
        dy = np.maximum(np.maximum(box[:, 1] - hi[1], lo[1] - box[:, 3]), 0.0)
        near = zover & (dx * dx + dy * dy < gaps * gaps)
        if not near.any():
            return None
        idx = np.flatnonzero(near)
        dist = shapely.distance(shapely.polygons(corners), np.array(self.polys, dtype=object)[idx])
        bad = dist < gaps[idx]
        if not bad.any():
            return None
        if (kls[idx[bad]] == DOOR).any():
            return "doorway"
        return "overlap" if (dist[bad] <= 0.0).any() else "clearance"

    def add(self, corners, z_lo, z_hi, cls, group=-1):
        self.aabb.append([*corners.min(axis=0), *corners.max(axis=0)])
        self.z.append((z_lo, z_hi))
        self.cls.append(cls)
        self.group.append(group)
        self.polys.append(shapely.polygons(corners))


def test_occupancy_matches_numpy_formulation():
    rng = np.random.default_rng(1)
    seen = set()
    for trial in range(40):
        gaps = rng.uniform(0.0, 0.5, (N_CLASSES, N_CLASSES))
        gaps[rng.random((N_CLASSES, N_CLASSES)) < 0.2] = 0.0
        args = (gaps, float(rng.uniform(0.0, 0.1)), 3.0, 2.5, float(rng.choice([2.5, 3.0])))
        fast, ref = Occupancy(*args), _NumpyOccupancy(*args)
        placed = 0
        for _ in range(400):
            yaw = float(rng.choice([0.0, math.pi / 2, rng.uniform(-math.pi, math.pi)]))
            c = rect_corners(*rng.uniform(-3.2, 3.2, 2), *rng.uniform(0.02, 0.8, 2), yaw)
            if rng.random() < 0.2 and ref.aabb:  # touching / overlapping an earlier box exactly
                c = np.array(ref.polys[int(rng.integers(len(ref.polys)))].exterior.coords)[:4] + rng.choice([0.0, 0.5])
            z_lo = float(rng.choice([0.0, rng.uniform(0, 2)]))
            z_hi = z_lo + float(rng.choice([rng.uniform(0.01, 1.5), 0.0]))
            cls = int(rng.choice([FREE, WALL_FURNITURE, SMALL, DOOR]))
            group = int(rng.choice([-1, 0, 1, 2]))
            inside = bool(rng.random() < 0.9)
            want = ref.check(c, z_lo, z_hi, cls, group, inside)
            assert fast.check(c, z_lo, z_hi, cls, group, inside) == want
            seen.add(want)
            if want is None or rng.random() < 0.05:
                fast.add(c, z_lo, z_hi, cls, group)
                ref.add(c, z_lo, z_hi, cls, group)
                placed += 1
        assert fast.n == placed
    assert seen == {None, "outside_room", "ceiling", "doorway", "overlap", "clearance"}


def test_picker_matches_cumsum_searchsorted():
    rng = np.random.default_rng(2)
    for trial in range(200):
        n = int(rng.integers(1, 12))
        w = {f"k{i}": float(x) for i, x in enumerate(rng.choice([0.0, 0.5, 1.0, 2.0, rng.uniform(0, 3)], n))}
        p = Picker(w)
        a, b = np.random.default_rng(trial), np.random.default_rng(trial)
        for _ in range(30):
            mask = None if rng.random() < 0.3 else rng.random(n) < 0.7
            ww = p.w if mask is None else np.where(mask, p.w, 0.0)
            cum = np.cumsum(ww)
            want = None if cum[-1] <= 0 else p.keys[min(int(np.searchsorted(cum, b.random() * cum[-1], side="right")),
                                                      n - 1)]
            assert p.pick(a, mask) == want
        assert a.random() == b.random()


def test_sample_attributes_draws_as_integers_with_array_bounds():
    class Cat:
        colors = [f"c{i}" for i in range(7)]
        materials = [f"m{i}" for i in range(3)]
    for seed in range(300):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        got = sample_attributes(Cat, a)
        i, j = b.integers(0, [len(Cat.colors), len(Cat.materials)])
        assert got == {"color": Cat.colors[int(i)], "material": Cat.materials[int(j)]}
        assert a.random() == b.random()


def test_shape_params_choice_matches_cumsum_searchsorted():
    params = {"back": {"kind": "choice", "values": ["a", "b", "c", "d"], "weights": np.array([0.1, 0.0, 0.6, 0.3])},
              "n": {"kind": "int", "lo": 2, "hi": 5}}
    for seed in range(300):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        got = draw_params(params, a)
        u = float(b.random())
        k = min(int(np.searchsorted(np.cumsum(params["back"]["weights"]), u, side="right")), 3)
        assert got["back"] == params["back"]["values"][k]
        b.random()
        assert a.random() == b.random()


def test_config_check_and_hash_follow_the_config():
    from engine.layout import load_scene_cfg
    from engine.layout.config import config_hash
    from engine.scene.catalog import load_catalog

    cfg, catalog = load_scene_cfg("open"), load_catalog()
    s1 = sample_layout(cfg, catalog, np.random.default_rng(0))
    assert s1.generator["config_hash"] == config_hash(cfg)
    cfg2 = {**cfg, "max_attempts": 41}
    assert sample_layout(cfg2, catalog, np.random.default_rng(0)).generator["config_hash"] == config_hash(cfg2) \
        != config_hash(cfg)
    with pytest.raises(ValueError, match="max_attempts"):  # a bad value is still refused after good ones
        sample_layout({**cfg, "max_attempts": 0}, catalog, np.random.default_rng(0))
    sample_layout({**cfg, "max_attempts": 1}, catalog, np.random.default_rng(0))
    with pytest.raises(ValueError, match="max_attempts"):  # True == 1, but a bool is refused: types count
        sample_layout({**cfg, "max_attempts": True}, catalog, np.random.default_rng(0))
