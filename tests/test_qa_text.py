"""Text-only family and scene descriptions: every answer of a hand-worked scene, determinism."""

from __future__ import annotations

import numpy as np

from engine.qa.describe import compass_8, describe_scene
from qa_families_scenes import all_candidates, make_ctx, map_scene

BED, TABLE, MUG, CHAIR = "obj_00", "obj_01", "obj_02", "obj_03"
NAMES = {BED: "the bed", TABLE: "the table", MUG: "the mug", CHAIR: "the chair"}
# Centres: bed (-1, 0.5), table (1, -0.5), mug (1.25, -0.75) on the table, chair (-1, -1).


def _answers(tid):
    ctx = make_ctx(map_scene())
    cands = all_candidates(ctx, tid)
    for c in cands:
        assert c.view_ids == [] and c.question.startswith("The room is 4.00 m from west to east")
    return {tuple(c.objects): c.value for c in cands}


def test_description_states_the_facts():
    d = describe_scene(map_scene(), NAMES, np.random.default_rng(3))
    assert d.positions == {BED: (-1.0, 0.5), TABLE: (1.0, -0.5), MUG: (1.25, -0.75), CHAIR: (-1.0, -1.0)}
    assert d.supports == {MUG: TABLE}
    assert any("the mug" in x.lower() and "stands on the table" in x for x in d.sentences)
    assert "The centre of the chair is 1.00 m west and 1.00 m south of the room centre" in d.text \
        or "The chair stands on the floor; its centre is 1.00 m west and 1.00 m south of the room centre." in d.text
    assert sorted(d.object_ids) == sorted(NAMES)
    for a, direction, b in d.relations:  # every stated relation is true and never between stacked objects
        pa, pb = d.positions[a], d.positions[b]
        assert compass_8(pa[0] - pb[0], pa[1] - pb[1])[0] == direction and {a, b} != {MUG, TABLE}
    # Deterministic given the rng; another seed may reorder.
    assert describe_scene(map_scene(), NAMES, np.random.default_rng(3)).text == d.text
    texts = {describe_scene(map_scene(), NAMES, np.random.default_rng(s)).text for s in range(6)}
    assert len(texts) > 1
    # Exact outlines for describe-to-map: the chair (turned 90 degrees) spans x -1.55..-0.45, y -1.3..-0.7.
    f = describe_scene(map_scene(), NAMES, np.random.default_rng(3), footprints=True).text
    assert "x = -1.55 to -0.45 m and y = -1.30 to -0.70 m" in f


def test_direction_by_hand():
    # Chair from bed: (0, -1.5) south, margin 22.5. Chair from mug: (-2.25, -0.25) at 186.3 deg: west,
    # 16.2 from a boundary. Bed/table (153.4 deg, 4.1 from a boundary), bed/mug (6.5), table/chair (8.5)
    # fall inside the 10 degree margin; table/mug are 0.35 m apart (< 0.5).
    assert _answers("text.direction") == {(CHAIR, BED): "south", (BED, CHAIR): "north",
                                          (CHAIR, MUG): "west", (MUG, CHAIR): "east"}


def test_left_of_by_hand():
    # x: bed -1, table 1, mug 1.25, chair -1; asked only when |dx| >= 0.3 (bed/chair 0, table/mug 0.25 not).
    assert _answers("text.left_of") == {
        (BED, TABLE): True, (TABLE, BED): False, (BED, MUG): True, (MUG, BED): False,
        (CHAIR, TABLE): True, (TABLE, CHAIR): False, (CHAIR, MUG): True, (MUG, CHAIR): False}


def test_distance_by_hand():
    d = _answers("text.distance")
    hand = {(BED, TABLE): 2.24, (BED, MUG): 2.57, (BED, CHAIR): 1.5, (TABLE, MUG): 0.35, (TABLE, CHAIR): 2.06,
            (MUG, CHAIR): 2.26}
    assert d == {**hand, **{(b, a): v for (a, b), v in hand.items()}}


def test_support_by_hand():
    ctx = make_ctx(map_scene())
    cands = all_candidates(ctx, "text.support")
    got = {c.objects[0]: c.value for c in cands}
    assert got == {BED: "the floor", TABLE: "the floor", MUG: "the table", CHAIR: "the floor"}
    for c in cands:
        assert len(c.options) == 3 and c.options[c.correct] == c.value and len(set(c.options)) == 3
        assert "the mug" not in c.options or c.objects[0] != TABLE  # never "the table stands on the mug"


# ------------------------------------------------- answers equal the arithmetic on the printed text
import math  # noqa: E402
import re  # noqa: E402
from fractions import Fraction  # noqa: E402

from qa_families_scenes import template  # noqa: E402

_WHERE = r"(\d+\.\d\d) m (east|west) and (\d+\.\d\d) m (north|south) of the room centre"
_POS = [re.compile(r"(?:^|(?<=\. ))([^.;]+?) (?:stands on [^.;]+|hangs on a wall); its centre is " + _WHERE + r"\."),
        re.compile(r"(?:^|(?<=\. ))The centre of ([^.;]+?) is " + _WHERE + r", and it (?:stands on|hangs on)")]
_REL = re.compile(r"(?:^|(?<=\. ))([^.;]+?) is (east|north-east|north|north-west|west|south-west|south|south-east) "
                  r"of ([^.;]+?)\.")
_UNIT = {"east": (1, 0), "north-east": (1, 1), "north": (0, 1), "north-west": (-1, 1), "west": (-1, 0),
         "south-west": (-1, -1), "south": (0, -1), "south-east": (1, -1)}


def _cm(num: str, sign: str) -> int:
    """'1.25' m west -> -125: exact integer centimetres from the printed digits."""
    v = int(num.replace(".", ""))
    return -v if sign in ("west", "south") else v


def parse_positions(description: str) -> dict[str, tuple[int, int]]:
    """Name -> (east, north) centre in integer centimetres, read back from the text alone."""
    out = {}
    for pat in _POS:
        for m in pat.finditer(description):
            name = m.group(1)
            out[name[:1].lower() + name[1:]] = (_cm(m.group(2), m.group(3)), _cm(m.group(4), m.group(5)))
    return out


def compass_by_dot(dx: int, dy: int) -> tuple[str, float]:
    """Independent of compass_8: the direction whose unit vector is nearest the offset (largest
    cosine), and the angle (deg) to the nearer sector boundary (22.5 minus the angle to it)."""
    best = max(_UNIT, key=lambda k: (dx * _UNIT[k][0] + dy * _UNIT[k][1]) / math.hypot(*_UNIT[k]))
    u = _UNIT[best]
    cos = (dx * u[0] + dy * u[1]) / (math.hypot(*u) * math.hypot(dx, dy))
    return best, 22.5 - math.degrees(math.acos(min(1.0, cos)))


def round_sqrt_cm(n: int) -> int:
    """sqrt(n) rounded to the nearest integer, exactly (never a tie: (k + 1/2)^2 is not an integer)."""
    k = math.isqrt(n)
    return k + (1 if n > k * k + k else 0)


def _text_scenes():
    from qa_core_scenes import random_scene
    from qa_families_scenes import sampled_scenes

    rng = np.random.default_rng(2024)
    yield from sampled_scenes(3)
    for k in range(40):  # centres with full float precision: most are not whole centimetres
        yield random_scene(rng, int(rng.integers(4, 10)), f"s_text{k}")


def test_text_answers_equal_arithmetic_on_the_printed_numbers():
    checked = {"text.direction": 0, "text.left_of": 0, "text.distance": 0}
    for scene in _text_scenes():
        ctx = make_ctx(scene)
        asked_by_template = {}
        pos = None
        for tid in checked:
            t = template(tid)
            asked = set()
            for c in all_candidates(ctx, tid):
                desc, tail = c.question.rsplit("\n", 1)
                pos = parse_positions(desc)
                # Which two described objects the question names: the template text with them.
                (na, nb), = [(a, b) for a in pos for b in pos if a != b
                             and any(p.format(description=desc, a=a, b=b) == c.question for p in t.paraphrases)]
                dx, dy = pos[na][0] - pos[nb][0], pos[na][1] - pos[nb][1]
                if tid == "text.distance":
                    assert Fraction(repr(c.value)) == Fraction(round_sqrt_cm(dx * dx + dy * dy), 100)
                    assert c.answer == f"{round_sqrt_cm(dx * dx + dy * dy) / 100:.2f} m"
                elif tid == "text.left_of":
                    assert c.value == (dx < 0)
                else:
                    assert c.value == compass_by_dot(dx, dy)[0]
                asked.add((na, nb))
                checked[tid] += 1
            asked_by_template[tid] = asked
        if pos is None:
            continue
        # Margins and cut-offs also come from the printed numbers: exactly the pairs that clear them
        # on the text are asked (direction: 10 degrees from a boundary, >= 0.5 m; left_of: >= 0.3 m).
        pairs = [(a, b) for a in pos for b in pos if a != b]
        d = {p: (pos[p[0]][0] - pos[p[1]][0], pos[p[0]][1] - pos[p[1]][1]) for p in pairs}
        assert asked_by_template["text.distance"] == set(pairs)
        assert asked_by_template["text.left_of"] == {p for p in pairs if abs(d[p][0]) >= 30}
        sure = {p for p in pairs if abs(compass_by_dot(*d[p])[1] - 10) > 1e-6}
        assert {p for p in asked_by_template["text.direction"] if p in sure} == {
            p for p in sure if compass_by_dot(*d[p])[1] >= 10 and d[p][0] ** 2 + d[p][1] ** 2 >= 50 ** 2}
        # Every compass sentence of the description holds on the printed centres, 10 degrees clear.
        for m in _REL.finditer(desc):
            a, b = (m.group(1)[:1].lower() + m.group(1)[1:]), m.group(3)
            if a in pos and b in pos:
                got, margin = compass_by_dot(pos[a][0] - pos[b][0], pos[a][1] - pos[b][1])
                assert got == m.group(2) and margin >= 10 - 1e-6
    assert min(checked.values()) > 200, checked
