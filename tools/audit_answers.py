#!/usr/bin/env python
"""Independent answer audit: re-derive every answer it can from the stored scene records.

    python tools/audit_answers.py DATASET [--json report.json] [--show 5] [--limit N]

DATASET is a folder written by ``spatialforge generate`` (``data/<split>-*.parquet`` plus
``config.yaml``). For each QA row the audit reads the row's scene record (the ``scene`` column:
room, objects with their boxes, views with intrinsics, extrinsics and per-object visibility),
recomputes the answer with its own geometry, written from docs/conventions.md, docs/record.md,
docs/qa.md, docs/qa_families.md and the templates (docs/audit.md lists every definition used),
and compares it with the stored answer. It imports nothing from ``engine``: the dataset is read
with pyarrow and json, the config and templates with yaml, and all geometry is numpy here.

Per task it reports rows checked, rows skipped (task not covered, or the truth needs data the
record lacks), disagreements (row id, stored answer, the audit's answer), the closest margin
(how near the deciding quantity came to the point where the answer flips: metres, degrees,
pixels, a visible fraction...), the largest numeric error of open numeric answers, and
margin-rule violations (rows the docs say are never asked: a deciding quantity inside its
template margin). Exit code 1 when any row disagrees (or is internally inconsistent: answer
text, letter and value that do not match), else 0.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow.parquet as pq
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLUMNS = ["id", "scene_id", "view_ids", "family", "task", "template_id", "question", "answer", "answer_type",
           "choices", "answer_index", "value", "unit", "objects", "marks", "meta", "frame", "scene"]
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
UNIT_WORDS = {"m": "m", "m2": "square meters", "deg": "degrees"}
# Map letters: A-Z then a-z without v (v is the south-facing camera arrow), docs/qa_families.md.
MAP_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "abcdefghijklmnopqrstuwxyz"
COMPASS = ("east", "north-east", "north", "north-west", "west", "south-west", "south", "south-east")
# relations.direction8: clockwise from the camera heading, 45-degree sectors (docs/qa.md).
DIR8 = ("farther away", "farther away and to the right", "to the right", "closer and to the right",
        "closer to the camera", "closer and to the left", "to the left", "farther away and to the left")
UNKNOWN = "cannot be determined from this view"


class Skip(Exception):
    """The row cannot be re-derived (reason in the message)."""


@dataclass
class Result:
    status: str                       # ok | disagree | skip
    mine: object = None               # the audit's answer
    margin: float | None = None       # distance of the deciding quantity from where the answer flips
    err: float | None = None          # |audit value - stored value| of open numeric answers
    gate: float | None = None         # slack of the template's margin rule (< 0: inside the margin)
    gate_what: str = ""
    note: str = ""


# --------------------------------------------------------------------------------------------
# Record model


@dataclass
class Obj:
    id: str
    category: str
    attributes: dict
    c: np.ndarray          # centre (3,)
    s: np.ndarray          # full extents along local x (depth), y (width), z (height)
    R: np.ndarray          # local-to-world rotation (3, 3)
    support: str
    against: str | None
    has_front: bool

    @property
    def zmin(self) -> float:
        return float(self.c[2] - self.s[2] / 2)

    @property
    def zmax(self) -> float:
        return float(self.c[2] + self.s[2] / 2)

    @property
    def volume(self) -> float:
        return float(np.prod(self.s))

    @property
    def supporter(self) -> str | None:
        return self.support[3:] if self.support.startswith("on:") else None

    def rect(self) -> np.ndarray:
        """(4, 2) floor footprint corners, counter-clockwise."""
        hx, hy = self.s[0] / 2, self.s[1] / 2
        loc = np.array([[hx, hy], [-hx, hy], [-hx, -hy], [hx, -hy]])
        return self.c[:2] + loc @ self.R[:2, :2].T

    def corners(self) -> np.ndarray:
        """(8, 3) box corners in the world."""
        sg = np.array([[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], dtype=float)
        return self.c + (sg * self.s / 2) @ self.R.T


@dataclass
class View:
    id: str
    K: np.ndarray
    pose: np.ndarray       # cam_to_world (OpenCV: +x right, +y down, +z forward)
    W: int
    H: int
    near: float
    info: dict             # per object id: the record's visibility fields

    @property
    def pos(self) -> np.ndarray:
        return self.pose[:3, 3]

    def to_cam(self, p, pose=None) -> np.ndarray:
        P = self.pose if pose is None else pose
        return (np.asarray(p, float) - P[:3, 3]) @ P[:3, :3]

    def project(self, pc) -> np.ndarray:
        pc = np.asarray(pc, float)
        return np.stack([self.K[0, 0] * pc[..., 0] / pc[..., 2] + self.K[0, 2],
                         self.K[1, 1] * pc[..., 1] / pc[..., 2] + self.K[1, 2]], axis=-1)

    def heading(self, pose=None) -> float:
        """Optical axis on the floor plane, radians counter-clockwise from +x."""
        f = (self.pose if pose is None else pose)[:3, 2]
        if math.hypot(f[0], f[1]) < 1e-6:
            raise Skip("camera looks straight up or down: no heading")
        return math.atan2(f[1], f[0])

    def pitch_deg(self) -> float:
        f = self.pose[:3, 2]
        return math.degrees(math.asin(max(-1.0, min(1.0, f[2] / np.linalg.norm(f)))))

    def f(self, oid: str, key: str, default=0):
        v = self.info.get(oid, {}).get(key)
        return default if v is None else v

    def shows(self, oid: str) -> bool:
        return self.f(oid, "visible_pixels", 0) > 0

    def visible(self, oid: str, th: tuple) -> bool:
        """Visible enough (docs/qa.md): fraction, pixels (at least 1) and in-frame share."""
        fr, px, inf = th
        info = self.info.get(oid, {})
        in_frame = info.get("in_frame_fraction", self._in_frame_default)
        return (float(info.get("visible_fraction") or 0.0) >= fr and int(info.get("visible_pixels") or 0) >= max(1, px)
                and float(in_frame or 0.0) >= inf)

    @property
    def _in_frame_default(self) -> float:
        # records written before the field existed count every object as in the frame
        return 0.0 if any("in_frame_fraction" in p for p in self.info.values()) else 1.0


class Scene:
    def __init__(self, rec: dict):
        self.rec = rec
        self.id = rec["scene_id"]
        room = rec["room"]
        self.room_type = room["type"]
        self.room_size = [float(x) for x in room["size"]]
        self.walls = room.get("walls") or []
        self.objects: dict[str, Obj] = {}
        self.order: list[str] = []
        for o in rec["objects"]:
            R = np.array(o["rotation"], dtype=float).reshape(3, 3)
            self.objects[o["id"]] = Obj(o["id"], o["category"], o.get("attributes") or {},
                                        np.array(o["center"], float), np.array(o["size"], float), R,
                                        o.get("support") or "floor", o.get("against"), bool(o.get("has_front")))
            self.order.append(o["id"])
        self.views: dict[str, View] = {}
        for v in rec["views"]:
            self.views[v["id"]] = View(v["id"], np.array(v["K"], float), np.array(v["cam_to_world"], float),
                                       int(v["width"]), int(v["height"]),
                                       float((v.get("params") or {}).get("near_m", 1e-3)), v.get("objects") or {})

    def chain(self, oid: str) -> list[str]:
        """What ``oid`` rests on, directly or through others (bottom last)."""
        out, cur = [], self.objects[oid].supporter
        while cur is not None and cur not in out and cur in self.objects:
            out.append(cur)
            cur = self.objects[cur].supporter
        return out


# --------------------------------------------------------------------------------------------
# Geometry (own implementations)


def wrap_deg(a: float) -> float:
    """Into (-180, 180]."""
    a = math.fmod(a, 360.0)
    if a <= -180.0:
        a += 360.0
    elif a > 180.0:
        a -= 360.0
    return a


def rz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def seg_point(p, a, b) -> float:
    d = b - a
    dd = float(d @ d)
    t = 0.0 if dd == 0 else min(1.0, max(0.0, float((p - a) @ d) / dd))
    return float(np.linalg.norm(a + t * d - p))


def convex_overlap(P: np.ndarray, Q: np.ndarray, tol: float = 0.0) -> bool:
    """Separating-axis test for two convex polygons (counter-clockwise vertex arrays)."""
    for poly in (P, Q):
        for k in range(len(poly)):
            e = poly[(k + 1) % len(poly)] - poly[k]
            n = np.array([-e[1], e[0]])
            pa, pb = P @ n, Q @ n
            if pa.max() < pb.min() - tol or pb.max() < pa.min() - tol:
                return False
    return True


def poly_dist(P: np.ndarray, Q: np.ndarray) -> float:
    """Distance between two convex polygons: 0 when they meet, else the least vertex-to-edge."""
    if convex_overlap(P, Q):
        return 0.0
    best = math.inf
    for A, B in ((P, Q), (Q, P)):
        for p in A:
            for k in range(len(B)):
                best = min(best, seg_point(p, B[k], B[(k + 1) % len(B)]))
    return best


def zgap(a: Obj, b: Obj) -> float:
    return max(0.0, b.zmin - a.zmax, a.zmin - b.zmax)


def gravity_aligned(o: Obj) -> bool:
    return abs(o.R[2, 2] - 1.0) < 1e-9 and abs(o.R[0, 2]) < 1e-9 and abs(o.R[1, 2]) < 1e-9


def box_dist(a: Obj, b: Obj) -> float:
    """Closest points of two gravity-aligned boxes: prisms (rectangle x interval), so the distance
    is hypot(footprint distance, z gap) exactly."""
    if not (gravity_aligned(a) and gravity_aligned(b)):
        raise Skip("a box is not gravity-aligned")
    return math.hypot(poly_dist(a.rect(), b.rect()), zgap(a, b))


def point_box(p, o: Obj) -> float:
    loc = (np.asarray(p, float) - o.c) @ o.R
    return float(np.linalg.norm(np.maximum(np.abs(loc) - o.s / 2, 0.0)))


def bearing_ccw(origin, forward, point) -> float:
    """Degrees, (-180, 180], > 0 = to the left, of ``point`` seen from ``origin`` facing ``forward``."""
    d = np.asarray(point, float)[:2] - np.asarray(origin, float)[:2]
    f = np.asarray(forward, float)[:2]
    if np.linalg.norm(d) < 1e-12 or np.linalg.norm(f) < 1e-12:
        raise Skip("zero-length bearing")
    return wrap_deg(math.degrees(math.atan2(d[1], d[0]) - math.atan2(f[1], f[0])))


def compass(dx: float, dy: float) -> tuple[str, float]:
    ang = math.degrees(math.atan2(dy, dx)) % 360.0
    k = int(round(ang / 45.0)) % 8
    off = wrap_deg(ang - 45.0 * k)
    return COMPASS[k], 22.5 - abs(off)


def clip_near(pc: np.ndarray, near: float) -> np.ndarray:
    """Vertices of a box (8 corners, camera frame) clipped at the plane z = near: the corners in
    front plus the crossings of its 12 edges; (0, 3) when nothing is in front."""
    keep = [p for p in pc if p[2] >= near]
    for i in range(8):
        for j in range(i + 1, 8):
            a, b = pc[i], pc[j]
            if bin(i ^ j).count("1") == 1 and (a[2] - near) * (b[2] - near) < 0:
                keep.append(a + (near - a[2]) / (b[2] - a[2]) * (b - a))
    return np.array(keep).reshape(-1, 3)


def frustum(view: View, o: Obj, pose: np.ndarray, margin_px: float) -> tuple[str, float]:
    """('inside' | 'outside' | 'partial', slack px). Inside: all 8 corners in front of the near
    plane and projecting inside the image with margin_px to spare (slack: the least spare beyond
    margin_px); outside: the bounding box of the projection of the part in front of the near plane
    misses the image grown by margin_px (slack: the gap beyond margin_px)."""
    pc = view.to_cam(o.corners(), pose)
    W, H = view.W, view.H
    if np.all(pc[:, 2] >= view.near):
        pts = view.project(pc)
        slack_in = min(pts[:, 0].min() - (-0.5 + margin_px), pts[:, 1].min() - (-0.5 + margin_px),
                       (W - 0.5 - margin_px) - pts[:, 0].max(), (H - 0.5 - margin_px) - pts[:, 1].max())
        if slack_in >= 0:
            return "inside", slack_in
    else:
        keep = clip_near(pc, view.near)
        if not len(keep):
            return "outside", math.inf
        pts = view.project(keep)
    gap = max(-0.5 - margin_px - pts[:, 0].max(), pts[:, 0].min() - (W - 0.5 + margin_px),
              -0.5 - margin_px - pts[:, 1].max(), pts[:, 1].min() - (H - 0.5 + margin_px))
    if gap > 0:
        return "outside", gap
    return "partial", gap


def ray_box_t(view: View, o: Obj, uv: np.ndarray, near: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame depth interval [t_in, t_out] where the rays through pixel centres ``uv`` (P, 2)
    cross box ``o`` (t_in > t_out: missed). The ray is z * ((u - cx) / fx, (v - cy) / fy, 1)."""
    K = view.K
    d = np.stack([(uv[:, 0] - K[0, 2]) / K[0, 0], (uv[:, 1] - K[1, 2]) / K[1, 1], np.ones(len(uv))], axis=1)
    Rc = view.pose[:3, :3].T @ o.R             # box axes in the camera frame
    cc = view.to_cam(o.c)                       # box centre in the camera frame
    org = -cc @ Rc                              # camera origin in box coordinates
    dl = d @ Rc                                 # ray directions in box coordinates
    h = o.s / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-h - org) / dl
        t2 = (h - org) / dl
    tmin = np.where(dl == 0, np.where(np.abs(org) <= h, -np.inf, np.inf), np.minimum(t1, t2))
    tmax = np.where(dl == 0, np.where(np.abs(org) <= h, np.inf, -np.inf), np.maximum(t1, t2))
    t_in = np.maximum(tmin.max(axis=1), near)
    t_out = tmax.min(axis=1)
    return t_in, t_out


def pixel_grid(rect, pad: int = 1) -> np.ndarray:
    u = np.arange(int(math.floor(rect[0])) - pad, int(math.ceil(rect[2])) + pad + 1)
    v = np.arange(int(math.floor(rect[1])) - pad, int(math.ceil(rect[3])) + pad + 1)
    uu, vv = np.meshgrid(u, v)
    return np.stack([uu.ravel(), vv.ravel()], axis=1).astype(float)


def box_overlap2d(a, b):
    if a is None or b is None or a[0] > b[2] or b[0] > a[2] or a[1] > b[3] or b[1] > a[3]:
        return None
    return [max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])]


def ray_first(view: View, o: Obj, x: Obj, rect) -> bool:
    """Some pixel-centre ray of ``rect`` (grown by 1 px) meets both boxes and enters o's before
    leaving x's (by 1e-7 m of depth)."""
    uv = pixel_grid(rect)
    for k in range(0, len(uv), 200000):
        part = uv[k:k + 200000]
        oi, oo = ray_box_t(view, o, part)
        xi, xo = ray_box_t(view, x, part)
        if np.any((oi <= oo) & (xi <= xo) & (oi < xo - 1e-7)):
            return True
    return False


def may_occlude(S: Scene, view: View, o: str, x: str) -> bool:
    """docs/qa.md occluder rule: o shows pixels, its visible box (else amodal) overlaps x's amodal
    box, and o stands on x (support chain) or a pixel ray of the overlap reaches o first."""
    if o == x or not view.shows(o):
        return False
    bx = view.f(x, "bbox_amodal", None) or view.f(x, "bbox_amodal_geom", None)
    if bx is None:
        return False
    bo = view.f(o, "bbox_visible", None) or view.f(o, "bbox_amodal", None) or view.f(o, "bbox_amodal_geom", None)
    if bo is None:
        return True
    rect = box_overlap2d(bo, bx)
    if rect is None:
        return False
    return x in S.chain(o) or ray_first(view, S.objects[o], S.objects[x], rect)


def surely_not_occluding(S: Scene, view: View, o: str, x: str) -> bool:
    """o's amodal box misses x's, or o does not stand on x and no ray of the overlap of the two
    amodal boxes reaches o first."""
    bx = view.f(x, "bbox_amodal", None) or view.f(x, "bbox_amodal_geom", None)
    bo = view.f(o, "bbox_amodal", None) or view.f(o, "bbox_amodal_geom", None) or view.f(o, "bbox_visible", None)
    if bx is None or (bo is None and view.shows(o)):
        return False
    rect = box_overlap2d(bo, bx)
    if rect is None:
        return True
    return not (x in S.chain(o) or ray_first(view, S.objects[o], S.objects[x], rect))


def clipped_projection(view: View, o: Obj) -> np.ndarray | None:
    """(P, 2) projected vertices of box ``o`` clipped at the near plane, or None when no part is
    in front."""
    keep = clip_near(view.to_cam(o.corners()), view.near)
    return view.project(keep) if len(keep) else None


def hull(pts: np.ndarray) -> np.ndarray:
    """Convex hull (monotone chain), counter-clockwise in (u, v)."""
    P = sorted(set(map(tuple, np.round(pts, 12))))
    if len(P) < 3:
        return np.array(P)

    def half(points):
        out = []
        for p in points:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(p)
        return out
    lo, hi = half(P), half(P[::-1])
    return np.array(lo[:-1] + hi[:-1])


def area(poly: np.ndarray) -> float:
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def clip_rect(poly: np.ndarray, x0, y0, x1, y1) -> np.ndarray:
    """Sutherland-Hodgman clip of a convex polygon to an axis-aligned rectangle."""
    out = [tuple(p) for p in poly]
    for axis, bound, keep_ge in ((0, x0, True), (0, x1, False), (1, y0, True), (1, y1, False)):
        src, out = out, []
        for k in range(len(src)):
            p, q = src[k], src[(k + 1) % len(src)]
            pin = p[axis] >= bound if keep_ge else p[axis] <= bound
            qin = q[axis] >= bound if keep_ge else q[axis] <= bound
            if pin:
                out.append(p)
            if pin != qin:
                t = (bound - p[axis]) / (q[axis] - p[axis])
                out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
        if not out:
            break
    return np.array(out)


def record_checks(S: Scene) -> dict[str, list]:
    """The camera sampler's per-object view fields (docs/record.md) recomputed: distance, depth,
    in_frustum, in_frame_fraction, bbox_amodal_geom. Field -> [(deviation, where)]."""
    out = defaultdict(list)
    for v in S.views.values():
        W, H = v.W, v.H
        for oid, info in v.info.items():
            o = S.objects.get(oid)
            if o is None:
                continue
            where = f"{S.id}/{v.id}/{oid}"
            if info.get("distance") is not None:
                out["distance"].append((abs(point_box(v.pos, o) - info["distance"]), where))
            if info.get("depth") is not None:
                out["depth"].append((abs(float(v.to_cam(o.c)[2]) - info["depth"]), where))
            st, slack = frustum(v, o, v.pose, 0.0)
            if "in_frustum" in info and abs(slack) > 1e-6:
                out["in_frustum"].append((float((st == "inside") != bool(info["in_frustum"])), where))
            pts = clipped_projection(v, o)
            if "in_frame_fraction" in info:
                if pts is None:
                    f = 0.0
                else:
                    h = hull(pts)
                    a = area(h)
                    f = area(clip_rect(h, -0.5, -0.5, W - 0.5, H - 0.5)) / a if a > 0 else 0.0
                    if st == "inside":
                        f = 1.0
                out["in_frame_fraction"].append((abs(f - float(info["in_frame_fraction"])), where))
            if "bbox_amodal_geom" in info:
                g = info["bbox_amodal_geom"]
                mine = None
                if pts is not None:
                    u0, v0, u1, v1 = pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()
                    if not (u1 < -0.5 or u0 > W - 0.5 or v1 < -0.5 or v0 > H - 0.5):
                        mine = [max(u0, -0.5), max(v0, -0.5), min(u1, W - 0.5), min(v1, H - 0.5)]
                if (mine is None) != (g is None):
                    dev = math.inf
                else:
                    dev = 0.0 if mine is None else float(np.max(np.abs(np.array(mine) - np.array(g))))
                out["bbox_amodal_geom"].append((dev, where))
            # renderer fields: the fraction is visible / amodal pixels; the pixel boxes (pixel centres,
            # inclusive) lie inside the projected box (meshes lie in their boxes), within half a pixel
            if info.get("amodal_pixels") is not None and info.get("visible_fraction") is not None:
                a, vpx = int(info["amodal_pixels"]), int(info.get("visible_pixels") or 0)
                want = vpx / a if a > 0 else 0.0
                out["visible_fraction"].append((abs(want - float(info["visible_fraction"])) + float(vpx > a), where))
            for key in ("bbox_visible", "bbox_amodal"):
                pb = info.get(key)
                if pb is None:
                    continue
                g = info.get("bbox_amodal_geom")
                if g is None:
                    out[f"{key}_in_geom"].append((math.inf, where))
                    continue
                over = max(g[0] - pb[0], g[1] - pb[1], pb[2] - g[2], pb[3] - g[3], 0.5) - 0.5
                out[f"{key}_in_geom"].append((over, where))
    return out


# --------------------------------------------------------------------------------------------
# Config, templates, catalog (data files, read with yaml)


class Defs:
    def __init__(self, dataset: str, templates_dir: str | None = None, catalog_path: str | None = None):
        cfg_path = os.path.join(dataset, "config.yaml")
        cfg = {}
        if os.path.exists(cfg_path):
            with open(cfg_path) as fh:
                cfg = yaml.safe_load(fh) or {}
        self.qa = cfg.get("qa") or {}
        self.decimals = int(self.qa.get("decimals", 2))
        vis = self.qa.get("visibility") or {}
        self.vis = (float(vis.get("min_fraction", 0.3)), int(vis.get("min_pixels", 60)),
                    float(vis.get("min_in_frame", 0.5)))
        self.margins = {"min_rel_diff": 0.15, "min_abs_diff": 0.15, "min_angle_deg": 10, "min_image_dx": 0.06,
                        "min_fraction_diff": 0.15, "min_bin_edge": 0.05, "min_ratio": 1.3}
        self.margins.update(self.qa.get("margins") or {})
        lex = self.qa.get("lexicon") or {}
        self.plural_table = dict(lex.get("plural") or {"bookshelf": "bookshelves", "shelf": "shelves"})
        self.material_adj = dict(lex.get("material") or {})
        self.color_adj = dict(lex.get("color") or {})
        tdir = templates_dir or self.qa.get("templates") or os.path.join(ROOT, "templates")
        files = sorted(glob.glob(os.path.join(tdir, "*.yaml"))) if os.path.isdir(tdir) else [tdir]
        self.templates: dict[str, dict] = {}
        for fn in files:
            with open(fn) as fh:
                doc = yaml.safe_load(fh) or {}
            for t in doc.get("templates") or []:
                self.templates[t["id"]] = t
        scene_cfg = cfg.get("scene") or {}
        cat_path = catalog_path or scene_cfg.get("catalog") or os.path.join(ROOT, "scenes", "catalog.yaml")
        with open(cat_path) as fh:
            cat = yaml.safe_load(fh) or {}
        self.names = {k: (v or {}).get("name", k.replace("_", " ")) for k, v in (cat.get("categories") or {}).items()}
        covers = {k: list((v or {}).get("covers") or []) for k, v in (cat.get("categories") or {}).items()}
        self.covered = {}
        for k in covers:
            acc, stack = set(), list(covers[k])
            while stack:
                c = stack.pop()
                if c not in acc:
                    acc.add(c)
                    stack.extend(covers.get(c, []))
            self.covered[k] = acc

    def name(self, cat: str) -> str:
        return self.names.get(cat, cat.replace("_", " "))

    def plural(self, name: str) -> str:
        if name in self.plural_table:
            return self.plural_table[name]
        head, _, last = name.rpartition(" ")
        if last in self.plural_table:
            p = self.plural_table[last]
        elif last.endswith("f"):
            p = last[:-1] + "ves"
        elif last.endswith(("s", "x", "ch", "sh")):
            p = last + "es"
        elif last.endswith("y") and last[-2:-1] not in "aeiou":
            p = last[:-1] + "ies"
        else:
            p = last + "s"
        return f"{head} {p}" if head else p

    def t(self, tid: str) -> dict:
        t = self.templates.get(tid)
        if t is None:
            raise Skip(f"template {tid} not in the templates folder")
        return t

    def margin(self, t: dict, key: str) -> float:
        return float((t.get("margins") or {}).get(key, self.margins[key]))

    def param(self, t: dict, key: str, default=None):
        return (t.get("params") or {}).get(key, default)

    def thresholds(self, t: dict) -> tuple:
        c = t.get("constraints") or {}
        return (float(c.get("min_visible_fraction", self.vis[0])), int(c.get("min_visible_pixels", self.vis[1])),
                float(c.get("min_in_frame", self.vis[2])))


# --------------------------------------------------------------------------------------------
# Reading a row


class Row:
    def __init__(self, r: dict, S: Scene, D: Defs):
        self.r, self.S, self.D = r, S, D
        self.id = r["id"]
        self.key = f"{r['family']}.{r['task']}"
        self.T = D.t(r["template_id"])
        self.value = json.loads(r["value"]) if isinstance(r["value"], str) else r["value"]
        self.marks = json.loads(r["marks"]) if r.get("marks") else None
        self.meta = json.loads(r["meta"]) if r.get("meta") else {}
        self.objs = list(r.get("objects") or [])
        self.q = r["question"]
        self.stem = self.q.split("\nA. ")[0] if r["answer_type"] == "choice" else self.q

    @property
    def view(self) -> View:
        vids = self.r["view_ids"] or []
        if not vids:
            raise Skip("row shows no view")
        return self.S.views[vids[0]]

    def o(self, k: int) -> Obj:
        return self.S.objects[self.objs[k]]

    def option_obj(self, text: str, pool: list[str]) -> str:
        """Object id an option text names: 'object k' (marks) or a referring expression matched
        against ``pool`` by name, colour, material and size word."""
        m = re.fullmatch(r"object (\d+)", text)
        if m:
            if not self.marks:
                raise Skip("mark option without marks")
            return self.marks["object_ids"][int(m.group(1)) - 1]
        return match_expression(text, pool, self.S, self.D)

    def by_position(self, texts: list[str]) -> list[str]:
        """The objects named by ``texts`` when they appear in the question stem in slot order
        (objects[k] is the k-th named); each text's first occurrence decides its slot."""
        pos = []
        for t in texts:
            m = re.search(r"(?<![\w-])" + re.escape(t) + r"(?![\w-])", self.stem)
            if m is None:
                raise Skip(f"option {t!r} not found in the question")
            pos.append(m.start())
        if len(set(pos)) != len(pos):
            raise Skip("options at the same place in the question")
        ranks = sorted(range(len(texts)), key=lambda k: pos[k])
        out = [None] * len(texts)
        for slot, k in enumerate(ranks):
            out[k] = self.objs[slot]
        return out


def match_expression(text: str, pool: list[str], S: Scene, D: Defs) -> str:
    """Resolve 'the [size word] [colour] [material] <name>' among ``pool``."""
    words = text.split()
    if not words or words[0] != "the":
        raise Skip(f"cannot read the expression {text!r}")
    inv_mat = {v: k for k, v in D.material_adj.items()}
    inv_col = {v: k for k, v in D.color_adj.items()}
    cands = []
    for oid in pool:
        o = S.objects[oid]
        name = D.name(o.category)
        if not text.endswith(" " + name):
            continue
        adj = text[len("the "):len(text) - len(name)].split()
        ok, size_word = True, None
        for a in adj:
            if a in ("larger", "largest", "smaller", "smallest"):
                size_word = a
            elif inv_col.get(a, a) == o.attributes.get("color"):
                pass
            elif inv_mat.get(a, a) == o.attributes.get("material"):
                pass
            else:
                ok = False
        if ok:
            cands.append((oid, size_word))
    if len(cands) == 1:
        return cands[0][0]
    if len(cands) > 1 and cands[0][1]:
        vols = [S.objects[c].volume for c, _ in cands]
        k = int(np.argmax(vols)) if cands[0][1] in ("larger", "largest") else int(np.argmin(vols))
        return cands[k][0]
    raise Skip(f"expression {text!r} matches {len(cands)} of the row's objects")


# --------------------------------------------------------------------------------------------
# Checkers: each returns (mine, margin, extra) or a Result


def num_tol(unit: str | None, D: Defs) -> tuple[int, float]:
    dec = 0 if unit in ("deg", "cm") else D.decimals
    return dec, 0.5 * 10 ** (-dec) + 1e-9


def fmt(x: float, unit: str | None, dec: int) -> str:
    s = f"{x:.{dec}f}"
    return f"{s} {UNIT_WORDS.get(unit, unit)}" if unit else s


def number_result(row: Row, mine: float, gate=None, gate_what="", margin=None) -> Result:
    """An open number (value in the row's unit) or a numeric choice ('1.42 m')."""
    unit = row.r["unit"] or row.T.get("unit")
    dec, tol = num_tol(unit, row.D)
    if row.r["answer_type"] == "choice":
        opts = [float(c.split()[0]) for c in row.r["choices"]]
        ans = float(str(row.value).split()[0])
        err = abs(mine - ans)
        others = [abs(mine - x) for x in opts if x != ans]
        mg = (min(others) - err) if others else None
        ok = err <= tol and (not others or min(others) > err)
        return Result("ok" if ok else "disagree", fmt(mine, unit, dec), margin=mg, gate=gate, gate_what=gate_what)
    err = abs(mine - float(row.value))
    return Result("ok" if err <= tol else "disagree", round(mine, dec), margin=margin, err=err, gate=gate,
                  gate_what=gate_what)


def compare(row: Row, mine, margin=None, gate=None, gate_what="", note="") -> Result:
    stored = row.value
    ok = (mine == stored) if not isinstance(mine, (set, frozenset)) else (stored in mine)
    return Result("ok" if ok else "disagree", mine, margin=margin, gate=gate, gate_what=gate_what, note=note)


def clears(D: Defs, t: dict, a: float, b: float) -> float:
    """Slack of the rel + abs difference rule (m or the quantity's unit): >= 0 when it clears."""
    d = abs(a - b)
    return min(d - D.margin(t, "min_abs_diff"), d - D.margin(t, "min_rel_diff") * max(abs(a), abs(b)))


def choice_objects(row: Row, pool: list[str]) -> list[str]:
    return [row.option_obj(c, pool) for c in row.r["choices"]]


def named_pair_winner(row: Row, winner_is_first: bool) -> str:
    """Option text of the winner of a 'which of A or B' choice whose options are the two names."""
    opts = row.r["choices"]
    if all(re.fullmatch(r"object \d+", c) for c in opts):
        ids = [row.option_obj(c, row.objs) for c in opts]
    else:
        ids = row.by_position(opts)
    want = row.objs[0] if winner_is_first else row.objs[1]
    return opts[ids.index(want)]


# ---- measurement


def m_object_distance(row):
    mine = box_dist(row.o(0), row.o(1))
    mv = float(row.D.param(row.T, "min_value", 0.0))
    return number_result(row, mine, gate=mine - mv if mv else None, gate_what="value >= min_value")


def m_camera_distance(row):
    return number_result(row, point_box(row.view.pos, row.o(0)))


def m_size(row):
    o, task, D = row.o(0), row.r["task"], row.D
    sx, sy, sz = (float(x) for x in o.s)
    if task == "height":
        return number_result(row, sz)
    if task in ("length", "width"):
        lo, hi = sorted((sx, sy))
        gate = (hi - lo) - D.margin(row.T, "min_rel_diff") * hi
        return number_result(row, hi if task == "length" else lo, gate=gate, gate_what="sides differ by min_rel_diff")
    e = sorted((sx, sy, sz))
    return number_result(row, e[2], gate=(e[2] - e[1]) - D.margin(row.T, "min_rel_diff") * e[2],
                         gate_what="longest leads by min_rel_diff")


def m_elevation(row):
    z0 = row.o(0).zmin
    return number_result(row, z0, gate=z0 - row.D.margin(row.T, "min_abs_diff"), gate_what="bottom >= min_abs_diff")


def m_vertical(row):
    v = row.o(0).zmin - row.o(1).zmax
    return number_result(row, v, gate=v - row.D.margin(row.T, "min_abs_diff"), gate_what="gap >= min_abs_diff")


def m_horizontal(row):
    return number_result(row, poly_dist(row.o(0).rect(), row.o(1).rect()))


def m_room(row):
    S, task = row.S, row.r["task"]
    sx, sy = S.room_size[0], S.room_size[1]
    hi, lo = max(sx, sy), min(sx, sy)
    if task == "floor_area":
        return number_result(row, sx * sy)
    gate = (hi - lo) - row.D.margin(row.T, "min_rel_diff") * hi
    return number_result(row, hi if task == "room_length" else lo, gate=gate, gate_what="sides differ")


# ---- relations


def r_left_right(row):
    v = row.view
    ua, ub = (float(v.project(v.to_cam(row.o(k).c))[0]) for k in (0, 1))
    if v.to_cam(row.o(0).c)[2] <= 0 or v.to_cam(row.o(1).c)[2] <= 0:
        raise Skip("a centre behind the camera")
    a_left = ua < ub
    pol = row.D.param(row.T, "polarity", "left")
    gate = abs(ua - ub) - row.D.margin(row.T, "min_image_dx") * v.W
    if row.r["answer_type"] == "bool":
        mine = a_left if pol == "left" else not a_left
    else:
        mine = named_pair_winner(row, a_left == (pol == "left"))
    return compare(row, mine, margin=abs(ua - ub), gate=gate, gate_what="image dx >= min_image_dx")


def r_front_behind(row):
    v = row.view
    da, db = point_box(v.pos, row.o(0)), point_box(v.pos, row.o(1))
    closer = da < db
    pol = row.D.param(row.T, "polarity", "front")
    if row.r["answer_type"] == "bool":
        mine = closer if pol == "front" else not closer
    else:
        mine = named_pair_winner(row, closer == (pol == "front"))
    return compare(row, mine, margin=abs(da - db), gate=clears(row.D, row.T, da, db), gate_what="rel+abs")


def r_above_below(row):
    a, b = row.o(0), row.o(1)
    a_above = a.c[2] > b.c[2]
    pol = row.D.param(row.T, "polarity", "above")
    sep = max(a.zmin - b.zmax, b.zmin - a.zmax)        # >= 0: the z ranges do not overlap
    gate = min(sep + 1e-6, abs(a.c[2] - b.c[2]) - row.D.margin(row.T, "min_abs_diff"))
    mine = a_above if pol == "above" else not a_above
    return compare(row, mine, margin=abs(a.c[2] - b.c[2]), gate=gate, gate_what="ranges apart, centre gap")


def r_extreme(row):
    anchor = row.r["task"] == "closest_to_anchor"
    pool = row.objs[1:] if anchor else row.objs
    ids = choice_objects(row, pool)
    if anchor:
        x = row.o(0)
        d = [box_dist(x, row.S.objects[i]) for i in ids]
    else:
        d = [point_box(row.view.pos, row.S.objects[i]) for i in ids]
    order = sorted(range(len(d)), key=d.__getitem__)
    if row.D.param(row.T, "extreme", "min") == "max":
        order = order[::-1]
    mine = row.r["choices"][order[0]]
    return compare(row, mine, margin=abs(d[order[0]] - d[order[1]]), gate=clears(row.D, row.T, d[order[0]], d[order[1]]),
                   gate_what="rel+abs")


def r_size(row):
    a, b = row.o(0), row.o(1)
    pol = row.D.param(row.T, "polarity", "more")
    if row.r["task"] == "taller":
        va, vb = float(a.s[2]), float(b.s[2])
        margin, gate, what = abs(va - vb), clears(row.D, row.T, va, vb), "rel+abs"
    else:
        va, vb = a.volume, b.volume
        r = max(va, vb) / max(min(va, vb), 1e-12)
        margin, gate, what = r, r - row.D.margin(row.T, "min_ratio"), "volume ratio >= min_ratio"
    more = va > vb
    if row.r["answer_type"] == "bool":
        mine = more if pol == "more" else (va < vb)
    else:
        mine = named_pair_winner(row, more == (pol == "more"))
    return compare(row, mine, margin=margin, gate=gate, gate_what=what)


def r_next_to(row):
    near, far = float(row.D.param(row.T, "near")), float(row.D.param(row.T, "far"))
    d = box_dist(row.o(0), row.o(1))
    is_near = d <= near
    gate = (near - d) if is_near else (d - far)
    stacked = row.objs[1] in row.S.chain(row.objs[0]) or row.objs[0] in row.S.chain(row.objs[1])
    if stacked:
        gate = -1.0
    mine = is_near if row.r["answer_type"] == "bool" else ("next to each other" if is_near else "far apart")
    return compare(row, mine, margin=min(abs(d - near), abs(d - far)), gate=gate, gate_what="outside (near, far), not stacked")


def r_on_top(row):
    a, b = row.objs[0], row.objs[1]
    truth = row.S.objects[a].supporter == b
    gate = None
    if not truth and (b in row.S.chain(a) or a in row.S.chain(b)):
        gate = -1.0   # "no" asked for a surface in the support chain
    return compare(row, truth, gate=gate, gate_what="no: B outside A's support chain")


def r_support(row):
    a = row.objs[0]
    sup = row.S.objects[a].supporter
    if row.S.objects[a].support == "wall":
        raise Skip("wall-mounted")
    opts = row.r["choices"]
    if sup is None:
        mine = "the floor"
        if mine not in opts:
            return Result("disagree", mine, note="floor is not an option")
        return compare(row, mine)
    for c in opts:
        if c != "the floor" and row.option_obj(c, row.objs[1:]) == sup:
            return compare(row, c)
    return Result("disagree", f"<{sup}>", note="the supporter is not among the options")


def _topdown(row):
    v, a, b = row.view, row.o(0), row.o(1)
    h = v.heading()
    d = b.c[:2] - a.c[:2]
    fwd = d[0] * math.cos(h) + d[1] * math.sin(h)
    right = d[0] * math.sin(h) - d[1] * math.cos(h)
    gate = poly_dist(a.rect(), b.rect()) - float(row.D.param(row.T, "min_separation", 0.2))
    return math.degrees(math.atan2(right, fwd)), gate


def r_direction8(row):
    brg, sep = _topdown(row)
    k = int(round(brg / 45.0)) % 8
    off = abs(wrap_deg(brg - 45.0 * round(brg / 45.0)))
    m = 22.5 - off
    return compare(row, DIR8[k], margin=m, gate=min(m - row.D.margin(row.T, "min_angle_deg"), sep),
                   gate_what="angle from sector edge, footprint separation")


def r_clock(row):
    brg, sep = _topdown(row)
    h = int(round(brg / 30.0)) % 12
    m = 15.0 - abs(wrap_deg(brg - 30.0 * round(brg / 30.0)))
    return compare(row, f"{12 if h == 0 else h} o'clock", margin=m,
                   gate=min(m - row.D.margin(row.T, "min_angle_deg"), sep), gate_what="angle from half hour, separation")


# ---- perspective


def _stacked(S, ids):
    return any(S.objects[i].supporter in ids for i in ids)


def p_standing(row):
    a, b, c = row.o(0), row.o(1), row.o(2)
    brg = bearing_ccw(a.c, b.c[:2] - a.c[:2], c.c)
    mg = row.D.margin(row.T, "min_angle_deg")
    dmin = row.D.margin(row.T, "min_abs_diff")
    dist_gate = min(np.linalg.norm(b.c[:2] - a.c[:2]), np.linalg.norm(c.c[:2] - a.c[:2])) - dmin
    if row.r["task"] == "standing_lr":
        mine = "left" if brg > 0 else "right"
        m = min(abs(brg), 180 - abs(brg))
    else:
        q = brg % 360.0
        mine = ("front-left", "back-left", "back-right", "front-right")[int(q // 90) % 4]
        m = min(q % 90.0, 90.0 - q % 90.0)
    gate = min(m - mg, dist_gate, -1.0 if _stacked(row.S, row.objs[:3]) else 0.0)
    return compare(row, mine, margin=m, gate=gate, gate_what="angle, distances, not stacked")


def p_object_view(row):
    a, c = row.o(0), row.o(1)
    if not a.has_front:
        return Result("disagree", None, note="object without a front")
    front = a.R[:2, 0]
    brg = bearing_ccw(a.c, front, c.c)
    mg = row.D.margin(row.T, "min_angle_deg")
    dist_gate = np.linalg.norm(c.c[:2] - a.c[:2]) - row.D.margin(row.T, "min_abs_diff")
    if row.r["task"] == "object_view_lr":
        mine = "left" if brg > 0 else "right"
        m = min(abs(brg), 180 - abs(brg))
        extra = 0.0
    else:
        mine = "in front" if abs(brg) < 90 else "behind"
        m = abs(abs(brg) - 90.0)
        extra = -1.0 if (a.against is not None or a.support == "wall") else 0.0
    gate = min(m - mg, dist_gate, extra, -1.0 if _stacked(row.S, row.objs[:2]) else 0.0)
    frame_ok = row.r["frame"] == f"object:{row.objs[0]}"
    r = compare(row, mine, margin=m, gate=gate, gate_what="angle, distance, not stacked, not backed")
    if not frame_ok:
        r.status, r.note = "disagree", f"frame {row.r['frame']}"
    return r


def p_depth_order(row):
    v = row.view
    a, b = row.o(0), row.o(1)
    da, db = point_box(v.pos, a), point_box(v.pos, b)
    mine = named_pair_winner(row, da < db)
    near, far = (a, b) if da < db else (b, a)
    vn = float(v.project(v.to_cam(near.c))[1])
    vf = float(v.project(v.to_cam(far.c))[1])
    dv_min = float(row.D.param(row.T, "min_image_dv", 4))
    dv = vf - vn
    cue = "counter_heuristic" if dv >= dv_min else ("perspective_consistent" if dv <= -dv_min else "no_height_cue")
    r = compare(row, mine, margin=abs(da - db), gate=clears(row.D, row.T, da, db), gate_what="rel+abs")
    if row.meta.get("depth_cue") is not None and row.meta.get("depth_cue") != cue and abs(abs(dv) - dv_min) > 1e-6:
        r.status, r.note = "disagree", f"depth_cue {row.meta.get('depth_cue')} vs {cue} (dv {dv:.2f} px)"
    return r


# ---- camera


def c_height(row):
    return number_result(row, float(row.view.pos[2]))


def c_pitch(row):
    p = row.view.pitch_deg()
    lv = float(row.D.param(row.T, "level_max_deg", 5))
    mg = row.D.margin(row.T, "min_angle_deg")
    if abs(p) <= lv:
        mine, m = "level", lv - abs(p)
    elif p >= mg:
        mine, m = "looking up", p - mg
    elif p <= -mg:
        mine, m = "looking down", -p - mg
    else:
        return Result("disagree", None, note=f"pitch {p:.1f} deg in the dead zone")
    return compare(row, mine, margin=m)


def c_pitch_degrees(row):
    return number_result(row, abs(row.view.pitch_deg()))


def c_object_distance(row):
    return number_result(row, point_box(row.view.pos, row.o(0)))


def _two_views(row):
    vids = row.r["view_ids"]
    if len(vids) != 2:
        raise Skip("needs two views")
    return row.S.views[vids[0]], row.S.views[vids[1]]


def c_move(row):
    v1, v2 = _two_views(row)
    h = v1.heading()
    d = v2.pos - v1.pos
    fwd = d[0] * math.cos(h) + d[1] * math.sin(h)
    left = -d[0] * math.sin(h) + d[1] * math.cos(h)
    b = math.degrees(math.atan2(left, fwd))
    if abs(b) < 45:
        mine = "forward"
    elif 45 < b < 135:
        mine = "left"
    elif -135 < b < -45:
        mine = "right"
    else:
        mine = "backward"
    m = min(abs(abs(b) - 45), abs(abs(b) - 135))
    gate = min(m - row.D.margin(row.T, "min_angle_deg"), math.hypot(fwd, left) - row.D.margin(row.T, "min_abs_diff"))
    return compare(row, mine, margin=m, gate=gate, gate_what="angle from diagonal, length")


def c_turn(row):
    v1, v2 = _two_views(row)
    turn = wrap_deg(math.degrees(v2.heading() - v1.heading()))
    return _side_or_degrees(row, turn, "turn_direction", "turn >= min_angle_deg")


def _side_or_degrees(row, ang: float, side_task: str, degrees_gate: str):
    """Verdict on a signed angle (degrees, left positive): the side for ``side_task``, else its size."""
    mg = row.D.margin(row.T, "min_angle_deg")
    if row.r["task"] == side_task:
        m = min(abs(ang), 180 - abs(ang))
        return compare(row, "left" if ang > 0 else "right", margin=m, gate=m - mg, gate_what="15..165")
    return number_result(row, abs(ang), gate=abs(ang) - mg, gate_what=degrees_gate)


# ---- motion


def _turn_params(q):
    m = re.search(r"turn (left|right) by (\d+(?:\.\d+)?) degrees", q) or \
        re.search(r"turns (\d+(?:\.\d+)?) degrees to the (left|right)", q)
    if m is None:
        raise Skip("cannot read the turn")
    g = m.groups()
    return (g[0], float(g[1])) if g[0] in ("left", "right") else (g[1], float(g[0]))


WALK = {"forward": 0.0, "backward": 180.0, "to the left": 90.0, "to the right": -90.0}


def _walk_params(q):
    m = re.search(r"(?:walk|moving) (\d+(?:\.\d+)?) m (forward|backward|to the left|to the right)", q)
    if m is None:
        raise Skip("cannot read the walk")
    return float(m.group(1)), m.group(2)


def _walked(v: View, dist: float, words: str) -> np.ndarray:
    h = v.heading() + math.radians(WALK[words])
    pose = v.pose.copy()
    pose[:3, 3] += dist * np.array([math.cos(h), math.sin(h), 0.0])
    return pose


def _walk_path_clearance(row, pose) -> float:
    """Least clearance (m) of the walk's straight path beyond the camera sphere radius: inside the
    walls (room scenes) and away from every box. Negative: the path is blocked."""
    v = row.view
    r = float(row.D.param(row.T, "clearance_m", 0.1))
    p0, p1 = v.pos, pose[:3, 3]
    best = math.inf
    if row.S.walls:
        sx, sy = row.S.room_size[0] / 2, row.S.room_size[1] / 2
        for p in (p0, p1):
            best = min(best, sx - abs(p[0]) - r, sy - abs(p[1]) - r)
    for o in row.S.objects.values():
        # the segment is horizontal: distance = hypot(segment-rectangle distance, z gap)
        dz = max(0.0, o.zmin - p0[2], p0[2] - o.zmax)
        seg = np.array([p0[:2], p1[:2]])
        rect = o.rect()
        if convex_overlap(rect, seg) if np.linalg.norm(p1[:2] - p0[:2]) > 0 else point_box(p0, o) == 0:
            dxy = 0.0
        else:
            dxy = min(min(seg_point(c, seg[0], seg[1]) for c in rect),
                      min(seg_point(p, rect[k], rect[(k + 1) % 4]) for p in seg for k in range(4)))
        best = min(best, math.hypot(dxy, dz) - r)
    return best


def mo_turn_in_view(row):
    v, o = row.view, row.o(0)
    side, ang = _turn_params(row.q)
    mp = float(row.D.param(row.T, "margin_px", 3))
    now, _ = frustum(v, o, v.pose, mp)
    pose = v.pose.copy()
    pose[:3, :3] = rz(math.radians(ang if side == "left" else -ang)) @ pose[:3, :3]
    st, slack = frustum(v, o, pose, mp)
    if st == "partial":
        return Result("disagree", None, margin=slack, note="partially in view after the turn (not askable)")
    return compare(row, st == "inside", margin=slack, gate=0.0 if now == "inside" else -1.0,
                   gate_what="fully in view now")


def mo_walk_in_view(row):
    v, o = row.view, row.o(0)
    dist, words = _walk_params(row.q)
    mp = float(row.D.param(row.T, "margin_px", 3))
    now, _ = frustum(v, o, v.pose, mp)
    pose = _walked(v, dist, words)
    st, slack = frustum(v, o, pose, mp)
    clear = _walk_path_clearance(row, pose)
    if st == "partial":
        return Result("disagree", None, margin=slack, note="partially in view after the walk (not askable)")
    return compare(row, st == "inside", margin=slack, gate=min(clear, 0.0 if now == "inside" else -1.0),
                   gate_what="fully in view now, clear path")


def mo_walk_closer(row):
    v, o = row.view, row.o(0)
    dist, words = _walk_params(row.q)
    pose = _walked(v, dist, words)
    d0, d1 = point_box(v.pos, o), point_box(pose[:3, 3], o)
    clear = _walk_path_clearance(row, pose)
    return compare(row, d1 < d0, margin=abs(d1 - d0), gate=min(clears(row.D, row.T, d0, d1), clear),
                   gate_what="rel+abs, clear path")


def mo_aim(row):
    v, o = row.view, row.o(0)
    d = o.c[:2] - v.pos[:2]
    ang = wrap_deg(math.degrees(math.atan2(d[1], d[0]) - v.heading()))
    return _side_or_degrees(row, ang, "aim_direction", ">= min_angle_deg")


def mo_object_move(row):
    a, b, c = row.o(0), row.o(1), row.o(2)
    m = re.search(r"(?:moved|slides) (\d+(?:\.\d+)?) m", row.q)
    if m is None:
        raise Skip("cannot read the move")
    dist = float(m.group(1))
    d = b.c[:2] - a.c[:2]
    n = np.linalg.norm(d)
    moved = Obj(a.id, a.category, a.attributes, a.c + np.append(d / n * dist, 0.0), a.s, a.R, a.support, a.against,
                a.has_front)
    d0, d1 = box_dist(a, c), box_dist(moved, c)
    gate = min(clears(row.D, row.T, d0, d1), poly_dist(a.rect(), b.rect()) - dist - 0.1)
    return compare(row, d1 < d0, margin=abs(d1 - d0), gate=gate, gate_what="rel+abs, gap to B > move + 0.1")


# ---- occlusion


def _not_truncated_target(row, oid):
    v = row.view
    if v.info.get(oid, {}).get("truncated", v.info.get(oid, {}).get("truncated_geom", False)):
        return -1.0
    return 0.0


def oc_partly_hidden(row):
    v, x = row.view, row.objs[0]
    f = float(v.f(x, "visible_fraction", 0.0))
    hid = float(row.D.param(row.T, "hidden_max", 0.8))
    vis = float(row.D.param(row.T, "visible_min", 0.97))
    if f >= vis:
        return compare(row, False, margin=f - vis, gate=_not_truncated_target(row, x), gate_what="not truncated")
    if f <= hid:
        occ = any(may_occlude(row.S, v, o, x) for o in row.S.order)
        if not occ:
            return Result("disagree", None, margin=hid - f, note="hidden but no object may occlude it")
        return compare(row, True, margin=hid - f, gate=_not_truncated_target(row, x), gate_what="not truncated")
    return Result("disagree", None, margin=-min(f - hid, vis - f), note=f"visible fraction {f:.3f} between the cuts")


def oc_occluder(row):
    v, x = row.view, row.objs[0]
    ids = choice_objects(row, row.objs[1:])
    may = [o for o in row.S.order if may_occlude(row.S, v, o, x)]
    if len(may) != 1:
        return Result("disagree", None, note=f"{len(may)} objects may occlude: {may}")
    mine = row.r["choices"][ids.index(may[0])] if may[0] in ids else None
    if mine is None:
        return Result("disagree", f"<{may[0]}>", note="the occluder is not an option")
    bad = [o for o in ids if o != may[0] and not surely_not_occluding(row.S, v, o, x)]
    r = compare(row, mine, margin=float(row.D.param(row.T, "hidden_max", 0.8)) - float(v.f(x, "visible_fraction", 0)))
    if bad:
        r.status, r.note = "disagree", f"distractors may occlude: {bad}"
    return r


def oc_visible_fraction(row):
    f = float(row.view.f(row.objs[0], "visible_fraction", 0.0))
    edges = [float(e) for e in row.T.get("bins")]
    pts = [0.0] + edges + [1.0]
    labels = [f"{100 * a:.0f}-{100 * b:.0f}%" for a, b in zip(pts, pts[1:])]
    k = sum(1 for e in edges if f >= e)
    m = min(abs(f - e) for e in edges)
    return compare(row, labels[k], margin=m, gate=m - row.D.margin(row.T, "min_bin_edge"), gate_what="bin edge")


def oc_most_occluded(row):
    v = row.view
    ids = choice_objects(row, row.objs)
    f = [float(v.f(i, "visible_fraction", 0.0)) for i in ids]
    order = sorted(range(len(f)), key=f.__getitem__)
    m = f[order[1]] - f[order[0]]
    return compare(row, row.r["choices"][order[0]], margin=m, gate=m - row.D.margin(row.T, "min_fraction_diff"),
                   gate_what="fraction lead")


def oc_unanswerable(row):
    v = row.view
    a, b = row.objs[0], row.objs[1]
    if not (v.shows(a) and v.shows(b)):
        return compare(row, UNKNOWN)
    ua, ub = (float(v.project(v.to_cam(row.o(k).c))[0]) for k in (0, 1))
    gate = abs(ua - ub) - row.D.margin(row.T, "min_image_dx") * v.W
    return compare(row, "yes" if ua < ub else "no", margin=abs(ua - ub), gate=gate, gate_what="image dx")


def _category_in(row, text: str, with_color=False, views=None) -> tuple[str, str | None]:
    """(category, colour) whose plural noun phrase the text names, among the scene's categories;
    the longest match wins."""
    best = None
    cats = sorted({o.category for o in row.S.objects.values()})
    colors = sorted({o.attributes.get("color") for o in row.S.objects.values()} - {None}) if with_color else [None]
    for c in cats:
        for col in colors:
            noun = row.D.plural(row.D.name(c))
            if col:
                noun = f"{row.D.color_adj.get(col, col)} {noun}"
            m = re.search(r"(?<![\w-])" + re.escape(noun) + r"(?![\w-])", text)
            if m and (best is None or len(noun) > best[0]):
                best = (len(noun), c, col)
    if best is None:
        raise Skip("cannot find the counted category")
    return best[1], best[2]


def oc_amodal_count(row):
    v = row.view
    cat, _ = _category_in(row, row.q)
    inst = [o for o in row.S.order if row.S.objects[o].category == cat
            and (v.f(o, "amodal_pixels", 0) > 0 or v.shows(o))]
    px = row.D.thresholds(row.T)[1]
    hid = float(row.D.param(row.T, "hidden_max", 0.8))
    gate = 0.0
    if any(v.f(o, "visible_pixels", 0) < px for o in inst) or not any(v.f(o, "visible_fraction", 0) <= hid for o in inst):
        gate = -1.0
    if any(v.shows(o) for c in row.D.covered.get(cat, ()) for o in row.S.order if row.S.objects[o].category == c):
        gate = -1.0
    return compare(row, len(inst), gate=gate, gate_what="all show min pixels, one hidden, no covered kind")


# ---- counting


def _count(row, cat, col, views, th):
    seen, unclear = [], []
    for o in row.S.order:
        ob = row.S.objects[o]
        if ob.category != cat:
            continue
        vis = any(v.visible(o, th) for v in views)
        if vis:
            if col is None or ob.attributes.get("color") == col:
                seen.append(o)
        elif any(v.shows(o) for v in views):
            unclear.append(o)
    covered = any(v.shows(o) for c in row.D.covered.get(cat, ()) for o in row.S.order
                  if row.S.objects[o].category == c for v in views)
    return len(seen), (-1.0 if unclear or covered else 0.0)


def co_count(row):
    v = row.view
    th = row.D.thresholds(row.T)
    if row.r["task"] == "count_compare":
        m = re.search(r"more (.+?) than (.+?)(?: visible in the image)?\?$", row.q)
        if m is None:
            raise Skip("cannot read the compared categories")
        ca, _ = _category_in(row, m.group(1))
        cb, _ = _category_in(row, m.group(2))
        na, ga = _count(row, ca, None, [v], th)
        nb, gb = _count(row, cb, None, [v], th)
        return compare(row, na > nb, margin=abs(na - nb), gate=min(ga, gb, abs(na - nb) - 1.0),
                       gate_what="no borderline / covered instance, no tie")
    cat, col = _category_in(row, row.q, with_color=row.r["task"] == "count_color")
    if row.r["task"] == "count_color" and col is None:
        raise Skip("no colour in the question")
    n, gate = _count(row, cat, col, [v], th)
    return compare(row, n, gate=gate, gate_what="no borderline / covered instance")


# ---- grounding


def g_box2d(row):
    box = row.view.f(row.objs[0], "bbox_visible", None)
    if box is None:
        return Result("disagree", None, note="no visible box in the record")
    mine = json.dumps([int(b) for b in box], separators=(", ", ": "))
    return Result("ok" if json.loads(row.value) == [int(b) for b in box] else "disagree", mine)


def g_box3d(row):
    v, o = row.view, row.o(0)
    got = json.loads(row.value)
    center = v.to_cam(o.c)
    rot = v.pose[:3, :3].T @ o.R
    _, tol = num_tol("m", row.D)
    ok = (np.all(np.abs(np.array(got["center"]) - center) <= tol) and np.all(np.abs(np.array(got["size"]) - o.s) <= tol)
          and np.all(np.abs(np.array(got["rotation"]) - rot) <= 0.0005 + 1e-9))
    err = float(max(np.abs(np.array(got["center"]) - center).max(), np.abs(np.array(got["size"]) - o.s).max()))
    mine = {"center": [round(float(x), 2) for x in center], "size": [round(float(x), 2) for x in o.s]}
    return Result("ok" if ok else "disagree", mine, err=err)


# ---- multiview


def mv_marks(row):
    v1, v2 = _two_views(row)
    m = re.search(r"(?:Mark|labelled) (\d+)", row.q)
    if m is None or not row.marks or "per_view" not in row.marks:
        raise Skip("cannot read the mark")
    pv = row.marks["per_view"]
    oid = pv[v1.id][int(m.group(1)) - 1]
    if oid not in pv[v2.id]:
        return Result("disagree", None, note="the object has no mark in image 2")
    th = row.D.thresholds(row.T)
    gate = 0.0 if (v1.visible(oid, th) and v2.visible(oid, th)) else -1.0
    return compare(row, f"mark {pv[v2.id].index(oid) + 1}", gate=gate, gate_what="marked objects visible enough")


def mv_count(row):
    v1, v2 = _two_views(row)
    cat, _ = _category_in(row, row.q)
    n, gate = _count(row, cat, None, [v1, v2], row.D.thresholds(row.T))
    return compare(row, n, gate=gate, gate_what="no borderline / covered instance")


def mv_direction(row):
    v1, v2 = _two_views(row)
    a, b = row.o(0), row.o(1)
    pa, pb = v1.to_cam(a.c), v1.to_cam(b.c)
    ba, bb = math.degrees(math.atan2(pa[0], pa[2])), math.degrees(math.atan2(pb[0], pb[2]))
    mg = row.D.margin(row.T, "min_angle_deg")
    gate = min(abs(ba - bb) - mg, 90 - mg - max(abs(ba), abs(bb)), -1.0 if v1.shows(row.objs[0]) else 0.0,
               -1.0 if (pa[2] <= 0 or pb[2] <= 0) else 0.0)
    return compare(row, "right" if ba > bb else "left", margin=abs(ba - bb), gate=gate,
                   gate_what="angles within 75, apart by 15; a absent from image 1")


# ---- ascii maps


def _grid_geom(S: Scene, r: float):
    sx, sy = S.room_size[0], S.room_size[1]
    ncols, nrows = int(math.ceil(sx / r - 1e-9)), int(math.ceil(sy / r - 1e-9))
    b = 1 if S.walls else 0
    return ncols, nrows, b, -ncols * r / 2 - b * r, nrows * r / 2 + b * r


def draw_map(S: Scene, view: View | None, r: float, ids: list[str]) -> list[str]:
    """docs/qa_families.md map rules, written here from the text."""
    ncols, nrows, b, x_west, y_north = _grid_geom(S, r)
    H, W = nrows + 2 * b, ncols + 2 * b
    grid = [["." for _ in range(W)] for _ in range(H)]
    if b:
        sx, sy = S.room_size[0] / 2, S.room_size[1] / 2
        for i in range(H):
            for j in range(W):
                if 0 < i < H - 1 and 0 < j < W - 1:
                    continue
                cx, cy = x_west + (j + 0.5) * r, y_north - (i + 0.5) * r
                q = np.array([min(max(cx, -sx), sx), min(max(cy, -sy), sy)])
                on = any(seg_point(q, np.array(w["start"], float), np.array(w["end"], float)) <= 1e-6 for w in S.walls)
                grid[i][j] = "#" if on else " "
    objs = [S.objects[i] for i in ids]
    owner = {}
    for i in range(b, H - b):
        for j in range(b, W - b):
            p = np.array([x_west + (j + 0.5) * r, y_north - (i + 0.5) * r])
            best = None
            for k, o in enumerate(objs):
                loc = (p - o.c[:2]) @ o.R[:2, :2]
                if abs(loc[0]) <= o.s[0] / 2 + 1e-9 and abs(loc[1]) <= o.s[1] / 2 + 1e-9:
                    key = (o.zmax, o.zmin, -k)
                    if best is None or key > best[0]:
                        best = (key, k)
            if best is not None:
                owner[(i, j)] = best[1]
    count = defaultdict(int)
    for k in owner.values():
        count[k] += 1
    for k, o in enumerate(objs):
        if count[k]:
            continue
        j = max(b, min(W - 1 - b, math.floor((o.c[0] - x_west) / r)))
        i = max(b, min(H - 1 - b, math.floor((y_north - o.c[1]) / r)))
        cur = owner.get((i, j))
        if cur is None or (objs[cur].zmax < o.zmax and count[cur] > 1):
            owner[(i, j)] = k
            count[k] += 1
            if cur is not None:
                count[cur] -= 1
    letters, n = {}, 0
    for k in range(len(objs)):
        if count[k]:
            letters[k] = MAP_LETTERS[n]
            n += 1
    for (i, j), k in owner.items():
        grid[i][j] = letters[k]
    if view is not None:
        p = view.pos
        j, i = math.floor((p[0] - x_west) / r), math.floor((y_north - p[1]) / r)
        if b <= i < H - b and b <= j < W - b:
            h = math.degrees(view.heading()) % 360.0
            k = int(math.floor((h + 45.0) / 90.0 + 1e-12)) % 4
            grid[i][j] = ">^<v"[k]
    return ["".join(row) for row in grid]


def a_draw(row):
    r = float(row.D.param(row.T, "resolution_m", 0.5))
    view = row.view if row.r["task"] == "draw_map" else None
    mine = "\n".join(draw_map(row.S, view, r, row.objs))
    if mine == row.value:
        return Result("ok", "(same map)")
    return Result("disagree", mine)


def _parse_map(q: str) -> list[str]:
    """The longest run of consecutive equal-length lines made only of map characters."""
    best, cur = [], []
    for ln in q.split("\n") + [""]:
        if ln and re.fullmatch(r"[#. ^><A-Za-z]+", ln) and (not cur or len(ln) == len(cur[0])):
            cur.append(ln)
            continue
        if len(cur) > len(best):
            best = cur
        cur = [ln] if ln and re.fullmatch(r"[#. ^><A-Za-z]+", ln) else []
    return best


def a_map_direction(row):
    a, b = row.o(0), row.o(1)
    d_world, g_world = compass(*(a.c[:2] - b.c[:2]))
    mg, dmin = row.D.margin(row.T, "min_angle_deg"), row.D.margin(row.T, "min_abs_diff")
    gate = min(g_world - mg, float(np.linalg.norm(a.c[:2] - b.c[:2])) - dmin)
    r = compare(row, d_world, margin=g_world, gate=gate, gate_what="angle from sector edge, 1 m apart")
    # the same from the map text: letter-cell centroids
    m = re.search(r"direction is (\S+) from (\S+)\?", row.q) or re.search(r"Going from (\S+) to (\S+),", row.q)
    grid = _parse_map(row.q)
    if m and grid:
        la, lb = (m.group(1), m.group(2)) if "direction is" in m.group(0) else (m.group(2), m.group(1))
        res = float(row.D.param(row.T, "resolution_m", 0.5))
        _, _, _, x_west, y_north = _grid_geom(row.S, res)
        cent = {}
        for L in (la, lb):
            cells = [(i, j) for i, ln in enumerate(grid) for j, ch in enumerate(ln) if ch == L]
            if not cells:
                return r
            cent[L] = np.mean([[x_west + (j + 0.5) * res, y_north - (i + 0.5) * res] for i, j in cells], axis=0)
        d_map, g_map = compass(*(cent[la] - cent[lb]))
        if d_map != row.value:
            r.status, r.note = "disagree", f"map centroids give {d_map}"
        r.gate = min(r.gate, g_map - mg)
    return r


def a_map_nearest(row):
    res = float(row.D.param(row.T, "resolution_m", 0.5))
    grid = _parse_map(row.q)
    if not grid:
        raise Skip("cannot read the map")
    ncols, nrows, b, x_west, y_north = _grid_geom(row.S, res)
    if len(grid) != nrows + 2 * b or len(grid[0]) != ncols + 2 * b:
        raise Skip("map size differs from the room grid")
    arrow = [(i, j, ch) for i, ln in enumerate(grid) for j, ch in enumerate(ln) if ch in "^><v"]
    # the views whose camera stands at the arrow with that heading (the row names none: a text-only
    # row has view_ids []; two views of a scene can share the arrow cell and its heading mark)
    views = []
    for v in row.S.views.values():
        j, i = math.floor((v.pos[0] - x_west) / res), math.floor((y_north - v.pos[1]) / res)
        h = math.degrees(v.heading()) % 360.0
        mark = ">^<v"[int(math.floor((h + 45.0) / 90.0 + 1e-12)) % 4]
        if (i, j, mark) in arrow:
            views.append(v)
    if not views:
        raise Skip("no view matches the camera arrow")
    opts = row.r["choices"]
    cells = {L: [(i, j) for i, ln in enumerate(grid) for j, ch in enumerate(ln) if ch == L] for L in opts}
    if any(not c for c in cells.values()):
        raise Skip("an option letter is not on the map")
    # letters -> objects: the legend's expressions resolved among the row's objects
    legend = dict(re.findall(r"(?:^|, |Legend: )([A-Za-z]) = (the [^,\n]+)", row.q))
    letter_obj = {L: match_expression(legend[L], row.objs, row.S, row.D) for L in opts if L in legend}
    if len(letter_obj) != len(opts) or len(set(letter_obj.values())) != len(opts):
        raise Skip("cannot resolve the option letters through the legend")
    results = []
    for view in views:
        i0, j0 = math.floor((y_north - view.pos[1]) / res), math.floor((view.pos[0] - x_west) / res)
        cd = {L: min(math.hypot(i - i0, j - j0) for i, j in cells[L]) for L in opts}
        true = {L: point_box(view.pos, row.S.objects[letter_obj[L]]) for L in opts}
        by_cell = sorted(opts, key=cd.get)
        by_true = sorted(opts, key=true.get)
        if by_cell[0] != by_true[0]:
            results.append(Result("disagree", None, note=f"cell-nearest {by_cell[0]} vs truly nearest {by_true[0]}"))
            continue
        gate = min(cd[by_cell[1]] - cd[by_cell[0]] - float(row.D.param(row.T, "min_cell_lead", 1.0)),
                   clears(row.D, row.T, true[by_true[0]], true[by_true[1]]))
        results.append(compare(row, by_true[0], margin=true[by_true[1]] - true[by_true[0]], gate=gate,
                               gate_what="cell lead, rel+abs"))
    # the view that supports the stored answer within the rules, if any
    results.sort(key=lambda r: (r.status != "ok", (r.gate or 0.0) < 0))
    return results[0]


# ---- text-only (stated centres: record centres rounded to the centimetre)


def _cm(o: Obj) -> tuple[int, int]:
    return int(round(round(float(o.c[0]), 2) * 100)), int(round(round(float(o.c[1]), 2) * 100))


def t_direction(row):
    (xa, ya), (xb, yb) = _cm(row.o(0)), _cm(row.o(1))
    d, g = compass(xa - xb, ya - yb)
    gate = min(g - row.D.margin(row.T, "min_angle_deg"), math.hypot(xa - xb, ya - yb) / 100 - row.D.margin(row.T, "min_abs_diff"))
    return compare(row, d, margin=g, gate=gate, gate_what="angle, distance")


def t_left_of(row):
    (xa, _), (xb, _) = _cm(row.o(0)), _cm(row.o(1))
    dx = (xb - xa) / 100
    return compare(row, dx > 0, margin=abs(dx), gate=abs(dx) - row.D.margin(row.T, "min_abs_diff"), gate_what="|dx|")


def t_distance(row):
    (xa, ya), (xb, yb) = _cm(row.o(0)), _cm(row.o(1))
    return number_result(row, math.hypot(xa - xb, ya - yb) / 100)


def t_support(row):
    a = row.S.objects[row.objs[0]]
    if a.support == "wall":
        return Result("disagree", None, note="wall-mounted object asked")
    if a.supporter is None:
        return compare(row, "the floor")
    # the options are scene-unique expressions: resolve each against every object of the scene
    hits = []
    for c in row.r["choices"]:
        if c == "the floor":
            continue
        try:
            if match_expression(c, row.S.order, row.S, row.D) == a.supporter:
                hits.append(c)
        except Skip:
            pass
    if len(hits) != 1:
        return Result("disagree", f"<{a.supporter}>", note=f"{len(hits)} options name the supporter")
    return compare(row, hits[0])


# ---- video (docs/video.md): questions over a whole camera path; every frame of the row is a view


def _frames(row) -> list[View]:
    vids = row.r["view_ids"] or []
    if len(vids) < 2:
        raise Skip("video row with fewer than 2 frames")
    return [row.S.views[v] for v in vids]


def _video_named_gate(row, ids) -> float:
    """0 when every id may be named by its category in a video (alone in its category, no
    covered category in the scene, visible enough in some frame), else -1."""
    th, frames = row.D.thresholds(row.T), _frames(row)
    for oid in ids:
        cat = row.S.objects[oid].category
        same = [o for o in row.S.order if row.S.objects[o].category == cat]
        cov = [o for o in row.S.order if row.S.objects[o].category in row.D.covered.get(cat, ())]
        if len(same) != 1 or cov or not any(v.visible(oid, th) for v in frames):
            return -1.0
    return 0.0


def v_count(row):
    th, frames = row.D.thresholds(row.T), _frames(row)
    cat = row.S.objects[row.objs[0]].category
    members = [o for o in row.S.order if row.S.objects[o].category == cat]
    seen = [o for o in members if any(v.visible(o, th) for v in frames)]
    covered = any(v.shows(o) for o in row.S.order if row.S.objects[o].category in row.D.covered.get(cat, ())
                  for v in frames)
    gate = 0.0 if len(seen) == len(members) and not covered else -1.0
    return compare(row, len(seen), gate=gate, gate_what="every member seen, no covered category shows")


def v_abs_distance(row):
    mine = box_dist(row.o(0), row.o(1))
    gate = min(_video_named_gate(row, row.objs[:2]), mine - row.D.margin(row.T, "min_abs_diff"))
    return number_result(row, mine, gate=gate, gate_what="named; distance >= min_abs_diff")


def v_size(row):
    ext = sorted(float(x) for x in row.o(0).s)
    gate = min(_video_named_gate(row, row.objs[:1]), ext[2] - ext[1] - row.D.margin(row.T, "min_rel_diff") * ext[2])
    return number_result(row, ext[2] * 100.0, gate=gate, gate_what="named; longest leads by min_rel_diff")


def v_room(row):
    if row.S.room_type != "room":
        raise Skip("room size of a scene without a room")
    return number_result(row, row.S.room_size[0] * row.S.room_size[1])


def _by_name(row, ids: list[str], text: str) -> str:
    hits = [o for o in ids if text == "the " + row.D.name(row.S.objects[o].category)]
    if len(hits) != 1:
        raise Skip(f"option {text!r} names {len(hits)} objects")
    return hits[0]


def v_rel_distance(row):
    x, pool = row.objs[0], row.objs[1:]
    ids = [_by_name(row, pool, c) for c in row.r["choices"]]
    d = sorted((box_dist(row.S.objects[x], row.S.objects[o]), o) for o in ids)
    mine = row.r["choices"][ids.index(d[0][1])]
    gate = min(_video_named_gate(row, row.objs), clears(row.D, row.T, d[0][0], d[1][0]))
    return compare(row, mine, margin=d[1][0] - d[0][0], gate=gate, gate_what="named; closest clears rel + abs")


def v_direction(row):
    a, b, c = row.o(0), row.o(1), row.o(2)
    th = bearing_ccw(a.c, b.c - a.c, c.c)
    task = row.r["task"]
    if task == "rel_direction_easy":
        mine, bounds = ("left" if th > 0 else "right"), (0.0, 180.0)
    elif task == "rel_direction_medium":
        mine, bounds = ("back" if abs(th) > 135 else "left" if th > 0 else "right"), (0.0, 135.0, -135.0)
    else:
        mine = ("front-" if abs(th) < 90 else "back-") + ("left" if th > 0 else "right")
        bounds = (0.0, 90.0, -90.0, 180.0)
    margin = min(abs(wrap_deg(th - x)) for x in bounds)
    sep = min(np.linalg.norm((b.c - a.c)[:2]), np.linalg.norm((c.c - a.c)[:2])) - float(row.D.param(row.T, "min_sep_m", 0.5))
    gate = min(_video_named_gate(row, row.objs[:3]), margin - row.D.margin(row.T, "min_angle_deg"), sep)
    return compare(row, mine, margin=margin, gate=gate, gate_what="named; angle margin; separation")


def v_order(row):
    th, frames = row.D.thresholds(row.T), _frames(row)
    cats = sorted({row.S.objects[o].category for o in row.objs})
    first, shown = {}, {}
    for cat in cats:
        ids = [o for o in row.S.order if row.S.objects[o].category == cat]
        seen = [k for k, v in enumerate(frames) if any(v.visible(o, th) for o in ids)]
        if not seen:
            raise Skip(f"category {cat} never seen")
        first[cat] = seen[0]
        shown[cat] = min(k for k, v in enumerate(frames) if any(v.shows(o) for o in ids))
    order = sorted(cats, key=lambda c: first[c])
    mine = ", ".join(row.D.name(c) for c in order)
    gap = int(row.D.param(row.T, "min_frames", 2))
    slack = min(min(first[b] - first[a] - gap, shown[b] - first[a] - 1) for a, b in zip(order, order[1:]))
    covered = any(v.shows(o) for c in cats for o in row.S.order if row.S.objects[o].category in row.D.covered.get(c, ())
                  for v in frames)
    return compare(row, mine, margin=min(first[b] - first[a] for a, b in zip(order, order[1:])),
                   gate=-1.0 if covered else float(slack), gate_what="first frames apart; no earlier sliver")


def _route_turns(pts, face):
    turns, worst = [], math.inf
    heading = np.asarray(face, float) - pts[0]
    for a, b in zip(pts, pts[1:]):
        th = bearing_ccw(a, heading, b)
        if 45.0 < abs(th) < 135.0:
            turns.append("Turn Left" if th > 0 else "Turn Right")
            worst = min(worst, abs(th) - 45.0, 135.0 - abs(th))
        elif abs(th) > 135.0:
            turns.append("Turn Back")
            worst = min(worst, abs(th) - 135.0)
        else:
            return None, abs(th) - 45.0
        heading = b - a
    return turns, worst


def _walk(pts, face, turns) -> bool:
    h = math.atan2(*(np.asarray(face, float) - pts[0])[1::-1])
    for k, t in enumerate(turns):
        h += math.radians({"Turn Left": 90.0, "Turn Right": -90.0, "Turn Back": 180.0}[t])
        d = pts[k + 1] - pts[k]
        if abs(wrap_deg(math.degrees(math.atan2(d[1], d[0]) - h))) >= 45.0:
            return False
        h = math.atan2(d[1], d[0])
    return True


def v_route(row):
    S = row.S
    pts = [S.objects[o].c[:2] for o in [row.objs[0]] + row.objs[2:]]
    face = S.objects[row.objs[1]].c[:2]
    turns, margin = _route_turns(pts, face)
    if turns is None:
        return Result("disagree", "(a leg straight ahead)", note="route has a leg needing no turn")
    mine = ", ".join(turns)
    replays = [_walk(pts, face, [x.strip() for x in c.split(",")]) for c in row.r["choices"]]
    ok_options = replays == [c == mine for c in row.r["choices"]]
    gate = min(_video_named_gate(row, row.objs), margin - row.D.margin(row.T, "min_angle_deg"))
    res = compare(row, mine, margin=margin, gate=gate, gate_what="named; turn margin")
    if not ok_options:
        return Result("disagree", mine, note="a distractor replays to the goal or the answer does not")
    return res


def v_map(row):
    frames = _frames(row)
    f = frames[0].pose[:3, 2]
    yaw = math.degrees(math.atan2(f[1], f[0]))
    k = int(round((90.0 - yaw) / 90.0)) % 4
    off = abs(wrap_deg(yaw + 90.0 * k - 90.0))
    rec = json.loads(json.dumps(row.S.rec))
    R = rz(math.radians(90.0 * k))
    for o in rec["objects"]:
        o["center"] = (R @ np.array(o["center"], float)).tolist()
        o["rotation"] = (R @ np.array(o["rotation"], float).reshape(3, 3)).tolist()
    for w in rec["room"].get("walls") or []:
        w["start"] = (R[:2, :2] @ np.array(w["start"], float)).tolist()
        w["end"] = (R[:2, :2] @ np.array(w["end"], float)).tolist()
    if k % 2:
        sx, sy, sz = rec["room"]["size"]
        rec["room"]["size"] = [sy, sx, sz]
    rec["views"] = []
    turned = Scene(rec)
    mine = "\n".join(draw_map(turned, None, float(row.D.param(row.T, "resolution_m", 0.5)), row.objs))
    gate = min(_video_named_gate(row, row.objs), 45.0 - off - row.D.margin(row.T, "min_angle_deg"))
    if mine == row.value:
        return Result("ok", "(same map)", gate=gate, gate_what="named; first heading near a wall direction")
    return Result("disagree", mine)


CHECKS = {
    "measurement.object_distance": m_object_distance, "measurement.camera_distance": m_camera_distance,
    "measurement.height": m_size, "measurement.length": m_size, "measurement.width": m_size,
    "measurement.longest_side": m_size, "measurement.elevation": m_elevation,
    "measurement.vertical_distance": m_vertical, "measurement.horizontal_distance": m_horizontal,
    "measurement.room_length": m_room, "measurement.room_width": m_room, "measurement.floor_area": m_room,
    "relations.left_right": r_left_right, "relations.front_behind": r_front_behind,
    "relations.above_below": r_above_below, "relations.closest_to_camera": r_extreme,
    "relations.closest_to_anchor": r_extreme, "relations.taller": r_size, "relations.bigger": r_size,
    "relations.next_to": r_next_to, "relations.on_top": r_on_top, "relations.support": r_support,
    "relations.direction8": r_direction8, "relations.clock": r_clock,
    "perspective.standing_lr": p_standing, "perspective.standing_quadrant": p_standing,
    "perspective.object_view_lr": p_object_view, "perspective.object_view_fb": p_object_view,
    "perspective.depth_order": p_depth_order,
    "camera.height": c_height, "camera.pitch": c_pitch, "camera.pitch_degrees": c_pitch_degrees,
    "camera.object_distance": c_object_distance, "camera.move": c_move, "camera.turn_direction": c_turn,
    "camera.turn_degrees": c_turn,
    "motion.turn_in_view": mo_turn_in_view, "motion.walk_in_view": mo_walk_in_view,
    "motion.walk_closer": mo_walk_closer, "motion.aim_direction": mo_aim, "motion.aim_degrees": mo_aim,
    "motion.object_move_closer": mo_object_move,
    "occlusion.partly_hidden": oc_partly_hidden, "occlusion.occluder": oc_occluder,
    "occlusion.visible_fraction": oc_visible_fraction, "occlusion.most_occluded": oc_most_occluded,
    "occlusion.amodal_count": oc_amodal_count, "occlusion.unanswerable": oc_unanswerable,
    "counting.count": co_count, "counting.count_color": co_count, "counting.count_compare": co_count,
    "grounding.box2d": g_box2d, "grounding.box3d": g_box3d,
    "multiview.mark_correspondence": mv_marks, "multiview.count_across_views": mv_count,
    "multiview.cross_view_direction": mv_direction,
    "ascii.draw_map": a_draw, "ascii.describe_to_map": a_draw, "ascii.map_direction": a_map_direction,
    "ascii.map_nearest": a_map_nearest,
    "text.direction": t_direction, "text.left_of": t_left_of, "text.distance": t_distance, "text.support": t_support,
    "video.object_count": v_count, "video.abs_distance": v_abs_distance, "video.object_size": v_size,
    "video.room_size": v_room, "video.rel_distance": v_rel_distance, "video.rel_direction_easy": v_direction,
    "video.rel_direction_medium": v_direction, "video.rel_direction_hard": v_direction,
    "video.appearance_order": v_order, "video.route_plan": v_route, "video.cognitive_map": v_map,
}

# what each task's margin is measured in (the deciding quantity's unit)
MARGIN_UNITS = {
    "relations.left_right": "px", "relations.front_behind": "m", "relations.above_below": "m",
    "relations.closest_to_camera": "m", "relations.closest_to_anchor": "m", "relations.taller": "m",
    "relations.bigger": "x (ratio)", "relations.next_to": "m", "relations.direction8": "deg", "relations.clock": "deg",
    "perspective.standing_lr": "deg", "perspective.standing_quadrant": "deg", "perspective.object_view_lr": "deg",
    "perspective.object_view_fb": "deg", "perspective.depth_order": "m", "camera.pitch": "deg", "camera.move": "deg",
    "camera.turn_direction": "deg", "motion.turn_in_view": "px", "motion.walk_in_view": "px", "motion.walk_closer": "m",
    "motion.aim_direction": "deg", "motion.object_move_closer": "m", "occlusion.partly_hidden": "fraction",
    "occlusion.occluder": "fraction", "occlusion.visible_fraction": "fraction", "occlusion.most_occluded": "fraction",
    "occlusion.unanswerable": "px", "counting.count_compare": "count", "multiview.cross_view_direction": "deg",
    "ascii.map_direction": "deg", "ascii.map_nearest": "m", "text.direction": "deg", "text.left_of": "m",
    "measurement.object_distance": "m (choice)", "measurement.camera_distance": "m (choice)",
    "video.rel_distance": "m", "video.rel_direction_easy": "deg", "video.rel_direction_medium": "deg",
    "video.rel_direction_hard": "deg", "video.appearance_order": "frames", "video.route_plan": "deg",
}


# --------------------------------------------------------------------------------------------
# Row consistency (answer text, letter, value)


def consistency(row: Row) -> str | None:
    r = row.r
    t = r["answer_type"]
    if t == "choice":
        ch, k = r["choices"], r["answer_index"]
        if ch is None or k is None or not 0 <= k < len(ch):
            return "choice without options or index"
        if ch[k] != row.value or r["answer"] != f"{LETTERS[k]}. {ch[k]}":
            return f"answer {r['answer']!r} / index {k} / value {row.value!r} disagree"
        if f"\n{LETTERS[k]}. {ch[k]}" not in r["question"]:
            return "the answer option is not listed in the question"
    elif t == "bool":
        if not isinstance(row.value, bool) or r["answer"] != ("yes" if row.value else "no"):
            return f"answer {r['answer']!r} vs value {row.value!r}"
    elif t == "number":
        unit = r["unit"] or row.T.get("unit")
        dec, _ = num_tol(unit, row.D)
        if r["answer"] != fmt(float(row.value), unit, dec):
            return f"answer {r['answer']!r} vs value {row.value!r}"
    elif t == "count":
        if not isinstance(row.value, int) or r["answer"] != str(row.value):
            return f"answer {r['answer']!r} vs value {row.value!r}"
    else:
        if r["answer"] != row.value:
            return "answer text differs from value"
    return names_check(row)


UNNAMED = {"counting.count", "counting.count_color", "counting.count_compare", "occlusion.amodal_count",
           "multiview.count_across_views", "multiview.mark_correspondence", "video.object_count"}


def names_check(row: Row) -> str | None:
    """Every object the row lists is named in its question: its mark ("object k") or its
    category's display name."""
    if row.marks and row.r["view_ids"] and row.marks.get("view_id") != row.r["view_ids"][0]:
        return f"marks drawn on {row.marks.get('view_id')}, the question shows {row.r['view_ids'][0]} first"
    if row.key in UNNAMED:
        return None
    marked = row.marks["object_ids"] if row.marks and "per_view" not in row.marks else []
    for oid in row.objs:
        if oid not in row.S.objects:
            return f"unknown object {oid}"
        if oid in marked:
            want = f"object {marked.index(oid) + 1}"
        else:
            want = row.D.name(row.S.objects[oid].category)
        if not re.search(r"(?<![\w-])" + re.escape(want) + r"(?![\w-])", row.q, re.IGNORECASE):
            return f"{oid} ({want!r}) is not named in the question"
    return None


# --------------------------------------------------------------------------------------------
# Driver


@dataclass
class Stats:
    rows: int = 0
    checked: int = 0
    skipped: int = 0
    disagree: list = field(default_factory=list)
    margin: float = math.inf
    margin_row: str = ""
    err: float = 0.0
    gate_viol: list = field(default_factory=list)
    skip_reasons: dict = field(default_factory=lambda: defaultdict(int))


# Tasks whose listed objects are referents: visible enough in the question's view (visible fraction,
# pixels, in-frame share at the template's thresholds, docs/qa.md "Visible enough").
REFERENT_TASKS = {k for k in CHECKS if k.split(".")[0] in ("measurement", "relations", "perspective", "motion",
                                                             "grounding")} | {"camera.object_distance", "ascii.draw_map"}


def referents_missing(row: Row) -> str:
    if row.key == "multiview.cross_view_direction":
        v1, v2 = _two_views(row)
        th = row.D.thresholds(row.T)
        return "" if (v2.visible(row.objs[0], th) and v1.visible(row.objs[1], th)) else "a in image 2, b in image 1"
    if row.key == "occlusion.occluder":
        th = row.D.thresholds(row.T)
        return ",".join(o for o in row.objs[1:] if not row.view.visible(o, th))
    if row.key not in REFERENT_TASKS or not row.r["view_ids"]:
        return ""
    th = row.D.thresholds(row.T)
    return ",".join(o for o in row.objs if not row.view.visible(o, th))


def audit_row(r: dict, S: Scene, D: Defs) -> tuple[str, Result]:
    key = f"{r['family']}.{r['task']}"
    fn = CHECKS.get(key)
    if fn is None:
        return key, Result("skip", note="task not covered")
    try:
        row = Row(r, S, D)
        bad = consistency(row)
        res = fn(row)
        miss = referents_missing(row)
        if miss:
            res.gate = min(res.gate if res.gate is not None else 0.0, -1.0)
            res.gate_what = (res.gate_what + "; " if res.gate_what else "") + f"referents visible enough ({miss})"
        if bad is not None:
            res.status, res.note = "disagree", "inconsistent row: " + bad
    except Skip as e:
        return key, Result("skip", note=str(e))
    except KeyError as e:
        return key, Result("skip", note=f"record lacks {e}")
    return key, res


def iter_rows(dataset: str, limit: int | None = None):
    files = sorted(glob.glob(os.path.join(dataset, "data", "*.parquet")))
    if not files:
        raise SystemExit(f"{dataset}: no data/*.parquet files")
    n = 0
    for fn in files:
        pf = pq.ParquetFile(fn)
        cols = [c for c in COLUMNS if c in pf.schema_arrow.names]
        scenes: dict[str, Scene] = {}
        for batch in pf.iter_batches(batch_size=256, columns=cols):
            for r in batch.to_pylist():
                sid = r["scene_id"]
                if sid not in scenes:
                    if len(scenes) > 64:
                        scenes.clear()
                    scenes[sid] = Scene(json.loads(r["scene"]))
                r.pop("scene", None)
                yield r, scenes[sid]
                n += 1
                if limit and n >= limit:
                    return


RECORD_TOL = 1e-6  # record fields recomputed: metres, pixels, fractions (in_frustum: 0 or 1)


def run(dataset: str, templates: str | None = None, limit: int | None = None, catalog: str | None = None) -> dict:
    D = Defs(dataset, templates, catalog)
    stats: dict[str, Stats] = defaultdict(Stats)
    recs: dict[str, dict] = {}
    seen: set[str] = set()
    t0 = time.time()
    for r, S in iter_rows(dataset, limit):
        if S.id not in seen:
            seen.add(S.id)
            for k, lst in record_checks(S).items():
                m = recs.setdefault(k, {"checked": 0, "mismatches": [], "max_dev": 0.0})
                m["checked"] += len(lst)
                for dev, where in lst:
                    m["max_dev"] = max(m["max_dev"], dev)
                    if dev > RECORD_TOL:
                        m["mismatches"].append({"where": where, "deviation": dev})
        key, res = audit_row(r, S, D)
        st = stats[key]
        st.rows += 1
        if res.status == "skip":
            st.skipped += 1
            st.skip_reasons[res.note] += 1
            continue
        st.checked += 1
        if res.status == "disagree":
            st.disagree.append({"id": r["id"], "template": r["template_id"], "stored": r["answer"],
                                "audit": res.mine, "note": res.note})
        if res.margin is not None and res.margin < st.margin:
            st.margin, st.margin_row = float(res.margin), r["id"]
        if res.err is not None:
            st.err = max(st.err, float(res.err))
        if res.gate is not None and res.gate < -1e-9:
            st.gate_viol.append({"id": r["id"], "slack": float(res.gate), "rule": res.gate_what})
    rows = sum(s.rows for s in stats.values())
    checked = sum(s.checked for s in stats.values())
    return {"dataset": dataset, "rows": rows, "checked": checked, "coverage": checked / rows if rows else 0.0,
            "disagreements": sum(len(s.disagree) for s in stats.values()),
            "margin_violations": sum(len(s.gate_viol) for s in stats.values()),
            "seconds": time.time() - t0, "scenes": len(seen),
            "records": dict(sorted(recs.items())),
            "record_mismatches": sum(len(m["mismatches"]) for m in recs.values()),
            "tasks": {k: {"rows": s.rows, "checked": s.checked, "skipped": s.skipped,
                          "disagreements": s.disagree, "closest_margin": None if s.margin == math.inf else s.margin,
                          "closest_margin_row": s.margin_row, "margin_unit": MARGIN_UNITS.get(k, ""),
                          "max_numeric_error": s.err if s.err else None, "margin_violations": s.gate_viol,
                          "skip_reasons": dict(s.skip_reasons)}
                      for k, s in sorted(stats.items())}}


def report_text(rep: dict, show: int = 5) -> str:
    out = [f"{rep['dataset']}: {rep['rows']} rows, {rep['checked']} checked ({100 * rep['coverage']:.1f}%), "
           f"{rep['disagreements']} disagreements, {rep['margin_violations']} margin-rule violations, "
           f"{rep['record_mismatches']} record-field mismatches ({rep['seconds']:.0f} s)", ""]
    out.append(f"{'task':34s} {'rows':>7s} {'checked':>7s} {'skip':>6s} {'disagr':>6s} {'closest margin':>20s} "
               f"{'max num err':>11s} {'viol':>5s}")
    for k, t in rep["tasks"].items():
        m = "" if t["closest_margin"] is None else f"{t['closest_margin']:.4g} {t['margin_unit']}"
        e = "" if t["max_numeric_error"] is None else f"{t['max_numeric_error']:.4f}"
        out.append(f"{k:34s} {t['rows']:7d} {t['checked']:7d} {t['skipped']:6d} {len(t['disagreements']):6d} "
                   f"{m:>20s} {e:>11s} {len(t['margin_violations']):5d}")
    out.append("")
    out.append(f"record fields of {rep['scenes']} scenes (camera-sampler fields recomputed, renderer fields cross-checked):")
    for k, m in rep["records"].items():
        out.append(f"  {k:20s} {m['checked']:8d} checked, {len(m['mismatches'])} mismatches, "
                   f"largest deviation {m['max_dev']:.3g}")
        for d in m["mismatches"][:show]:
            out.append(f"    MISMATCH {k} {d['where']}: {d['deviation']:.4g}")
    for k, t in rep["tasks"].items():
        if t["skip_reasons"] and t["checked"] == 0:
            out.append(f"  skipped {k}: " + "; ".join(f"{n} x {why}" for why, n in t["skip_reasons"].items()))
    for k, t in rep["tasks"].items():
        if t["checked"] and t["skipped"]:
            out.append(f"  partly skipped {k}: " + "; ".join(f"{n} x {why}" for why, n in t["skip_reasons"].items()))
    for k, t in rep["tasks"].items():
        for d in t["disagreements"][:show]:
            out.append(f"  DISAGREE {k} {d['id']}: stored {d['stored']!r}, audit {d['audit']!r} {d['note']}")
        for d in t["margin_violations"][:show]:
            out.append(f"  INSIDE MARGIN {k} {d['id']}: {d['rule']} slack {d['slack']:.4g}")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", nargs="+", help="dataset folder(s) written by spatialforge generate")
    ap.add_argument("--templates", default=None, help="templates folder (default: the dataset config's, else templates/)")
    ap.add_argument("--catalog", default=None, help="catalog YAML (default: the dataset config's, else scenes/catalog.yaml)")
    ap.add_argument("--limit", type=int, default=None, help="audit only the first N rows of each dataset")
    ap.add_argument("--json", default=None, help="write the full report as JSON here")
    ap.add_argument("--show", type=int, default=5, help="list at most this many disagreements per task")
    a = ap.parse_args(argv)
    reps = [run(d, a.templates, a.limit, a.catalog) for d in a.dataset]
    rep = reps[0] if len(reps) == 1 else merge(reps)
    print(report_text(rep, a.show))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rep if len(reps) > 1 else rep, fh, indent=1, default=str)
    return 1 if rep["disagreements"] or rep["record_mismatches"] else 0


def merge(reps: list[dict]) -> dict:
    out = {"dataset": " + ".join(r["dataset"] for r in reps), "rows": 0, "checked": 0, "disagreements": 0,
           "margin_violations": 0, "seconds": 0.0, "scenes": 0, "record_mismatches": 0, "records": {}, "tasks": {}}
    for r in reps:
        for k in ("rows", "checked", "disagreements", "margin_violations", "seconds", "scenes", "record_mismatches"):
            out[k] += r[k]
        for k, m in r["records"].items():
            g = out["records"].setdefault(k, {"checked": 0, "mismatches": [], "max_dev": 0.0})
            g["checked"] += m["checked"]
            g["mismatches"] += m["mismatches"]
            g["max_dev"] = max(g["max_dev"], m["max_dev"])
        for k, t in r["tasks"].items():
            m = out["tasks"].setdefault(k, {"rows": 0, "checked": 0, "skipped": 0, "disagreements": [],
                                            "closest_margin": None, "closest_margin_row": "",
                                            "margin_unit": t["margin_unit"], "max_numeric_error": None,
                                            "margin_violations": [], "skip_reasons": defaultdict(int)})
            for f in ("rows", "checked", "skipped"):
                m[f] += t[f]
            m["disagreements"] += t["disagreements"]
            m["margin_violations"] += t["margin_violations"]
            if t["closest_margin"] is not None and (m["closest_margin"] is None or t["closest_margin"] < m["closest_margin"]):
                m["closest_margin"], m["closest_margin_row"] = t["closest_margin"], f"{r['dataset']}:{t['closest_margin_row']}"
            if t["max_numeric_error"] is not None:
                m["max_numeric_error"] = max(m["max_numeric_error"] or 0.0, t["max_numeric_error"])
            for why, n in t["skip_reasons"].items():
                m["skip_reasons"][why] += n
    out["tasks"] = dict(sorted(out["tasks"].items()))
    out["coverage"] = out["checked"] / out["rows"] if out["rows"] else 0.0
    return out


if __name__ == "__main__":
    sys.exit(main())
