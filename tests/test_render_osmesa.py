"""The OSMesa fallback (for machines without EGL): pyrender over OSMesa renders the same ids,
depth and visibility as the default moderngl backend over EGL.

PyOpenGL binds one platform per process, so the OSMesa render runs in a subprocess.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from render_scenes import hand_room, room_views, simple_meshes  # noqa: E402

from engine.render import get_renderer, load_default_render_cfg  # noqa: E402

CHILD = """
import sys, numpy as np
sys.path.insert(0, {tests!r})
from render_scenes import hand_room, room_views, simple_meshes
from engine.render import get_renderer, load_default_render_cfg
scene = hand_room(20, seed=3)
view = room_views(160, 120, n=1)[0]
r = get_renderer(dict(load_default_render_cfg(), backend="pyrender", platform="osmesa"))
f = r.render(scene, view, simple_meshes(scene))
vis = np.array([[f.objects[o.id]["visible_pixels"], f.objects[o.id]["amodal_pixels"]] for o in scene.objects])
np.savez({out!r}, ids=f.ids, depth=f.depth, vis=vis, renderer=np.array(r.gl_renderer))
"""


def test_osmesa_fallback_matches_egl(tmp_path):
    if not any(Path(p).exists() for p in ("/usr/lib/x86_64-linux-gnu/libOSMesa.so.8", "/usr/lib/aarch64-linux-gnu/libOSMesa.so.8")):
        pytest.skip("libOSMesa is not installed (tools/setup_system.sh installs libosmesa6)")
    out = tmp_path / "osmesa.npz"
    code = CHILD.format(tests=str(Path(__file__).parent), out=str(out))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    got = np.load(out)
    assert "llvmpipe" in str(got["renderer"]) or "Mesa" in str(got["renderer"])

    scene = hand_room(20, seed=3)
    view = room_views(160, 120, n=1)[0]
    f = get_renderer(load_default_render_cfg()).render(scene, view, simple_meshes(scene))
    assert (got["ids"] == f.ids).mean() >= 0.999
    hit = (f.ids > 0) & (got["ids"] == f.ids)
    assert np.median(np.abs(got["depth"][hit] - f.depth[hit])) < 1e-3  # metres
    vis = np.array([[f.objects[o.id]["visible_pixels"], f.objects[o.id]["amodal_pixels"]] for o in scene.objects])
    assert np.abs(got["vis"] - vis).max() <= 2  # per-object pixel counts within 2 pixels
    assert vis[:, 1].sum() > 0
