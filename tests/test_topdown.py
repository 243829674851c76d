"""Top-down plot: frustum ray geometry by hand, PNG size, colours, atomic write, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from engine.camera import make_intrinsics
from engine.geometry import look_at
from engine.scene import Room, SceneGraph, SceneObject, View, Wall
from engine.scene.catalog import load_catalog
from engine.viewer.topdown import PANEL_PX, frustum_rays_xy, linear_to_srgb, plot_topdown


def _view(eye, target, width=512, height=512, fov=90.0) -> View:
    return View("view_0", make_intrinsics(width, height, fov).tolist(), width, height,
                look_at(eye, target).tolist())


def test_frustum_rays_level_camera_hand_values():
    # Looking along +X from (1, 2) with a 90 deg fov: the edges are at +-45 deg; image left is +Y.
    origin, left, right = frustum_rays_xy(_view([1, 2, 1.5], [5, 2, 1.5]), length=3.0)
    r = 3.0 / math.sqrt(2.0)
    assert np.allclose(origin, [1, 2])
    assert np.allclose(left, [1 + r, 2 + r]) and np.allclose(right, [1 + r, 2 - r])


def test_frustum_rays_pitched_camera_hand_values():
    # Looking along +Y, pitched 30 deg down, 640 px wide with a 60 deg horizontal fov. The edge
    # ray is fwd +- tan(30 deg) * right with fwd = (0, cos30, -sin30), right = (1, 0, 0); seen
    # from above it is atan(tan30 / cos30) = 33.69 deg off the heading.
    eye = np.array([0.0, 0.0, 1.5])
    target = eye + np.array([0.0, math.cos(math.radians(30)), -math.sin(math.radians(30))])
    origin, left, right = frustum_rays_xy(_view(eye, target, 640, 480, 60.0), length=2.0)
    half = math.atan(math.tan(math.radians(30)) / math.cos(math.radians(30)))
    assert math.isclose(math.degrees(half), 33.690067525979785)
    heading = math.pi / 2
    assert np.allclose(left, 2.0 * np.array([math.cos(heading + half), math.sin(heading + half)]))
    assert np.allclose(right, 2.0 * np.array([math.cos(heading - half), math.sin(heading - half)]))


def test_frustum_rays_camera_looking_straight_down():
    # Camera +X = world +X, +Y = world -Y, +Z (forward) = world -Z: the edge rays fwd -+ right
    # point along -X and +X seen from above, whatever the fov.
    pose = np.eye(4)
    pose[:3, :3] = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]]).T
    pose[:3, 3] = [0.5, -0.5, 3.0]
    view = View("view_0", make_intrinsics(512, 512, 70.0).tolist(), 512, 512, pose.tolist())
    origin, left, right = frustum_rays_xy(view, length=3.0)
    assert np.allclose(left, [-2.5, -0.5]) and np.allclose(right, [3.5, -0.5])


def _scene(i: int) -> SceneGraph:
    c = [(-3.0, -2.5), (3.0, -2.5), (3.0, 2.5), (-3.0, 2.5)]
    walls = [Wall(f"wall_{j}", list(c[j]), list(c[(j + 1) % 4]), 2.8) for j in range(4)]
    objs = [
        SceneObject("obj_00", 1, "table", [0.0, 0.0, 0.375], [1.0, 1.6, 0.75], 0.4, attributes={"color": "red"}),
        SceneObject("obj_01", 2, "mug", [0.1, 0.2, 0.8], [0.1, 0.1, 0.1], 0.0, support="on:obj_00",
                    attributes={"color": "white"}),
        SceneObject("obj_02", 3, "sofa", [-2.5, 0.0, 0.4], [0.9, 2.0, 0.8], 0.0, against="wall_3",
                    has_front=True, attributes={"color": "blue"}),
        SceneObject("obj_03", 4, "painting", [0.0, 2.47, 1.5], [0.04, 0.8, 0.6], -math.pi / 2, support="wall",
                    against="wall_2", has_front=True, attributes={"color": "green"}),
    ]
    views = [_view([2.0, -1.5, 1.5], [0.0, 0.0, 0.5]), _view([-1.0, -2.0, 1.6], [0.0, 1.0, 0.5])]
    views[1].id = "view_1"
    return SceneGraph(f"s{i:09d}", 0, Room("room", [6.0, 5.0, 2.8], walls), objs, views=views)


def test_plot_topdown_writes_png_of_expected_size_with_object_colours(tmp_path):
    out = plot_topdown([_scene(i) for i in range(4)], tmp_path / "grid.png", cols=3)
    assert out == tmp_path / "grid.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]  # no temporary file left
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape == (2 * PANEL_PX, 3 * PANEL_PX, 3)
    # The red table's footprint is filled with the catalog's red (alpha 0.9 over the floor colour).
    floor = np.array([0xF4, 0xF1, 0xEA]) / 255.0
    for name in ("red", "blue"):
        want = 255.0 * (0.9 * np.array(linear_to_srgb(load_catalog().colors[name])) + 0.1 * floor)
        close = np.all(np.abs(img.astype(float) - want) <= 2.0, axis=2)
        assert close.sum() > 500, name  # thousands of pixels per panel in practice
    # The empty fourth-row-slot panels (5th and 6th of a 2 x 3 grid) stay white.
    assert np.all(img[PANEL_PX + 50:-50, 2 * PANEL_PX + 50:-50] == 255)


def test_plot_topdown_single_scene_size_and_overwrite(tmp_path):
    p = tmp_path / "one.png"
    p.write_bytes(b"old")
    plot_topdown([_scene(0)], p)
    with Image.open(p) as im:
        assert im.size == (PANEL_PX, PANEL_PX)


def test_plot_topdown_bad_input(tmp_path):
    with pytest.raises(ValueError, match="scenes is empty"):
        plot_topdown([], tmp_path / "x.png")
    with pytest.raises(ValueError, match="cols"):
        plot_topdown([_scene(0)], tmp_path / "x.png", cols=0)
    with pytest.raises(ValueError, match="does not exist"):
        plot_topdown([_scene(0)], tmp_path / "missing" / "x.png")


def test_labels_of_a_cluttered_table_do_not_overlap():
    # 14 small things on one 1.2 x 0.8 m table: their labels, measured by matplotlib's renderer
    # (not the placement's own size estimate), do not overlap, and the moved ones get leader lines.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from engine.viewer.topdown import PANEL_INCHES, _draw_scene

    scene = _scene(0)
    scene.objects = scene.objects[:1]
    xs, ys = np.meshgrid(np.linspace(-0.45, 0.45, 7), [-0.2, 0.2])
    for k, (x, y) in enumerate(zip(xs.ravel(), ys.ravel())):
        scene.objects.append(SceneObject(f"obj_{k + 1:02d}", k + 2, "mug", [float(x), float(y), 0.8], [0.1, 0.1, 0.1],
                                         0.0, support="on:obj_00", attributes={"color": "white"}))
    fig = Figure(figsize=(PANEL_INCHES, PANEL_INCHES), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.subplots()
    _draw_scene(ax, scene, load_catalog().colors)
    fig.tight_layout()
    canvas.draw()
    r = canvas.get_renderer()
    boxes = [t.get_window_extent(r) for t in ax.texts if t.get_text()]
    assert len(boxes) == len(scene.objects) + len(scene.views)
    hits = [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]
    assert hits == []
    grey_lines = [ln for ln in ax.lines if ln.get_color() == "#555555" and ln.get_marker() in ("None", None, "")]
    assert len(grey_lines) >= 10  # at most a few of the 14 mug labels fit on their own mug
