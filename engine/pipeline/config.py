"""The job configuration: compose it with Hydra, validate it, hash it.

The resolved config is a plain nested dict (``JobSpec.cfg``) that travels to every worker. Its
hash covers every key that changes the bytes of the dataset; run-control keys (``out``,
``executor``, ``resume``, ``overwrite``, ``progress``, ``dry_run``, ``on_scene_error``) are left
out, so the same data made on 1 worker, 2 workers or Ray carries the same hash.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import engine
from engine.assets.appearance import load_appearance_config
from engine.assets.effects import HIGH_KEYS, high_switches, resolve_effects_config
from engine.assets.meshes import DEFAULT_RECIPES
from engine.atomic import sha256_file
from engine.camera.config import camera_cfg_errors
from engine.export.writers import WRITERS
from engine.layout.config import scene_cfg_errors
from engine.layout.room_types import room_type_names
from engine.paths import CONF_DIR, DATA_FOLDERS, config_groups, data_dir
from engine.pipeline.splits import SPLIT_KEYS, split_cfg, split_cfg_errors
from engine.qa.config import qa_cfg_errors
from engine.qa.families import OPT_IN_FAMILIES
from engine.qa.templates import TemplateError, template_files
from engine.render.protocol import render_cfg_errors
from engine.scene.catalog import DEFAULT_CATALOG
from engine.schema import Checker, ConfigError, canonical_hash, is_int, is_num, raise_errors
from engine.yamlio import load_yaml

__all__ = ["ConfigError", "JobSpec", "compose_config", "config_groups", "validate_config", "make_job", "load_job",
           "config_hash"]

MAX_SCENES = 10**9  # scene ids are s + 9 digits
# on_scene_error only decides whether a shard with a failing scene is written at all (a shard that
# exists has the same bytes either way), so switching it resumes the dataset
RUN_CONTROL_KEYS = ("out", "executor", "resume", "overwrite", "progress", "dry_run", "on_scene_error")
SCENE_ERROR_MODES = ("stop", "skip")
STAGE_GROUPS = ("scene", "camera", "render", "qa")
IMAGE_FORMATS = ("png", "jpeg")
JPEG_SUBSAMPLING = ("4:2:0", "4:4:4")
COMPRESSIONS = ("zstd", "snappy", "gzip", "none")
# Each stage group's check (engine.schema style: every problem, each naming its dotted key).
STAGE_CHECKS: dict[str, Callable[[dict], list[str]]] = {
    "scene": scene_cfg_errors, "camera": camera_cfg_errors, "render": render_cfg_errors, "qa": qa_cfg_errors}
_TOP_KEYS = ("num_scenes", "seed", "out", "resume", "overwrite", "progress", "dry_run", "camera_retries",
             "on_scene_error")
_GROUPS = ("output", "executor", "split", "stages", *STAGE_GROUPS)


def _run_errors(cfg: dict) -> list[str]:
    """Problems of the keys this module owns: the top level, output, executor, stages, split."""
    c = Checker(cfg, "")  # top-level keys are named bare (``num_scenes``, ``output.depth``)
    c.keys("", [*_TOP_KEYS, *_GROUPS], ["preset"], see="conf/config.yaml")
    c.number("num_scenes", 1, MAX_SCENES, integer=True, unit=" (scene ids have 9 digits)")
    c.number("seed", 0, 2**63 - 1, integer=True)
    c.check("out", lambda v: isinstance(v, str) and v != "", "a non-empty folder path")
    for k in ("resume", "overwrite", "progress", "dry_run"):
        c.boolean(k)
    c.number("camera_retries", 0, 100, integer=True, unit=" (extra camera attempts per scene)")
    c.check("on_scene_error", lambda v: v in SCENE_ERROR_MODES,
            "stop (fail the run at a scene whose stages raise) or skip (leave it out, listed in the manifest)")
    flags = {wk.flag: wk.flag_doc for wk in WRITERS if wk.flag}  # one flag per exporter
    if c.keys("output", ["scenes_per_shard", "row_group_size", "compression", "image_format", "jpeg_quality",
                         "jpeg_subsampling", "depth", "instance_mask", "scenes", "license", "lmms_eval", "point_cloud", *flags], ["video"],
                 see="conf/output/default.yaml"):
        c.number("output.scenes_per_shard", 1, integer=True)
        c.number("output.row_group_size", 1, integer=True, unit=" (rows per Parquet row group)")
        c.one_of("output.compression", COMPRESSIONS)
        c.one_of("output.image_format", IMAGE_FORMATS)
        c.number("output.jpeg_quality", 1, 100, integer=True)
        c.check("output.jpeg_subsampling", lambda v: v in JPEG_SUBSAMPLING,
                f"one of {', '.join(JPEG_SUBSAMPLING)} (chroma resolution)")
        c.check("output.depth", lambda v: isinstance(v, bool), "true or false (add a `depths` column: 16-bit PNG, millimetres)")
        c.check("output.instance_mask", lambda v: isinstance(v, bool), "true or false (add an `instance_masks` column: 16-bit PNG ids)")
        c.check("output.scenes", lambda v: isinstance(v, bool), "true or false (write scenes/scenes-XXXXX.jsonl)")
        c.check("output.license", lambda v: isinstance(v, str) and v.strip() != "" and " " not in v,
                "a Hub license id such as cc-by-4.0, mit or other (the dataset card's license)")
        c.check("output.lmms_eval", lambda v: isinstance(v, bool), "true or false (write lmms_eval/: an lmms-eval task)")
        c.check("output.point_cloud", lambda v: isinstance(v, bool),
                "true or false (write pointclouds/<scene_id>.ply: fused depth points with instance labels)")
        if c.check("output.video", lambda v: isinstance(v, bool), "true or false (write videos/: an MP4 per camera path)") \
                and c.get("output.video") and isinstance(c.get("camera"), dict):
            cam = c.get("camera")  # without camera paths (camera=walkthrough) no video is made, except the demo's
            if any(isinstance(cam.get(k), int) and cam[k] % 2 for k in ("width", "height")):
                c.err("output.video", f"H.264 yuv420p needs even image sides, got camera {cam.get('width')}x"
                      f"{cam.get('height')}; fix: set camera.width and camera.height to even numbers")
        for flag, doc in flags.items():
            c.check(f"output.{flag}", lambda v: isinstance(v, bool), doc)
    if c.keys("executor", ("name", "workers", "cpus_per_worker", "address", "task_timeout_s", "connect_timeout_s",
                           "max_retries"), see="conf/executor/*.yaml"):
        c.one_of("executor.name", ("local", "ray"))
        c.check("executor.workers", lambda v: v is None or (is_int(v) and v >= 1),
                "null (as many as the CPUs hold at cpus_per_worker each) or an integer >= 1")
        c.number("executor.cpus_per_worker", 1, integer=True, unit=" (CPUs each worker rasterises on)")
        c.check("executor.address", lambda v: v is None or (isinstance(v, str) and v != ""),
                "null (start a local Ray cluster) or a Ray address such as ray://host:10001")
        c.check("executor.task_timeout_s", lambda v: v is None or (is_num(v) and v > 0),
                "null (no limit) or seconds > 0 a shard may run before the run fails as hung")
        c.number("executor.connect_timeout_s", 0, strict=True, unit=" (seconds a Ray address has to answer)")
        c.number("executor.max_retries", 0, 100, integer=True, unit=" (Ray reruns of a task whose worker died)")
    if c.keys("stages", ("render", "qa"), see="conf/config.yaml"):
        c.check("stages.render", lambda v: isinstance(v, bool), "true or false (false: no images; rows carry the scene only)")
        c.check("stages.qa", lambda v: isinstance(v, bool), "true or false (false: one row per view instead of QA rows)")
    if c.keys("split", ("ratios",), SPLIT_KEYS[1:], see="conf/split/default.yaml") and c.check(
            "split.ratios", lambda v: isinstance(v, dict) and bool(v), "a mapping of split names to fractions"):
        ratios = c.get("split.ratios")
        for name, r in ratios.items():
            if not isinstance(name, str) or not name.replace("_", "").isalnum():
                c.err(f"split.ratios.{name}", "split names must be letters, digits or _")
            c.number(f"split.ratios.{name}", 0.0, 1.0, unit=" (a fraction)")
        vals = [r for r in ratios.values() if isinstance(r, (int, float)) and not isinstance(r, bool)]
        if len(vals) == len(ratios) and abs(sum(vals) - 1.0) > 1e-9:
            c.err("split.ratios", f"fractions sum to {sum(vals)!r}; fix: make them sum to 1")
    return c.errors + split_cfg_errors(cfg)


def worker_cpus(cfg: dict) -> int:
    """CPUs each worker (local process or Ray task) is given: ``executor.cpus_per_worker`` (1)."""
    return int((cfg.get("executor") or {}).get("cpus_per_worker") or 1)


@dataclass(frozen=True)
class JobSpec:
    """A validated job: the resolved config (plain dict), its hash and the shard plan."""

    cfg: dict
    config_hash: str

    @property
    def num_scenes(self) -> int:
        return int(self.cfg["num_scenes"])

    @property
    def scenes_per_shard(self) -> int:
        return int(self.cfg["output"]["scenes_per_shard"])

    @property
    def num_shards(self) -> int:
        return math.ceil(self.num_scenes / self.scenes_per_shard)

    def shard_range(self, shard_index: int) -> range:
        """Scene indices of shard ``shard_index``: [k*S, min((k+1)*S, num_scenes))."""
        if not 0 <= shard_index < self.num_shards:
            raise IndexError(f"shard {shard_index} is outside [0, {self.num_shards})")
        s = self.scenes_per_shard
        return range(shard_index * s, min((shard_index + 1) * s, self.num_scenes))

    @property
    def out(self) -> Path:
        return Path(self.cfg["out"])

    def split_names(self) -> list[str]:
        """Split names with a positive ratio, sorted (the canonical order)."""
        return sorted(k for k, v in self.cfg["split"]["ratios"].items() if v > 0)


def compose_config(overrides: list[str] | None = None, config_dir: str | Path | None = None,
                   config_name: str = "config") -> dict:
    """Compose ``conf/config.yaml`` with Hydra override strings and return a resolved plain dict.

    Uses Hydra's compose API: no working-directory change and no Hydra output folders.
    Raises ConfigError listing every override Hydra refuses, each naming the key Hydra
    complains about and the fix (the nearest valid key, or the group's options).
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    cdir = str(Path(config_dir or CONF_DIR).resolve())
    overrides = list(overrides or [])
    parsed, errors = _parse_overrides(overrides)
    raise_errors(errors, "invalid overrides")
    with initialize_config_dir(config_dir=cdir, version_base=None, job_name="spatialforge"):
        bad: set[int] = set()
        while True:  # Hydra stops at the first problem: drop each refused override and retry
            kept = [o for i, o in enumerate(overrides) if i not in bad]
            try:
                cfg = OmegaConf.to_container(compose(config_name=config_name, overrides=kept), resolve=True)
            except (HydraException, OmegaConfBaseException) as e:
                index, msg = _compose_error(e, overrides, parsed, bad, cdir, config_name)
                errors.append(msg)
                if index is None:  # not tied to one override: report what is known
                    break
                bad.add(index)
                continue
            break
    raise_errors(errors, "invalid overrides")
    return cfg


def _parse_overrides(overrides: list[str]) -> tuple[list, list[str]]:
    """Each override parsed alone with Hydra's grammar (so a syntax error names its override),
    and the errors."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser, parsed, errors = OverridesParser.create(), [], []
    for o in overrides:
        key = o.split("=", 1)[0].lstrip("+~")
        try:
            ov = parser.parse_override(o)
        except HydraException as e:
            why = " ".join(str(e).split()).split(" See https://")[0]
            errors.append(f"{key or o}: cannot parse the override {o!r} ({why}); fix: write key=value, a list as "
                          "key=[a,b], quoting values with spaces or brackets (Hydra's override grammar: "
                          "https://hydra.cc/docs/advanced/override_grammar/basic/)")
            parsed.append(None)
            continue
        if not ov.key_or_group:
            errors.append(f"{o}: the override has no key; fix: write key=value, e.g. num_scenes=100")
        parsed.append(ov)
    return parsed, errors


def _compose_error(e: Exception, overrides: list[str], parsed: list, bad: set[int], cdir: str,
                   config_name: str) -> tuple[int | None, str]:
    """The override Hydra refused (its index, None when it cannot be told) and the error line:
    ``key: problem; fix: ...`` naming the key from Hydra's own message."""
    text = " ".join(str(e).split())

    def find(key: str) -> int | None:
        for i, ov in enumerate(parsed):
            if i not in bad and ov is not None and ov.key_or_group == key:
                return i
        return None

    m = re.search(r"Could not find '([^']+)/([^'/]+)'", text)
    if m:  # a misspelt group option: scene=rooom
        group, option = m.group(1), m.group(2)
        options = config_groups(cdir).get(group, [])
        near = [o for o in options if o.startswith(option)] or difflib.get_close_matches(option, options, n=1)
        hint = f"did you mean {group}={near[0]}? " if near else f"pick one with {group}=<option> "
        return find(group), (f"{group}: unknown option {option!r}; fix: {hint}(options of {group}: "
                             f"{', '.join(options) or 'none'}; the files in conf/{group}/)")
    m = re.search(r"Could not (override|delete from config\.) '([^']+)'", text)
    if m:  # an unknown key: camera.widht=5, ~camera.widht
        key, delete = m.group(2), m.group(1) != "override"
        index = find(key)
        near, other = _nearest_key(_base_config(overrides, parsed, cdir, config_name), key)
        others = _other_options(key, cdir)
        if others and not near:  # a key of another option of its group
            return index, (f"{key}: unknown key with the chosen {key.split('.')[0]}; fix: it is a key of "
                           f"{' and '.join(others)}: pick that, or drop the override")
        if delete:
            return index, f"{key}: cannot delete an unknown key; fix: {f'did you mean ~{near}?' if near else other}"
        fix = f"did you mean {near}?" if near else other
        return index, f"{key}: unknown key; fix: {fix} (add a new key with +{key}=... only if a stage reads it)"
    m = re.search(r"An item is already at '([^']+)'", text)
    if m:  # +camera.width=5
        key = m.group(1)
        index = find(key)
        value = overrides[index].split("=", 1)[1] if index is not None and "=" in overrides[index] else "..."
        return index, f"{key}: the key exists, so + cannot add it; fix: drop the + ({key}={value})"
    index = next((i for i, ov in enumerate(parsed)
                  if i not in bad and ov is not None and f"'{ov.key_or_group}'" in text), None)
    where = f"{parsed[index].key_or_group}: " if index is not None else ""
    return index, (f"{where}{text}; fix: check the key against conf/config.yaml and its groups "
                   f"(add a new key with +key=value only if a stage reads it)")


def _base_config(overrides: list[str], parsed: list, cdir: str, config_name: str) -> dict:
    """The config composed with only the overrides that pick group options (``scene=tabletop``,
    ``preset=...``; the keys a misspelt key is compared with depend on them), else the defaults."""
    from hydra import compose
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    groups = config_groups(cdir)
    picks = [o for o, ov in zip(overrides, parsed) if ov is not None and ov.key_or_group in groups]
    for attempt in (picks, []):
        try:
            return OmegaConf.to_container(compose(config_name=config_name, overrides=attempt), resolve=False)
        except (HydraException, OmegaConfBaseException):
            continue
    return {}


def _nearest_key(cfg: dict, key: str) -> tuple[str | None, str]:
    """The valid dotted key nearest to ``key`` in ``cfg`` (each part matched exactly or by
    difflib), or None; and a fix for when there is none (the keys at the level where no part
    matches)."""
    node: Any = cfg
    fixed: list[str] = []
    for part in key.split("."):
        here = ".".join(fixed) or "the top level"
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            fixed.append(part)
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            return None, f"{here} holds a value, not keys: set it with {here}=..."
        names = {str(k): k for k in node}
        if part not in names:
            near = difflib.get_close_matches(part, list(names), n=1, cutoff=0.6)
            if not near:
                return None, f"use one of the keys of {here}: {', '.join(names)}"
            part = near[0]
        fixed.append(part)
        node = node[names[part]]
    near = ".".join(fixed)
    return (near if near != key else None), "check the key against conf/config.yaml and its groups"


def _other_options(key: str, cdir: str) -> list[str]:
    """``group=option`` for every option of ``key``'s group whose own file has ``key``
    (``scene.doorway.width`` is a key of ``scene=room``, not of ``scene=tabletop``)."""
    import yaml

    group, _, rest = key.partition(".")
    found = []
    for option in config_groups(cdir).get(group, []) if rest else []:
        try:
            node = load_yaml((Path(cdir) / group / f"{option}.yaml").read_text())
        except (OSError, yaml.YAMLError):
            continue
        for part in rest.split("."):
            node = node[part] if isinstance(node, dict) and part in node else _ABSENT
        if node is not _ABSENT:
            found.append(f"{group}={option}")
    return found


_ABSENT = object()


def validate_config(cfg: dict) -> list[str]:
    """All errors of a resolved config, each ``dotted.key: problem; fix: ...`` (empty when valid)."""
    errors = _run_errors(cfg)
    for group, check in STAGE_CHECKS.items():
        if isinstance(cfg.get(group), dict):
            errors += check(cfg[group])
        else:
            errors.append(f"{group}: missing config group; fix: pick one with {group}=<name> (see conf/{group}/)")
    return errors + _camera_room_type_errors(cfg)


def _camera_room_type_errors(cfg: dict) -> list[str]:
    """``camera.profiles.room.room_types`` names room types of scenes/room_types.yaml (the camera
    group cannot read the layout's file: they are sibling stages)."""
    types = (((cfg.get("camera") or {}).get("profiles") or {}).get("room") or {}).get("room_types")
    if not isinstance(types, dict):
        return []
    known = room_type_names()
    return [f"camera.profiles.room.room_types.{rt}: not a room type; fix: one of {', '.join(known)} "
            "(scenes/room_types.yaml)" for rt in types if rt not in known]


def render_enabled(cfg: dict) -> bool:
    """Whether the job renders images (``stages.render``)."""
    return bool(cfg["stages"]["render"])


def qa_enabled(cfg: dict) -> bool:
    """Whether the job asks questions (``stages.qa``)."""
    return bool(cfg["stages"]["qa"])


def appearance_cfg(cfg: dict) -> dict | None:
    """The appearance config the render stage samples from: ``render.appearance`` when it is a
    mapping, else the YAML it names (default ``scenes/appearance.yaml``); None when the
    render stage is off."""
    if not render_enabled(cfg):
        return None
    a = cfg["render"].get("appearance")
    return dict(a) if isinstance(a, dict) else load_appearance_config(a)


def input_digests(cfg: dict) -> dict[str, str]:
    """sha256 of every data file the job reads besides its config, by path relative to its data
    folder (or as given): the catalog, the templates (when QA is on) and the mesh recipes (when
    rendering is on). Files that do not exist are left to the preflight checks to report."""
    files: list[Path] = [Path(cfg["scene"].get("catalog") or DEFAULT_CATALOG)]
    if qa_enabled(cfg):
        try:
            files += [f for f in template_files(cfg["qa"].get("templates")) if not _opt_in_unused(f, cfg["qa"])]
        except TemplateError:
            pass
    if render_enabled(cfg):
        files.append(DEFAULT_RECIPES)
    out = {}
    for f in files:
        if f.is_file():
            out[_data_name(f)] = sha256_file(f)
    return out


def _opt_in_unused(path: Path, qa: dict) -> bool:
    """True for a template file of an opt-in family (``OPT_IN_FAMILIES``: video) that
    ``qa.families`` does not name: the job reads none of its templates, so it is not hashed
    (datasets made before the family existed keep their hash)."""
    import yaml

    try:
        fam = (load_yaml(path.read_text()) or {}).get("family")
    except (OSError, yaml.YAMLError, AttributeError):
        return False
    fams = qa.get("families", "all") if isinstance(qa, dict) else "all"
    return fam in OPT_IN_FAMILIES and (fams == "all" or not isinstance(fams, (list, tuple)) or fam not in fams)


def _data_name(path: Path) -> str:
    """``path`` relative to the data folder holding it (``templates/relations.yaml``), else as given,
    so the hash does not depend on where the package is installed."""
    for name in DATA_FOLDERS:
        root = data_dir(name)
        if path.resolve().is_relative_to(root):
            return f"{name}/{path.resolve().relative_to(root).as_posix()}"
    return str(path)


def config_hash(cfg: dict) -> str:
    """sha256 (hex, first 16 chars) of the canonical JSON of the data-defining keys of ``cfg``, the
    appearance YAML the render stage reads (when it is not inline in ``render``), the contents of
    the catalog, template and mesh-recipe files the job reads (:func:`input_digests`) and the
    engine version: every input that changes the bytes of the dataset."""
    data = {k: v for k, v in cfg.items() if k not in RUN_CONTROL_KEYS}
    if isinstance(data.get("output"), dict) and data["output"].get("video") is False:
        # output.video (issue 16) is hashed only when on, so datasets made before it keep their hash
        data["output"] = {k: v for k, v in data["output"].items() if k != "video"}
    if isinstance(cfg.get("split"), dict) and split_cfg(cfg)["strategy"] == "random":
        data["split"] = {"ratios": cfg["split"].get("ratios")}  # random reads only the ratios (hash as before)
    if isinstance(cfg.get("stages"), dict) and isinstance(cfg.get("render"), dict):
        data["_appearance"] = appearance_cfg(cfg)
        data["_inputs"] = input_digests(cfg)
        if high_switches(cfg["render"]) is None:  # fast reads none of the high keys: hash as before them
            data["render"] = {k: v for k, v in cfg["render"].items() if k not in HIGH_KEYS}
        elif render_enabled(cfg):
            data["_effects"] = resolve_effects_config(cfg["render"].get("effects"))
    if isinstance(cfg.get("output"), dict) and cfg["output"].get("point_cloud") is False:
        data["output"] = {k: v for k, v in cfg["output"].items() if k != "point_cloud"}  # off: hash as before
    data["_engine"] = engine.__version__
    return canonical_hash(data)


def make_job(cfg: dict) -> JobSpec:
    """Validate a resolved config and return the JobSpec; raise ConfigError listing every bad key."""
    raise_errors(validate_config(cfg))
    return JobSpec(cfg=cfg, config_hash=config_hash(cfg))


def load_job(overrides: list[str] | None = None, config_dir: str | Path | None = None) -> JobSpec:
    """Compose (Hydra overrides) and validate: the library entry point behind the CLI."""
    return make_job(compose_config(overrides, config_dir))
