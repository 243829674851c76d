"""Set-of-mark prompts (engine/render/marks.py) on hand-made images, views and id masks."""

from __future__ import annotations

import numpy as np
import pytest

from engine.render.marks import PALETTE, draw_marks, mark_radius
from engine.scene.graph import View

W, H = 160, 120


def _view(boxes: dict) -> View:
    K = [[100.0, 0, W / 2], [0, 100.0, H / 2], [0, 0, 1]]
    objs = {k: {"bbox_visible": b, "visible_pixels": 1 if b else 0} for k, b in boxes.items()}
    return View("view_0", K, W, H, np.eye(4).tolist(), objs)


def _image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.uniform(0, 60, (H, W, 3))).astype(np.uint8)  # dark noise: marks are easy to find


def _check_disc(img: np.ndarray, rec: dict):
    """The mark's colour fills its disc (away from the digit) and it lies inside the image."""
    u, v, r = rec["xy"][0], rec["xy"][1], rec["radius"]
    assert r <= u <= W - 1 - r and r <= v <= H - 1 - r
    ring = [(int(round(u + 0.7 * r * np.cos(a))), int(round(v + 0.7 * r * np.sin(a)))) for a in np.linspace(0, 2 * np.pi, 12, endpoint=False)]
    hits = sum(np.array_equal(img[y, x], rec["color"]) for x, y in ring)
    assert hits >= 8, hits


def test_numbered_marks_records_and_copy():
    img = _image()
    before = img.copy()
    boxes = {"obj_00": [10, 10, 60, 50], "obj_01": [70, 20, 150, 110], "obj_02": [0, 110, 5, 119]}
    view = _view(boxes)
    out, recs = draw_marks(img, view, ["obj_01", "obj_00", "obj_02"])
    assert np.array_equal(img, before) and out is not img and out.shape == img.shape and out.dtype == np.uint8
    assert [r["mark"] for r in recs] == [1, 2, 3]
    assert [r["object_id"] for r in recs] == ["obj_01", "obj_00", "obj_02"]
    for rec in recs:
        assert rec["bbox"] == boxes[rec["object_id"]]
        assert rec["color"] == list(PALETTE[rec["mark"] - 1])
        _check_disc(out, rec)
    # the box-centre placement for a box away from the border, and clamping for one at the corner
    assert recs[1]["xy"] == [35, 30]
    r = mark_radius(W, H)
    assert recs[2]["xy"][0] == r and recs[2]["xy"][1] == H - 1 - r
    assert np.any(out != img)


def test_marks_do_not_overlap_when_boxes_coincide():
    view = _view({"a": [40, 30, 120, 90], "b": [40, 30, 120, 90], "c": [42, 32, 118, 88]})
    out, recs = draw_marks(_image(), view, ["a", "b", "c"])
    xy = np.array([r["xy"] for r in recs], float)
    r = recs[0]["radius"]
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.linalg.norm(xy[i] - xy[j]) >= 2 * r
        _check_disc(out, recs[i])


def test_mask_placement_is_inside_the_visible_mask():
    # an L-shaped visible region whose box centre is NOT on the object
    ids = np.zeros((H, W), np.int32)
    ids[10:100, 10:40] = 5
    ids[70:100, 10:150] = 5
    ids[20:60, 60:140] = 6  # a second object inside the L's empty corner
    view = _view({"obj_a": [10, 10, 149, 99], "obj_b": [60, 20, 139, 59]})
    img = _image()
    bbox_centre = (79, 54)
    assert ids[bbox_centre[1], bbox_centre[0]] != 5
    out, recs = draw_marks(img, view, ["obj_a", "obj_b"], ids=ids, instance_ids={"obj_a": 5, "obj_b": 6})
    for rec, iid in zip(recs, (5, 6)):
        u, v = rec["xy"]
        assert ids[v, u] == iid
        _check_disc(out, rec)
    # a memo shared by calls on the same view gives the same marks as no memo, in any order
    memo = {}
    for order in (["obj_b"], ["obj_a", "obj_b"], ["obj_b", "obj_a"]):
        plain = draw_marks(img, view, order, ids=ids, instance_ids={"obj_a": 5, "obj_b": 6})
        memoed = draw_marks(img, view, order, ids=ids, instance_ids={"obj_a": 5, "obj_b": 6}, candidates=memo)
        assert plain[1] == memoed[1] and np.array_equal(plain[0], memoed[0])
    assert sorted(memo) == ["obj_a", "obj_b"]
    with pytest.raises(ValueError, match="instance_ids"):
        draw_marks(img, view, ["obj_a"], ids=ids)


def test_box_style_draws_outline_in_mark_colour():
    view = _view({"a": [20, 20, 100, 90], "b": [60, 40, 150, 110]})
    img = _image()
    out, recs = draw_marks(img, view, ["a", "b"], style="box")
    for rec in recs:
        u0, v0, u1, v1 = rec["bbox"]
        col = rec["color"]
        # the bottom edge of each box is drawn in the mark colour (a quarter along, clear of the other box)
        uq = u0 + (u1 - u0) // 4
        assert np.array_equal(out[v1, uq], col) or np.array_equal(out[v1 - 1, uq], col)
        _check_disc(out, rec)


def test_shuffled_numbers_need_rng_and_are_deterministic():
    view = _view({k: [10 + 20 * i, 10, 25 + 20 * i, 100] for i, k in enumerate("abcde")})
    _, r1 = draw_marks(_image(), view, list("abcde"), rng=np.random.default_rng(3))
    _, r2 = draw_marks(_image(), view, list("abcde"), rng=np.random.default_rng(3))
    assert r1 == r2
    assert sorted(r["mark"] for r in r1) == [1, 2, 3, 4, 5]
    _, r0 = draw_marks(_image(), view, list("abcde"))
    assert [r["object_id"] for r in r0] == list("abcde")


def test_invisible_or_bad_input_is_an_error():
    view = _view({"a": [10, 10, 20, 20], "hidden": None})
    with pytest.raises(ValueError, match="hidden"):
        draw_marks(_image(), view, ["a", "hidden"])
    with pytest.raises(ValueError, match="style"):
        draw_marks(_image(), view, ["a"], style="arrow")
    with pytest.raises(ValueError, match="rgb"):
        draw_marks(_image().astype(np.float32), view, ["a"])
    with pytest.raises(ValueError, match="duplicates"):
        draw_marks(_image(), view, ["a", "a"])


def _reference_place(mask, placed, r, width, height):
    """Brute force: rank every pixel by its distance to the nearest non-object pixel (image border
    outside), ties by (v, u); keep those whose disc fits; first clearing the placed marks, else
    the first farthest from them."""
    from scipy.ndimage import distance_transform_edt

    dist = distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    vs, us = np.nonzero(mask)
    order = np.lexsort((us, vs, -dist[vs, us]))
    pts = np.stack([us[order], vs[order]], 1).astype(float)
    fits = (pts[:, 0] >= r) & (pts[:, 0] <= width - 1 - r) & (pts[:, 1] >= r) & (pts[:, 1] <= height - 1 - r)
    pts = pts[fits] if fits.any() else np.clip(pts, r, [width - 1 - r, height - 1 - r])
    if not placed:
        return pts[0]
    gaps = [min(np.hypot(*(p - q)) for q in placed) for p in pts]
    ok = [i for i, g in enumerate(gaps) if g >= 2 * r + 2]
    return pts[ok[0]] if ok else pts[int(np.argmax(gaps))]


@pytest.mark.parametrize("seed", range(6))
def test_ranked_placement_equals_brute_force(seed):
    from engine.render.marks import _RankedPixels, _place

    rng = np.random.default_rng(seed)
    mask = np.zeros((H, W), bool)
    for _ in range(3):  # a blobby object, sometimes touching the border
        u0, v0 = rng.integers(0, W - 20), rng.integers(0, H - 20)
        mask[v0:v0 + rng.integers(5, 60), u0:u0 + rng.integers(5, 90)] = True
    r = mark_radius(W, H)
    # marks already placed on the object's most interior pixels, so the head chunk is exhausted
    vs, us = np.nonzero(mask)
    placed = [np.array([us[i], vs[i]], float) for i in rng.choice(len(us), 3, replace=False)]
    for head in (1, 7, 10_000):
        ranked = _RankedPixels(mask, 0, 0, r, W, H, head=head)
        for k in range(4):
            got = _place(ranked.chunks(), placed[:k], r)
            assert np.array_equal(got, _reference_place(mask, placed[:k], r, W, H)), (head, k)


@pytest.mark.parametrize("seed", range(6))
def test_subsampled_search_finds_a_pixel_within_a_pixel_of_the_most_interior(seed):
    """Large objects are searched on every other row and column: the first mark still lies on
    the object, at most 1.5 px less interior than the most interior pixel whose mark fits."""
    from scipy.ndimage import distance_transform_edt

    from engine.render.marks import _RankedPixels, _place

    rng = np.random.default_rng(100 + seed)
    mask = np.zeros((H, W), bool)
    for _ in range(3):
        u0, v0 = rng.integers(0, W - 30), rng.integers(0, H - 30)
        mask[v0:v0 + rng.integers(20, 80), u0:u0 + rng.integers(20, 110)] = True
    r = mark_radius(W, H)
    dist = distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    fits = np.zeros_like(mask)
    fits[r:H - r, r:W - r] = True
    best = dist[mask & fits].max()
    u, v = _place(_RankedPixels(mask, 0, 0, r, W, H, step=2).chunks(), [], r).astype(int)
    assert mask[v, u] and fits[v, u]
    assert dist[v, u] >= best - 1.5
