"""MP4 files of camera paths (``output.video=true``; docs/video.md).

H.264 (libx264) in yuv420p at the path's fps, through the ffmpeg binary that the
``imageio-ffmpeg`` package ships (``pip install 'spatialforge[video]'``; the dev extra installs
it for ``make test``). The encoder runs single-threaded with bit-exact flags and no metadata,
so the same frames give the same bytes. Files are written under a temporary name and renamed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.atomic import temp_path

VIDEO_FOLDER = "videos"
CRF = 18  # x264 constant rate factor: visually lossless at these sizes


def video_name(scene_id: str, path_id: str) -> str:
    """The MP4 path, relative to the dataset folder, of path ``path_id`` of scene ``scene_id``."""
    return f"{VIDEO_FOLDER}/{scene_id}-{path_id}.mp4"


def is_video_name(name: str) -> bool:
    """True for a file name this module gives (``s000000042-path_0.mp4``)."""
    stem, dot, ext = name.rpartition(".")
    return ext == "mp4" and dot == "." and stem.startswith("s") and "-path_" in stem


def write_mp4(frames: list[np.ndarray], path: str | Path, fps: float) -> None:
    """Encode ``frames`` ((H, W, 3) uint8 RGB each, H and W even) as H.264 yuv420p at ``fps`` into
    ``path`` atomically. Raises ImportError naming the extra when imageio-ffmpeg is missing and
    ValueError for odd or mismatched frame sizes."""
    try:
        import imageio_ffmpeg
    except ImportError as e:
        raise ImportError("output.video=true needs imageio-ffmpeg; fix: pip install 'spatialforge[video]'") from e
    if not frames:
        raise ValueError("write_mp4: no frames")
    h, w = frames[0].shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"write_mp4: H.264 yuv420p needs even sides, got {w}x{h}; fix: use even camera.width/height")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(p)  # keeps the .mp4 suffix ffmpeg reads the container from
    gen = imageio_ffmpeg.write_frames(
        str(tmp), (w, h), fps=float(fps), codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
        macro_block_size=1, ffmpeg_log_level="error",
        output_params=["-crf", str(CRF), "-threads", "1", "-x264-params", "threads=1",
                       "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact"])
    try:
        gen.send(None)
        for f in frames:
            a = np.ascontiguousarray(f, dtype=np.uint8)
            if a.shape != (h, w, 3):
                raise ValueError(f"write_mp4: frame of shape {a.shape}, expected {(h, w, 3)}")
            gen.send(a)
        gen.close()
        tmp.replace(p)
    except BaseException:
        gen.close()
        tmp.unlink(missing_ok=True)
        raise


def read_mp4(path: str | Path) -> tuple[list[np.ndarray], float]:
    """Decode an MP4 back to (H, W, 3) uint8 frames and its fps (for checks and the demo)."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = reader.__next__()
    w, h = meta["size"]
    frames = [np.frombuffer(b, dtype=np.uint8).reshape(h, w, 3).copy() for b in reader]
    return frames, float(meta["fps"])
