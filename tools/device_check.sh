#!/usr/bin/env bash
# Checks of the renderers on an NVIDIA GPU machine (written for one H200; run from the checkout root):
#   1. the raster backend (moderngl) on EGL reports the NVIDIA GL_RENDERER, not llvmpipe, and its
#      512x512 frame rate (tools/bench_render.py);
#   2. the Cycles backend finds the GPU (OptiX, else CUDA) and renders; Blender's Z and object-index
#      passes still match the raster passes (tests/test_render_cycles.py, with device=gpu);
#   3. seconds per 512x512 Cycles frame at 16, 64 and 256 samples with the denoiser, next to the
#      raster frame (tools/bench_cycles.py --device gpu), and the CPU figure at 16 samples for scale.
# Needs .venv with the dev extra (pytest: step 2 reuses tests/test_render_cycles.py's scene) and
# .venv-cycles: `make setup-dev` makes both (SETUP=1 runs it first). Prints a summary; exits non-zero on the first failed check. ~3-6 minutes.
#
#   bash tools/device_check.sh            # everything
#   SKIP_CPU=1 bash tools/device_check.sh # leave out the CPU Cycles figure
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CY=${CY:-.venv-cycles/bin/python}

if [[ "${SETUP:-0}" == 1 ]]; then
  make setup-dev
fi
for p in "$PY" "$CY"; do
  [[ -x "$p" ]] || { echo "missing $p: run make setup-dev (or SETUP=1 bash tools/device_check.sh)"; exit 2; }
done

echo "== nvidia-smi"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "(no nvidia-smi)"

echo "== 1. raster backend on EGL"
"$PY" - <<'EOF'
from engine.render import get_renderer, load_default_render_cfg
r = get_renderer(load_default_render_cfg())
print("GL_RENDERER:", r.gl_renderer)
assert "llvmpipe" not in r.gl_renderer.lower(), "EGL gave Mesa llvmpipe, not the NVIDIA driver (libnvidia-egl?)"
EOF
"$PY" tools/bench_render.py --backends moderngl --sizes 512 1024 --frames 300

echo "== 2. Cycles on the GPU"
"$CY" -I - <<'EOF'
import bpy
prefs = bpy.context.preferences.addons["cycles"].preferences
for kind in ("OPTIX", "CUDA"):
    try:
        prefs.compute_device_type = kind
        prefs.get_devices()
        print(kind, [d.name for d in prefs.devices if d.type == kind])
    except Exception as e:
        print(kind, "unavailable:", e)
EOF
"$PY" - <<'EOF'
import sys
sys.path.insert(0, "tests")
import numpy as np
from test_render_cycles import _resized, _room, cycles_cfg
from engine.render import get_renderer
r = get_renderer(cycles_cfg(device="gpu", samples=16, denoise=True))
print("renderer:", r.gl_renderer)
assert r.worker.info["device"] in ("OPTIX", "CUDA"), r.worker.info
scene, meshes = _room()
for size in (64, 512):
    view = _resized(scene.views[0], size, size, shift=(size / 16, -size / 20))
    got = r.path_trace(scene, view, meshes, passes=True, samples=1)
    ref = r.raster.render(scene, view, meshes)
    same = got["index"] == ref.ids
    both = same & (got["depth"] > 0) & (ref.depth > 0)
    d = np.abs(got["depth"][both] - ref.depth[both])
    print(f"{size}x{size} on the GPU: ids agree {same.mean():.5f}, depth max {d.max():.2e} m, median {np.median(d):.2e} m")
    assert same.mean() >= 0.99 and d.max() < 0.01
r.release()
EOF

echo "== 3. seconds per 512x512 frame"
"$PY" tools/bench_cycles.py --device gpu --samples 16 64 256 --frames 6 --raster-frames 100
if [[ "${SKIP_CPU:-0}" != 1 ]]; then
  "$PY" tools/bench_cycles.py --device cpu --samples 16 --frames 2 --raster-frames 20
fi
echo "== device checks passed"
