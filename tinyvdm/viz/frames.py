"""From model tensors to pictures: uint8 frames, a mosaic array, a frame-grid figure.

Taught in chapter 00 and used by every chapter after it. Every model in the course works on
videos ``(t, c, h, w)`` or batches ``(b, t, c, h, w)`` of floats in ``[-1, 1]`` with ``c`` in
``{1, 3}``; every picture is channels-last uint8 RGB. This module is the one place that converts
between the two, so the other viz modules never guess at layouts or ranges.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from einops import rearrange
from matplotlib.axes import Axes
from matplotlib.figure import Figure

# The colour between frames in mosaics: white, to match the notebook page.
SEPARATOR = 255

# A frame is drawn about this wide (inches) at scale=1: readable labels for 8-16 frames a row.
_FRAME_INCHES = 0.8
_TITLE_WIDTH = 22  # characters per line of a row title
_TITLE_LINES = 3  # longer titles are truncated with an ellipsis


def _video_batch(videos) -> np.ndarray:
    """Validate ``videos`` and return it as a float32 batch ``(b, t, c, h, w)``.

    Accepts a torch tensor or numpy array of shape ``(t, c, h, w)`` or ``(b, t, c, h, w)``.
    """
    if isinstance(videos, torch.Tensor):
        array = videos.detach().to("cpu", torch.float32).numpy()
    elif isinstance(videos, np.ndarray):
        if not (np.issubdtype(videos.dtype, np.number) or videos.dtype == np.bool_):
            raise ValueError(f"videos must hold numbers in [-1, 1], got dtype {videos.dtype}")
        array = videos.astype(np.float32, copy=False)
    else:
        raise ValueError(
            "videos must be a torch.Tensor or numpy.ndarray of shape (t, c, h, w) or "
            f"(b, t, c, h, w), got {type(videos).__name__}"
        )
    if array.ndim == 4:
        array = array[None]  # (t, c, h, w) -> (1, t, c, h, w)
    if array.ndim != 5 or array.shape[2] not in (1, 3) or 0 in array.shape:
        raise ValueError(
            "videos must have shape (t, c, h, w) or (b, t, c, h, w) with c in {1, 3} and no "
            f"empty axis, got shape {tuple(videos.shape)}"
        )
    return array


def to_uint8(videos) -> np.ndarray:
    """Map videos in ``[-1, 1]`` to displayable uint8 RGB frames.

    Args:
        videos: ``(t, c, h, w)`` or ``(b, t, c, h, w)``, torch or numpy, ``c`` in ``{1, 3}``.
            Values outside ``[-1, 1]`` are clamped (a sampler's output often overshoots) and
            NaNs show as mid-grey.

    Returns:
        ``(b, t, h, w, 3)`` uint8: ``-1 -> 0`` and ``1 -> 255``; grey is repeated to RGB.
    """
    array = _video_batch(videos)
    array = np.nan_to_num(array, nan=0.0, posinf=1.0, neginf=-1.0)
    array = np.rint((np.clip(array, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    array = rearrange(array, "b t c h w -> b t h w c")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)  # grey -> RGB, so every picture has one layout
    return np.ascontiguousarray(array)


def _mosaic(frames: np.ndarray, pad: int) -> np.ndarray:
    """Tile uint8 frames ``(b, t, h, w, 3)`` into ``(b*(h+pad)-pad, t*(w+pad)-pad, 3)``."""
    # Pad every frame at its bottom and right, tile, then drop the trailing pad: every
    # separator is then exactly `pad` pixels wide and the frame blocks sit on a regular lattice.
    padded = np.pad(
        frames, ((0, 0), (0, 0), (0, pad), (0, pad), (0, 0)), constant_values=SEPARATOR
    )
    grid = rearrange(padded, "b t h w c -> (b h) (t w) c")
    return grid[: grid.shape[0] - pad, : grid.shape[1] - pad]


def grid_image(videos, pad: int = 1) -> np.ndarray:
    """One uint8 mosaic of a batch: one row per sample, one column per frame.

    Args:
        videos: ``(t, c, h, w)`` or ``(b, t, c, h, w)`` in ``[-1, 1]``.
        pad: width in pixels of the white separators between frames.

    Returns:
        ``(b*(h+pad)-pad, t*(w+pad)-pad, 3)`` uint8; sample ``i`` frame ``j`` starts at row
        ``i*(h+pad)`` and column ``j*(w+pad)``.
    """
    if not isinstance(pad, (int, np.integer)) or isinstance(pad, bool) or pad < 0:
        raise ValueError(f"pad must be a non-negative int, got {pad!r}")
    return _mosaic(to_uint8(videos), int(pad))


def _check_upscale(scale) -> int:
    """Validate an integer nearest-neighbour upscaling factor."""
    if not isinstance(scale, (int, np.integer)) or isinstance(scale, bool) or scale < 1:
        raise ValueError(
            f"scale must be a positive int (nearest-neighbour upscaling), got {scale!r}"
        )
    return int(scale)


def side_by_side(videos, *, scale: int = 1, gap: int = 1) -> np.ndarray:
    """The samples of a batch next to each other, one picture per frame: a player's frames.

    Args:
        videos: ``(t, c, h, w)`` or ``(b, t, c, h, w)`` in ``[-1, 1]``.
        scale: integer nearest-neighbour upscaling (toy videos are 16-64 pixels wide; smooth
            interpolation would blur exactly the details a chapter asks the reader to look at).
        gap: white pixels between samples, after upscaling.

    Returns:
        ``(t, h*scale, b*(w*scale+gap)-gap, 3)`` uint8.
    """
    scale = _check_upscale(scale)
    if not isinstance(gap, (int, np.integer)) or isinstance(gap, bool) or gap < 0:
        raise ValueError(f"gap must be a non-negative int, got {gap!r}")
    frames = to_uint8(videos)
    frames = frames.repeat(scale, axis=2).repeat(scale, axis=3)  # (b, t, h*s, w*s, 3)
    frames = np.pad(frames, ((0, 0), (0, 0), (0, 0), (0, gap), (0, 0)), constant_values=SEPARATOR)
    strip = rearrange(frames, "b t h w c -> t h (b w) c")
    return np.ascontiguousarray(strip[:, :, : strip.shape[2] - gap])


def _frame_indices(t: int, max_frames: int | None) -> np.ndarray:
    """Which of ``t`` frames to show: all, or ``max_frames`` evenly spaced (first and last kept)."""
    if max_frames is None or max_frames >= t:
        return np.arange(t)
    return np.unique(np.linspace(0, t - 1, max_frames).round().astype(int))


def _short_title(title: str) -> str:
    """Wrap a caption to a few short lines, ending in an ellipsis when it does not fit."""
    lines = textwrap.wrap(str(title), _TITLE_WIDTH) or [""]
    if len(lines) > _TITLE_LINES:
        lines = lines[:_TITLE_LINES]
        lines[-1] = lines[-1][: _TITLE_WIDTH - 1].rstrip() + "…"
    return "\n".join(lines)


def _grid_figure(
    frames: np.ndarray,
    frame_labels: Sequence[int],
    *,
    titles: Sequence[str] | None,
    scale: float,
    ax: Axes | None,
) -> Figure:
    """Draw uint8 frames ``(b, t, h, w, 3)`` as a labelled grid (also the widgets' fallback)."""
    b, t, h, w, _ = frames.shape
    pad = 1
    mosaic = _mosaic(frames, pad)
    if ax is None:
        inches_per_pixel = _FRAME_INCHES * scale / w
        fig, ax = plt.subplots(
            figsize=(mosaic.shape[1] * inches_per_pixel, mosaic.shape[0] * inches_per_pixel),
            layout="constrained",
        )
    else:
        fig = ax.figure
    ax.imshow(mosaic, interpolation="nearest")
    # Labels go where tick labels would be (frame index on top, row title on the left) with
    # zero-length ticks, so the layout engine makes room for them without any guessing.
    ax.xaxis.tick_top()
    ax.set_xticks([j * (w + pad) + (w - 1) / 2 for j in range(t)])
    ax.set_xticklabels([f"t={i}" for i in frame_labels], fontsize=7)
    if titles is not None:
        ax.set_yticks([i * (h + pad) + (h - 1) / 2 for i in range(b)])
        ax.set_yticklabels([_short_title(title) for title in titles], fontsize=7)
    else:
        ax.set_yticks([])
    ax.tick_params(length=0, pad=2)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return fig


def frame_grid(
    videos,
    *,
    titles: Sequence[str] | None = None,
    max_frames: int | None = None,
    scale: float = 1.0,
    ax: Axes | None = None,
) -> Figure:
    """A figure of a batch: one row per sample, one column per frame.

    Args:
        videos: ``(t, c, h, w)`` or ``(b, t, c, h, w)`` in ``[-1, 1]``.
        titles: one short text per sample (a caption, a method name), shown left of its row,
            wrapped and truncated.
        max_frames: show at most this many evenly spaced frames; the labels keep the true
            frame index.
        scale: figure size multiplier; at 1 a frame is about 0.8 inches wide.
        ax: draw into this axes instead of a new figure.

    Returns:
        The matplotlib figure (a pyplot figure when ``ax`` is None, shown by the notebook).
    """
    frames = to_uint8(videos)
    b, t = frames.shape[:2]
    if titles is not None:
        if isinstance(titles, str) or len(titles) != b:
            raise ValueError(
                f"titles must be a sequence of {b} strings (one per sample), got {titles!r}"
            )
    if max_frames is not None and (not isinstance(max_frames, (int, np.integer)) or max_frames < 1):
        raise ValueError(f"max_frames must be a positive int or None, got {max_frames!r}")
    if not isinstance(scale, (int, float)) or not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    keep = _frame_indices(t, max_frames)
    return _grid_figure(frames[:, keep], keep.tolist(), titles=titles, scale=scale, ax=ax)
