"""Camera family: camera height, pitch class, camera-object distance, and between two views the
camera's move (in view 1's floor-plane frame) and turn (heading change).

Definitions: height = world z of the camera centre (m); pitch = elevation of the optical axis
above the horizontal (deg; level when |pitch| <= ``params.level_max_deg``, up/down when
|pitch| >= ``min_angle_deg``, not asked in between; ``pitch_degrees`` asks |pitch|); camera-object distance = camera centre to
the closest box point. Motion between views comes from :func:`engine.qa.egomotion.relative_motion`:
its floor-plane bearing in view 1's frame picks forward (|b| < 45), left (45..135), backward
(|b| > 135) or right, at least ``min_angle_deg`` from those boundaries and at least
``min_abs_diff`` metres long. Turn = heading 2 - heading 1 in (-180, 180], > 0 = left.
"""

from __future__ import annotations

import math

import numpy as np

from engine.qa import egomotion as em
from engine.qa.candidate import Candidate, choice_candidate, number_candidate
from engine.qa.context import FamilyContext
from engine.qa.schema import Template

TASKS = ("height", "pitch", "pitch_degrees", "object_distance", "move", "turn_direction", "turn_degrees")
MOVES = ("forward", "left", "backward", "right")


def validate_template(t: Template) -> None:
    """``classes``: 2 or 3 distinct PITCH_CLASSES; ``level_max_deg`` (pitch, deg): a non-negative number
    not above ``margins.min_angle_deg``."""
    classes = t.param("classes", list(PITCH_CLASSES))
    if (not isinstance(classes, list) or len(classes) < 2 or len(set(classes)) != len(classes)
            or any(c not in PITCH_CLASSES for c in classes)):
        raise t.error("params.classes", f"must list 2 or 3 distinct pitch classes of {PITCH_CLASSES}, got {classes!r}")
    lv = t.param("level_max_deg", 5)
    if not isinstance(lv, (int, float)) or isinstance(lv, bool) or lv < 0:
        raise t.error("params.level_max_deg", f"must be a non-negative number of degrees, got {lv!r}")
    if "min_angle_deg" in t.margins and lv > t.margins["min_angle_deg"]:
        raise t.error("params.level_max_deg", "must not exceed margins.min_angle_deg (the classes would overlap)")


PITCH_CLASSES = ("looking up", "looking down", "level")


def pitch_class(pitch_deg: float, level_max_deg: float, min_tilt_deg: float) -> str | None:
    """``looking up`` / ``looking down`` / ``level`` for a pitch (deg, > 0 up; thresholds in deg),
    or None in the dead zone between them."""
    if abs(pitch_deg) <= level_max_deg:
        return "level"
    if pitch_deg >= min_tilt_deg:
        return "looking up"
    if pitch_deg <= -min_tilt_deg:
        return "looking down"
    return None


def move_class(forward: float, left: float, min_len: float, margin_deg: float) -> str | None:
    """Dominant floor-plane move (``forward``/``left``/``backward``/``right``) of a displacement in
    view 1's floor frame (m forward, m left), or None when shorter than ``min_len`` (m) or within
    ``margin_deg`` of a sector boundary."""
    if math.hypot(forward, left) < min_len:
        return None
    b = math.degrees(math.atan2(left, forward))  # > 0: to the left
    k = int(math.floor((b + 45.0) / 90.0)) % 4
    off = (b - 90.0 * k + 180.0) % 360.0 - 180.0
    if 45.0 - abs(off) < margin_deg:
        return None
    return MOVES[k]


def generate(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """Candidates of template ``t`` on ``ctx.view``: height (world z) and distances in m, pitch and
    turns in degrees; two-view tasks pair the view with every other view of the scene."""
    v = ctx.view
    if t.task == "height":
        z = float(v.cam_pos[2])
        return [number_candidate(ctx, t, rng, {}, None, z, f"The camera centre is at z = {z:.2f} m and the floor at "
                                 f"z = 0, so the camera is {z:.2f} m above the floor.", decimals=ctx.cfg["decimals"],
                                 frame="world")]
    if t.task == "pitch":
        p = math.degrees(em.pitch(v.pose))
        ans = pitch_class(p, float(t.param("level_max_deg", 5)), ctx.margin(t, "min_angle_deg"))
        # params.classes: the classes the cameras can produce (the default cameras never look up,
        # and an option that is never right would be a text-only shortcut); others are not asked.
        options = [c for c in PITCH_CLASSES if c in t.param("classes", list(PITCH_CLASSES))]
        if ans is None or ans not in options:
            return []
        rat = f"The optical axis is {abs(p):.0f} degrees {'above' if p >= 0 else 'below'} the horizontal, so the camera is {ans}."
        return [choice_candidate(ctx, t, rng, {}, None, options, options.index(ans), rat)]
    if t.task == "pitch_degrees":
        p = math.degrees(em.pitch(v.pose))
        rat = (f"The optical axis points {abs(p):.0f} degrees {'above' if p >= 0 else 'below'} the horizontal, "
               f"so the camera is tilted {abs(p):.0f} degrees.")
        return [number_candidate(ctx, t, rng, {}, None, abs(p), rat, decimals=0)]
    if t.task == "object_distance":
        out = []
        for a in ctx.referents(t):
            refs = ctx.refer(t, [a], rng)
            if refs is None:
                continue
            d = float(v.cam_dist[v.i(a)])
            rat = f"The closest point of {refs[0]} is {d:.2f} m from the camera centre."
            out.append(number_candidate(ctx, t, rng, {"a": refs[0]}, refs, d, rat, decimals=ctx.cfg["decimals"]))
        return out
    if t.task in ("move", "turn_direction", "turn_degrees"):
        return _two_view(ctx, t, rng)
    raise t.error("task", f"unknown camera task {t.task!r}")


def _two_view(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    v1 = ctx.view
    m = ctx.margin(t, "min_angle_deg")
    out = []
    for v2 in ctx.views:
        if v2.id == v1.id:
            continue
        try:
            rel = em.relative_motion(v1.pose, v2.pose)
        except ValueError:  # a camera looking straight down has no heading
            continue
        turn = math.degrees(rel["turn"])
        ids = [v1.id, v2.id]
        if t.task == "move":
            ans = move_class(rel["forward"], rel["left"], ctx.margin(t, "min_abs_diff"), m)
            if ans is None:
                continue
            rat = (f"In the first view's floor frame the camera moved {rel['forward']:.2f} m forward and "
                   f"{rel['left']:.2f} m to the left, so it mainly moved {ans}.")
            options = list(MOVES)
            c = choice_candidate(ctx, t, rng, {}, None, options, options.index(ans), rat)
        elif t.task == "turn_direction":
            if abs(turn) < m or abs(turn) > 180.0 - m:
                continue
            ans = "left" if turn > 0 else "right"
            rat = f"The heading changed by {turn:+.0f} degrees (positive = counter-clockwise), so the camera turned {ans}."
            c = choice_candidate(ctx, t, rng, {}, None, ["left", "right"], 0 if ans == "left" else 1, rat)
        else:
            if abs(turn) < m:
                continue
            rat = f"The heading changed from view 1 to view 2 by {turn:+.1f} degrees, a turn of {abs(turn):.0f} degrees."
            c = number_candidate(ctx, t, rng, {}, None, abs(turn), rat, decimals=0)
        c.view_ids = ids
        out.append(c)
    return out
