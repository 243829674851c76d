"""Procedural layout samplers: ``room``, ``tabletop`` and ``open`` (see docs/layout.md).

``sample_layout(scene_cfg, catalog, rng, ...)`` returns a :class:`SceneGraph` whose objects are
collision-free gravity-aligned boxes inside the room, supported exactly by the floor, a wall or
another object's top; views, lights and materials are left empty for later stages.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from engine.scene.shape_params import load_shape_specs, sample_shape_params
from engine.layout.config import config_hash, validate_scene_cfg
from engine.plain import to_plain
from engine.layout.drafts import to_scene_graph
from engine.layout.errors import LayoutInfeasibleError
from engine.layout.open_plane import sample_open
from engine.layout.room import sample_room
from engine.layout.tabletop import sample_tabletop
from engine.paths import CONF_DIR
from engine.scene.catalog import Catalog
from engine.scene.graph import SceneGraph
from engine.yamlio import load_yaml

__all__ = ["sample_layout", "LayoutInfeasibleError", "validate_scene_cfg", "load_scene_cfg"]

_SAMPLERS = {"room": sample_room, "tabletop": sample_tabletop, "open": sample_open}


def sample_layout(scene_cfg: Mapping, catalog: Catalog, rng: np.random.Generator, scene_id: str = "scene",
                  seed: int = 0, scene_index: int = 0) -> SceneGraph:
    """Sample one scene layout.

    Args:
        scene_cfg: a scene config (``conf/scene/<name>.yaml`` as a mapping); ``type`` picks the
            sampler (room, tabletop, open). Validated first (ValueError naming the key).
        catalog: the object catalog (``engine.scene.catalog.load_catalog()``).
        rng: the layout stage's generator; the only source of randomness.
        scene_id, seed, scene_index: written into the record.

    Returns:
        A SceneGraph with ``room``, ``objects`` (ids ``obj_00``.., instance_id = position + 1;
        ``shape_params`` drawn from ``rng`` after the layout, in object order) and ``stats``
        (per-object attempts, rejections by reason, dropped objects, ...).

    Raises:
        LayoutInfeasibleError: the request cannot be met; the message says what to relax.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected numpy.random.Generator, got {type(rng).__name__}; "
                        f"fix: pass engine.rng.stage_rng(seed, scene_index, 'layout')")
    cfg = to_plain(scene_cfg)
    cfg_hash = _validated_hash(cfg)
    room, drafts, stats, extra = _SAMPLERS[cfg["type"]](cfg, catalog, rng)  # the samplers only read cfg
    scene = to_scene_graph(room, drafts, catalog, stats, extra, cfg, cfg_hash, scene_id, seed, scene_index)
    sample_shape_params(scene.objects, load_shape_specs(), rng)  # after the layout: layouts do not depend on it
    return scene


_HASHES: dict[str, str] = {}  # repr of a valid plain scene config -> its config_hash (a few, newest last)


def _validated_hash(cfg: dict) -> str:
    """validate_scene_cfg(cfg), then config_hash(cfg); both remembered for a config of the same
    repr (values and types), since the pipeline passes the same config for every scene."""
    key = repr(cfg)
    h = _HASHES.get(key)
    if h is None:
        validate_scene_cfg(cfg)
        h = _HASHES[key] = config_hash(cfg)
        while len(_HASHES) > 8:
            del _HASHES[next(iter(_HASHES))]
    return h


def load_scene_cfg(name: str) -> dict:
    """Load ``conf/scene/<name>.yaml`` (name without extension) as a plain dict."""
    

    path = CONF_DIR / "scene" / f"{name}.yaml"
    if not path.exists():
        raise ValueError(f"scene: no config {path}; fix: use one of "
                         f"{', '.join(sorted(p.stem for p in path.parent.glob('*.yaml')))}")
    with open(path) as f:
        return load_yaml(f)
