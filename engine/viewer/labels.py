"""Label placement without overlaps for plots (the top-down plots of topdown.py and topdown_svg.py).

Labels are axis-aligned rectangles in any 2D unit (metres of a plot, SVG pixels). Each label
wants to sit centred on its anchor; :func:`place_labels` places them greedily, in the order given
(put the important ones first), at the first candidate position whose rectangle overlaps no label
placed before it and no fixed rectangle (markers the labels must not hide), inside the bounds.
Candidates are the anchor itself, then rings of 16 directions at growing distances. A label that
ends away from its anchor needs a leader line (:func:`leader_segment`).
"""

from __future__ import annotations

import numpy as np

RING_DIRECTIONS = 16


def place_labels(anchors, sizes, bounds=None, fixed=None, step: float | None = None, rings: int = 10,
                 pad: float = 0.0, fixed_owner=None) -> tuple[np.ndarray, np.ndarray]:
    """Centres for labels so that no two overlap.

    Args:
        anchors: (N, 2) the point each label describes (x, y), any unit.
        sizes: (N, 2) each label's width and height, same unit.
        bounds: optional [x0, y0, x1, y1]: labels are kept inside when a position inside exists.
        fixed: optional (M, 4) rectangles [x0, y0, x1, y1] no label may cover (markers, other text).
        step: ring spacing; default the median label height.
        rings: how many rings of candidates to try before taking the least-overlapping one.
        pad: extra space kept between labels, same unit.
        fixed_owner: optional (M,) ints: the label that may cover each fixed rectangle (its own
            object's marker), -1 for none.

    Returns:
        centres (N, 2) and moved (N,) bool: True where the label is not on its anchor (draw a
        leader). Labels are placed in input order; when every candidate overlaps something, the
        one with the least overlap area is taken (so the result never fails; it is overlap-free
        whenever a free candidate exists).
    """
    anchors = np.asarray(anchors, dtype=float).reshape(-1, 2)
    sizes = np.asarray(sizes, dtype=float).reshape(-1, 2)
    n = len(anchors)
    centres, moved = anchors.copy(), np.zeros(n, bool)
    if n == 0:
        return centres, moved
    step = float(np.median(sizes[:, 1])) if step is None else float(step)
    ang = np.linspace(0, 2 * np.pi, RING_DIRECTIONS, endpoint=False)
    unit = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    fixed = np.asarray(fixed if fixed is not None else [], dtype=float).reshape(-1, 4)
    owner = np.full(len(fixed), -1) if fixed_owner is None else np.asarray(fixed_owner, int).reshape(-1)
    placed: list[np.ndarray] = []
    for i in range(n):
        half = sizes[i] / 2 + pad / 2
        cands = [anchors[i]] + [anchors[i] + unit * np.array([r * step + half[0] * 0.5, r * step])
                                for r in range(1, rings + 1)]
        cands = np.vstack(cands)
        rects = np.hstack([cands - half, cands + half])
        if bounds is not None:
            b = np.asarray(bounds, dtype=float)
            inside = (rects[:, 0] >= b[0]) & (rects[:, 1] >= b[1]) & (rects[:, 2] <= b[2]) & (rects[:, 3] <= b[3])
        else:
            inside = np.ones(len(rects), bool)
        others = np.vstack([fixed[owner != i], np.array(placed).reshape(-1, 4)])
        # overlap area of every candidate with every placed rectangle, (K, M), in one pass
        w = np.minimum(rects[:, None, 2], others[None, :, 2]) - np.maximum(rects[:, None, 0], others[None, :, 0])
        h = np.minimum(rects[:, None, 3], others[None, :, 3]) - np.maximum(rects[:, None, 1], others[None, :, 1])
        cost = (np.clip(w, 0, None) * np.clip(h, 0, None)).sum(axis=1) + np.where(inside, 0.0, 1e6)
        free = np.flatnonzero(cost == 0.0)
        best = int(free[0]) if len(free) else int(np.argmin(cost))
        centres[i] = cands[best]
        moved[i] = best != 0
        placed.append(rects[best] + np.array([pad / 2, pad / 2, -pad / 2, -pad / 2]))
    return centres, moved


def leader_segment(anchor, centre, size) -> tuple[np.ndarray, np.ndarray]:
    """The leader line of a moved label: from ``anchor`` (2,) to the nearest point of the label's
    rectangle (centre (2,), size (2,) width and height), same units. Returns (start, end)."""
    a, c, h = (np.asarray(x, dtype=float) for x in (anchor, centre, size))
    h = h / 2
    return a, np.clip(a, c - h, c + h)


def rects_overlap(centres, sizes, tol: float = 1e-9) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, of labels (centres (N, 2), sizes (N, 2)) whose rectangles overlap by
    more than ``tol`` in both axes (touching edges do not count)."""
    c, s = np.asarray(centres, float).reshape(-1, 2), np.asarray(sizes, float).reshape(-1, 2) / 2
    out = []
    for i in range(len(c)):
        dx = np.abs(c[i + 1:, 0] - c[i, 0]) < s[i + 1:, 0] + s[i, 0] - tol
        dy = np.abs(c[i + 1:, 1] - c[i, 1]) < s[i + 1:, 1] + s[i, 1] - tol
        out += [(i, i + 1 + int(j)) for j in np.flatnonzero(dx & dy)]
    return out
