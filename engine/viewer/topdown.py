"""Top-down plots of scenes: room, object footprints, supports, fronts and cameras (matplotlib, Agg).

World frame: metres, +Z up; the plot shows the floor plane (x right, y up) seen from above.
"""

from __future__ import annotations

import math
import io
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Polygon as PolygonPatch
from matplotlib.patches import Rectangle

from engine.atomic import atomic_write_bytes
from engine.scene.catalog import load_catalog
from engine.scene.graph import SceneGraph, SceneObject, View
from engine.viewer.labels import leader_segment, place_labels

PANEL_INCHES = 6.0
DPI = 100
PANEL_PX = int(PANEL_INCHES * DPI)  # each panel is PANEL_PX x PANEL_PX pixels
RAY_LENGTH_M = 3.0
_FALLBACK_RGB = (0.6, 0.6, 0.6)
OBJECT_FONT_PT, CAMERA_FONT_PT = 6.0, 7.0
CHAR_WIDTH_EM = 0.62  # DejaVu Sans: mean advance of lower-case letters and digits, in em (a margin included)
LABEL_PAD_PT = 1.0
STACK_SHADOW_M = np.array([0.04, -0.04])  # the drop shadow under an object standing on another
_CAMERA_COLORS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#e377c2", "#8c564b")


def frustum_rays_xy(view: View, length: float = RAY_LENGTH_M) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The horizontal extent of a view's frustum, seen from above.

    The rays through the left and right image edges (u = -0.5 and u = width - 0.5) on the
    principal row (v = cy) are projected onto the floor plane and cut to ``length`` metres.

    Returns:
        origin (2,): camera x, y; left_end (2,), right_end (2,): ray ends in world x, y (metres).
        "Left" is the image's left edge. With roll 0 the rays always have a horizontal part
        (even looking straight down); if one has none its end is the origin.
    """
    K = np.asarray(view.K, dtype=float)
    pose = np.asarray(view.cam_to_world, dtype=float)
    origin = pose[:2, 3].copy()
    ends = []
    for u in (-0.5, view.width - 0.5):
        d_cam = np.array([(u - K[0, 2]) / K[0, 0], 0.0, 1.0])
        d_xy = (pose[:3, :3] @ d_cam)[:2]
        n = float(np.linalg.norm(d_xy))
        ends.append(origin + (d_xy / n * length if n > 1e-9 else 0.0))
    return origin, ends[0], ends[1]


def linear_to_srgb(rgb) -> tuple[float, float, float]:
    """Linear RGB in [0, 1] (the catalog colour table) to display sRGB in [0, 1]."""
    c = np.clip(np.asarray(rgb, dtype=float), 0.0, 1.0)
    s = np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(c, 1 / 2.4) - 0.055)
    return tuple(float(x) for x in s)


def _label(obj: SceneObject) -> str:
    num = obj.id.rsplit("_", 1)[-1].lstrip("0") or "0"
    return f"{obj.category.replace('_', ' ')} {num}"


def _draw_scene(ax, scene: SceneGraph, colors: dict) -> None:
    sx, sy = float(scene.room.size[0]), float(scene.room.size[1])
    open_plane = scene.room.type == "open" or not scene.room.walls
    ax.add_patch(Rectangle((-sx / 2, -sy / 2), sx, sy, facecolor="#f4f1ea", edgecolor="#888888",
                           linestyle="--" if open_plane else "-", linewidth=1.0, zorder=0))
    for w in scene.room.walls:
        ax.plot([w.start[0], w.end[0]], [w.start[1], w.end[1]], color="#444444", linewidth=3.5,
                solid_capstyle="projecting", zorder=1)

    by_id = {o.id: o for o in scene.objects}
    labels: list[tuple[np.ndarray, str, dict]] = []  # (anchor x, y; text; text style)
    # Lower objects first so that things standing on others are drawn on top of them.
    order = sorted(scene.objects, key=lambda o: (o.box.z_range[0], o.id))
    for o in order:
        box = o.box
        ring = np.asarray(box.footprint().exterior.coords)[:, :2]
        face = linear_to_srgb(colors.get(o.attributes.get("color"), _FALLBACK_RGB))
        wall = o.on_wall
        on = by_id.get(o.supported_by) if o.supported_by else None
        if on is not None:  # standing on another object: a drop shadow and a double outline
            ax.add_patch(PolygonPatch(ring + STACK_SHADOW_M, closed=True, facecolor="#000000", alpha=0.35,
                                      edgecolor="none", zorder=2.8))
        ax.add_patch(PolygonPatch(
            ring, closed=True, facecolor=face, alpha=0.95 if on else 0.9, zorder=3 if (on or wall) else 2,
            edgecolor="#111111", linewidth=2.4 if on else 0.8, hatch="////" if wall else None,
        ))
        if on is not None:
            ax.add_patch(PolygonPatch(ring, closed=True, facecolor="none", edgecolor="white", linewidth=0.9,
                                      linestyle=(0, (2, 1.5)), zorder=3.1))
        cx, cy = box.center[:2]
        if on is not None:  # link a supported object to its support's centre
            ax.plot([cx, on.center[0]], [cy, on.center[1]], color="#333333", linewidth=0.8, linestyle=":",
                    zorder=4)
            ax.plot([on.center[0]], [on.center[1]], marker="o", markersize=2.5, color="#333333", zorder=4)
        if o.has_front:
            L = 0.25 + 0.3 * float(o.size[0])
            f = o.front[:2]
            ax.annotate("", xy=(cx + f[0] * L, cy + f[1] * L), xytext=(cx, cy), zorder=5,
                        arrowprops=dict(arrowstyle="->", color="black", linewidth=1.0))
        text = _label(o) + (" [wall]" if wall else "") + (f" on {_label(on).rsplit(' ', 1)[-1]}" if on else "")
        labels.append((np.array([cx, cy]), text, dict(fontsize=OBJECT_FONT_PT)))

    markers = []
    for i, v in enumerate(scene.views):
        col = _CAMERA_COLORS[i % len(_CAMERA_COLORS)]
        origin, left, right = frustum_rays_xy(v)
        for end in (left, right):
            ax.plot([origin[0], end[0]], [origin[1], end[1]], color=col, linewidth=1.0, alpha=0.8, zorder=7)
        ax.add_patch(PolygonPatch(np.array([origin, left, right]), closed=True, facecolor=col, alpha=0.08,
                                  edgecolor="none", zorder=1.5))
        fwd = np.asarray(v.cam_to_world, dtype=float)[:2, 2]
        n = float(np.linalg.norm(fwd))
        if n > 1e-9:
            ax.annotate("", xy=tuple(origin + fwd / n * 0.5), xytext=tuple(origin), zorder=8,
                        arrowprops=dict(arrowstyle="-|>", color=col, linewidth=1.5))
        ax.plot([origin[0]], [origin[1]], marker="o", markersize=6, color=col, markeredgecolor="black", zorder=9)
        markers.append(origin)
        h = float(np.asarray(v.cam_to_world, dtype=float)[2, 3])
        labels.insert(i, (origin - np.array([0.0, 0.3]), f"{v.id} (z {h:.1f} m)",
                          dict(fontsize=CAMERA_FONT_PT, color=col, fontweight="bold")))

    pts = [np.array([[-sx / 2, -sy / 2], [sx / 2, sy / 2]])] + [v.position[None, :2] for v in scene.views]
    lo, hi = np.min(np.vstack(pts), axis=0) - 0.4, np.max(np.vstack(pts), axis=0) + 0.4
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    _draw_labels(ax, labels, markers, (lo[0], lo[1], hi[0], hi[1]))
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.grid(True, linewidth=0.3, alpha=0.5)
    ax.set_title(f"{scene.scene_id} ({scene.room.type}, {sx:.2f} x {sy:.2f} m): "
                 f"{len(scene.objects)} objects, {len(scene.views)} views", fontsize=9)


def text_size(text: str, fontsize_pt: float, scale: float) -> np.ndarray:
    """Estimated (width, height) of one line of ``text`` in DejaVu Sans at ``fontsize_pt`` points,
    in data units, where ``scale`` is data units per point (plus the label's box padding)."""
    return np.array([CHAR_WIDTH_EM * fontsize_pt * len(text) + 2 * LABEL_PAD_PT,
                     1.25 * fontsize_pt + 2 * LABEL_PAD_PT]) * scale


def _draw_labels(ax, labels: list, markers: list, bounds: tuple) -> None:
    """Place the labels (:func:`engine.viewer.labels.place_labels`) in the axes' data units with
    the camera markers kept clear, and draw them with leader lines where moved."""
    fig_w_in = ax.figure.get_size_inches()[0] * ax.get_position().width
    aspect = ax.get_position().height * ax.figure.get_size_inches()[1] / fig_w_in
    span_x, span_y = bounds[2] - bounds[0], bounds[3] - bounds[1]
    # equal aspect: the axes box is fitted to the data, the larger relative span decides the scale
    scale = max(span_x, span_y / aspect) / (fig_w_in * 72.0)  # data units per point
    sizes = np.array([text_size(t, st["fontsize"], scale) for _, t, st in labels])
    anchors = np.array([a for a, _, _ in labels])
    # camera markers and every object's centre stay visible (a label may cover its own object's centre)
    m, c = 4.0 * scale, 3.0 * scale
    fixed = [[p[0] - m, p[1] - m, p[0] + m, p[1] + m] for p in markers]
    owner = [-1] * len(fixed)
    for k, (a, _, st) in enumerate(labels):
        if st.get("color") is None:  # an object's label
            fixed.append([a[0] - c, a[1] - c, a[0] + c, a[1] + c])
            owner.append(k)
    centres, moved = place_labels(anchors, sizes, bounds=bounds, fixed=fixed, pad=1.0 * scale, fixed_owner=owner)
    for (anchor, text, style), c, mv, sz in zip(labels, centres, moved, sizes):
        if mv:
            a, b = leader_segment(anchor, c, sz)
            ax.plot([a[0], b[0]], [a[1], b[1]], color="#555555", linewidth=0.6, zorder=5.5)
            ax.plot([a[0]], [a[1]], marker="o", markersize=1.8, color="#555555", zorder=5.5)
        ax.text(c[0], c[1], text, ha="center", va="center", zorder=6,
                bbox=dict(boxstyle=f"square,pad={LABEL_PAD_PT / style['fontsize']:.3f}", facecolor="white",
                          alpha=0.8, linewidth=0), **style)


def plot_topdown(scenes: list[SceneGraph], path: str | Path, cols: int = 3) -> Path:
    """Draw one top-down panel per scene and write a PNG atomically.

    Each panel shows the room outline and walls, each object's oriented footprint filled with
    its ``attributes["color"]`` (catalog colour table, shown in sRGB), a label (category + id
    number) placed without overlapping another label or a camera marker (moved labels get a
    leader line to their object; :mod:`engine.viewer.labels`), objects standing on others drawn
    with a drop shadow, a thick dark and a dashed white outline and linked to their support's
    centre by a dotted line, wall-mounted objects hatched, front arrows for objects with a front, and every
    camera: its position, heading arrow and the frustum's horizontal extent (rays to 3 m,
    :func:`frustum_rays_xy`), labelled with the view id and height. Axes in metres, equal
    aspect.

    Args:
        scenes: scene graphs to draw (at least one).
        path: the PNG to write; its folder must exist.
        cols: panels per row (>= 1).

    Returns:
        The written path. The image is min(cols, n) * PANEL_PX wide and ceil(n / cols) * PANEL_PX
        tall (PANEL_PX = 600 pixels).
    """
    if not scenes:
        raise ValueError("plot_topdown: scenes is empty; fix: pass at least one SceneGraph")
    if not isinstance(cols, int) or cols < 1:
        raise ValueError(f"plot_topdown: cols must be a positive integer, got {cols!r}")
    path = Path(path)
    if not path.parent.is_dir():
        raise ValueError(f"plot_topdown: folder {path.parent} does not exist; fix: create it first")
    colors = load_catalog().colors
    n = len(scenes)
    ncols, nrows = min(cols, n), math.ceil(n / cols)
    fig = Figure(figsize=(ncols * PANEL_INCHES, nrows * PANEL_INCHES), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            _draw_scene(ax, scenes[i], colors)
        else:
            ax.set_axis_off()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    atomic_write_bytes(path, buf.getvalue())
    return path
