"""Grounding family: the 2D box of a referred object and its 3D box in the camera frame, as JSON.

2D: the renderer's visible box [u0, v0, u1, v1], inclusive integer pixels (docs/record.md).
3D: {"center": [x, y, z] (m, camera frame: +X right, +Y down, +Z forward), "size": [depth,
width, height] (m, the box's local x, y, z extents), "rotation": 3x3 box-local to camera}.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from engine.qa.candidate import Candidate, text_candidate, capitalize
from engine.qa.context import FamilyContext
from engine.qa.schema import Template

TASKS = {"box2d", "box3d"}


def _dumps(x: Any) -> str:
    return json.dumps(x, separators=(", ", ": "))


def generate(ctx: FamilyContext, t: Template, rng: np.random.Generator) -> list[Candidate]:
    """Candidates of grounding template ``t`` on ``ctx.view``: answers are JSON text (box2d: visible
    box in integer pixels; box3d: centre and size in m, camera frame, and the 3x3 rotation)."""
    w, v = ctx.world, ctx.view
    ids = ctx.referents(t)
    lim = int(ctx.cfg["balancing"]["max_candidates"])
    dec = int(ctx.cfg["decimals"])
    out = []
    for k in rng.permutation(len(ids))[:lim]:
        oid = ids[int(k)]
        refs = ctx.refer(t, [oid], rng)
        if refs is None:
            continue
        if t.task == "box2d":
            box = v.bbox_visible(oid)
            if box is None:
                continue
            box = [int(b) for b in box]
            value = _dumps(box)
            why = (f"{refs[0]} covers pixel columns {box[0]} to {box[2]} and rows {box[1]} to {box[3]}, "
                   f"so its box is {value}.")
        else:
            i = w.index[oid]
            r_cam = v.world_to_cam[:3, :3] @ w.boxes[i].rotation
            center = [round(float(x), dec) for x in v.cam_xyz[i]]
            size = [round(float(x), dec) for x in w.sizes[i]]
            rot = np.round(r_cam, 3) + 0.0  # + 0.0 turns -0.0 into 0.0
            value = _dumps({"center": center, "size": size, "rotation": rot.tolist()})
            why = (f"In the camera frame (x right, y down, z forward) the centre of {refs[0]} is at "
                   f"{_dumps(center)} m; its box measures {_dumps(size)} m (depth, width, height).")
        why = capitalize(why)
        out.append(text_candidate(ctx, t, rng, {"A": refs[0]}, refs, value, why, answer_type="json"))
    return out
