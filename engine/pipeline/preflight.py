"""Checks that run before a job touches its output folder.

:func:`preflight` loads every data file the job reads (catalog, mesh recipes, appearance,
templates), looks for settings that contradict each other (a requested QA family that can ask
nothing under the chosen views, answer forms or tags; a split that no scene falls into), and,
with ``dry_run``, makes scene 0 through every stage in this process: layout, views, the renderer
(its context, its image-size limit) and the questions. Every problem is reported at once as a
:class:`ConfigError` naming the key and the fix (the CLI exits 2), and nothing is created.
"""

from __future__ import annotations

import difflib
import logging

import yaml

from engine.assets.meshes import MeshRecipeError, load_recipes
from engine.layout import load_scene_cfg
from engine.layout.room_types import room_type_names
from engine.pipeline.config import JobSpec, appearance_cfg, qa_enabled, render_enabled
from engine.pipeline.executors import probe_ray_address, worker_stages
from engine.pipeline.splits import split_of
from engine.pipeline.timing import StageTimer
from engine.qa import QAGenerator
from engine.qa.schema import Template
from engine.qa.templates import load_templates
from engine.scene.catalog import SCENE_TYPES, CatalogError, load_catalog
from engine.schema import ConfigError, raise_errors

log = logging.getLogger("spatialforge")
SPLIT_CHECK_MAX = 100_000  # scenes whose split is computed exactly to find an empty split
GL_FIX = ("fix: install the Mesa EGL/GL libraries (`make setup` runs tools/setup_system.sh), or on a GPU machine "
          "check render.device_index; render.backend=pyrender render.platform=osmesa renders without EGL")


def _data_errors(job: JobSpec) -> list[str]:
    """Problems of the data files the job reads and of settings that contradict each other."""
    cfg, errors = job.cfg, []
    catalog = None
    try:
        catalog = load_catalog(cfg["scene"].get("catalog"))
    except (CatalogError, yaml.YAMLError, OSError) as e:
        errors.append(_file_error("scene.catalog", e, "docs/layout.md"))
    if render_enabled(cfg):
        try:
            load_recipes()
        except (MeshRecipeError, yaml.YAMLError, OSError) as e:
            errors.append(_file_error("mesh recipes (scenes/meshes.yaml)", e, "docs/meshes.md"))
        try:
            appearance_cfg(cfg)
        except (ValueError, yaml.YAMLError, OSError) as e:
            errors.append(_file_error("render.appearance", e, "docs/meshes.md"))
    if cfg["output"].get("point_cloud") and not render_enabled(cfg):
        errors.append("output.point_cloud: true needs rendered depth, but stages.render is false; fix: set "
                      "stages.render=true, or output.point_cloud=false")
    all_templates = None
    if qa_enabled(cfg) and catalog is not None:
        try:
            gen = QAGenerator(cfg["qa"], catalog)
        except (ValueError, yaml.YAMLError, OSError) as e:
            errors.append(_file_error("qa.templates", e, "docs/qa.md") if not str(e).startswith("qa")
                          else _one_line(e))
        else:
            all_templates = load_templates(gen.cfg["templates"])
            errors += selection_errors(cfg, gen.templates, all_templates)
    if catalog is not None:
        errors += split_value_errors(cfg, catalog, all_templates)
    return errors


def split_value_errors(cfg: dict, catalog, all_templates: dict[str, Template] | None) -> list[str]:
    """Held-out values in ``split.params`` that name nothing (a category not in the catalog, a
    template or task none of ``all_templates`` has (None: QA is off or its templates did not
    load, reported elsewhere), a scene type that does not exist): such a rule would silently hold
    out nothing."""
    strategy, params = cfg["split"].get("strategy", "random"), cfg["split"].get("params") or {}
    known: dict[str, tuple[str, list[str]]] = {}
    if strategy == "heldout_categories":
        known["categories"] = ("a catalog category", sorted(catalog.categories))
    elif strategy == "heldout_combos":
        known["pairs"] = ("<a catalog category>/<value>", sorted(catalog.categories))
    elif strategy == "heldout_room_types":
        known["room_types"] = ("a scene type or room type", list(SCENE_TYPES) + room_type_names())
    elif strategy in ("heldout_templates", "heldout_tasks") and all_templates is not None:
        templates = all_templates.values()
        if strategy == "heldout_templates":
            known["templates"] = ("a template id", sorted(t.id for t in templates))
        else:
            known["tasks"] = ("a task of the templates", sorted({t.task for t in templates}))
    errors = []
    for key, (what, names) in known.items():
        for v in params.get(key) or []:
            name = str(v).split("/", 1)[0] if key == "pairs" else str(v)
            if name not in names:
                near = difflib.get_close_matches(name, names, n=1)
                errors.append(f"split.params.{key}: {v!r} is not {what}, so the rule would hold out nothing; fix: "
                              + (f"did you mean {near[0]!r}? " if near else "") + f"use one of {', '.join(names[:12])}"
                              + (" ..." if len(names) > 12 else ""))
    return errors


def selection_errors(cfg: dict, selected: list[Template], all_templates: dict[str, Template]) -> list[str]:
    """Settings under which a requested QA family (or the whole selection) can ask nothing: every
    template it keeps shows more views than ``camera.num_views``, or none survives
    ``qa.answer_forms`` / ``qa.tags`` / ``qa.exclude_tags``."""
    qa, nv = cfg["qa"], int(cfg["camera"]["num_views"])
    errors = []
    if qa["families"] == "all":
        if selected and all(t.views > nv for t in selected):
            need = min(t.views for t in selected)
            errors.append(f"camera.num_views: {nv} view per scene, but every selected question shows {need} views; "
                          f"fix: camera.num_views={need}, or widen qa.answer_forms / qa.tags")
        return errors
    for f in qa["families"]:
        mine = [t for t in selected if t.family == f or f in t.tags]
        if not mine:
            forms = sorted({t.answer_type for t in all_templates.values() if t.family == f or f in t.tags})
            errors.append(f"qa.families: {f!r} keeps no template under qa.answer_forms={qa['answer_forms']} "
                          f"qa.tags={qa['tags']} qa.exclude_tags={qa['exclude_tags']}; fix: add one of its answer "
                          f"forms {forms} to qa.answer_forms (or loosen the tags), or drop {f!r}")
        elif all(t.views > nv for t in mine):
            need = min(t.views for t in mine)
            errors.append(f"qa.families: {f!r} asks about {need} views per question but camera.num_views={nv}; "
                          f"fix: camera.num_views={need}, or drop {f!r}")
    return errors


def empty_splits(job: JobSpec) -> list[str]:
    """Splits with a positive ratio that no scene of the job falls into (checked exactly for jobs
    up to SPLIT_CHECK_MAX scenes; larger jobs leave a split empty only by a vanishing chance).
    The run warns before any work; the dataset card says the split is empty."""
    ratios = job.cfg["split"]["ratios"]
    names = job.split_names()
    n = min(job.num_scenes, SPLIT_CHECK_MAX)
    seen: set[str] = set()
    for i in range(n):
        seen.add(split_of(int(job.cfg["seed"]), i, ratios))
        if len(seen) == len(names):
            return []
    return [] if job.num_scenes > SPLIT_CHECK_MAX else [s for s in names if s not in seen]


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _file_error(key: str, e: BaseException, doc: str) -> str:
    """One line for a data file that cannot be used: ``key: <problem>; fix: ...``."""
    text = _one_line(e)
    text = text if text.startswith(key.split(" ")[0]) else f"{key}: {text}"
    if "fix:" not in text:
        text += f"; fix: correct the file ({doc} says what each field means), or point {key.split(' ')[0]} at another file"
    return text


DRY_RUN_SCENES = 5  # a layout that fails on all of the first scenes is a config problem, not bad luck


def dry_run(job: JobSpec) -> None:
    """Make one scene through every enabled stage in this process (the first of scenes 0..4 whose
    layout is feasible: a room sampler gives up on a few percent of draws, which the run skips and
    counts); raise ConfigError naming the stage, the key to change and the fix when a stage cannot
    run with this config."""
    stages = worker_stages(job)
    tries = max(1, min(DRY_RUN_SCENES, job.num_scenes))
    for index in range(tries):
        try:
            scene = stages.layout(index)
            break
        except stages.layout_error as e:
            if index == tries - 1:
                raise ConfigError(f"scene: the layout sampler cannot meet this config for scenes 0..{index}: {e}") from None
        except ValueError as e:
            raise ConfigError(_one_line(e) if str(e).startswith("scene.") else f"scene: {_one_line(e)}") from None
    if not stages.views(scene, index, {}):
        log.warning("dry run: scene %d got no camera views (it will be skipped); check the camera profile", index)
        return
    if stages.render_on:
        try:
            renderer = stages.renderer
        except Exception as e:  # the GL libraries, driver or device: anything that stops a context
            text = _one_line(e)
            raise ConfigError(f"render: cannot create the {job.cfg['render']['backend']} renderer "
                              f"({type(e).__name__}: {text})" + ("" if "fix:" in text else f"; {GL_FIX}")) from None
        cam = job.cfg["camera"]
        for key in ("width", "height"):
            if cam[key] > renderer.max_image_size:
                raise ConfigError(f"camera.{key}: {cam[key]} px is above what this renderer can draw "
                                  f"({renderer.max_image_size} px, {renderer.gl_renderer}); fix: lower camera.{key}")
    qa_gen = stages.new_qa_generator()
    out = stages.make_scene(index, qa_gen, StageTimer())
    if qa_gen is not None and hasattr(out, "qa_rows") and not out.qa_rows:
        log.warning("dry run: scene %d gave no questions; check qa.families, qa.answer_forms and camera.num_views", index)


# Scene keys each room type's entry in scenes/room_types.yaml overrides while scene.room_types is set.
TYPE_OVERRIDDEN_KEYS = ("counts", "categories", "max_per_category", "min_surface_furniture", "small_on_floor_prob")


def room_type_overridden(scene_cfg: dict) -> list[str]:
    """The keys of a room ``scene_cfg`` changed from conf/scene/room.yaml's values that typed rooms
    ignore (their scenes/room_types.yaml entries set them), while ``room_types`` is set; else []."""
    if scene_cfg.get("type") != "room" or not scene_cfg.get("room_types"):
        return []
    shipped = load_scene_cfg("room")
    return [k for k in TYPE_OVERRIDDEN_KEYS if k in scene_cfg and scene_cfg[k] != shipped.get(k)]


def preflight(job: JobSpec) -> None:
    """Every check that needs no output folder (see the module docstring); raises ConfigError."""
    raise_errors(_data_errors(job))
    probe_ray_address(job)  # a Ray address that does not answer fails in seconds, before any work
    for k in room_type_overridden(job.cfg["scene"]):
        log.warning("scene.%s: changed, but each room type's entry in scenes/room_types.yaml sets its own %s, so "
                    "typed rooms ignore it; to use it set scene.room_types=null (one mixed room from the config's "
                    "lists) or edit the types (docs/layout.md)", k, k)
    for s in empty_splits(job):
        log.warning("split %s: no scene of the %d falls into it (split.ratios.%s=%s); the dataset card says it is "
                    "empty (datasets cannot load an empty split); to fill it raise num_scenes", s, job.num_scenes, s,
                    job.cfg["split"]["ratios"][s])
    if job.cfg["dry_run"]:
        dry_run(job)
