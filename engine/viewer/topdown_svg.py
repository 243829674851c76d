"""A small top-down SVG of one scene for the gallery: the referenced objects and the row's cameras
highlighted, labels placed without overlaps (leader lines where moved).

World frame: metres, +Z up; the plot is the floor plane (x right, y up) seen from above, drawn at
``px_per_m`` pixels per metre with SVG's y axis flipped. Drawn as text (no matplotlib): about a
millisecond per plot, so a gallery of thousands of rows gets one per row.
"""

from __future__ import annotations

from html import escape

import numpy as np

from engine.geometry.boxes import boxes_corners
from engine.scene.graph import SceneGraph
from engine.viewer.labels import leader_segment, place_labels
from engine.viewer.topdown import _CAMERA_COLORS, _FALLBACK_RGB, _label, frustum_rays_xy, linear_to_srgb

SIZE_PX = 340           # the longer side of the plot, pixels
FONT_PX = 8.5
CHAR_EM = 0.64          # mean advance of a bold sans-serif character, in em (a margin included)
HIGHLIGHT = "#ff7f0e"


def _hex(rgb) -> str:
    return "#" + "".join(f"{int(round(255 * c)):02x}" for c in rgb)


def topdown_svg(scene: SceneGraph, refs: list[str] = (), views: list[str] = (), colors: dict | None = None) -> str:
    """The SVG text of ``scene`` seen from above: :func:`highlight` of :func:`topdown_base`.

    Args:
        scene: the scene record.
        refs: ids of the objects to highlight (orange outline, bold orange label).
        views: ids of the views to highlight (their cameras coloured with frustum and heading; the
            other views' cameras grey).
        colors: the catalog colour table (linear RGB in [0, 1] by colour name); grey when missing.

    Returns:
        An ``<svg>`` element, SIZE_PX pixels on its longer side; each object's footprint is a
        ``<polygon data-obj="obj_XX">`` and its label a ``<text data-obj="obj_XX">``; highlighted
        ones carry ``class="ref"`` and ``class="reflab"``.
    """
    return highlight(topdown_base(scene, views, colors), refs)


def highlight(svg: str, refs: list[str]) -> str:
    """``svg`` (from :func:`topdown_base`) with the footprints and labels of the objects ``refs``
    highlighted (a string edit: the plot's layout is the same for every row of a view)."""
    for oid in refs:
        a = escape(oid)
        svg = svg.replace(f'<polygon data-obj="{a}" ', f'<polygon data-obj="{a}" class="ref" ', 1)
        svg = svg.replace(f'<text class="lab" data-obj="{a}"', f'<text class="reflab" data-obj="{a}"', 1)
    return svg


def topdown_base(scene: SceneGraph, views: list[str] = (), colors: dict | None = None) -> str:
    """The top-down SVG of ``scene`` with the cameras of ``views`` highlighted and no object
    highlighted (see :func:`topdown_svg`); labels are sized for the bold highlighted style, so
    that highlighting never makes two overlap."""
    colors = colors or {}
    views = list(views)
    sx, sy = float(scene.room.size[0]), float(scene.room.size[1])
    pts = [np.array([[-sx / 2, -sy / 2], [sx / 2, sy / 2]])] + [v.position[None, :2] for v in scene.views]
    lo, hi = np.min(np.vstack(pts), axis=0) - 0.3, np.max(np.vstack(pts), axis=0) + 0.3
    s = SIZE_PX / float(max(hi - lo))
    w, h = (hi - lo) * s

    def xy(p) -> np.ndarray:
        p = np.asarray(p, float)[..., :2]
        return np.stack([(p[..., 0] - lo[0]) * s, (hi[1] - p[..., 1]) * s], axis=-1)

    def poly(ring) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in xy(ring))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" '
           f'viewBox="0 0 {w:.1f} {h:.1f}" font-family="sans-serif">',
           '<style>text{font-size:%spx}.ref{stroke:%s;stroke-width:3}.reflab{font-weight:bold;fill:#b34700}'
           '</style>' % (FONT_PX, HIGHLIGHT)]
    r0, r1 = xy([-sx / 2, sy / 2]), xy([sx / 2, -sy / 2])
    dash = ' stroke-dasharray="4 3"' if scene.room.type == "open" or not scene.room.walls else ""
    out.append(f'<rect x="{r0[0]:.1f}" y="{r0[1]:.1f}" width="{r1[0] - r0[0]:.1f}" height="{r1[1] - r0[1]:.1f}" '
               f'fill="#f4f1ea" stroke="#888"{dash}/>')
    for wl in scene.room.walls:
        a, b = xy(wl.start), xy(wl.end)
        out.append(f'<line x1="{a[0]:.1f}" y1="{a[1]:.1f}" x2="{b[0]:.1f}" y2="{b[1]:.1f}" stroke="#444" '
                   'stroke-width="4" stroke-linecap="square"/>')
    # cameras: frusta under the objects, markers on top
    cams = []
    for i, v in enumerate(scene.views):
        on = v.id in views
        col = _CAMERA_COLORS[i % len(_CAMERA_COLORS)] if on else "#9a9a9a"
        o, left, right = (xy(p) for p in frustum_rays_xy(v))
        out.append(f'<polygon points="{o[0]:.1f},{o[1]:.1f} {left[0]:.1f},{left[1]:.1f} {right[0]:.1f},'
                   f'{right[1]:.1f}" fill="{col}" fill-opacity="{0.16 if on else 0.05}" stroke="{col}" '
                   f'stroke-opacity="{0.9 if on else 0.4}"/>')
        cams.append((v, o, col, on))
    by_id = {o.id: o for o in scene.objects}
    labels = []  # (anchor px, text, object id or None)
    # object rotations are about +Z only (SceneObject.rotation): the footprint is the bottom face
    objs = list(scene.objects)
    corners = boxes_corners(np.array([o.center for o in objs], float).reshape(-1, 3),
                            np.array([o.size for o in objs], float).reshape(-1, 3),
                            np.array([o.rotation for o in objs], float).reshape(-1, 3, 3))
    rings = {o.id: corners[k][[0, 4, 6, 2], :2] for k, o in enumerate(objs)}
    bottom = {o.id: float(corners[k][:, 2].min()) for k, o in enumerate(objs)}
    for o in sorted(objs, key=lambda o: (bottom[o.id], o.id)):
        ring = rings[o.id]
        face = _hex(linear_to_srgb(colors.get(o.attributes.get("color"), _FALLBACK_RGB)))
        on = by_id.get(o.supported_by) if o.supported_by else None
        if on is not None:  # standing on another object: shadow, double outline, dotted link
            out.append(f'<polygon points="{poly(ring + [0.035, -0.035])}" fill="#000" fill-opacity="0.35"/>')
        out.append(f'<polygon data-obj="{escape(o.id)}" points="{poly(ring)}" fill="{face}" fill-opacity="0.92" '
                   f'stroke="#111" stroke-width="{1.8 if on else 0.7}"'
                   + (' stroke-dasharray="2 1.5"' if o.on_wall else "") + '/>')
        if on is not None:
            a, b = xy(o.center), xy(on.center)
            out.append(f'<polygon points="{poly(ring)}" fill="none" stroke="#fff" stroke-width="0.8" '
                       'stroke-dasharray="2 1.5"/>')
            out.append(f'<line x1="{a[0]:.1f}" y1="{a[1]:.1f}" x2="{b[0]:.1f}" y2="{b[1]:.1f}" stroke="#333" '
                       'stroke-width="0.8" stroke-dasharray="1 2"/>')
        text = _label(o) + (f" on {_label(on).rsplit(' ', 1)[-1]}" if on else "")
        labels.append((xy(o.center), text, o.id))
    for v, o, col, on in cams:
        fwd = np.asarray(v.cam_to_world, dtype=float)[:2, 2]
        n = float(np.linalg.norm(fwd))
        if n > 1e-9:
            tip = xy(v.position[:2] + fwd / n * 0.5)
            out.append(f'<line x1="{o[0]:.1f}" y1="{o[1]:.1f}" x2="{tip[0]:.1f}" y2="{tip[1]:.1f}" stroke="{col}" '
                       'stroke-width="2"/>')
        out.append(f'<circle cx="{o[0]:.1f}" cy="{o[1]:.1f}" r="{5 if on else 3.5}" fill="{col}" stroke="#000"/>')
        if on:
            labels.insert(0, (o + [0, 12], v.id, None))
    sizes = np.array([[CHAR_EM * FONT_PX * len(t) + 3, FONT_PX + 3] for _, t, _ in labels]).reshape(-1, 2)
    # camera markers and every object's centre stay visible (a label may cover its own object's centre)
    fixed = [[o[0] - 6, o[1] - 6, o[0] + 6, o[1] + 6] for _, o, _, _ in cams]
    owner = [-1] * len(fixed)
    for k, (a, _, oid) in enumerate(labels):
        if oid:
            fixed.append([a[0] - 2.5, a[1] - 2.5, a[0] + 2.5, a[1] + 2.5])
            owner.append(k)
    centres, moved = place_labels(np.array([a for a, _, _ in labels]).reshape(-1, 2), sizes, bounds=[0, 0, w, h],
                                  fixed=fixed, pad=1.0, fixed_owner=owner)
    for (anchor, text, oid), c, mv, sz in zip(labels, centres, moved, sizes):
        if mv:
            a, b = leader_segment(anchor, c, sz)
            out.append(f'<line x1="{a[0]:.1f}" y1="{a[1]:.1f}" x2="{b[0]:.1f}" y2="{b[1]:.1f}" stroke="#555" '
                       'stroke-width="0.7"/>')
        out.append(f'<rect x="{c[0] - sz[0] / 2:.1f}" y="{c[1] - sz[1] / 2:.1f}" width="{sz[0]:.1f}" '
                   f'height="{sz[1]:.1f}" fill="#fff" fill-opacity="0.8"/>')
        tag = f'class="lab" data-obj="{escape(oid)}"' if oid else 'class="reflab"'  # a highlighted camera: bold
        out.append(f'<text {tag} x="{c[0]:.1f}" y="{c[1]:.1f}" text-anchor="middle" '
                   f'dominant-baseline="central">{escape(text)}</text>')
    out.append("</svg>")
    return "\n".join(out)
