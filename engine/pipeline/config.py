"""The job configuration: compose it with Hydra, validate it, hash it.

The resolved config is a plain nested dict (``JobSpec.cfg``) that travels to every worker. Its
hash covers every key that changes the bytes of the dataset; run-control keys (``out``,
``executor``, ``resume``, ``overwrite``, ``progress``, ``dry_run``) are left out, so the same
data made on 1 worker, 2 workers or Ray carries the same hash.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.camera import validate_camera_cfg
from engine.export.writers import WRITERS
from engine.layout import validate_scene_cfg
from engine.qa import validate_qa_cfg
from engine.render import validate_render_cfg
from engine.assets.appearance import load_appearance_config
from engine.paths import CONF_DIR

RUN_CONTROL_KEYS = ("out", "executor", "resume", "overwrite", "progress", "dry_run")
STAGE_GROUPS = ("scene", "camera", "render", "qa")
IMAGE_FORMATS = ("png", "jpeg")
JPEG_SUBSAMPLING = ("4:2:0", "4:4:4")
COMPRESSIONS = ("zstd", "snappy", "gzip", "none")


class ConfigError(ValueError):
    """The job config is invalid; the message names the key (dotted path) and the fix."""


# Schema of the keys this module owns: key -> (types, check, what a valid value is).
def _int(lo: int | None = None, hi: int | None = None):
    def ok(v):
        return isinstance(v, int) and not isinstance(v, bool) and (lo is None or v >= lo) and (hi is None or v <= hi)
    return ok


def _bool(v):
    return isinstance(v, bool)


def _str(v):
    return isinstance(v, str) and v != ""


def _opt(check):
    return lambda v: v is None or check(v)


def _one_of(options):
    return lambda v: v in options


TOP_SCHEMA: dict[str, tuple[Any, str]] = {
    "num_scenes": (_int(1), "an integer >= 1"),
    "seed": (_int(0, 2**63 - 1), "an integer >= 0"),
    "out": (_str, "a non-empty folder path"),
    "resume": (_bool, "true or false"),
    "overwrite": (_bool, "true or false"),
    "progress": (_bool, "true or false"),
    "dry_run": (_bool, "true or false"),
    "camera_retries": (_int(0, 100), "an integer in [0, 100] (extra camera attempts per scene)"),
}
OUTPUT_SCHEMA: dict[str, tuple[Any, str]] = {
    "scenes_per_shard": (_int(1), "an integer >= 1"),
    "row_group_size": (_int(1), "an integer >= 1 (rows per Parquet row group)"),
    "compression": (_one_of(COMPRESSIONS), f"one of {list(COMPRESSIONS)}"),
    "image_format": (_one_of(IMAGE_FORMATS), f"one of {list(IMAGE_FORMATS)}"),
    "jpeg_quality": (_int(1, 100), "an integer in [1, 100]"),
    "jpeg_subsampling": (_one_of(JPEG_SUBSAMPLING), f"one of {list(JPEG_SUBSAMPLING)} (chroma resolution)"),
    "depth": (_bool, "true or false (add a `depths` column: 16-bit PNG, millimetres)"),
    "instance_mask": (_bool, "true or false (add an `instance_masks` column: 16-bit PNG ids)"),
    "scenes": (_bool, "true or false (write scenes/scenes-XXXXX.jsonl)"),
    **{wk.flag: (_bool, wk.flag_doc) for wk in WRITERS if wk.flag},  # one flag per exporter
}
STAGES_SCHEMA: dict[str, tuple[Any, str]] = {
    "render": (_bool, "true or false (false: no images; rows carry the scene only)"),
    "qa": (_bool, "true or false (false: one row per view instead of QA rows)"),
}
EXECUTOR_SCHEMA: dict[str, tuple[Any, str]] = {
    "name": (_one_of(("local", "ray")), "local or ray"),
    "workers": (_opt(_int(1)), "null (as many as the CPUs hold at cpus_per_worker each) or an integer >= 1"),
    "cpus_per_worker": (_int(1), "an integer >= 1 (CPUs each worker rasterises on; 1 = one core per worker)"),
    "address": (_opt(_str), "null (start a local Ray cluster) or a Ray address such as ray://host:10001"),
}


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
    Raises ConfigError naming the key when an override targets an unknown key or group.
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    cdir = str(Path(config_dir or CONF_DIR).resolve())
    try:
        with initialize_config_dir(config_dir=cdir, version_base=None, job_name="spatialforge"):
            cfg = compose(config_name=config_name, overrides=list(overrides or []))
            return OmegaConf.to_container(cfg, resolve=True)
    except (HydraException, OmegaConfBaseException) as e:
        msg = str(e).strip().splitlines()
        key = ""
        for o in overrides or []:
            k = o.split("=", 1)[0].lstrip("+~")
            if f"'{k}'" in str(e) or k in str(e):
                key = k
                break
        where = f"{key}: " if key else ""
        raise ConfigError(f"{where}{' '.join(msg)}; fix: check the key against conf/config.yaml and its groups "
                          f"(add a new key with +key=value only if a stage reads it)") from None


def _check_section(section: dict, schema: dict, prefix: str, errors: list[str], also_known: tuple = ()) -> None:
    """Append an error per unknown key (not in ``schema`` or ``also_known``), missing key and bad value."""
    if not isinstance(section, dict):
        errors.append(f"{prefix.rstrip('.')}: must be a mapping, got {section!r}")
        return
    valid = [*schema, *also_known]
    for k in section:
        if k not in valid:
            errors.append(f"{prefix}{k}: unknown key; fix: remove it (valid keys: {', '.join(sorted(valid))})")
    for k, (check, what) in schema.items():
        if k not in section:
            errors.append(f"{prefix}{k}: missing; fix: set it to {what}")
        elif not check(section[k]):
            errors.append(f"{prefix}{k}: got {section[k]!r}; fix: set it to {what}")


def _stage_validator(group: str):
    """The stage's validate_<group>_cfg."""
    return {"scene": validate_scene_cfg, "camera": validate_camera_cfg, "render": validate_render_cfg,
            "qa": validate_qa_cfg}[group]


def validate_config(cfg: dict) -> list[str]:
    """All errors of a resolved config, each ``dotted.key: problem; fix: ...`` (empty when valid)."""
    errors: list[str] = []
    _check_section(cfg, TOP_SCHEMA, "", errors, also_known=("output", "executor", "split", "stages", *STAGE_GROUPS, "preset"))
    _check_section(cfg.get("output"), OUTPUT_SCHEMA, "output.", errors)
    _check_section(cfg.get("executor"), EXECUTOR_SCHEMA, "executor.", errors)
    _check_section(cfg.get("stages"), STAGES_SCHEMA, "stages.", errors)
    split = cfg.get("split")
    if not isinstance(split, dict) or set(split) != {"ratios"}:
        errors.append(f"split: must be {{ratios: {{name: fraction, ...}}}}, got {split!r}")
    else:
        ratios = split["ratios"]
        if not isinstance(ratios, dict) or not ratios:
            errors.append(f"split.ratios: must map split names to fractions, got {ratios!r}")
        else:
            for name, r in ratios.items():
                if not isinstance(name, str) or not name.replace("_", "").isalnum():
                    errors.append(f"split.ratios.{name}: split names must be letters, digits or _")
                if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 <= r <= 1:
                    errors.append(f"split.ratios.{name}: got {r!r}; fix: a fraction in [0, 1]")
            vals = [r for r in ratios.values() if isinstance(r, (int, float)) and not isinstance(r, bool)]
            if len(vals) == len(ratios) and abs(sum(vals) - 1.0) > 1e-9:
                errors.append(f"split.ratios: fractions sum to {sum(vals)!r}; fix: make them sum to 1")
    for group in STAGE_GROUPS:
        if group not in cfg or not isinstance(cfg[group], dict):
            errors.append(f"{group}: missing config group; fix: pick one with {group}=<name> (see conf/{group}/)")
            continue
        try:
            found = _stage_validator(group)(cfg[group])
            if isinstance(found, (list, tuple)):  # validators that return their errors
                errors.extend(x if str(x).startswith(f"{group}.") else f"{group}.{x}" for x in found)
        except (ValueError, TypeError, KeyError) as e:
            text = str(e)
            errors.append(text if text.startswith(f"{group}.") else f"{group}: {text}")
    return errors


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


def config_hash(cfg: dict) -> str:
    """sha256 (hex, first 16 chars) of the canonical JSON of the data-defining keys of ``cfg``
    (plus the appearance YAML the render stage reads, when it is not inline in ``render``)."""
    data = {k: v for k, v in cfg.items() if k not in RUN_CONTROL_KEYS}
    if isinstance(cfg.get("stages"), dict) and isinstance(cfg.get("render"), dict):
        data["_appearance"] = appearance_cfg(cfg)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def make_job(cfg: dict) -> JobSpec:
    """Validate a resolved config and return the JobSpec; raise ConfigError listing every bad key."""
    errors = validate_config(cfg)
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))
    return JobSpec(cfg=cfg, config_hash=config_hash(cfg))


def load_job(overrides: list[str] | None = None, config_dir: str | Path | None = None) -> JobSpec:
    """Compose (Hydra overrides) and validate: the library entry point behind the CLI."""
    return make_job(compose_config(overrides, config_dir))
