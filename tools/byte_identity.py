#!/usr/bin/env python
"""Check that a refactor keeps the output byte for byte: run a fixed set of jobs with one source
tree and record every shard file's checksum, then compare two such records.

    .venv/bin/python tools/byte_identity.py record --tree /tmp/base --out /tmp/ident/base.json
    .venv/bin/python tools/byte_identity.py record --tree . --out /tmp/ident/new.json
    .venv/bin/python tools/byte_identity.py compare /tmp/ident/base.json /tmp/ident/new.json

``--tree`` is the checkout whose ``engine`` package runs (put first on PYTHONPATH, so an
editable install of another checkout does not shadow it; make an older tree with
``git worktree add /tmp/base <commit>``). The jobs: 200 scenes of every scene type and preset,
a room run with WebDataset and LLaVA on, and the demo config (``--scenes`` scales them down for
a quick look). ``compare`` prints each job's differing files and exits 1 when any differs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

JOBS: dict[str, list[str]] = {
    "room": ["scene=room"],
    "tabletop": ["scene=tabletop"],
    "open": ["scene=open"],
    "sat_like": ["preset=sat_like"],
    "openspatial_like": ["preset=openspatial_like"],
    "room_wds_llava": ["scene=room", "output.webdataset=true", "output.llava=true"],
}
DEMO_SCENES = 50  # the demo's own size (conf/config.yaml num_scenes)


def record(tree: Path, out: Path, scenes: int, workers: int) -> None:
    """Run every job with the engine in ``tree``; write {job: {file: digest}} to ``out``."""
    env = dict(os.environ, PYTHONPATH=str(tree.resolve()))
    result: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="sf_ident_") as tmp:
        jobs = {k: v + [f"num_scenes={scenes}"] for k, v in JOBS.items()}
        jobs["demo"] = [f"num_scenes={DEMO_SCENES}"]
        for name, overrides in jobs.items():
            ds = Path(tmp) / name
            cmd = [sys.executable, "-m", "engine.cli", "generate", *overrides, f"out={ds}", "progress=false",
                   f"executor.workers={workers}"]
            print(f"[{name}] {' '.join(overrides)}", flush=True)
            subprocess.run(cmd, env=env, cwd=tmp, check=True, stdout=subprocess.DEVNULL)
            manifest = json.loads((ds / "manifest.json").read_text())
            files = {}
            for key, entry in manifest["shards"].items():
                for rel, digest in entry["files"].items():
                    files[rel] = digest
            files["manifest.config_hash"] = manifest["config_hash"]
            result[name] = files
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out}: {sum(len(v) for v in result.values())} files in {len(result)} jobs")


def compare(a: Path, b: Path) -> int:
    """Print the differences between two records; 0 when identical, else 1."""
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    bad = 0
    for job in sorted(set(ra) | set(rb)):
        fa, fb = ra.get(job, {}), rb.get(job, {})
        diff = sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))
        status = "identical" if not diff else f"{len(diff)} of {len(set(fa) | set(fb))} files differ"
        print(f"{job:18s} {len(fa):4d} files  {status}")
        for k in diff[:10]:
            print(f"    {k}: {fa.get(k, '-')[:16]} vs {fb.get(k, '-')[:16]}")
        bad += bool(diff)
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--scenes", type=int, default=200)
    r.add_argument("--workers", type=int, default=2)
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = ap.parse_args()
    if args.cmd == "record":
        record(args.tree, args.out, args.scenes, args.workers)
        return 0
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())
