"""The ``spatialforge`` command.

    spatialforge generate [key=value ...] [--resume] [--overwrite]   make a dataset (Hydra overrides)
    spatialforge config   [key=value ...]                            print the resolved config and its hash
    spatialforge demo     [key=value ...]                            50 scenes into outputs/demo + plots + a peek
    spatialforge glb      out=DIR scene_id=sXXXXXXXXX path=FILE.glb  export one scene of a dataset as GLB
    spatialforge score    DATASET PREDICTIONS [--by f[,f]] [--json OUT] [--split s]  score a model's answers

Overrides use Hydra's syntax (``scene=tabletop qa.families=[distance,occlusion] num_scenes=1000
out=data/x``). Also ``python -m engine.cli ...``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

USAGE = __doc__


def _overrides(args: list[str]) -> list[str]:
    out = []
    for a in args:
        if a == "--resume":
            out.append("resume=true")
        elif a == "--overwrite":
            out.append("overwrite=true")
        elif a.startswith("--"):
            raise SystemExit(f"unknown option {a}; options: --resume, --overwrite (or key=value overrides)\n{USAGE}")
        else:
            out.append(_quoted(a))
    return out


def _quoted(override: str) -> str:
    """``key=value`` with a value Hydra's override grammar cannot read bare (spaces, non-ASCII
    letters, as in a folder path) put in single quotes; other overrides unchanged."""
    key, sep, value = override.partition("=")
    bare = value.isascii() and not any(ch.isspace() for ch in value)
    if not sep or bare or value[:1] in ("'", '"', "[", "{"):
        return override
    return key + "='" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _kv(args: list[str], required: tuple[str, ...]) -> dict[str, str]:
    d = {}
    for a in args:
        if "=" not in a:
            raise SystemExit(f"expected key=value, got {a!r}\n{USAGE}")
        k, v = a.split("=", 1)
        d[k] = v
    missing = [k for k in required if k not in d]
    if missing:
        raise SystemExit(f"missing {', '.join(f'{k}=...' for k in missing)}\n{USAGE}")
    return d


def cmd_generate(args: list[str]) -> dict:
    """Compose, validate and run the main job; return the summary."""
    from engine.pipeline.config import load_job
    from engine.pipeline.run import generate

    job = load_job(_overrides(args))
    return generate(job)


def cmd_config(args: list[str]) -> None:
    """Print the resolved, validated config as YAML with its hash."""
    import yaml

    from engine.pipeline.config import load_job

    job = load_job(_overrides(args))
    print(f"# config_hash: {job.config_hash}  shards: {job.num_shards}")
    print(yaml.safe_dump(job.cfg, sort_keys=False), end="")


def find_scene(out: str | Path, scene_id: str) -> str:
    """The scene record JSON of ``scene_id`` from a dataset folder (scenes/*.jsonl, else the
    ``scene`` column of the Parquet shards). Raises KeyError when it is not there."""
    root = Path(out)
    for p in sorted((root / "scenes").glob("scenes-*.jsonl")):
        with open(p, encoding="utf-8") as f:
            for line in f:
                if f'"scene_id":"{scene_id}"' in line:
                    return line.strip()
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    for p in sorted((root / "data").glob("*.parquet")):
        t = pq.read_table(p, columns=["scene_id", "scene"])
        hit = t.filter(pc.equal(t["scene_id"], scene_id))
        if hit.num_rows:
            return hit["scene"][0].as_py()
    raise KeyError(f"scene_id={scene_id} is not in {root}; fix: pick one listed in {root}/scenes/*.jsonl")


def cmd_glb(args: list[str]) -> Path:
    """Export one scene of a dataset as a GLB file."""
    from engine.export.glb import export_glb
    from engine.scene.catalog import load_catalog
    from engine.scene.graph import SceneGraph

    import yaml

    kv = _kv(args, ("out", "scene_id", "path"))
    scene = SceneGraph.from_json(find_scene(kv["out"], kv["scene_id"]))
    catalog_path = kv.get("catalog")
    saved = Path(kv["out"]) / "config.yaml"
    if catalog_path is None and saved.exists():  # the catalog the dataset was made with
        catalog_path = (yaml.safe_load(saved.read_text()).get("scene") or {}).get("catalog")
    Path(kv["path"]).parent.mkdir(parents=True, exist_ok=True)
    export_glb(scene, kv["path"], load_catalog(catalog_path))
    print(f"wrote {kv['path']}")
    return Path(kv["path"])


def cmd_demo(args: list[str]) -> dict:
    """50 scenes with the default config into outputs/demo, a top-down plot, a contact sheet,
    then open the dataset with datasets.load_dataset and print a few rows."""
    from engine.pipeline.config import load_job
    from engine.pipeline.demo import demo_extras
    from engine.pipeline.run import generate

    over = ["num_scenes=50", "out=outputs/demo"] + _overrides(args)
    job = load_job(over)
    summary = generate(job)
    demo_extras(job)
    return summary


def cmd_score(args: list[str]) -> None:
    """Score a predictions file against a dataset folder: tables on stdout, JSON with --json."""
    import argparse

    from engine.eval.score import format_report, score_dataset

    ap = argparse.ArgumentParser(
        prog="spatialforge score",
        description="Score a model's predictions against a dataset (docs/scoring.md): accuracy for choice, "
                    "bool, count and text answers, MRA for numbers, cell accuracy for ASCII maps, IoU for boxes; "
                    "overall, per family, task, answer type and per bin of any --by factor. Exit 0 ok, 2 bad input.")
    ap.add_argument("dataset", help="the dataset folder (holds data/*.parquet)")
    ap.add_argument("predictions", help='JSONL: {"id": ..., "prediction": ...} per line, or an lmms-eval samples_*.jsonl')
    ap.add_argument("--by", default="", help="factors to tabulate, comma-separated: a key of the factors column, a row "
                    "column (family, task, template_id, answer_type, unit, frame, split) or a scene value (num_objects, "
                    "room_type, num_views, camera_height, camera_pitch, fov, image_size)")
    ap.add_argument("--split", default="", help="splits to score, comma-separated (default: the splits holding a predicted id)")
    ap.add_argument("--bins", type=int, default=5, help="quantile bins of a numeric factor with more than 12 values (default 5)")
    ap.add_argument("--json", dest="json_out", default=None, help="also write the report as JSON to this file")
    a = ap.parse_args(args)
    split = [s for s in a.split.split(",") if s] or None
    report = score_dataset(a.dataset, a.predictions, [b for b in a.by.split(",") if b], split, a.bins)
    print(format_report(report))
    if a.json_out:
        Path(a.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json_out).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


COMMANDS = {"generate": cmd_generate, "config": cmd_config, "demo": cmd_demo, "glb": cmd_glb, "score": cmd_score}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spatialforge`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        print(f"unknown command {cmd!r}\n{USAGE}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    from engine.eval.score import ScoreInputError
    from engine.pipeline.config import ConfigError
    from engine.pipeline.manifest import OutputLockedError

    try:
        result = COMMANDS[cmd](rest)
    except (ConfigError, OutputLockedError, KeyError, ScoreInputError) as e:
        print(f"spatialforge {cmd}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the disk or the file system failed mid-run: what is complete stays complete
        where = f" {e.filename}" if e.filename else ""
        print(f"spatialforge {cmd}: error: writing{where} failed: {e.strerror or e}; fix: free space or check the "
              "folder, then rerun the same command (complete shards are kept and verified, the rest is redone)",
              file=sys.stderr)
        return 1
    if isinstance(result, dict):
        print(json.dumps({k: v for k, v in result.items() if k != "stage_seconds"}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
