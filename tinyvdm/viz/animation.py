"""Playing videos: an inline animation for notebooks, GIF and MP4 files for everything else.

Taught in chapter 00. The inline player is one animated GIF inside an ``<img>`` tag rather
than a JavaScript player (matplotlib's ``FuncAnimation.to_jshtml``): GitHub and nbviewer strip
scripts from saved notebooks, but they keep images, so the chapters still move when read
without a kernel. A batch becomes one GIF with the samples side by side, so they play in step.
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

import numpy as np
from IPython.display import HTML
from PIL import Image

from tinyvdm.viz.figures import atomic_path
from tinyvdm.viz.frames import side_by_side

# GIF delays are whole centiseconds, and browsers slow any delay under 2 cs down to 10 cs,
# so the fastest honest GIF is 50 fps.
_MIN_DELAY_CS = 2
# x264 constant-rate factor: 0 is lossless, 23 the default; 15 keeps the hard edges of toy
# shapes without ringing, and the files are still tiny.
_CRF = 15


def _check_fps(fps) -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps < float("inf"):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    return float(fps)


def _gif_delays_ms(t: int, fps: float) -> list[int]:
    """Per-frame delays whose sum stays on the true clock (8 fps is 13, 12, 13, 12... cs)."""
    ends = np.rint(np.arange(t + 1) * 100.0 / fps).astype(int)
    return [10 * max(_MIN_DELAY_CS, int(cs)) for cs in np.diff(ends)]


def _write_gif(frames: np.ndarray, target, fps: float) -> None:
    """Encode uint8 frames ``(t, h, w, 3)`` as a GIF that loops forever.

    Pillow merges identical consecutive frames into one longer frame: playback time is right,
    but a decoder may then count fewer frames than ``t``.
    """
    images = [Image.fromarray(frame) for frame in frames]
    images[0].save(
        target,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=_gif_delays_ms(len(images), fps),
        loop=0,  # 0 = forever
    )


def gif_bytes(videos, *, fps: float = 8, scale: int = 1) -> bytes:
    """The bytes of an animated GIF of a batch, samples side by side with a 1-pixel gap.

    Args:
        videos: ``(t, c, h, w)`` or ``(b, t, c, h, w)`` in ``[-1, 1]``.
        fps: frames per second.
        scale: integer nearest-neighbour upscaling.
    """
    fps = _check_fps(fps)
    frames = side_by_side(videos, scale=scale)  # (t, h*scale, b*(w*scale+1)-1, 3)
    buffer = io.BytesIO()
    _write_gif(frames, buffer, fps)
    return buffer.getvalue()


def _caption_html(titles, b: int, sample_width: int) -> str:
    """A caption under the GIF: one text, or one text per sample aligned under its column."""
    if titles is None:
        return ""
    style = "font-size:11px;line-height:1.25;color:#444;"
    if isinstance(titles, str):
        return f'<figcaption style="{style}">{html.escape(titles)}</figcaption>'
    titles = list(titles)
    if len(titles) != b:
        raise ValueError(
            f"titles must be one string, or a sequence of {b} strings (one per sample), "
            f"got {len(titles)}"
        )
    cells = "".join(
        f'<div style="width:{sample_width}px;flex:none;overflow-wrap:anywhere;">'
        f"{html.escape(str(title))}</div>"
        for title in titles
    )
    return f'<figcaption style="{style}display:flex;gap:1px;">{cells}</figcaption>'


def animate(videos, *, fps: float = 8, scale: int = 4, titles=None) -> HTML:
    """An inline, forever-looping animation of a batch that survives static notebook viewers.

    Args:
        videos: ``(t, c, h, w)`` or ``(b, t, c, h, w)`` in ``[-1, 1]``.
        fps: frames per second.
        scale: integer nearest-neighbour upscaling of every frame.
        titles: a caption for the whole animation, or one string per sample shown under it.

    Returns:
        ``IPython.display.HTML`` holding ``<img src="data:image/gif;base64,...">``: one GIF of
        ``t`` frames, each ``(h*scale, b*(w*scale+1)-1)`` pixels.
    """
    fps = _check_fps(fps)
    frames = side_by_side(videos, scale=scale)  # (t, h*scale, b*(w*scale+1)-1, 3)
    t, height, width, _ = frames.shape
    b = videos.shape[0] if len(videos.shape) == 5 else 1  # shape checked by side_by_side
    caption = _caption_html(titles, b, videos.shape[-1] * scale)
    buffer = io.BytesIO()
    _write_gif(frames, buffer, fps)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return HTML(
        '<figure style="margin:0;display:inline-block;">'
        f'<img src="data:image/gif;base64,{encoded}" width="{width}" height="{height}" '
        f'alt="animation, {t} frames" style="image-rendering:pixelated;display:block;">'
        f"{caption}</figure>"
    )


def save_gif(videos, path: str | os.PathLike, *, fps: float = 8, scale: int = 1) -> Path:
    """Save a batch as one looping GIF (samples side by side), atomically; returns the path.

    Parent folders are created. Identical consecutive frames are merged by Pillow (the
    timing is kept), so a reader may count fewer frames than ``t`` for a still video.
    """
    data = gif_bytes(videos, fps=fps, scale=scale)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def save_mp4(videos, path: str | os.PathLike, *, fps: float = 8, scale: int = 1) -> Path:
    """Save a batch as an H.264 MP4 (samples side by side), atomically; returns the path.

    The frame is padded to even width and height by repeating its last row/column, because
    H.264 in the yuv420p format every player accepts stores colour at half resolution.
    Lossy: expect pixel errors of a few levels, more at sharp colour edges.
    """
    fps = _check_fps(fps)
    frames = side_by_side(videos, scale=scale)  # (t, h, w, 3)
    _, height, width, _ = frames.shape
    frames = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    height, width = frames.shape[1:3]
    path = Path(path)
    # Imported here, not at the top: the ffmpeg binary is only needed to write MP4 files, and a
    # machine without it (a minimal GPU image, say) can still run every chapter.
    try:
        import imageio_ffmpeg
    except ImportError as error:
        raise ImportError("save_mp4 needs the imageio-ffmpeg package (pip install imageio-ffmpeg); "
                          "save_gif works without it") from error
    with atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(
            str(tmp),
            (width, height),
            fps=fps,
            codec="libx264",
            quality=None,  # rate control is the -crf below
            macro_block_size=1,  # the size is already legal; never let ffmpeg resize
            ffmpeg_log_level="error",
            output_params=["-crf", str(_CRF), "-movflags", "+faststart", "-f", "mp4"],
        )
        writer.send(None)  # start the generator (and the ffmpeg process)
        try:
            for frame in frames:
                writer.send(np.ascontiguousarray(frame))
        finally:
            writer.close()
    return path
