"""ASCII maps: hand-drawn expected grids, orientation, camera marks, and the ascii QA family."""

from __future__ import annotations

import math

import pytest

from engine.qa.ascii_map import ascii_map, build_ascii_map, heading_mark
from engine.scene.graph import Room, SceneGraph
from qa_families_scenes import map_scene, obj, walls_for

NAMES = {"obj_00": "the bed", "obj_01": "the table", "obj_02": "the mug", "obj_03": "the chair"}


def test_map_matches_hand_drawn_grid():
    scene = map_scene()
    grid, legend = ascii_map(scene, scene.views[0], 0.5, NAMES)
    expected = [
        "##########",
        "#......v.#",
        "#AAAA....#",
        "#AAAA....#",
        "#.....BB.#",
        "#.DD..BC.#",
        "#.DD.....#",
        "##########",
    ]
    assert grid == expected
    assert legend == {"A": "the bed", "B": "the table", "C": "the mug", "D": "the chair"}


def test_map_without_camera_and_cells():
    scene = map_scene()
    m = build_ascii_map(scene, None, 0.5, NAMES)
    assert m.grid[1] == "#........#"
    assert m.camera_cell is None and m.hidden == []
    assert m.cells["obj_02"] == [(5, 7)]
    assert m.cells["obj_01"] == [(4, 6), (4, 7), (5, 6)]
    # Cell centres: grid (5, 7) is x = 1.25, y = -0.75, the mug's centre.
    assert m.cell_center(5, 7) == (1.25, -0.75)


def test_coarse_map_open_room_and_missing_wall():
    # 1 m cells: 4 x 3 interior, centres x = -1.5, -0.5, 0.5, 1.5 and y = 1, 0, -1 (edges included).
    # Bed x in [-2, 0], y in [0, 1]: centres (-1.5|-0.5, 1|0). Chair x in [-1.55, -0.45],
    # y in [-1.3, -0.7]: (-1.5|-0.5, -1). Table x in [0.4, 1.6], y in [-0.9, -0.1] holds no centre,
    # so it takes the cell of its centre (1.0, -0.5) -> col floor((1+3)/1) = 4, row floor((2.5+0.5)/1) = 3.
    # The mug's centre falls in that same cell, the table's only one, so the mug is hidden and
    # the chair becomes C.
    scene = map_scene()
    m = build_ascii_map(scene, None, 1.0, NAMES)
    assert m.grid == [
        "######",
        "#AA..#",
        "#AA..#",
        "#CC.B#",
        "######",
    ]
    assert m.legend == {"A": "the bed", "B": "the table", "C": "the chair"}
    assert m.hidden == ["obj_02"]
    # An open scene has no walls and no border ring.
    open_scene = SceneGraph("s_open", 0, Room("open", [2.0, 1.0, 0.0], []),
                            [obj(0, "cube", (0.25, 0.0, 0.1), (0.4, 0.4, 0.2))])
    m = build_ascii_map(open_scene, None, 0.5, {"obj_00": "the cube"})
    # cube x in [0.05, 0.45] covers centre x=0.25 (col 2); y in [-0.2, 0.2] covers no row centre
    # (0.25, -0.25) -> falls back to the cell of its centre (0.25, 0.0): col 2, row floor(0.5/0.5)=1.
    assert m.grid == ["....", "..A."]
    # A room missing its north wall: the north border row is blank except the corners near walls.
    walls = [w for w in walls_for(2.0, 1.0) if w.id != "wall_2"]
    s = SceneGraph("s_w", 0, Room("room", [2.0, 1.0, 2.5], walls), [])
    assert build_ascii_map(s, None, 0.5, {}).grid == ["#    #", "#....#", "#....#", "######"]


@pytest.mark.parametrize("deg,mark", [(0, ">"), (44, ">"), (46, "^"), (90, "^"), (134, "^"), (136, "<"),
                                      (180, "<"), (-180, "<"), (-134, "v"), (-90, "v"), (-46, "v"), (-44, ">")])
def test_heading_marks(deg, mark):
    assert heading_mark(math.radians(deg)) == mark


def test_bad_resolution_and_missing_name():
    scene = map_scene()
    with pytest.raises(ValueError, match="resolution_m"):
        ascii_map(scene, None, 0.0, NAMES)
    with pytest.raises(KeyError, match="names"):
        ascii_map(scene, None, 0.5, {"obj_00": "the bed"})


# ---------------------------------------------------------------- the ascii family
from qa_families_scenes import all_candidates, make_ctx, seen  # noqa: E402

BED, TABLE, MUG, CHAIR = "obj_00", "obj_01", "obj_02", "obj_03"


def _ctx_with_visibility():
    scene = map_scene()
    scene.views[0].objects = {BED: seen(), TABLE: seen(), CHAIR: seen(), MUG: seen(0, 0.0)}
    return make_ctx(scene)


def test_draw_map_from_image_by_hand():
    cands = all_candidates(_ctx_with_visibility(), "ascii.draw_map")
    assert len(cands) == 1
    c = cands[0]
    # The mug is not visible, so it is not drawn: its cell shows the table under it.
    assert c.answer_type == "ascii" and c.value.split("\n") == [
        "##########",
        "#......v.#",
        "#AAAA....#",
        "#AAAA....#",
        "#.....BB.#",
        "#.CC..BB.#",
        "#.CC.....#",
        "##########",
    ]
    assert "A = the bed, B = the table, C = the chair" in c.question
    assert "8 rows and 10 columns" in c.question or "8 x 10" in c.question
    assert c.objects == [BED, TABLE, CHAIR] and c.view_ids == ["view_0"]


def test_map_direction_by_hand():
    cands = all_candidates(_ctx_with_visibility(), "ascii.map_direction")
    # Letter centroids: A bed (-1, 0.5), B table (0.92, -0.42), C mug (1.25, -0.75), D chair (-1, -1).
    # D from A: (0, -1.5) south. D from C: (-2.25, -0.25) west, 16 deg from a boundary. A-B (3.1 deg)
    # and A-C (6.6) fall inside the 10 degree margin, B-D (5.6) too; B-C are 0.47 m apart.
    got = {tuple(c.objects): c.value for c in cands}
    assert got == {(CHAIR, BED): "south", (BED, CHAIR): "north", (CHAIR, MUG): "west", (MUG, CHAIR): "east"}
    for c in cands:
        assert c.view_ids == [] and "#AAAA....#" in c.question and "Legend: A = the bed" in c.question
        assert len(c.options) == 4 and c.options[c.correct] == c.value


def test_map_nearest_by_hand():
    cands = all_candidates(_ctx_with_visibility(), "ascii.map_nearest")
    # Arrow at grid (1, 7). Nearest cells: A (2, 4) 3.16, B (4, 7) 3.00, C (5, 7) 4.00, D (5, 3) 5.66.
    # Only {B, C, D} has a 1-cell lead (B 3.0 vs C 4.0); true distances agree: table 1.415 m, mug 1.916 m.
    assert [(sorted(c.options), c.value) for c in cands] == [(["B", "C", "D"], "B")]


def test_describe_to_map_by_hand():
    cands = all_candidates(_ctx_with_visibility(), "ascii.describe_to_map")
    assert len(cands) == 1
    c = cands[0]
    assert c.value.split("\n") == [
        "##########",
        "#........#",
        "#AAAA....#",
        "#AAAA....#",
        "#.....BB.#",
        "#.DD..BC.#",
        "#.DD.....#",
        "##########",
    ]
    assert "x = -2.00 to 0.00 m and y = 0.00 to 1.00 m" in c.question  # the bed's outline, stated exactly
    assert c.view_ids == []


def test_describe_to_map_skips_outlines_near_cell_centres():
    scene = map_scene()
    # The chair (turned 90 degrees) now spans x -1.755..-0.245, 5 mm past the cell centres at -1.75
    # and -0.25: a 2 cm rounding of the text could change those cells, so nothing is asked.
    scene.objects[3].size = [0.6, 1.51, 0.9]
    ctx = make_ctx(scene)
    assert all_candidates(ctx, "ascii.describe_to_map") == []


def test_map_questions_leave_a_hidden_object_off_the_text_map():
    """At 1 m cells the mug has no cell (it sits in the table's only cell, see
    test_coarse_map_open_room_and_missing_wall). The map questions show no image, so the mug is
    left off the map and its legend instead of the question being dropped; the grid is the
    full map's grid, since the mug owned no cell."""
    ctx = _ctx_with_visibility()
    full = build_ascii_map(ctx.scene, ctx.view.view, 1.0, NAMES)
    assert full.hidden == [MUG]
    kept = build_ascii_map(ctx.scene, ctx.view.view, 1.0, NAMES, object_ids=[BED, TABLE, CHAIR])
    assert kept.grid == full.grid and kept.hidden == [] and "the mug" not in kept.legend.values()
    cands = [c for tid in ("ascii.map_direction", "ascii.map_nearest")
             for c in all_candidates(ctx, tid, params={"resolution_m": 1.0})]
    assert cands  # asked, where a hidden object used to drop every map question of the view
    for c in cands:
        assert MUG not in c.objects and "the mug" not in c.question
        assert "\n".join(kept.grid) in c.question and c.view_ids == []
