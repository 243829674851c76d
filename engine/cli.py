"""The ``spatialforge`` command.

    spatialforge generate [key=value ...] [--resume] [--overwrite]   make a dataset (Hydra overrides)
    spatialforge config   [key=value ...]                            print the resolved config and its hash
    spatialforge demo     [key=value ...]                            50 scenes into outputs/demo + plots + a peek
    spatialforge glb      out=DIR scene_id=sXXXXXXXXX path=FILE.glb  export one scene of a dataset as GLB
    spatialforge export   DATASET DEST --format vsibench              video rows in VSI-Bench's row layout (docs/video.md)
    spatialforge card     DATASET [--plots] [--blind]                rewrite a dataset's card (README.md), with plots
    spatialforge push     DATASET --repo user/name [--private] [--revision R] [--dry-run]
                                                                     publish a dataset to the Hugging Face Hub
    spatialforge check-splits DATASET                                check a dataset's splits for leaks
    spatialforge score    DATASET PREDICTIONS [--by f[,f]] [--json OUT] [--split s]  score a model's answers
    spatialforge view     DATASET [--out DIR] [--predictions FILE] [--per-task N] [--serve PORT]
                                                                     a static HTML gallery of the dataset
    spatialforge ask      SCENES --images DIR [--out DIR] [--format F] [key=value ...]
                                                                     QA on scenes you bring (docs/ask.md)

Overrides use Hydra's syntax (``scene=tabletop qa.families=[distance,occlusion] num_scenes=1000
out=data/x``). Also ``python -m engine.cli ...``. ``spatialforge <command> --help`` (or
``spatialforge help <command>``) lists the config groups, the most used keys and their defaults.
"""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from pathlib import Path

USAGE = __doc__
HELP_FLAGS = ("-h", "--help")
MULTIRUN_FLAGS = ("-m", "--multirun")  # generate: one dataset per value of the swept keys
# The keys `<command> --help` lists with their defaults and the comments of their YAML lines.
HELP_KEYS = ("num_scenes", "seed", "out", "resume", "overwrite", "camera.width", "camera.height", "camera.num_views",
             "qa.families", "qa.answer_forms", "output.scenes_per_shard", "output.image_format", "output.depth",
             "output.instance_mask", "output.scenes", "output.llava", "output.webdataset", "render.quality", "executor.workers")
DEMO_DEFAULTS = {"num_scenes": 50, "out": "outputs/demo"}  # what `demo` sets before the command's overrides
# command -> (usage line, what it does)
COMMAND_HELP = {
    "generate": ("spatialforge generate [-m] [key=value ...] [--resume] [--overwrite]",
                 "Compose conf/config.yaml with the overrides (Hydra syntax), validate every key, then make the "
                 "dataset in `out`: sharded Parquet with a dataset card, resumable (docs/pipeline.md). With -m, "
                 "keys given several values (key=a,b) are swept: one dataset per value under out/<key>=<value>/, "
                 "the rest identical, and out/sweep.json says what stayed the same (docs/sweeps.md)."),
    "config": ("spatialforge config [key=value ...]",
               "Print the resolved, validated config as YAML, with its hash and shard count; makes nothing."),
    "demo": ("spatialforge demo [key=value ...] [--resume] [--overwrite]",
             "generate with num_scenes=50 out=outputs/demo (unless overridden), then a top-down plot, a contact "
             "sheet, a few rows read back with datasets.load_dataset, and the gallery (out/viewer/index.html)."),
    "glb": ("spatialforge glb out=DIR scene_id=sXXXXXXXXX path=FILE.glb [catalog=FILE.yaml]",
            "Export one scene of a dataset as a GLB file (Blender, web viewers)."),
    "card": ("spatialforge card DATASET [--plots] [--blind]",
             "Rewrite the dataset card (README.md: the Hub's YAML header, counts per split, family and task, "
             "answer distributions, the split rule); --plots draws card/answers.png, card/factors.png and "
             "card/samples.png; --blind adds the blind meter's per-template table (text-only models; minutes on "
             "large sets). `generate` writes the card without them; `demo` adds the plots."),
    "score": ("spatialforge score DATASET PREDICTIONS [--by f[,f]] [--json OUT] [--split s] [--bins N]",
              "Score a model's answers (docs/scoring.md)."),
    "view": ("spatialforge view DATASET [--out DIR] [--predictions FILE] [--per-task N] [--seed N] [--serve PORT]",
             "Write a static HTML gallery of the dataset (docs/viewer.md)."),
    "check-splits": ("spatialforge check-splits DATASET",
                     "Check that no scene id, no image (sha256 of its bytes), no held-out value of the recorded split "
                     "rule (splits.json) and no (view, normalised question) pair crosses between splits; exits 1 "
                     "naming the first leaks with counts (docs/splits.md)."),
    "ask": ("spatialforge ask SCENES --images DIR [--out DIR] [--format native|openspatial|clevr] "
            "[--depth-tol M] [--overwrite] [key=value ...]",
            "Generate QA for scenes you bring: oriented 3D boxes with categories, camera poses and intrinsics, and "
            "your own images (optional depth and instance masks) in place of our rendering. SCENES is our scene "
            "record JSON/JSONL, OpenSpatial's input Parquet (file or folder) or CLEVR's scenes JSON; --images is "
            "the folder its image paths are relative to. The questions go through the same generator (margins, "
            "balancing, rationales) and land in the same dataset layout as generate (Parquet shards with your "
            "images, card, manifest), so score, card and check-splits work on it. Without instance masks "
            "visibility comes from the boxes (and depth) and questions that need masks are skipped with a count "
            "(docs/ask.md)."),
    "push": ("spatialforge push DATASET --repo user/name [--private] [--revision R] [--dry-run]",
             "Upload a finished dataset's own files (those its manifest lists) to a Hugging Face dataset "
             "repository; resumable by running it again. The token comes from HF_TOKEN or `hf auth login` and "
             "is never printed. --dry-run lists the files and the total size (docs/publishing.md)."),
}
PUSH_OPTIONS = [("--repo user/name", "the dataset repository (created when missing)"),
                ("--private", "create the repository private"),
                ("--revision R", "commit to branch R (created when missing; default main)"),
                ("--dry-run", "list what would be uploaded and its size; send nothing")]
ASK_OPTIONS = [("--images DIR", "the folder the scene file's image (depth, mask) paths are relative to"),
               ("--out DIR", "the dataset folder to write (default outputs/ask); same as out=DIR"),
               ("--format F", "native | openspatial | clevr (default: told from the file)"),
               ("--depth-tol M", "metres a depth reading may lie in front of a box and still show it (default 0.05)"),
               ("--overwrite", "overwrite=true: replace a dataset of another input in --out"),
               ("key=value", "config overrides as for generate: qa.*, output.*, split.*, seed")]
GLB_KEYS = (("out", "the dataset folder (made by generate)"),
            ("scene_id", "the scene, e.g. s000000003 (listed in out/scenes/*.jsonl)"),
            ("path", "the .glb file to write (its folder is made)"),
            ("catalog", "optional: the catalog YAML; default: the one the dataset was made with (out/config.yaml)"))


def _yaml_text(v) -> str:
    """A default as it is written on the command line (``null``, ``true``, ``[a, b]``)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, list):
        return "[" + ",".join(_yaml_text(x) for x in v) + "]"
    return str(v)


def _key_doc(path: Path, leaf: str) -> str:
    """The comment on the line of top-level key ``leaf`` in the YAML file ``path``, with the
    comment-only lines that continue it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"{leaf}:"):
            parts = [line.split(" #", 1)[1].strip()] if " #" in line else []
            for more in lines[i + 1:]:
                if not more.strip().startswith("#") or not more.startswith(" "):
                    break
                parts.append(more.strip().lstrip("#").strip())
            return " ".join(parts)
    return ""


def config_help(defaults: dict | None = None) -> str:
    """The config part of a command's help: every config group with its options (read from the
    conf/ folder) and the most used keys (:data:`HELP_KEYS`) with their defaults and the comments
    of their YAML lines. ``defaults`` replaces defaults the command sets itself."""
    from engine.yamlio import load_yaml

    from engine.paths import CONF_DIR, config_groups

    main_file = CONF_DIR / "config.yaml"
    top = load_yaml(main_file.read_text(encoding="utf-8"))
    chosen = {k: v for d in top.get("defaults", []) if isinstance(d, dict) for k, v in d.items()}
    lines = ["config groups (pick an option with group=option; the YAML files in conf/<group>/):"]
    groups = config_groups()
    for group in sorted(groups, key=lambda g: list(chosen).index(g) if g in chosen else len(chosen)):
        options = groups[group]
        opts = [f"{o} (default)" if o == chosen.get(group) else o for o in options]
        tail = "" if chosen.get(group) else "   (none by default)"
        lines.append(f"  {group:<10} {' | '.join(opts)}{tail}")
    lines += ["", "most used keys (key=default; set with key=value):"]
    for key in HELP_KEYS:
        head, _, rest = key.partition(".")
        if rest and chosen.get(head):
            path = CONF_DIR / head / f"{chosen[head]}.yaml"
            data, parts = load_yaml(path.read_text(encoding="utf-8")), rest.split(".")
        else:
            path, data, parts = main_file, top, key.split(".")
        value = data
        for part in parts:
            value = value[part]
        if defaults and key in defaults:
            value = defaults[key]
        entry = f"  {key}={_yaml_text(value)}"
        doc = _key_doc(path, parts[0]) if len(parts) == 1 else ""
        if len(entry) > 34:
            lines.append(entry)
            entry = ""
        lines += textwrap.wrap(doc, 100, initial_indent=f"{entry:<36}", subsequent_indent=" " * 36) or [entry]
    lines += ["", "Every other key the same way by its dotted path (`spatialforge config` prints them all); a list",
              "as key=[a,b]; an unknown key fails with the nearest valid one. See docs/pipeline.md."]
    return "\n".join(lines)


def command_help(cmd: str) -> str:
    """``spatialforge <cmd> --help``: usage, what the command does, its options and keys."""
    usage, what = COMMAND_HELP[cmd]
    lines = [f"usage: {usage}", "", *textwrap.wrap(what, 100), "", "options:", "  -h, --help       this help"]
    if cmd == "glb":
        lines += ["", "keys:"] + [f"  {k:<16} {doc}" for k, doc in GLB_KEYS]
        return "\n".join(lines)
    if cmd == "push":
        return "\n".join(lines + [f"  {k:<16} {doc}" for k, doc in PUSH_OPTIONS])
    if cmd == "ask":
        return "\n".join(lines + [f"  {k:<16} {doc}" for k, doc in ASK_OPTIONS])
    if cmd == "check-splits":
        return "\n".join(lines)
    if cmd == "score":
        return _score_parser().format_help()
    if cmd == "view":
        return _view_parser().format_help()
    if cmd == "card":
        return "\n".join(lines + ["  --plots          draw the card's plots into DATASET/card/",
                                   "  --blind          add the blind meter's table (text-only models per template)"])
    if cmd != "config":
        lines += ["  --resume         resume=true: skip the shards already complete in `out`",
                  "  --overwrite      overwrite=true: replace a dataset of another config in `out`"]
    return "\n".join(lines + ["", config_help(DEMO_DEFAULTS if cmd == "demo" else None)])


def _overrides(args: list[str]) -> list[str]:
    out = []
    for a in args:
        if a == "--resume":
            out.append("resume=true")
        elif a == "--overwrite":
            out.append("overwrite=true")
        elif a.startswith("--"):
            raise SystemExit(f"unknown option {a}; options: --resume, --overwrite, --help (or key=value overrides)\n"
                             f"{USAGE}")
        else:
            out.append(_quoted(a))
    return out


def _quoted(override: str, always: bool = False) -> str:
    """``key=value`` with a value Hydra's override grammar cannot read bare (spaces, non-ASCII
    letters, as in a folder path) put in single quotes; other overrides unchanged."""
    key, sep, value = override.partition("=")
    bare = value.isascii() and not any(ch.isspace() for ch in value)
    if not sep or (bare and not always) or value[:1] in ("'", '"', "[", "{"):
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
    """Compose, validate and run the main job; return the summary. With ``-m``/``--multirun``, one
    dataset per value of the swept keys under ``out`` (engine.pipeline.sweep)."""
    from engine.pipeline.config import load_job
    from engine.pipeline.run import generate

    if any(a in MULTIRUN_FLAGS for a in args):
        from engine.pipeline.sweep import run_sweep

        over = _overrides([a for a in args if a not in MULTIRUN_FLAGS])
        outs = [o.split("=", 1)[1].strip("'\"") for o in over if o.startswith("out=")]
        out = Path(outs[-1] if outs else load_job(over).cfg["out"])
        return run_sweep([o for o in over if not o.startswith("out=")], out,
                         lambda ov, sub: generate(load_job(ov + [_quoted(f"out={sub}", always=True)])))
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
    from engine.yamlio import load_yaml

    kv = _kv(args, ("out", "scene_id", "path"))
    scene = SceneGraph.from_json(find_scene(kv["out"], kv["scene_id"]))
    catalog_path = kv.get("catalog")
    saved = Path(kv["out"]) / "config.yaml"
    if catalog_path is None and saved.exists():  # the catalog the dataset was made with
        catalog_path = (load_yaml(saved.read_text()).get("scene") or {}).get("catalog")
    Path(kv["path"]).parent.mkdir(parents=True, exist_ok=True)
    export_glb(scene, kv["path"], load_catalog(catalog_path))
    print(f"wrote {kv['path']}")
    return Path(kv["path"])


def cmd_export(args: list[str]) -> dict:
    """``export DATASET DEST --format vsibench``: the dataset's rows in another benchmark's layout."""
    from engine.export.vsibench import FORMATS, export_vsibench
    from engine.pipeline.config import ConfigError

    fmt = None
    if "--format" in args:
        i = args.index("--format")
        fmt = args[i + 1] if i + 1 < len(args) else None
        args = args[:i] + args[i + 2:]
    if fmt not in FORMATS or len(args) != 2:
        raise ConfigError(f"export: expected DATASET DEST --format {{{', '.join(FORMATS)}}}, got {args} "
                          f"--format {fmt}; fix: e.g. spatialforge export outputs/video exports/vsi --format vsibench")
    try:
        return export_vsibench(args[0], args[1])
    except ValueError as e:
        raise ConfigError(str(e)) from e


def cmd_demo(args: list[str]) -> dict:
    """50 scenes with the default config into outputs/demo, a top-down plot, a contact sheet,
    then open the dataset with datasets.load_dataset and print a few rows; the gallery last
    (its index.html is the last line printed)."""
    from engine.pipeline.config import load_job
    from engine.pipeline.demo import demo_extras
    from engine.pipeline.run import generate

    over = [f"{k}={v}" for k, v in DEMO_DEFAULTS.items()] + _overrides(args)
    job = load_job(over)
    summary = generate(job)
    summary["gallery"] = str(demo_extras(job))  # main prints it last
    return summary


def cmd_push(args: list[str]) -> dict:
    """Publish a finished dataset folder to the Hub (engine.pipeline.publish.push)."""
    import argparse

    from engine.pipeline.publish import push
    from engine.schema import ConfigError

    ap = argparse.ArgumentParser(prog="spatialforge push", add_help=False, exit_on_error=False)
    ap.add_argument("dataset")
    ap.add_argument("--repo", required=True)
    ap.add_argument("--private", action="store_true")
    ap.add_argument("--revision")
    ap.add_argument("--dry-run", action="store_true")
    try:
        a = ap.parse_args(args)
    except (argparse.ArgumentError, SystemExit) as e:
        raise ConfigError(f"push: {e if str(e) else 'bad arguments'}; fix: {COMMAND_HELP['push'][0]}") from None
    return push(a.dataset, a.repo, private=a.private, revision=a.revision, dry_run=a.dry_run)


def cmd_ask(args: list[str]) -> dict:
    """QA on the user's scenes (engine.pipeline.ask.ask); bad input is a ConfigError naming the field."""
    import argparse

    from engine.ingest import IngestError
    from engine.pipeline.ask import ask
    from engine.schema import ConfigError

    ap = argparse.ArgumentParser(prog="spatialforge ask", add_help=False, exit_on_error=False)
    ap.add_argument("scenes", nargs="?")
    ap.add_argument("--images")
    ap.add_argument("--out", default="outputs/ask")
    ap.add_argument("--format", dest="fmt", default=None)
    ap.add_argument("--depth-tol", type=float, default=0.05)
    ap.add_argument("--overwrite", action="store_true")
    try:
        a, rest = ap.parse_known_args(args)
    except (argparse.ArgumentError, SystemExit) as e:
        raise ConfigError(f"ask: {e if str(e) else 'bad arguments'}; fix: {COMMAND_HELP['ask'][0]}") from None
    for what, given in (("SCENES", a.scenes), ("--images DIR", a.images)):
        if not given:
            raise ConfigError(f"ask: {what}: missing; fix: {COMMAND_HELP['ask'][0]}")
    bad = [r for r in rest if r.startswith("-") or "=" not in r]
    if bad:
        raise ConfigError(f"ask: unknown argument {bad[0]!r}; fix: {COMMAND_HELP['ask'][0]}")
    if not a.depth_tol >= 0:
        raise ConfigError(f"ask: --depth-tol: got {a.depth_tol}; fix: a distance in metres >= 0")
    over = [_quoted(f"out={a.out}", always=True)] + [_quoted(r) for r in rest]
    if a.overwrite:
        over.append("overwrite=true")
    try:
        return ask(a.scenes, a.images, over, a.fmt, a.depth_tol)
    except IngestError as e:
        raise ConfigError(str(e)) from None


def cmd_card(args: list[str]) -> dict:
    """Rewrite a dataset's card from its files (engine.pipeline.card.write_card)."""
    from engine.yamlio import load_yaml

    from engine.pipeline.card import write_card
    from engine.pipeline.manifest import read_manifest
    from engine.schema import ConfigError

    paths = [a for a in args if not a.startswith("--")]
    unknown = [a for a in args if a.startswith("--") and a not in ("--plots", "--blind")]
    if len(paths) != 1 or unknown:
        raise ConfigError(f"card: expected one DATASET folder and --plots / --blind, got {args}; "
                          f"fix: {COMMAND_HELP['card'][0]}")
    out = Path(paths[0])
    m = read_manifest(out) if out.is_dir() else None
    if m is None or not (out / "config.yaml").is_file():
        raise ConfigError(f"card: {out} is not a dataset folder (no manifest.json and config.yaml); fix: pass the "
                          "folder a generate run wrote")
    cfg = load_yaml((out / "config.yaml").read_text())
    stats = write_card(out, cfg, m["config_hash"], m["splits"], plots="--plots" in args, blind="--blind" in args)
    return {"card": str(out / "README.md"), "rows": stats["split_rows"], "tasks": len(stats["task"])}


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


def _score_parser():
    """The ``score`` command's argument parser (also its --help)."""
    import argparse

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
    return ap


def cmd_score(args: list[str]) -> None:
    """Score a predictions file against a dataset folder: tables on stdout, JSON with --json."""
    from engine.eval.score import format_report, score_dataset

    ap = _score_parser()
    a = ap.parse_args(args)
    split = [s for s in a.split.split(",") if s] or None
    report = score_dataset(a.dataset, a.predictions, [b for b in a.by.split(",") if b], split, a.bins)
    print(format_report(report))
    if a.json_out:
        Path(a.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json_out).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


def _view_parser():
    """The ``view`` command's argument parser (also its --help)."""
    import argparse

    ap = argparse.ArgumentParser(
        prog="spatialforge view", exit_on_error=False,
        description="Write a static HTML gallery of a dataset (docs/viewer.md): pages of sample cards (images with "
                    "box, depth and instance overlays, question, choices, answer, rationale, a top-down plot) with "
                    "filters by split, family, task, answer and factor values and a search over question text, and "
                    "a summary page. Opens from file:// (no server). Exit 0 ok, 2 bad input.")
    ap.add_argument("dataset", help="the dataset folder (holds data/*.parquet)")
    ap.add_argument("--out", default=None, help="the gallery folder (default DATASET/viewer; a non-empty folder "
                    "that is not a gallery is refused)")
    ap.add_argument("--predictions", default=None, help="JSONL that `spatialforge score` reads: shows each prediction "
                    "next to the truth, the scores per task and factor, and a wrong-answers filter")
    ap.add_argument("--per-task", type=int, default=50, help="rows sampled per task (default 50; with --predictions "
                    "also up to as many wrong rows per task)")
    ap.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    ap.add_argument("--page-size", type=int, default=24, help="cards per page (default 24)")
    ap.add_argument("--serve", type=int, default=None, metavar="PORT", help="then serve the gallery on "
                    "http://127.0.0.1:PORT/ (Python's http.server) until Ctrl-C")
    return ap


def cmd_view(args: list[str]) -> dict:
    """Write a dataset's gallery (engine.pipeline.view.build_view); optionally serve it."""
    import argparse

    from engine.pipeline.view import build_view, serve
    from engine.schema import ConfigError

    def refuse(msg: str):
        raise ConfigError(f"view: {msg}; fix: {COMMAND_HELP['view'][0]}")

    ap = _view_parser()
    ap.error = refuse  # a bad argument is an error line naming the fix, not argparse's usage dump
    try:
        a = ap.parse_args(args)
    except argparse.ArgumentError as e:
        refuse(str(e))
    if a.page_size < 1:
        raise ConfigError(f"view: --page-size {a.page_size}; fix: a positive integer")
    res = build_view(a.dataset, a.out, per_task=a.per_task, predictions=a.predictions, seed=a.seed,
                     page_size=a.page_size)
    print(f"gallery of {res['rows']} rows: {res['index']}", file=sys.stderr)
    if a.serve is not None:
        serve(Path(res["index"]).parent, a.serve)
    return res


COMMANDS = {"generate": cmd_generate, "config": cmd_config, "demo": cmd_demo, "glb": cmd_glb,
            "export": cmd_export,
            "card": cmd_card, "push": cmd_push, "check-splits": cmd_check_splits, "score": cmd_score,
            "view": cmd_view, "ask": cmd_ask}

DATA_COMMANDS = ("generate", "demo", "ask")  # commands whose process makes the data itself (one worker)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spatialforge`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["help"] and len(argv) > 1:  # spatialforge help generate
        argv = [argv[1], "--help"]
    if not argv or argv[0] in ("help", *HELP_FLAGS):
        print(USAGE)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        print(f"unknown command {cmd!r}\n{USAGE}", file=sys.stderr)
        return 2
    if any(a in HELP_FLAGS for a in rest):
        print(command_help(cmd))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    from engine.eval.score import ScoreInputError
    from engine.pipeline.config import ConfigError
    from engine.pipeline.manifest import OutputLockedError
    from engine.pipeline.publish import PublishError
    from engine.pipeline.shard import RunFailedError
    from engine.pipeline.view import ViewInputError

    if cmd in DATA_COMMANDS:  # this process renders and writes: glibc keeps a heap pad (worker_process)
        from engine.pipeline.worker_process import pad_heap

        pad_heap()
    try:
        result = COMMANDS[cmd](rest)
    except (ConfigError, OutputLockedError, KeyError, ScoreInputError, ViewInputError) as e:
        print(f"spatialforge {cmd}: error: {e}", file=sys.stderr)
        return 2
    except (PublishError, RunFailedError) as e:  # a fault during the run: complete shards are kept
        print(f"spatialforge {cmd}: error: {e}", file=sys.stderr)
        return 1
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
        if result.get("gallery"):  # demo: the last line is the gallery to open
            print(f"gallery (open it in a browser): {result['gallery']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
