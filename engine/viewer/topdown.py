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

PANEL_INCHES = 6.0
DPI = 100
PANEL_PX = int(PANEL_INCHES * DPI)  # each panel is PANEL_PX x PANEL_PX pixels
RAY_LENGTH_M = 3.0
_FALLBACK_RGB = (0.6, 0.6, 0.6)
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
    supports = {o.supported_by for o in scene.objects if o.supported_by}
    # Lower objects first so that things standing on others are drawn on top of them.
    order = sorted(scene.objects, key=lambda o: (o.box.z_range[0], o.id))
    for o in order:
        box = o.box
        ring = np.asarray(box.footprint().exterior.coords)[:, :2]
        face = linear_to_srgb(colors.get(o.attributes.get("color"), _FALLBACK_RGB))
        wall = o.on_wall
        on = by_id.get(o.supported_by) if o.supported_by else None
        ax.add_patch(PolygonPatch(
            ring, closed=True, facecolor=face, alpha=0.9, zorder=3 if (on or wall) else 2,
            edgecolor="#111111" if not on else "white", linewidth=1.6 if on else 0.8,
            hatch="////" if wall else None,
        ))
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
        if o.id in supports:  # keep the support's label clear of the labels of what stands on it
            cy -= 0.3 * float(np.ptp(ring[:, 1]))
        ax.text(cx, cy, text, fontsize=6, ha="center", va="center", zorder=6,
                bbox=dict(boxstyle="round,pad=0.15", facecolor="white", alpha=0.7, linewidth=0))

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
        h = float(np.asarray(v.cam_to_world, dtype=float)[2, 3])
        ax.text(origin[0], origin[1] - 0.18, f"{v.id} (z {h:.1f} m)", fontsize=7, color=col, ha="center",
                va="top", fontweight="bold", zorder=9)

    pts = [np.array([[-sx / 2, -sy / 2], [sx / 2, sy / 2]])] + [v.position[None, :2] for v in scene.views]
    lo, hi = np.min(np.vstack(pts), axis=0) - 0.4, np.max(np.vstack(pts), axis=0) + 0.4
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.grid(True, linewidth=0.3, alpha=0.5)
    ax.set_title(f"{scene.scene_id} ({scene.room.type}, {sx:.2f} x {sy:.2f} m): "
                 f"{len(scene.objects)} objects, {len(scene.views)} views", fontsize=9)


def plot_topdown(scenes: list[SceneGraph], path: str | Path, cols: int = 3) -> Path:
    """Draw one top-down panel per scene and write a PNG atomically.

    Each panel shows the room outline and walls, each object's oriented footprint filled with
    its ``attributes["color"]`` (catalog colour table, shown in sRGB), a label (category + id
    number), supported objects outlined in white and linked to their support's centre by a
    dotted line, wall-mounted objects hatched, front arrows for objects with a front, and every
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
