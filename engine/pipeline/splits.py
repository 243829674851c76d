"""Split assignment by scene: a pure function of (job seed, scene index, ratios).

Every QA row of a scene lands in the scene's split, so no scene is in two splits, and the
assignment does not depend on how scenes are cut into shards.
"""

from __future__ import annotations

from engine.rng import stage_rng


def split_of(seed: int, scene_index: int, ratios: dict[str, float]) -> str:
    """The split of scene ``scene_index``: draw u ~ U[0, 1) from stage ``"split"`` and pick the
    split whose cumulative ratio interval (names sorted, zero ratios skipped) contains u.

    Args:
        seed: job seed (>= 0). scene_index: global scene index (>= 0).
        ratios: split name -> fraction; the fractions sum to 1.
    """
    names = sorted(k for k, v in ratios.items() if v > 0)
    if not names:
        raise ValueError("split.ratios: no split has a positive fraction; fix: e.g. split.ratios.train=1.0")
    u = float(stage_rng(seed, scene_index, "split").random())
    acc = 0.0
    for name in names:
        acc += float(ratios[name])
        if u < acc:
            return name
    return names[-1]  # u lands above a sum that rounds just below 1
