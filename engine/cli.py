"""The ``spatialforge`` command.

    spatialforge generate [key=value ...] [--resume] [--overwrite]   make a dataset (Hydra overrides)
    spatialforge config   [key=value ...]                            print the resolved config and its hash
    spatialforge demo     [key=value ...]                            50 scenes into outputs/demo + plots + a peek
    spatialforge glb      out=DIR scene_id=sXXXXXXXXX path=FILE.glb  export one scene of a dataset as GLB
    spatialforge check-splits DATASET                                check a dataset's splits for leaks

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


def cmd_check_splits(args: list[str]) -> int:
    """Check a dataset folder's splits for leaks (docs/splits.md); exit 1 naming the first leaks."""
    from engine.eval.leaks import LeakError, check_splits, format_report

    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: spatialforge check-splits DATASET\n\nChecks that no scene id, no image (sha256 of its bytes), "
              "no held-out value of the recorded split rule (splits.json) and no (view, normalised question) "
              "pair crosses between splits; exits 1 naming the first leaks with counts (docs/splits.md).")
        return 0 if args and args[0] in ("-h", "--help") else 2
    try:
        res = check_splits(args[0])
    except LeakError as e:
        print(f"spatialforge check-splits: error: {e}", file=sys.stderr)
        return 2
    print(format_report(res), file=sys.stdout if res["ok"] else sys.stderr)
    return 0 if res["ok"] else 1


COMMANDS = {"generate": cmd_generate, "config": cmd_config, "demo": cmd_demo, "glb": cmd_glb,
            "check-splits": cmd_check_splits}


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
    from engine.pipeline.config import ConfigError
    from engine.pipeline.manifest import OutputLockedError

    try:
        result = COMMANDS[cmd](rest)
    except (ConfigError, OutputLockedError, KeyError) as e:
        print(f"spatialforge {cmd}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the disk or the file system failed mid-run: what is complete stays complete
        where = f" {e.filename}" if e.filename else ""
        print(f"spatialforge {cmd}: error: writing{where} failed: {e.strerror or e}; fix: free space or check the "
              "folder, then rerun the same command (complete shards are kept and verified, the rest is redone)",
              file=sys.stderr)
        return 1
    if isinstance(result, int):  # a command that sets its own exit status
        return result
    if isinstance(result, dict):
        print(json.dumps({k: v for k, v in result.items() if k != "stage_seconds"}, indent=1, default=str))
        if (result.get("split_check") or {}).get("ok") is False:
            print(f"spatialforge {cmd}: error: the splits leak (see check-splits above); fix: check split.params, "
                  "then rerun with overwrite=true", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
