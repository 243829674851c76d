"""ASCII maps: hand-drawn expected grids, orientation, camera marks, and the ascii QA family."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.qa.ascii_map import ascii_map, build_ascii_map, heading_mark
from engine.scene.graph import Room, SceneGraph
from qa_families_scenes import map_scene, obj, view_at, walls_for

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
