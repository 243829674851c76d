#!/usr/bin/env python
"""``spatialforge ask`` speed: QAs per second on a CLEVR scenes file of N random scenes.

The file and its 480 x 320 images are written once by tools/make_ask_samples.py (--bench N) and
cached under --cache; the run then times engine.pipeline.ask.ask end to end (reading the file,
fitting each scene's camera, annotating every view from its boxes, QA, encoding and writing the
Parquet shards, the card and the split check) in one process, and prints the summary's rates and
per-stage seconds.

    .venv/bin/python tools/bench_ask.py --scenes 1000 [--cache /tmp/ask-bench] [key=value ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=1000)
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "spatialforge-ask-bench"))
    ap.add_argument("overrides", nargs="*", help="config overrides for ask (qa.*, output.*)")
    a = ap.parse_args(argv)
    src = Path(a.cache) / f"clevr-{a.scenes}"
    scenes = src / "CLEVR_bench_scenes.json"
    if not scenes.exists():
        subprocess.run([sys.executable, str(REPO / "tools" / "make_ask_samples.py"), "--bench", str(a.scenes),
                        "--out", str(src)], check=True)
    from engine.pipeline.ask import ask

    out = Path(a.cache) / f"out-{a.scenes}"
    shutil.rmtree(out, ignore_errors=True)
    s = ask(scenes, src / "images", [f"out={out}", "progress=false", *a.overrides], "clevr")
    print(json.dumps({k: s[k] for k in ("scenes", "views", "rows", "seconds", "load_seconds", "qas_per_s",
                                        "qas_per_s_annotate_and_qa", "stage_seconds")}, indent=1))
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
