"""Answers are unambiguous: no distractor also satisfies a choice question, and names are unique
under the catalog's name hierarchy (``covers``).

Occlusion truth comes from the renderer itself (exact box meshes): an object truly hides part of
X when its id shows inside X's amodal mask (X rendered alone), nearer than X there, the
definition of the visible fraction. That is independent of the family's box-and-ray geometry."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_erosion
import pytest

from engine.qa.families import occlusion
from engine.qa.refer import Referrer
from engine.scene.catalog import CatalogError, load_catalog, parse_catalog
from engine.scene.graph import Room, SceneGraph, View
from qa_core_scenes import K, obj, vis
from qa_families_scenes import all_candidates, make_ctx, seen, walls_for
from render_scenes import make_view, simple_meshes

DEPTH_TIE_M = 1e-4  # rendered depths closer than this are a tie of touching faces, not occlusion
# On an object's silhouette pixels a tie may look wider: the rasterizer snaps vertices to 1/256 px
# and a grazing surface's depth there may be extrapolated by a fraction of its depth change per
# pixel (a bowl's rim on the table it stands on: 0.14 mm behind the table top, 15 mm per pixel).
EDGE_TIE_M = 2e-3


# ---------------------------------------------------------------------------------------- occlusion


@pytest.fixture(scope="module")
def renderer():
    from engine.render import get_renderer, load_default_render_cfg

    return get_renderer(load_default_render_cfg())


def coffee_table_scene(chair_in_front: bool) -> SceneGraph:
    """A coffee table (x -0.3..0.3, y -0.55..0.55, top 0.42 m) with a box standing on its back
    half (x -0.25..0.25, y 0.0..0.5, z 0.42..0.82), a ball, a vase and a cabinet behind.
    The chair stands in front of the table's left end, or far to the right."""
    chair = (-0.5, -1.0, 0.45) if chair_in_front else (1.7, 0.9, 0.45)
    objects = [
        obj(0, "coffee_table", (0.0, 0.0, 0.21), (0.6, 1.1, 0.42), color="brown", material="wood"),
        obj(1, "box", (0.0, 0.25, 0.62), (0.5, 0.5, 0.4), support="on:obj_00", color="red", material="paper"),
        obj(2, "chair", chair, (0.5, 0.5, 0.9), color="blue", material="wood"),
        obj(3, "ball", (1.4, -0.6, 0.1), (0.2, 0.2, 0.2), color="yellow", material="rubber"),
        obj(4, "vase", (-1.5, 0.5, 0.15), (0.2, 0.2, 0.3), color="green", material="ceramic"),
        obj(5, "cabinet", (0.0, 1.7, 0.5), (0.5, 1.0, 1.0), color="white", material="wood"),
    ]
    return SceneGraph("s_stack", 0, Room("room", [5.0, 5.0, 2.6], walls_for(5.0, 5.0, 2.6)), objects, [])


def stacked_room(seed: int) -> SceneGraph:
    """Nine furniture boxes on a 3 x 3 grid (x -1.8, 0, 1.8; y -1.5, 0, 1.5; +-0.2 m jitter, at most
    0.8 m across, yaw +-0.5 rad) in an 8 x 7 m room, small boxes standing on some of them (a
    fixture: the rng here only builds it, explicit and seeded)."""
    rng = np.random.default_rng(seed)
    objects = []
    for i in range(9):
        cx, cy = -1.8 + (i % 3) * 1.8 + rng.uniform(-0.2, 0.2), -1.5 + (i // 3) * 1.5 + rng.uniform(-0.2, 0.2)
        sx, sy, sz = rng.uniform([0.4, 0.4, 0.3], [0.8, 0.8, 1.1])
        o = obj(len(objects), "cabinet", (cx, cy, sz / 2), (sx, sy, sz),
                color=("brown", "white", "gray", "black")[i % 4], material=("wood", "metal")[i // 4 % 2])
        o.yaw = float(rng.uniform(-0.5, 0.5))
        objects.append(o)
        if rng.random() < 0.6:
            h = rng.uniform(0.15, 0.6)
            top = obj(len(objects), "box", (cx + rng.uniform(-0.1, 0.1), cy + rng.uniform(-0.1, 0.1), sz + h / 2),
                      (rng.uniform(0.15, 0.35), rng.uniform(0.15, 0.35), h), support=f"on:{o.id}",
                      color=("brown", "white", "red", "blue", "beige")[i % 5], material="paper")
            top.yaw = o.yaw
            objects.append(top)
    return SceneGraph(f"s_stacked_{seed}", 0, Room("room", [8.0, 7.0, 2.6], walls_for(8.0, 7.0, 2.6)), objects, [])


def render_views(scene: SceneGraph, eyes, renderer, size=(240, 180)) -> dict[str, dict[str, set[str]]]:
    """Render each (eye, target) view of ``scene`` with exact box meshes, write the renderer's
    visibility fields into the view, append it to the scene, and return per view and object the
    true occluders: objects whose id shows inside the object's amodal mask (it rendered alone)
    at a depth nearer than the object's own by more than a depth-buffer tie (where a box stands on
    another the two faces touch, and a pixel of the lower one may win the tie)."""
    from engine.render import annotate_visibility

    meshes = simple_meshes(scene)
    by_instance = {o.instance_id: o.id for o in scene.objects}
    truth = {}
    for k, (eye, target) in enumerate(eyes):
        view = make_view(eye, target, size[0], size[1], 60.0, f"view_{len(scene.views)}")
        view.objects = {}
        frame = renderer.render(scene, view, meshes)
        annotate_visibility(view, frame)
        scene.views.append(view)
        truth[view.id] = {}
        for o in scene.objects:
            alone = renderer.render(SceneGraph("alone", 0, scene.room, [o]), view,
                                    [m for m in meshes if m.instance_id == o.instance_id])
            hidden = (alone.ids == o.instance_id) & (frame.depth < alone.depth - DEPTH_TIE_M)
            ids = set(np.unique(frame.ids[hidden]).tolist()) - {0, o.instance_id}
            truth[view.id][o.id] = {by_instance[i] for i in ids}
    return truth


def occluder_candidates(ctx, seeds=range(6)):
    return [c for s in seeds for c in all_candidates(ctx, "occlusion.occluder.choice", seed=s)]


def test_object_standing_on_the_target_hides_it_and_is_the_key(renderer):
    """The box stands on the coffee table's back half and hides a fifth of it: its closest
    point is farther from the camera than the table's, so the old nearer-than test found no
    occluder and never asked; it is the one object that may occlude, so it is the answer."""
    scene = coffee_table_scene(chair_in_front=False)
    truth = render_views(scene, [((0.2, -1.8, 2.0), (0.0, 0.0, 0.4))], renderer)["view_0"]
    ctx = make_ctx(scene)
    v = ctx.view
    assert truth["obj_00"] == {"obj_01"}  # the renderer: only the box hides part of the table
    assert v.vis_frac[0] < 0.8  # partly hidden enough for the template (hidden_max 0.8)
    assert v.cam_dist[1] > v.cam_dist[0]  # the old test wanted the closest point and the centre nearer
    assert occlusion.occluders(ctx, "obj_00") == ["obj_01"]
    cands = [c for c in occluder_candidates(ctx) if c.objects[0] == "obj_00"]
    assert cands
    for c in cands:
        key = c.objects[1]
        assert key == "obj_01" and (c.options[c.correct] == "the box" or c.options[c.correct].startswith("object "))
        for d in c.objects[2:]:
            assert not truth["obj_00"] & {d} and occlusion.cannot_occlude(ctx, d, "obj_00")


def test_occluder_not_asked_when_the_object_on_the_target_also_hides_it(renderer):
    """The chair in front hides the table's left end and the box on it hides its back: two
    objects hide the table. The old test saw only the nearer chair and asked, drawing two
    distractors from the box, the ball, the vase and the cabinet: often the box, also right."""
    scene = coffee_table_scene(chair_in_front=True)
    truth = render_views(scene, [((-0.6, -2.2, 1.6), (0.0, 0.0, 0.4))], renderer)["view_0"]
    ctx = make_ctx(scene)
    assert truth["obj_00"] == {"obj_01", "obj_02"} and ctx.view.vis_frac[0] < 0.8
    assert set(occlusion.occluders(ctx, "obj_00")) == {"obj_01", "obj_02"}
    assert not occlusion.cannot_occlude(ctx, "obj_01", "obj_00")
    assert occlusion.cannot_occlude(ctx, "obj_05", "obj_00")  # the cabinet behind: overlaps, but behind
    assert all(c.objects[0] != "obj_00" for c in occluder_candidates(ctx))


def test_occluders_cover_every_true_occluder_and_no_distractor_occludes(renderer):
    """Three rendered rooms of furniture with boxes standing on some of it, three views each: on
    every partly hidden X the family's 'may occlude' list contains every object the renderer
    shows hiding part of X, 'cannot occlude' never holds for a true occluder nor for a 'may' one,
    and every occluder question's key is X's only true occluder, its distractors hiding nothing."""
    asked = checked = 0
    for seed in range(3):
        scene = stacked_room(seed)
        eyes = [((3.6 * np.cos(a), 3.1 * np.sin(a), 1.7), (0.0, 0.0, 0.4)) for a in (0.3, 2.2, 4.1)]
        truth = render_views(scene, eyes, renderer)
        for k, view in enumerate(scene.views):
            ctx = make_ctx(scene, k)
            v = ctx.view
            for x in ctx.world.ids:
                if not v.present(x) or v.vis_frac[v.i(x)] >= 1.0:
                    continue
                may = occlusion.occluders(ctx, x)
                assert truth[view.id][x] <= set(may), (seed, view.id, x)
                for o in ctx.world.ids:
                    if occlusion.cannot_occlude(ctx, o, x):
                        assert o not in truth[view.id][x] and o not in may, (seed, view.id, x, o)
                checked += 1
            for c in occluder_candidates(ctx, seeds=range(3)):
                x, key, dis = c.objects[0], c.objects[1], c.objects[2:]
                assert truth[view.id][x] == {key}, (seed, view.id, x, key)
                assert not truth[view.id][x] & set(dis) and not set(occlusion.occluders(ctx, x)) & set(dis)
                asked += 1
    assert checked >= 30 and asked >= 2


def test_occluders_hold_on_rendered_default_scenes():
    """Default room scenes through the pipeline's own layout, cameras, meshes and renderer (not
    boxes): on every partly hidden object the 'may occlude' list contains every object the id
    image shows hiding part of it, and 'cannot occlude' never holds for one of those."""
    from engine.pipeline.config import load_job
    from engine.pipeline.stages import SceneStages
    from engine.pipeline.timing import StageTimer

    job = load_job(["stages.qa=false"])
    stages = SceneStages(job.cfg, "test")
    checked = 0
    for i in range(5):
        out = stages.make_scene(i, None, StageTimer())
        if not hasattr(out, "scene"):
            continue
        scene, meshes = out.scene, stages.scene_meshes(out.scene, stages.catalog)
        by_instance = {o.instance_id: o.id for o in scene.objects}
        for k, view in enumerate(scene.views):
            ctx, frame = make_ctx(scene, k), out.frames[view.id]
            v = ctx.view
            for o in scene.objects:
                if not v.present(o.id) or v.vis_frac[v.i(o.id)] >= 1.0:
                    continue
                alone = stages.renderer.render(SceneGraph("alone", 0, scene.room, [o]), view,
                                               [m for m in meshes if m.instance_id == o.instance_id])
                mask = alone.ids == o.instance_id
                edge = mask & ~binary_erosion(mask)
                behind = alone.depth - frame.depth
                hidden = mask & (behind > DEPTH_TIE_M) & ~(edge & (behind <= EDGE_TIE_M))
                true = {by_instance[j] for j in set(np.unique(frame.ids[hidden]).tolist()) - {0, o.instance_id}}
                assert true <= set(occlusion.occluders(ctx, o.id)), (i, view.id, o.id)
                assert not any(occlusion.cannot_occlude(ctx, d, o.id) for d in true), (i, view.id, o.id)
                checked += 1
    assert checked >= 10


def test_occlusion_scene_occluder_rows_unchanged():
    """The hand-worked occlusion scene (qa_core_scenes): the box in front of the chair is still its
    one occluder, and the vase and the ball, whose boxes miss the chair's, are the distractors."""
    from qa_core_scenes import occlusion_scene

    ctx = make_ctx(occlusion_scene())
    assert occlusion.occluders(ctx, "obj_01") == ["obj_00"]
    assert occlusion.cannot_occlude(ctx, "obj_02", "obj_01") and occlusion.cannot_occlude(ctx, "obj_04", "obj_01")
    cands = occluder_candidates(ctx)
    assert cands and all(c.objects[:2] == ["obj_01", "obj_00"] and set(c.objects[2:]) == {"obj_02", "obj_04"}
                         for c in cands)


def test_pixel_ray_box_depths_match_a_ray_march():
    """Entry and exit depths of pixel rays against a rotated box agree with marching each ray in
    1 mm steps of camera z and asking the box whether it contains the point."""
    from engine.geometry.boxes import OrientedBox
    from engine.geometry.projection import pixel_ray_box_depths

    rng = np.random.default_rng(3)
    Km = np.asarray(K)
    for _ in range(5):
        rot = np.linalg.qr(rng.normal(size=(3, 3)))[0]
        rot[:, 2] *= np.sign(np.linalg.det(rot))  # a rotation (det +1), any orientation
        box = OrientedBox(rng.uniform([-0.5, -0.5, 2.0], [0.5, 0.5, 3.0]), rng.uniform(0.3, 1.0, 3), rot)
        uv = rng.uniform([200, 120], [440, 360], size=(200, 2))
        got = pixel_ray_box_depths(Km, box.corners, uv)
        t = np.arange(0.5, 5.0, 0.001)
        d = np.stack([(uv[:, 0] - Km[0, 2]) / Km[0, 0], (uv[:, 1] - Km[1, 2]) / Km[1, 1], np.ones(len(uv))], axis=1)
        for j in range(len(uv)):
            inside = box.contains(t[:, None] * d[j])
            if inside.any():
                assert got[j, 0] == pytest.approx(t[inside].min(), abs=0.0011)
                assert got[j, 1] == pytest.approx(t[inside].max(), abs=0.0011)
            else:
                assert got[j, 0] > got[j, 1] - 0.002  # missed (or grazed within a step)


# ------------------------------------------------------------------------------- other choices


def test_support_options_leave_out_the_rest_of_the_support_chain():
    """A mug on a side table that stands on a table: the table is under the mug too, so it is
    never a distractor of "What is the mug standing on?" (the desk and the dresser are; a mug never
    stands on the floor in the catalog, so the floor is no option)."""
    objects = [
        obj(0, "table", (0.0, 0.0, 0.375), (1.0, 1.6, 0.75), color="brown", material="wood"),
        obj(1, "side_table", (0.0, 0.0, 1.0), (0.5, 0.5, 0.5), support="on:obj_00", color="white", material="wood"),
        obj(2, "mug", (0.0, 0.0, 1.3), (0.1, 0.1, 0.1), support="on:obj_01", color="red", material="ceramic"),
        obj(3, "desk", (2.0, 1.0, 0.375), (0.7, 1.2, 0.75), color="black", material="metal"),
        obj(4, "dresser", (-2.0, 1.5, 0.45), (0.5, 1.2, 0.9), color="beige", material="wood"),
    ]
    view = View("view_0", K, 640, 480, _look((0.0, -4.0, 1.6), (0.0, 0.5, 0.6)), {o.id: seen() for o in objects})
    ctx = make_ctx(SceneGraph("s_chain", 0, Room("room", [6.0, 6.0, 2.6]), objects, [view]))
    cands = [c for s in range(12) for c in all_candidates(ctx, "relations.support.choice", seed=s)
             if c.objects[0] == "obj_02"]
    assert cands
    for c in cands:
        assert c.objects[1 + c.correct] == "obj_01"  # options name c.objects[1:] in order
        assert "obj_00" not in c.objects[1:]


def test_measurement_choice_options_are_distinct_texts():
    """Two boxes 1 cm apart: the ladder of a 0.01 m distance rounds several steps to the same
    text ("0.01 m"), so two options would be right; such a question is not asked."""
    objects = [obj(0, "box", (0.0, 0.0, 0.15), (0.3, 0.3, 0.3), color="red", material="paper"),
               obj(1, "box", (0.31, 0.0, 0.15), (0.3, 0.3, 0.3), color="blue", material="paper")]
    view = View("view_0", K, 640, 480, _look((0.0, -3.0, 1.5), (0.15, 0.0, 0.2)), {o.id: seen() for o in objects})
    ctx = make_ctx(SceneGraph("s_tiny", 0, Room("room", [6.0, 6.0, 2.6]), objects, [view]))
    cands = [c for s in range(8) for c in all_candidates(ctx, "measurement.object_distance.choice", seed=s,
                                                         params={"min_value": 0.0})]
    for c in cands:
        texts = c.options if c.options is not None else []
        assert len(set(texts)) == len(texts), texts


def _look(eye, target) -> list:
    from engine.geometry.transforms import look_at

    return look_at(np.array(eye, float), np.array(target, float)).tolist()


# -------------------------------------------------------------------------------- name hierarchy


def test_catalog_declares_the_name_hierarchy():
    cat = load_catalog()
    assert cat.covered("table") == {"coffee_table", "side_table", "desk", "nightstand"}
    assert cat.covered("lamp") == {"floor_lamp", "desk_lamp"} and cat.covered("clock") == {"wall_clock", "alarm_clock"}
    assert cat.covered("chair") == {"armchair", "office_chair"} and cat.covered("cup") == {"mug"}
    assert cat.covered("cabinet") == {"wardrobe", "kitchen_cabinet", "filing_cabinet", "wall_cabinet"}
    assert cat.covered("stool") == {"bar_stool"} and cat.covered("bottle") == {"wine_bottle"}
    assert cat.covered("sink") == {"washbasin"}
    assert cat.fits("coffee_table") == {"coffee_table"} and "table" in cat.fits("table")
    # every display name ending in another category's name is covered by it
    for k, c in cat.categories.items():
        for h, hc in cat.categories.items():
            if h != k and c.name.endswith(hc.name):
                assert k in cat.covered(h), (h, k)


def _catalog_with(covers=None, extra=None):
    """The repository catalog as a dict, with ``covers`` of table replaced and extra categories."""
    import yaml

    from engine.scene.catalog import DEFAULT_CATALOG

    data = yaml.safe_load(DEFAULT_CATALOG.read_text())
    if covers is not None:
        data["categories"]["table"]["covers"] = covers
    for k, v in (extra or {}).items():
        data["categories"][k] = v
    return data


def test_catalog_covers_errors_name_the_field_and_the_fix():
    with pytest.raises(CatalogError, match=r"x\.yaml: categories\.table\.covers: 'coffe_table' is not a category; fix"):
        parse_catalog(_catalog_with(["coffe_table", "side_table", "coffee_table", "desk", "nightstand"]), "x.yaml")
    with pytest.raises(CatalogError, match=r"categories\.table\.covers: the name 'table' also fits coffee_table .*"
                                           r"fix: add coffee_table to categories\.table\.covers"):
        parse_catalog(_catalog_with(["side_table", "desk", "nightstand"]), "x.yaml")
    with pytest.raises(CatalogError, match=r"categories\.table\.covers: .*itself"):
        parse_catalog(_catalog_with(["table", "coffee_table", "side_table"]), "x.yaml")
    with pytest.raises(CatalogError, match=r"categories\.table\.covers: must be a list"):
        parse_catalog(_catalog_with("coffee_table"), "x.yaml")
    data = _catalog_with()
    data["categories"]["desk"]["covers"] = ["table"]
    with pytest.raises(CatalogError, match=r"cover each other \(a cycle\); fix"):
        parse_catalog(data, "x.yaml")


def _referrer(objs, visible_ids):
    from engine.qa.facts import ViewFacts, WorldFacts

    scene = SceneGraph("s", 0, Room("room", [6, 6, 2.5]), objs,
                       [View("view_0", K, 640, 480, np.eye(4).tolist(),
                             {o.id: vis(1.0 if o.id in visible_ids else 0.0, 500) for o in objs})])
    w = WorldFacts(scene, load_catalog())
    return Referrer(w, [ViewFacts(w, scene.views[0])], {"material": {"wood": "wooden"}}, 1.5)


@pytest.mark.parametrize("hyper,hypo", [("table", "coffee_table"), ("table", "desk"), ("lamp", "floor_lamp"),
                                        ("clock", "wall_clock"), ("chair", "armchair"), ("cup", "mug")])
def test_bare_hypernym_is_not_unique_beside_a_covered_category(hyper, hypo):
    """"The table" with a coffee table in view could be either: the expression must rule the
    coffee table out (colour, then material, then size), or there is none; the coffee table keeps
    its own name. With the coffee table out of view, "the table" is unique again."""
    name = load_catalog()[hyper].name
    a = obj(0, hyper, (0, 0, 0.4), (1.0, 1.0, 0.8), color="brown", material="wood")
    same = obj(1, hypo, (2, 0, 0.4), (1.0, 1.0, 0.8), color="brown", material="wood")
    r = _referrer([a, same], {"obj_00", "obj_01"})
    assert r.expression("obj_00") is None  # same colour, material and size: nothing singles it out
    assert r.expression("obj_01") == f"the {load_catalog()[hypo].name}"
    other = obj(1, hypo, (2, 0, 0.4), (1.0, 1.0, 0.8), color="black", material="wood")
    assert _referrer([a, other], {"obj_00", "obj_01"}).expression("obj_00") == f"the brown {name}"
    other = obj(1, hypo, (2, 0, 0.4), (1.0, 1.0, 0.8), color="brown", material="metal")
    assert _referrer([a, other], {"obj_00", "obj_01"}).expression("obj_00") == f"the wooden {name}"
    small = obj(1, hypo, (2, 0, 0.2), (0.5, 0.5, 0.4), color="brown", material="wood")
    assert _referrer([a, small], {"obj_00", "obj_01"}).expression("obj_00") == f"the larger {name}"
    assert _referrer([a, same], {"obj_00"}).expression("obj_00", "view") == f"the {name}"
    assert _referrer([a, same], {"obj_00"}).expression("obj_00", "scene") is None


def hypernym_scene() -> SceneGraph:
    """A room with a table (60% visible in view 0: partly hidden), a coffee table, two chairs and
    a sofa (fully visible); view 1 shows the table, the chairs and the sofa, not the coffee table."""
    objects = [
        obj(0, "table", (1.0, 1.0, 0.375), (0.9, 1.4, 0.75), color="brown", material="wood"),
        obj(1, "coffee_table", (-1.0, 0.0, 0.21), (0.6, 1.0, 0.42), color="black", material="glass"),
        obj(2, "chair", (1.0, 0.0, 0.45), (0.5, 0.5, 0.9), color="red", material="wood"),
        obj(3, "chair", (2.0, 1.0, 0.45), (0.5, 0.5, 0.9), color="blue", material="wood"),
        obj(4, "sofa", (-2.0, 0.0, 0.4), (0.9, 2.0, 0.8), color="gray", material="fabric"),
    ]
    v0 = View("view_0", K, 640, 480, _look((0.0, -4.0, 1.6), (0.0, 0.5, 0.4)),
              {o.id: (seen(600, 0.6) if o.id == "obj_00" else seen()) for o in objects})
    v1 = View("view_1", K, 640, 480, _look((3.0, -3.0, 1.6), (1.0, 1.0, 0.4)),
              {o.id: (seen(0, 0.0) if o.id == "obj_01" else seen()) for o in objects})
    return SceneGraph("s_hyper", 0, Room("room", [6.0, 6.0, 2.6], walls_for(6.0, 6.0)), objects, [v0, v1])


def test_counting_skips_a_name_that_also_fits_a_category_in_view():
    """With the coffee table in view, "How many tables?" (1 or 2?), comparisons, colour counts and
    amodal counts of tables are not asked; coffee tables, chairs and sofas are. In view 1 the
    coffee table shows no pixel, so the table is counted (1)."""
    scene = hypernym_scene()
    ctx = make_ctx(scene, 0)
    for tid in ("counting.count.count", "counting.count_color.count", "counting.count_compare.bool",
                "occlusion.amodal_count.count"):
        for c in all_candidates(ctx, tid):
            assert "obj_00" not in c.objects and "table" not in (c.context_key or ()), (tid, c.question)
            assert " tables" not in c.question.replace("coffee tables", ""), (tid, c.question)
    counted = {c.context_key[0]: c.value for c in all_candidates(ctx, "counting.count.count")}
    assert counted == {"coffee_table": 1, "chair": 2, "sofa": 1}
    counted = {c.context_key[0]: c.value for c in all_candidates(make_ctx(scene, 1), "counting.count.count")}
    assert counted == {"table": 1, "coffee_table": 0, "chair": 2, "sofa": 1}


def test_count_across_views_skips_a_name_covering_a_category_in_either_view():
    scene = hypernym_scene()
    ctx = make_ctx(scene, 1)
    keys = {c.context_key[0]: c.value for c in all_candidates(ctx, "multiview.count_across_views")}
    assert "table" not in keys and keys["coffee_table"] == 1 and keys["chair"] == 2


def test_ascii_map_legends_name_objects_uniquely_under_hypernyms():
    """The map questions that show the map as text: every legend entry is a distinct scene-unique
    expression. Two identical chairs have none, so they are left off the map (they used to be
    listed twice as "the chair"); the table is "the brown table" beside the coffee table (it used
    to be the bare "the table")."""
    scene = hypernym_scene()
    scene.objects[3].attributes = dict(scene.objects[2].attributes)  # two red wooden chairs
    ctx = make_ctx(scene, 0)
    cands = [c for tid in ("ascii.map_direction", "ascii.map_nearest") for s in range(3)
             for c in all_candidates(ctx, tid, seed=s)]
    assert cands
    for c in cands:
        legend = c.question.split("Legend: ")[1].split("\n")[0]
        names = [e.split(" = ", 1)[1] for e in legend.split(", ")]
        assert len(names) == len(set(names)), names
        assert "the table" not in names and "the chair" not in names
        assert "the brown table" in names and "the coffee table" in names
        assert "obj_02" not in c.objects and "obj_03" not in c.objects
