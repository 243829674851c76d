"""The blind meter (engine/eval/blind.py) must be able to fail: planted shortcuts are flagged,
clean templates are not."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("sklearn")

from engine.eval.blind import mra, report, score_rows, score_template, stem, tokens  # noqa: E402

CATS = ["chair", "lamp", "table", "mug", "sofa", "plant", "book", "vase"]
LETTERS = "ABCD"


def _row(scene: int, tid: str, question: str, answer_type: str, value, choices=None, index=None, cats=()):
    q = question
    if choices is not None:
        q = question + "\n" + "\n".join(f"{LETTERS[k]}. {c}" for k, c in enumerate(choices))
    return {"scene_id": f"s{scene:09d}", "template_id": tid, "family": tid.split(".")[0], "task": tid.split(".")[1],
            "answer_type": answer_type, "question": q, "value": value, "choices": choices, "answer_index": index,
            "answer": ("yes" if value else "no") if answer_type == "bool" else str(value),
            "objects": [f"obj_{k}" for k in range(len(cats))], "object_categories": list(cats), "marks": None}


def _bool_rows(rng, tid, leak: float, n_scenes=600):
    """Walk-like questions: with probability ``leak`` the answer follows the slot word
    (forward -> yes, backward -> no), else it is a fair coin."""
    rows = []
    for s in range(n_scenes):
        for _ in range(2):
            word = ["forward", "backward", "left", "right"][int(rng.integers(4))]
            cat = CATS[int(rng.integers(len(CATS)))]
            d = [0.5, 1.0, 1.5][int(rng.integers(3))]
            if word in ("forward", "backward") and rng.random() < leak:
                ans = word == "forward"
            else:
                ans = bool(rng.random() < 0.5)
            rows.append(_row(s, tid, f"If you walk {d} m {word}, will you be closer to the {cat}?", "bool", ans,
                             cats=[cat]))
    return rows


def test_tokens_keep_numbers_and_stem_drops_options():
    assert tokens("Walk 1.5 m forward, turn 30 degrees") == ["walk", "1.5", "m", "forward", "turn", "30", "degrees"]
    assert stem("Which one?\nA. the lamp\nB. the mug") == "Which one?"


def test_mra_matches_hand_computation():
    # |1.2 - 1| / 1 = 0.2 < 1 - t for t in 0.50..0.75 (6 of 10 thresholds); exact: 10 of 10
    assert mra(np.array([1.2, 2.0]), np.array([1.0, 2.0])) == pytest.approx((0.6 + 1.0) / 2)


def test_planted_slot_leak_is_flagged_and_clean_template_is_not():
    rng = np.random.default_rng(0)
    rows = _bool_rows(rng, "motion.leaky", leak=0.95) + _bool_rows(rng, "motion.clean", leak=0.0)
    scores = {s.template_id: s for s in score_rows(rows)}
    leaky, clean = scores["motion.leaky"], scores["motion.clean"]
    # half the rows are forward/backward, 95% of those follow the word: about 0.5 * 0.975 + 0.5 * 0.5
    assert leaky.excess > 0.15, leaky
    assert "forward" in leaky.cue or "backward" in leaky.cue, leaky.cue
    assert abs(clean.excess) < 0.05, clean
    text, ok = report(list(scores.values()))
    assert not ok and "motion.leaky" in text and "<-- over" in text


def test_planted_category_prior_in_choices_is_flagged():
    """'Which object hides the X?': the key is a sofa far more often than chance."""
    rng = np.random.default_rng(1)
    rows = []
    for s in range(300):
        for _ in range(2):
            target, *opts = [CATS[int(i)] for i in rng.permutation(len(CATS))[:4]]
            if "sofa" not in opts and rng.random() < 0.6:
                opts[0] = "sofa"
            right = opts.index("sofa") if "sofa" in opts and rng.random() < 0.9 else int(rng.integers(3))
            order = rng.permutation(3)
            choices = [f"the {opts[k]}" for k in order]
            rows.append(_row(s, "occlusion.occluder", f"Which object hides part of the {target}?", "choice",
                             f"the {opts[right]}", choices, int(np.where(order == right)[0][0]), cats=[target]))
    sc = score_template(rows)
    assert sc.excess > 0.2, sc
    assert "sofa" in sc.cue, sc.cue


def test_planted_numeric_ladder_is_flagged_and_a_fair_ladder_is_not():
    """Options built around the truth (truth in the middle of the ladder, values near a common
    median) are caught by the median probe; a ladder whose options are drawn from the prior
    independently of which one is right is not."""
    rng = np.random.default_rng(2)
    leaky, fair = [], []
    for s in range(300):
        for _ in range(2):
            v = float(np.exp(rng.normal(0.0, 0.4)))
            p = int(rng.integers(4))
            ladder = [v * 1.5 ** (k - p) for k in range(4)]
            ch = [f"{x:.2f} m" for x in ladder]
            leaky.append(_row(s, "measurement.distance", "How far apart are the lamp and the mug?", "choice",
                              ch[p], ch, p, cats=["lamp", "mug"]))
            vals = sorted(float(np.exp(rng.normal(0.0, 0.4))) * (1 + 0.01 * k) for k in range(4))
            k = int(rng.integers(4))
            ch = [f"{x:.2f} m" for x in vals]
            fair.append(_row(s, "measurement.fair", "How far apart are the lamp and the mug?", "choice",
                             ch[k], ch, k, cats=["lamp", "mug"]))
    sl, sf = score_template(leaky), score_template(fair)
    assert sl.excess > 0.15 and "median" in sl.cue, sl
    assert abs(sf.excess) < 0.06, sf


def test_planted_naming_mode_cue_is_flagged_and_marks_only_are_not():
    """The old next_to / on_top pattern: with names or marks, marked questions are mostly "yes"
    and named ones mostly "no" (on_top.bool on 3,000 scenes: 61% vs 42%; planted here as 70% vs
    30%). Guessing "yes" for marks and "no" for names is right 70% of the time, and the meter must
    see it; the same answers asked with marks only leave nothing to read."""
    rng = np.random.default_rng(4)
    mixed, marked = [], []
    for s in range(600):
        for _ in range(2):
            a, b = (CATS[int(i)] for i in rng.permutation(len(CATS))[:2])
            by_mark = bool(rng.random() < 0.5)
            ans = bool(rng.random() < (0.7 if by_mark else 0.3))
            k = int(rng.integers(2))  # marks are numbered in a random order
            plain = f"Is object {1 + k} on top of object {2 - k}?"
            mixed.append(_row(s, "relations.mixed", plain if by_mark else f"Is the {a} on top of the {b}?",
                              "bool", ans, cats=[a, b]))
            marked.append(_row(s, "relations.marked", plain, "bool", ans, cats=[a, b]))
    sm, sk = score_template(mixed), score_template(marked)
    assert sm.excess > 0.1, sm  # up to +20 points (the rule's); the standard error is about 1.4
    assert abs(sk.excess) < 0.05, sk


def test_numeric_regressor_beats_constant_only_when_the_text_tells():
    rng = np.random.default_rng(3)
    rows = []
    for s in range(300):
        for _ in range(2):
            cat = CATS[int(rng.integers(len(CATS)))]
            h = (1 + CATS.index(cat)) * 0.2 * float(np.exp(rng.normal(0, 0.05)))  # height set by category
            rows.append(_row(s, "measurement.height", f"How tall is the {cat}?", "number", round(h, 2), cats=[cat]))
    sc = score_template(rows)
    assert sc.blind > sc.chance + 0.3, sc
    assert not math.isnan(sc.chance)


def test_scene_splits_differ_and_the_mean_over_splits_still_catches_a_planted_leak():
    """Split 0 is the CRC32 split the meter always used; other splits put the scenes in other
    halves; the verdict averaged over splits flags a planted leak and passes a clean template."""
    from engine.eval.blind import half, score_splits

    ids = [f"s{k:09d}" for k in range(2000)]
    zero, one = np.array([half(i) for i in ids]), np.array([half(i, 1) for i in ids])
    assert 0.45 < zero.mean() < 0.55 and 0.45 < one.mean() < 0.55
    assert 0.4 < (zero != one).mean() < 0.6  # an independent-looking reshuffle, not the same halves
    rng = np.random.default_rng(0)
    rows = _bool_rows(rng, "motion.leaky", leak=0.95) + _bool_rows(rng, "motion.clean", leak=0.0)
    single = {s.template_id: s.excess for s in score_rows(rows)}
    scores = {s.template_id: s for s in score_splits(rows, 3)}
    leaky, clean = scores["motion.leaky"], scores["motion.clean"]
    assert len(leaky.extra["split_excess"]) == 3 and leaky.extra["split_excess"][0] == pytest.approx(single["motion.leaky"])
    assert leaky.excess == pytest.approx(float(np.mean(leaky.extra["split_excess"])))
    assert min(leaky.extra["split_excess"]) > 0.15 and abs(clean.excess) < 0.05
