"""Hypothesis: the batched / cached computations that make QA generation fast give the same
numbers as the plain per-object ones and as independent recomputations written differently.

Frames and units as in engine/qa/facts.py: world metres (+Z up), cameras OpenCV, pixels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

from engine.geometry.boxes import box_box_distance, box_box_distance_lsq, box_point_distance
from engine.geometry.projection import project_box
from engine.geometry.transforms import look_at
from engine.qa import egomotion as em
from engine.qa.ascii_map import build_ascii_map
from engine.qa.balance import Balancer
from engine.qa.candidate import Candidate, bin_key
from engine.geometry.boxes import boxes_point_distance
from engine.qa.facts import WorldFacts
from engine.qa.families import motion
from engine.qa.templates import Template
from engine.scene.catalog import load_catalog
from engine.scene.graph import Room
from tests.qa_core_scenes import random_scene
from tests.qa_families_scenes import make_ctx, walls_for

SEEDS = st.integers(0, 2**31 - 1)


def _walled(seed: int, n: int = 8, n_views: int = 2):
    """A random scene (random yaws, some stacked objects) in an 8 x 8 m room with walls."""
    s = random_scene(np.random.default_rng(seed), n, n_views=n_views)
    s.room = Room("room", [8.0, 8.0, 2.5], walls_for(8.0, 8.0))
    return s


def _poses(rng: np.random.Generator, k: int) -> list[np.ndarray]:
    """Cameras anywhere in the room, looking anywhere (boxes end up behind, across or in front)."""
    out = []
    for _ in range(k):
        eye = np.array([*rng.uniform(-3.5, 3.5, 2), rng.uniform(0.3, 2.0)])
        target = eye + np.array([*rng.normal(size=2), rng.uniform(-0.8, 0.3)])
        out.append(look_at(eye, target))
    return out


@settings(max_examples=40, deadline=None)
@given(SEEDS)
def test_boxes_point_distance_matches_per_box_and_local_clamp(seed):
    rng = np.random.default_rng(seed)
    w = WorldFacts(random_scene(rng, 10), load_catalog())
    for p in rng.uniform([-4, -4, -0.5], [4, 4, 3], size=(20, 3)).tolist() + [w.centers[0].tolist()]:
        got = boxes_point_distance(w.centers, w.sizes, w.rotations, np.array(p))
        per_box = np.array([box_point_distance(b, np.array(p)) for b in w.boxes])
        assert np.array_equal(got, per_box)  # the same arithmetic per box
        # Independently: the length of the part of the local offset that sticks out of the box.
        for b, g in zip(w.boxes, got):
            local = b.rotation.T @ (np.array(p) - b.center)
            assert g == pytest.approx(float(np.linalg.norm(np.maximum(np.abs(local) - b.half, 0.0))), abs=1e-9)


def _status_reference(K, pose, box, width, height, m, near):
    """frustum_status as first written: two project_box calls, the second on the grown image."""
    res = project_box(K, pose, box, width, height, near=near)
    if res is not None and res["in_front"]:
        u0, v0, u1, v1 = res["bbox_unclipped"]
        if u0 >= -0.5 + m and v0 >= -0.5 + m and u1 <= width - 0.5 - m and v1 <= height - 0.5 - m:
            return "inside"
    Kg = np.array(K, dtype=float)
    Kg[0, 2] += m
    Kg[1, 2] += m
    grown = project_box(Kg, pose, box, int(math.ceil(width + 2 * m)), int(math.ceil(height + 2 * m)), near=near)
    return "outside" if grown is None else "partial"


@settings(max_examples=40, deadline=None)
@given(SEEDS, st.sampled_from([0.0, 3.0, 7.5]))
def test_frustum_status_and_batch_match_project_box(seed, margin):
    rng = np.random.default_rng(seed)
    w = WorldFacts(random_scene(rng, 10, n_views=2), load_catalog())
    K = np.array([[200.0, 0.0, 159.5], [0.0, 180.0, 119.5], [0.0, 0.0, 1.0]])
    corners = np.array([b.corners for b in w.boxes])
    # Cameras inside the room (boxes behind, across the near plane, around) and the scene's own,
    # 6 m away looking at its centre (most boxes inside or partly outside the image).
    poses = _poses(rng, 4) + [np.asarray(v.cam_to_world) for v in w.scene.views]
    for pose in poses:
        want = [_status_reference(K, pose, b, 320, 240, margin, 0.05) for b in w.boxes]
        assert em.frustum_statuses(K, pose, corners, 320, 240, margin, near=0.05) == want
        assert [em.frustum_status(K, pose, b, 320, 240, margin, near=0.05) for b in w.boxes] == want


@settings(max_examples=30, deadline=None)
@given(SEEDS)
def test_standable_many_matches_room_and_boxes(seed):
    rng = np.random.default_rng(seed)
    ctx = make_ctx(_walled(seed))
    pts = np.c_[rng.uniform(-4.5, 4.5, size=(60, 2)), rng.uniform(0.0, 1.5, size=60)]
    pts[:5] = ctx.world.centers[:5]  # some certainly inside a box
    got = motion.standable_many(ctx, pts)
    assert got.tolist() == [motion.standable(ctx, p) for p in pts]
    for p, ok in zip(pts, got.tolist()):
        in_room = abs(p[0]) <= 4.0 and abs(p[1]) <= 4.0
        in_box = any(bool(b.contains(p[None])[0]) for b in ctx.world.boxes)
        assert ok == (in_room and not in_box)


@settings(max_examples=40, deadline=None)
@given(SEEDS)
def test_moved_distance_matches_box_box_distance(seed):
    rng = np.random.default_rng(seed)
    w = WorldFacts(random_scene(rng, 6), load_catalog())
    for i in range(len(w.ids)):
        j = (i + 1) % len(w.ids)
        moved = motion.moved_box(w.boxes[i], rng.uniform(-3, 3, size=2), float(rng.uniform(0.2, 1.5)))
        got = motion._moved_distance(w, moved, j)
        assert got == box_box_distance(moved, w.boxes[j])
        assert got == pytest.approx(box_box_distance_lsq(moved, w.boxes[j]), abs=1e-6)


@settings(max_examples=30, deadline=None)
@given(SEEDS)
def test_footprints_and_horizontal_distance_match_shapely(seed):
    w = WorldFacts(random_scene(np.random.default_rng(seed), 8), load_catalog())
    for i, b in enumerate(w.boxes):
        assert w.footprint(i).equals_exact(Polygon(b.corners[[0, 4, 6, 2], :2]), 0.0)
    for i, a in enumerate(w.ids):
        for j, b in enumerate(w.ids):
            want = w.boxes[min(i, j)].footprint().distance(w.boxes[max(i, j)].footprint())
            assert w.horizontal_distance(a, b) == want


@settings(max_examples=30, deadline=None)
@given(SEEDS)
def test_visible_ids_match_visible(seed):
    ctx = make_ctx(_walled(seed))
    v = ctx.view
    v.in_frame = np.random.default_rng(seed).choice([0.0, 0.3, 0.5, 1.0], len(v.in_frame))  # hand-set shares
    for fr, px, inf in ((0.0, 0, 0.0), (0.3, 60, 0.5), (1.0, 500, 0.5), (0.5, 1000, 1.0), (0.3, 60, 0.0)):
        assert v.visible_ids(fr, px, inf) == [o for o in ctx.world.ids if v.visible(o, fr, px, inf)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=6, unique=True),
       st.floats(-12, 12, allow_nan=False))
def test_bin_key_matches_searchsorted(edges, x):
    edges = sorted(edges)
    key, space = bin_key(x, edges)
    assert key == f"bin{int(np.searchsorted(np.asarray(edges), x, side='right'))}"
    assert space == tuple(f"bin{j}" for j in range(len(edges) + 1))
    assert bin_key(x, None) == ("", None)


def _template(tid: str) -> Template:
    return Template(id=tid, family="relations", task="left_right", answer_type="choice",
                    paraphrases=("{A}?", "{A}!"), slots={"A": "object"})


@settings(max_examples=40, deadline=None)
@given(SEEDS)
def test_balancer_score_matches_acceptable_lead_and_option_excess(seed):
    rng = np.random.default_rng(seed)
    b = Balancer(float(rng.choice([0.0, 0.02, 0.5])), int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    spaces = [("no", "yes"), ("a", "b", "c"), tuple(f"bin{k}" for k in range(6)), None]
    templates = [_template("t0"), _template("t1")]

    def cand():
        space = spaces[int(rng.integers(len(spaces)))]
        c = Candidate(template=templates[int(rng.integers(2))], question="q", answer_type="choice", value="x",
                      rationale="r", objects=[], view_ids=[], answer_space=space,
                      answer_key=space[int(rng.integers(len(space)))] if space else "",
                      context_key=(str(rng.integers(2)),),
                      features=tuple(f"s{k}={rng.integers(2)}" for k in range(int(rng.integers(0, 3)))))
        if rng.random() < 0.5:
            c.option_keys = tuple(str(k) for k in rng.choice(5, size=int(rng.integers(2, 4)), replace=False))
            c.correct = int(rng.integers(len(c.option_keys)))
        return c

    for _ in range(60):
        c = cand()
        got = b.score(c)
        if not b.acceptable(c):
            assert got is None
        else:
            lead = b.lead(c) if c.answer_space is not None else (0, 0)
            assert got == (lead[0], max(lead[1:]), b.option_excess(c))
        if rng.random() < 0.7:
            b.commit(c)  # states where answers lead, including unacceptable commits


@settings(max_examples=25, deadline=None)
@given(SEEDS, st.sampled_from([0.25, 0.5, 1.0]))
def test_ascii_map_cells_are_the_cells_showing_the_letter(seed, res):
    s = _walled(seed, n=10, n_views=1)
    names = {o.id: f"the {o.id}" for o in s.objects}
    for view in (s.views[0], None):
        m = build_ascii_map(s, view, res, names)
        grid = np.array([list(row) for row in m.grid])
        assert list(m.letters.values()) == list(m.legend)  # letters in scene order, as the legend
        assert all(m.legend[letter] == names[oid] for oid, letter in m.letters.items())
        for oid, letter in m.letters.items():
            assert m.cells[oid] == [tuple(int(x) for x in rc) for rc in np.argwhere(grid == letter)]
        assert set(m.hidden) == {o.id for o in s.objects} - set(m.letters)
        assert set(m.letters) | set(m.hidden) == {o.id for o in s.objects}


@settings(max_examples=25, deadline=None)
@given(SEEDS, st.sampled_from([0.25, 0.5, 1.0]))
def test_ascii_map_cell_cache_changes_nothing(seed, res):
    # the object cells cached by the first view's map serve the others: every map as built alone
    s = _walled(seed, n=10, n_views=3)
    names = {o.id: f"the {o.id}" for o in s.objects}
    cache: dict = {}
    ids = [o.id for o in s.objects][::2]
    for view in list(s.views) + [None]:
        for object_ids in (None, ids):
            got = build_ascii_map(s, view, res, names, object_ids=object_ids, cache=cache)
            want = build_ascii_map(s, view, res, names, object_ids=object_ids)
            assert got == want


@settings(max_examples=40, deadline=None)
@given(SEEDS, st.sampled_from([0.0, 3.0]))
def test_lazy_frustum_statuses_match_in_any_read_order(seed, margin):
    rng = np.random.default_rng(seed)
    w = WorldFacts(random_scene(rng, 10, n_views=1), load_catalog())
    K = np.array([[200.0, 0.0, 159.5], [0.0, 180.0, 119.5], [0.0, 0.0, 1.0]])
    corners = np.array([b.corners for b in w.boxes])
    for pose in _poses(rng, 3):
        want = [em.frustum_status(K, pose, b, 320, 240, margin, near=0.05) for b in w.boxes]
        lazy = em.LazyFrustumStatuses(K, pose, corners, 320, 240, margin, near=0.05)
        order = rng.permutation(len(want)).tolist()
        assert [lazy[k] for k in order] == [want[k] for k in order]


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_norm_is_numpy_norm_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    for x in list(rng.normal(scale=rng.uniform(1e-3, 1e3), size=(50, 2))) + list(rng.normal(size=(20, 3))):
        assert em.norm(x) == float(np.linalg.norm(x))


@settings(max_examples=20, deadline=None)
@given(SEEDS)
def test_cached_expression_refs_match_a_fresh_referrer(seed):
    from engine.qa.refer import Referrer

    ctx = make_ctx(_walled(seed, n=10, n_views=1))
    ids = ctx.world.ids
    r = ctx.referrer()
    pairs = [(a, b) for a in ids[:5] for b in ids[:5] if a != b]
    for scope in ("view", "scene"):
        first = [r.refs(list(p), "expression", scope) for p in pairs]
        again = [r.refs(list(p), "expression", scope) for p in pairs]  # from the cache
        fresh = Referrer(ctx.world, [ctx.view], ctx.cfg["lexicon"], ctx.cfg["refer"]["size_ratio"])
        assert first == again == [fresh.refs(list(p), "expression", scope) for p in pairs]
