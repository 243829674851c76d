"""One scene through the stages: layout -> views -> appearance -> render + visibility -> QA.

A :class:`SceneStages` lives once per worker process: it holds the catalog and one renderer
(one GL context per process, reused for every frame). Every stage draws from
``stage_rng(seed, scene_index, <stage>)``, so a scene is a pure function of (config, index).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import engine
from engine.camera import CameraSamplingError, sample_views
from engine.camera.walkthrough import is_walkthrough, sample_walkthrough
from engine.layout import LayoutInfeasibleError, sample_layout
from engine.pipeline.config import appearance_cfg, qa_enabled, render_enabled, worker_cpus
from engine.pipeline.timing import StageTimer
from engine.qa import QAGenerator
from engine.render import annotate_visibility, get_renderer
from engine.assets.appearance import sample_appearance
from engine.assets.effects import high_switches, resolve_effects_config, sample_effects
from engine.assets.meshes import scene_meshes
from engine.rng import stage_rng
from engine.scene.catalog import load_catalog
from engine.scene.graph import SceneGraph


def scene_id_of(scene_index: int) -> str:
    """The scene id for a global scene index: ``s`` + 9 digits."""
    return f"s{scene_index:09d}"


@dataclass
class SceneOutput:
    """What one scene yields: the scene (with views, visibility, materials), the frames per
    view id (empty when rendering is off), the QA rows, and per-scene counters."""

    scene: SceneGraph
    frames: dict[str, Any] = field(default_factory=dict)
    qa_rows: list[dict] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)


@dataclass
class SceneSkipped:
    """A scene that could not be made (bounded retries exhausted); ``reason`` is a stats key."""

    scene_index: int
    reason: str
    message: str


class SceneStages:
    """The stage functions bound to one job config, with the per-process renderer.

    Args:
        cfg: the resolved job config (plain dict, see engine.pipeline.config).
        config_hash: stored in every scene record's ``generator``.
    """

    def __init__(self, cfg: dict, config_hash: str):
        self.cfg = cfg
        self.config_hash = config_hash
        self.catalog = load_catalog(cfg["scene"].get("catalog"))
        self.seed = int(cfg["seed"])
        self._renderer = None
        self.sample_layout = sample_layout
        self.layout_error = LayoutInfeasibleError
        self.sample_views = sample_views
        self.camera_error = CameraSamplingError
        self.render_on = render_enabled(cfg)
        self.qa_on = qa_enabled(cfg)
        if self.render_on:
            self.sample_appearance = sample_appearance
            self.scene_meshes = scene_meshes
            self.get_renderer = get_renderer
            self.annotate_visibility = annotate_visibility
            self.appearance_cfg = appearance_cfg(cfg)
            self.effect_switches = high_switches(cfg["render"])  # None under render.quality=fast
            self.effects_cfg = resolve_effects_config(cfg["render"].get("effects")) if self.effect_switches else None
        if self.qa_on:
            self.qa_class = QAGenerator

    @property
    def renderer(self):
        """The worker's renderer, created on first use and reused (one GL context per process),
        rasterising on ``executor.cpus_per_worker`` CPUs."""
        if self._renderer is None:
            self._renderer = self.get_renderer(self.cfg["render"], cpus=worker_cpus(self.cfg))
        return self._renderer

    def reset_renderer(self) -> None:
        """Drop the renderer after a scene failed (its GL objects may be half made); the next
        scene that renders makes a fresh one, as a new worker would."""
        r, self._renderer = self._renderer, None
        if r is not None and hasattr(r, "release"):
            try:
                r.release()
            except Exception:  # a renderer that failed may not release cleanly; it is dropped either way
                pass

    def new_qa_generator(self):
        """A fresh QA generator (one per shard: it keeps answer-balancing state), or None."""
        return self.qa_class(self.cfg["qa"], self.catalog) if self.qa_on else None

    def layout(self, scene_index: int) -> SceneGraph:
        """Stage ``layout``: the scene's objects and room; raises the layout's LayoutInfeasibleError."""
        sid = scene_id_of(scene_index)
        scene = self.sample_layout(self.cfg["scene"], self.catalog, stage_rng(self.seed, scene_index, "layout"),
                                   scene_id=sid, seed=self.seed, scene_index=scene_index)
        scene.generator = {"name": engine.ENGINE_NAME, "version": engine.__version__, "config_hash": self.config_hash}
        return scene

    def views(self, scene: SceneGraph, scene_index: int, stats: dict[str, int]) -> bool:
        """Stage ``camera`` with bounded deterministic retries (stages ``camera/retry<k>``).

        Sets ``scene.views``; returns False when every attempt failed."""
        retries = int(self.cfg.get("camera_retries", 3))
        errors = (self.camera_error,) if self.camera_error else (RuntimeError,)
        for attempt in range(retries + 1):
            stage = "camera" if attempt == 0 else f"camera/retry{attempt}"
            try:
                rng = stage_rng(self.seed, scene_index, stage)
                if is_walkthrough(self.cfg["camera"]):  # one path of frames (docs/video.md)
                    scene.views, scene.paths = sample_walkthrough(scene, self.cfg["camera"], rng)
                else:
                    scene.views = list(self.sample_views(scene, self.cfg["camera"], rng))
                return True
            except errors:
                stats["camera_retries"] = stats.get("camera_retries", 0) + 1
        return False

    def make_scene(self, scene_index: int, qa_gen, timer: StageTimer) -> SceneOutput | SceneSkipped:
        """Run every enabled stage for one scene; time each stage into ``timer``."""
        stats: dict[str, int] = {}
        with timer("layout"):
            try:
                scene = self.layout(scene_index)
            except self.layout_error as e:
                return SceneSkipped(scene_index, "layout_failed", str(e))
        with timer("camera"):
            ok = self.views(scene, scene_index, stats)
        if not ok:
            out = SceneSkipped(scene_index, "camera_failed", f"no views after {stats.get('camera_retries')} attempts")
            return out
        frames: dict[str, Any] = {}
        if self.render_on:
            with timer("appearance"):
                self.sample_appearance(scene, self.catalog, self.appearance_cfg,
                                       stage_rng(self.seed, scene_index, "appearance"))
                if self.effect_switches is not None:
                    sample_effects(scene, self.effects_cfg, self.effect_switches, stage_rng(self.seed, scene_index, "effects"))
            with timer("render"):
                meshes = self.scene_meshes(scene, self.catalog)
                for view in scene.views:
                    frame = self.renderer.render(scene, view, meshes)
                    self.annotate_visibility(view, frame, scene)
                    frames[view.id] = frame
        rows: list[dict] = []
        if qa_gen is not None:
            with timer("qa"):
                rows = list(qa_gen.generate(scene, stage_rng(self.seed, scene_index, "qa")))
        return SceneOutput(scene, frames, rows, stats)
