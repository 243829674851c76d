"""The user's images in place of our renderer: load them, check their sizes, and write the
per-view object annotations (docs/record.md) from the boxes, the depth and the masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from engine.camera.annotate import annotate_geometry
from engine.ingest.types import IngestError, UserScene, ViewInputs
from engine.ingest.visibility import box_visibility
from engine.render.types import Frame
from engine.render.visibility import annotate_visibility, object_fields

USER_NEAR_M = 0.01  # near plane (camera-frame z, m) of a user's view: box parts nearer do not count


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file, read from its header."""
    try:
        with Image.open(path) as im:
            return int(im.width), int(im.height)
    except FileNotFoundError:
        raise IngestError(f"{path}: image not found; fix: pass --images the folder the scene file's image paths "
                          "are relative to") from None
    except OSError as e:
        raise IngestError(f"{path}: not a readable image ({e}); fix: pass a PNG or JPEG") from None


def load_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 colour image."""
    image_size(path)
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def load_depth(path: Path, scale: float) -> np.ndarray:
    """(H, W) float32 camera-frame z in metres (0 = no reading) from a 16-bit PNG holding
    metres x ``scale``, or a ``.npy`` of float metres."""
    if path.suffix == ".npy":
        return np.load(path).astype(np.float32)
    image_size(path)
    with Image.open(path) as im:
        return (np.asarray(im, dtype=np.float64) / float(scale)).astype(np.float32)


def load_mask(path: Path) -> np.ndarray:
    """(H, W) int32 instance ids (0 = background) from a PNG (8 or 16 bit) or ``.npy``."""
    if path.suffix == ".npy":
        return np.load(path).astype(np.int32)
    image_size(path)
    with Image.open(path) as im:
        a = np.asarray(im)
    if a.ndim != 2:
        raise IngestError(f"{path}: an instance mask must be single-channel (pixel value = instance_id), got shape "
                          f"{a.shape}; fix: save it as an 8- or 16-bit greyscale PNG")
    return a.astype(np.int32)


def _check_size(path: Path, arr: np.ndarray, width: int, height: int, what: str) -> None:
    if arr.shape[:2] != (height, width):
        raise IngestError(f"{path}: {what} is {arr.shape[1]}x{arr.shape[0]}, the view's image is {width}x{height}; "
                          f"fix: give the {what} at the image's resolution")


def view_mask(inputs: ViewInputs, instance_ids: dict[str, int], width: int, height: int) -> np.ndarray | None:
    """The view's instance-id image: the mask file, or the per-object binary masks combined in
    object order (a later object's mask wins where two overlap); None without masks."""
    if inputs.mask is not None:
        m = load_mask(inputs.mask)
        _check_size(inputs.mask, m, width, height, "mask")
        return m
    if not inputs.object_masks:
        return None
    ids = np.zeros((height, width), dtype=np.int32)
    for oid, path in inputs.object_masks.items():
        m = load_mask(path)
        _check_size(path, m, width, height, "mask")
        ids[m != 0] = instance_ids[oid]
    return ids


def annotate_scene(user: UserScene, depth_tol: float = 0.05) -> dict[str, Frame]:
    """Fill every view's per-object annotations of ``user.scene`` in place and return its frames.

    The camera fields come from :func:`engine.camera.annotate.annotate_geometry`, the pixel fields
    from :func:`engine.ingest.visibility.box_visibility` with the view's mask or depth, written by
    engine.render.visibility as for a rendered frame. ``view.params["visibility"]`` records the
    source: ``mask`` (exact visible pixels), ``boxes+depth`` or ``boxes`` (approximate).

    Returns view id -> Frame (the user's rgb; depth in metres, zeros without a depth image; the
    id image the statistics came from)."""
    scene = user.scene
    frames = {}
    iids = {o.id: o.instance_id for o in scene.objects}
    boxes = [(o.center, o.size, o.rotation) for o in scene.objects]
    for view in scene.views:
        inp = user.inputs[view.id]
        view.params.setdefault("near_m", USER_NEAR_M)
        near = float(view.params["near_m"])
        rgb = load_rgb(inp.rgb)
        _check_size(inp.rgb, rgb, view.width, view.height, "image")
        depth = None
        if inp.depth is not None:
            depth = load_depth(inp.depth, inp.depth_scale)
            _check_size(inp.depth, depth, view.width, view.height, "depth")
        mask = view_mask(inp, iids, view.width, view.height)
        annotate_geometry(scene, view)
        stats, ids = box_visibility(view.K, view.cam_to_world, view.width, view.height, boxes,
                                    [o.instance_id for o in scene.objects], near, mask=mask, depth=depth,
                                    depth_tol=depth_tol)
        view.params["visibility"] = "mask" if mask is not None else ("boxes+depth" if depth is not None else "boxes")
        fields = object_fields(scene, view, stats, near)
        frame = Frame(rgb=rgb, depth=depth if depth is not None else np.zeros((view.height, view.width), np.float32),
                      ids=ids, objects=fields)
        annotate_visibility(view, frame)
        frames[view.id] = frame
    return frames
