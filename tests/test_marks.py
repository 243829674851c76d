"""Set-of-mark prompts (engine/export/marks.py) on hand-made images, views and id masks."""

from __future__ import annotations

import numpy as np
import pytest

from engine.export.marks import LEADER_MIN_PX, PALETTE, draw_marks, mark_radius
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
    # the box-centre placement for a box away from the border; the 6 x 10 px box in the corner is
    # too small to hold a mark (a disc clamped onto it hid more than half of it before): beside it
    assert recs[1]["xy"] == [35, 30] and recs[1]["placement"] == "inside" and recs[1]["leader"] is None
    r = mark_radius(W, H)
    u, v = recs[2]["xy"]
    assert recs[2]["placement"] == "beside" and recs[2]["radius"] == r
    assert min(np.hypot(u - x, v - y) for x in range(0, 6) for y in range(110, 120)) >= r + 1
    changed = np.any(out != img, axis=2)
    assert changed[110:120, 0:6].sum() <= 0.5 * 60  # without an id image the box stands in for the object
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
        # the bottom edge of each box is drawn in the mark colour just outside the box (a quarter
        # along, clear of the other box), so the outline hides none of the box's pixels
        uq = u0 + (u1 - u0) // 4
        assert np.array_equal(out[v1 + 1, uq], col) and np.array_equal(out[v1 + 2, uq], col)
        assert not np.array_equal(out[v1, uq], col)
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
    from engine.export.marks import _RankedPixels, _place

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

    from engine.export.marks import _RankedPixels, _place

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


# ----------------------------------------------------------------------------- marks never hide their object
# A 512 x 512 image (marks of radius 14, as in the pipeline): a 250 x 120 px dresser and, on it, a
# 15 x 9 px bowl (135 px). A radius-14 disc on the bowl would hide all of it (the old placement).

W5 = H5 = 512
DRESSER = (150, 300, 399, 419)  # inclusive [u0, v0, u1, v1]
BOWL = (250, 291, 264, 299)


def _bowl_scene():
    ids = np.zeros((H5, W5), np.int32)
    for iid, (u0, v0, u1, v1) in ((1, DRESSER), (2, BOWL)):
        ids[v0:v1 + 1, u0:u1 + 1] = iid
    objs = {"dresser": {"bbox_visible": list(DRESSER)}, "bowl": {"bbox_visible": list(BOWL)}}
    view = View("view_0", [[400.0, 0, 255.5], [0, 400.0, 255.5], [0, 0, 1]], W5, H5, np.eye(4).tolist(), objs)
    img = (np.random.default_rng(1).uniform(0, 60, (H5, W5, 3))).astype(np.uint8)
    img[ids == 1] = (90, 70, 50)
    img[ids == 2] = (200, 200, 220)
    return ids, view, img, {"dresser": 1, "bowl": 2}


def _rect_most_interior(box) -> tuple[int, int]:
    """The most interior pixel of an axis-aligned rectangle of pixels, by hand: the distance to
    the nearest pixel outside is min(u - u0, u1 - u, v - v0, v1 - v) + 1; ties by v, then u."""
    u0, v0, u1, v1 = box
    best = max((min(u - u0, u1 - u, v - v0, v1 - v) + 1, -v, -u) for u in range(u0, u1 + 1) for v in range(v0, v1 + 1))
    return -best[2], -best[1]


@pytest.mark.parametrize("marked", [["bowl"], ["dresser", "bowl"], ["bowl", "dresser"]])
def test_a_tiny_object_gets_its_mark_beside_it_with_a_leader(marked):
    from engine.export.marks import DEFAULT_MAX_COVER

    ids, view, img, inst = _bowl_scene()
    out, recs = draw_marks(img, view, marked, ids=ids, instance_ids=inst)
    changed = np.any(out != img, axis=2)
    bowl = ids == 2
    # measured on the drawn image: the marks (disc, digit, leader) hide at most half the bowl
    assert DEFAULT_MAX_COVER == 0.5
    assert changed[bowl].sum() <= 0.5 * bowl.sum()
    assert changed[ids == 1].sum() <= 0.5 * (ids == 1).sum()
    rec = next(r for r in recs if r["object_id"] == "bowl")
    r = mark_radius(W5, H5)
    u, v = rec["xy"]
    assert rec["placement"] == "beside" and rec["radius"] == r
    assert r <= u <= W5 - 1 - r and r <= v <= H5 - 1 - r  # inside the image
    vs, us = np.nonzero(bowl)
    gap = np.hypot(us - u, vs - v).min()
    assert gap >= r + 1 + LEADER_MIN_PX  # the disc is clear of the bowl, a visible leader between
    assert gap <= r + 3 + LEADER_MIN_PX  # ... and no farther than that
    # the leader ends on the bowl's most interior pixel and is drawn in the mark colour
    assert tuple(rec["leader"]) == _rect_most_interior(BOWL) == (254, 295)
    lu, lv = rec["leader"]
    assert np.array_equal(out[lv, lu], rec["color"])
    _check_disc_512(out, rec)
    if "dresser" in marked:  # a large object keeps its mark inside, at full size
        big = next(r_ for r_ in recs if r_["object_id"] == "dresser")
        assert big["placement"] == "inside" and big["radius"] == r and big["leader"] is None
        assert ids[big["xy"][1], big["xy"][0]] == 1


def _check_disc_512(img, rec):
    u, v, r = rec["xy"][0], rec["xy"][1], rec["radius"]
    ring = [(int(round(u + 0.7 * r * np.cos(a))), int(round(v + 0.7 * r * np.sin(a))))
            for a in np.linspace(0, 2 * np.pi, 12, endpoint=False)]
    assert sum(np.array_equal(img[y, x], rec["color"]) for x, y in ring) >= 8


def test_a_small_object_gets_a_smaller_mark_inside():
    """A 34 x 34 px box (1156 px): a radius-14 disc would hide more than half of it, so the mark
    shrinks to the largest radius that hides at most half, and stays on the box."""
    from engine.export.marks import min_mark_radius

    ids = np.zeros((H5, W5), np.int32)
    ids[100:134, 60:94] = 3
    view = View("view_0", [[400.0, 0, 255.5], [0, 400.0, 255.5], [0, 0, 1]], W5, H5, np.eye(4).tolist(),
                {"box": {"bbox_visible": [60, 100, 93, 133]}})
    img = (np.random.default_rng(2).uniform(0, 60, (H5, W5, 3))).astype(np.uint8)
    out, (rec,) = draw_marks(img, view, ["box"], ids=ids, instance_ids={"box": 3})
    mask = ids == 3
    changed = np.any(out != img, axis=2)
    r = mark_radius(W5, H5)
    assert rec["placement"] == "inside" and min_mark_radius(W5, H5) <= rec["radius"] < r
    assert mask[rec["xy"][1], rec["xy"][0]]
    assert changed[mask].sum() <= 0.5 * mask.sum()

    def hidden(rad):  # pixels of the box a mark of radius rad at the same place would change
        from PIL import Image, ImageDraw

        from engine.export.marks import _font, _font_size

        canvas = Image.new("L", (W5, H5), 0)
        d = ImageDraw.Draw(canvas)
        u, v = rec["xy"]
        d.ellipse([u - rad, v - rad, u + rad, v + rad], fill=255, outline=255, width=max(1, rad // 6))
        d.text((u, v), "1", fill=255, font=_font(_font_size(rad)), anchor="mm")
        return int((np.asarray(canvas)[mask] > 0).sum())

    assert hidden(rec["radius"]) <= 0.5 * mask.sum() < hidden(rec["radius"] + 1)  # the largest that fits


def test_marks_stay_deterministic_and_the_memo_changes_nothing():
    ids, view, img, inst = _bowl_scene()
    a = draw_marks(img, view, ["dresser", "bowl"], ids=ids, instance_ids=inst, rng=np.random.default_rng(4))
    memo = {}
    for order in (["bowl"], ["dresser", "bowl"]):
        draw_marks(img, view, order, ids=ids, instance_ids=inst, candidates=memo)
    b = draw_marks(img, view, ["dresser", "bowl"], ids=ids, instance_ids=inst, rng=np.random.default_rng(4),
                   candidates=memo)
    assert a[1] == b[1] and np.array_equal(a[0], b[0])


def test_without_an_id_image_the_box_is_what_a_mark_may_cover():
    _, view, img, _ = _bowl_scene()
    out, recs = draw_marks(img, view, ["bowl", "dresser"])
    changed = np.any(out != img, axis=2)
    u0, v0, u1, v1 = BOWL
    assert changed[v0:v1 + 1, u0:u1 + 1].sum() <= 0.5 * 135
    assert recs[0]["placement"] == "beside" and tuple(recs[0]["leader"]) == ((u0 + u1) // 2, (v0 + v1) // 2)
    assert recs[1]["placement"] == "inside" and recs[1]["xy"] == [274, 360]  # the dresser box's centre (rounded)


@pytest.mark.parametrize("seed", range(4))
def test_with_max_cover_one_every_mark_is_where_it_was(seed):
    """max_cover = 1 lifts the rule: every mark is inside at full radius, at the brute-force
    reference position (the most interior pixel clearing the marks placed before)."""
    rng = np.random.default_rng(200 + seed)
    ids = np.zeros((H, W), np.int32)
    for i in range(1, 4):
        u0, v0 = rng.integers(0, W - 30), rng.integers(0, H - 30)
        ids[v0:v0 + rng.integers(4, 40), u0:u0 + rng.integers(4, 90)] = i  # boxes <= 4096 px: no subsampling
    names = [f"o{i}" for i in range(1, 4) if (ids == i).any()]
    boxes = {}
    for n_ in names:
        vs, us = np.nonzero(ids == int(n_[1:]))
        boxes[n_] = [int(us.min()), int(vs.min()), int(us.max()), int(vs.max())]
    view = _view(boxes)
    _, recs = draw_marks(_image(), view, names, ids=ids, instance_ids={n_: int(n_[1:]) for n_ in names}, max_cover=1.0)
    r = mark_radius(W, H)
    placed = []
    for rec in recs:
        assert rec["placement"] == "inside" and rec["radius"] == r
        want = _reference_place(ids == int(rec["object_id"][1:]), placed, r, W, H)
        assert rec["xy"] == [int(want[0]), int(want[1])]
        placed.append(want)


def test_max_cover_is_checked_and_matches_the_config_default():
    from engine.qa.config import default_qa_cfg
    from engine.export.marks import DEFAULT_MAX_COVER

    assert default_qa_cfg()["refer"]["mark_max_cover"] == DEFAULT_MAX_COVER
    with pytest.raises(ValueError, match="max_cover"):
        draw_marks(_image(), _view({"a": [10, 10, 20, 20]}), ["a"], max_cover=1.5)


@pytest.mark.parametrize("rad", [6, 7, 9, 11, 14, 20, 30])
def test_painted_marks_are_what_pil_draws_there(rad):
    # the pasted mark (drawn once, on black and on white) equals drawing it in place, on any
    # background, at integer centres wholly inside the image; near the edge it is drawn in place
    from PIL import Image, ImageDraw

    from engine.export.marks import _draw_mark, _paste, _painted

    rng = np.random.default_rng(rad)
    size = 8 * rad + 40
    base = Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    for num in list(range(1, 19)) + [23, 100]:
        painted = _painted(rad, num)
        if painted is None:
            continue  # digits blend with the background there: always drawn in place
        for u, v in rng.integers(0, size, (6, 2)).tolist() + [[size // 2, size // 2], [0, 0], [size - 1, 3]]:
            want = base.copy()
            _draw_mark(ImageDraw.Draw(want), float(u), float(v), rad, num)
            got = base.copy()
            if _paste(got, painted, u, v):
                assert np.array_equal(np.asarray(got), np.asarray(want)), (rad, num, u, v)


def test_a_pil_image_marks_as_its_array():
    from PIL import Image

    from engine.export.marks import draw_marks_image

    ids, view, img, inst = _bowl_scene()
    for kw in ({}, {"ids": ids, "instance_ids": inst}):
        for style in ("number", "box"):
            a, ra = draw_marks_image(img, view, ["dresser", "bowl"], style, rng=np.random.default_rng(1), **kw)
            pil = Image.fromarray(img)
            b, rb = draw_marks_image(pil, view, ["dresser", "bowl"], style, rng=np.random.default_rng(1), **kw)
            assert ra == rb and a.tobytes() == b.tobytes() and b is not pil
            assert pil.tobytes() == Image.fromarray(img).tobytes()  # left unchanged
