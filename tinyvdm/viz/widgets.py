"""Interactive views of videos that still show something when the notebook is read statically.

Taught in chapter 00 (the dataset browser) and used wherever a chapter lets the reader scrub
through frames. A widget only draws while a kernel runs; on GitHub, in nbviewer, in an
nbconvert export or under nbval a saved widget output is an empty box. So every view here is
displayed as ONE output whose MIME bundle carries both the live widget and a PNG of the same
content: a front end picks the richest type it can render (JupyterLab the widget, everything
else the picture).

Frames are drawn with numpy and encoded with Pillow, not redrawn with matplotlib, so playing
a video in the browser costs a few milliseconds per frame.
"""

from __future__ import annotations

import base64
import html
import io
import textwrap

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display
from matplotlib.figure import Figure
from PIL import Image

from tinyvdm.viz.animation import _caption_html, _check_fps
from tinyvdm.viz.figures import DPI
from tinyvdm.viz.frames import (
    _check_upscale,
    _frame_indices,
    _grid_figure,
    side_by_side,
    to_uint8,
)

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

# One colour per object slot (matplotlib's tab10), so object k has the same colour in the
# mask tint, its outline and its trajectory, in every frame and every sample.
OBJECT_COLOURS = np.array(
    [
        (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
        (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    ],
    dtype=np.uint8,
)
MASK_ALPHA = 0.45  # enough tint to see the mask, little enough to still see the shape under it


# --- one output, two renderings ---------------------------------------------------------------


def figure_png(fig: Figure) -> bytes:
    """PNG bytes of a matplotlib figure, at the resolution chapter figures are saved with."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def fallback_bundle(widget: widgets.Widget, fallback_figure: Figure) -> dict:
    """The MIME bundle of a widget plus a PNG of ``fallback_figure``; closes the figure.

    Returns a dict with ``application/vnd.jupyter.widget-view+json`` (taken from the widget's
    own ``_repr_mimebundle_``, so it refers to the live model), ``image/png`` (base64) and
    ``text/plain``.
    """
    if not isinstance(widget, widgets.Widget):
        raise ValueError(f"widget must be an ipywidgets Widget, got {type(widget).__name__}")
    if not isinstance(fallback_figure, Figure):
        raise ValueError(
            f"fallback_figure must be a matplotlib Figure, got {type(fallback_figure).__name__}"
        )
    bundle = dict(widget._repr_mimebundle_() or {})
    if WIDGET_MIME not in bundle:
        raise ValueError(
            f"widget must have a view to display ({WIDGET_MIME}), {type(widget).__name__} has none"
        )
    png = figure_png(fallback_figure)
    # The inline backend would otherwise show the pyplot figure again at the end of the cell.
    plt.close(fallback_figure)
    bundle["image/png"] = base64.b64encode(png).decode("ascii")
    bundle.setdefault("text/plain", repr(widget))
    return bundle


def display_with_fallback(widget: widgets.Widget, fallback_figure: Figure) -> None:
    """Display ``widget`` live, with ``fallback_figure`` as the static picture of the same output.

    JupyterLab renders the widget; nbconvert, nbval and GitHub, which cannot, show the PNG.
    """
    display(fallback_bundle(widget, fallback_figure), raw=True)


class FallbackDisplay:
    """What every viewer of the course shares: it shows its live ``self.widget``, with
    ``self.static_figure()`` as the picture for readers without a kernel (see
    :func:`display_with_fallback`), both from :meth:`show` and when it ends a notebook cell."""

    def show(self) -> None:
        """Display the live viewer, with :meth:`static_figure` for viewers without a kernel."""
        display_with_fallback(self.widget, self.static_figure())

    def _ipython_display_(self) -> None:
        self.show()


# --- drawing overlays with numpy ---------------------------------------------------------------


def _upscale(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscaling of the two leading pixel axes ``(h, w, ...)``."""
    return image.repeat(scale, axis=0).repeat(scale, axis=1)


def _mask_outline(mask: np.ndarray) -> np.ndarray:
    """The pixels of a bool mask ``(h, w)`` with a 4-neighbour outside it (or at the border)."""
    inner = np.zeros_like(mask)
    inner[1:-1, 1:-1] = (
        mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    )
    return mask & ~inner


def _draw_square(image: np.ndarray, x: float, y: float, radius: int, colour: np.ndarray) -> None:
    height, width = image.shape[:2]
    col, row = int(round(x)), int(round(y))
    image[
        max(row - radius, 0) : min(row + radius + 1, height),
        max(col - radius, 0) : min(col + radius + 1, width),
    ] = colour


def _draw_path(image: np.ndarray, points: np.ndarray, colour: np.ndarray) -> None:
    """A 1-pixel polyline through ``points`` ``(n, 2)`` (x, y), clipped to the image."""
    height, width = image.shape[:2]
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
        steps = int(np.ceil(max(abs(x1 - x0), abs(y1 - y0)))) + 1
        xs = np.rint(np.linspace(x0, x1, steps)).astype(int)
        ys = np.rint(np.linspace(y0, y1, steps)).astype(int)
        inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
        image[ys[inside], xs[inside]] = colour


def overlay_frame(
    frame: np.ndarray,
    *,
    scale: int = 1,
    masks: np.ndarray | None = None,
    trajectory: np.ndarray | None = None,
    present: np.ndarray | None = None,
) -> np.ndarray:
    """Upscale one frame and draw object masks and trajectories over it.

    Args:
        frame: ``(h, w, 3)`` uint8.
        scale: integer nearest-neighbour upscaling, applied before drawing so outlines and
            paths stay one screen pixel thin.
        masks: ``(objects, h, w)`` bool for this frame: tinted in the object's colour, outlined.
        trajectory: ``(n, objects, 2)`` centres (x, y) of frames ``0..n-1`` in continuous pixel
            coordinates (pixel ``i`` covers ``[i, i+1)``, so its centre is ``i + 0.5``): the
            path so far as a line with a dot per frame and a larger dot at the last one.
        present: ``(objects,)`` bool; absent objects are not drawn.

    Returns:
        ``(h*scale, w*scale, 3)`` uint8.
    """
    image = _upscale(frame, scale).astype(np.float32)
    objects = masks.shape[0] if masks is not None else (
        trajectory.shape[1] if trajectory is not None else 0
    )
    if present is None:
        present = np.ones(objects, dtype=bool)
    colours = OBJECT_COLOURS[np.arange(objects) % len(OBJECT_COLOURS)].astype(np.float32)
    if masks is not None:
        for k in np.flatnonzero(present):
            mask = _upscale(masks[k], scale)
            image[mask] = (1 - MASK_ALPHA) * image[mask] + MASK_ALPHA * colours[k]
            image[_mask_outline(mask)] = colours[k]
    image = image.round().astype(np.uint8)
    if trajectory is not None:
        for k in np.flatnonzero(present):
            points = trajectory[:, k]
            points = points[np.isfinite(points).all(axis=1)]
            if len(points) == 0:
                continue
            # Continuous coordinates, as the data sets draw them: pixel i covers [i, i+1). On
            # screen that is [i*scale, (i+1)*scale), and screen pixel j is centred at j + 0.5.
            points = points * scale - 0.5
            colour = OBJECT_COLOURS[k % len(OBJECT_COLOURS)]
            _draw_path(image, points, colour)
            for x, y in points[:-1]:
                _draw_square(image, x, y, 1, colour)
            _draw_square(image, *points[-1], 2, colour)
    return image


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    # Level 1: these PNGs live for one frame of playback; encoding speed beats file size.
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _as_array(value, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    raise ValueError(
        f"item[{name!r}] must be a torch.Tensor or numpy.ndarray, got {type(value).__name__}"
    )


# --- the dataset browser -----------------------------------------------------------------------


class _Sample:
    """One dataset item, validated and converted for drawing."""

    def __init__(self, item, index: int):
        if isinstance(item, (torch.Tensor, np.ndarray)):
            item = {"video": item}  # a dataset of bare videos
        if not isinstance(item, dict) or "video" not in item:
            raise ValueError(
                f"dataset[{index}] must be a dict with a 'video' (t, c, h, w), got "
                f"{type(item).__name__}"
            )
        video = item["video"]
        if len(getattr(video, "shape", ())) != 4:
            raise ValueError(
                f"dataset[{index}]['video'] must have shape (t, c, h, w), got shape "
                f"{tuple(getattr(video, 'shape', ()))}"
            )
        self.frames = to_uint8(video)[0]  # (t, h, w, 3)
        t, h, w, _ = self.frames.shape
        self.masks = self.trajectory = self.present = None
        if item.get("masks") is not None:
            self.masks = _as_array(item["masks"], "masks").astype(bool)
            if self.masks.ndim != 4 or self.masks.shape[0] != t or self.masks.shape[2:] != (h, w):
                raise ValueError(
                    f"dataset[{index}]['masks'] must have shape ({t}, objects, {h}, {w}), got "
                    f"shape {self.masks.shape}"
                )
        if item.get("trajectory") is not None:
            self.trajectory = _as_array(item["trajectory"], "trajectory").astype(np.float32)
            shape = self.trajectory.shape
            if len(shape) != 3 or shape[0] != t or shape[2] != 2:
                raise ValueError(
                    f"dataset[{index}]['trajectory'] must have shape ({t}, objects, 2), got "
                    f"shape {shape}"
                )
        objects = {a.shape[1] for a in (self.masks, self.trajectory) if a is not None}
        if len(objects) > 1:
            raise ValueError(
                f"dataset[{index}]: masks and trajectory disagree on the number of objects "
                f"({sorted(objects)})"
            )
        if item.get("present") is not None and objects:
            self.present = _as_array(item["present"], "present").astype(bool)
            n = objects.pop()
            if self.present.shape != (n,):
                raise ValueError(
                    f"dataset[{index}]['present'] must have shape ({n},), got shape "
                    f"{self.present.shape}"
                )
        caption = item.get("caption")
        self.caption = str(caption) if caption is not None else None

    def render(self, frame: int, *, scale: int, masks: bool, trajectory: bool) -> np.ndarray:
        """Frame ``frame`` upscaled, with the chosen overlays: ``(h*scale, w*scale, 3)`` uint8."""
        return overlay_frame(
            self.frames[frame],
            scale=scale,
            masks=self.masks[frame] if masks and self.masks is not None else None,
            trajectory=(
                self.trajectory[: frame + 1]
                if trajectory and self.trajectory is not None
                else None
            ),
            present=self.present,
        )


def _show(element: widgets.Widget, visible: bool) -> None:
    element.layout.display = None if visible else "none"


def _fix_size(image_widget: widgets.Image, image: np.ndarray) -> None:
    """Show the picture at its own pixel size: a box layout would stretch it to the cell's width
    and blur the upscaled pixels."""
    width, height = f"{image.shape[1]}px", f"{image.shape[0]}px"
    if image_widget.layout.width != width or image_widget.layout.height != height:
        image_widget.layout.width, image_widget.layout.height = width, height


class DatasetBrowser(FallbackDisplay):
    """Scrub through a video dataset's samples and frames, with mask and trajectory overlays.

    Works on any dataset (``len`` and indexing) whose items are dicts with ``"video"``
    ``(t, c, h, w)`` in ``[-1, 1]``. Optional keys, used when present and their controls hidden
    otherwise: ``"masks"`` ``(t, objects, h, w)`` bool, ``"trajectory"`` ``(t, objects, 2)``
    centres (x, y) in pixels (pixel ``i`` spans ``[i, i+1)``), ``"present"`` ``(objects,)``
    bool, ``"caption"`` str.

    ``show()`` (or leaving the browser as a cell's last expression) displays the controls, and
    for static viewers a frame grid of the current sample.
    """

    def __init__(self, dataset, *, scale: int = 6, fps: float = 8):
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise ValueError(
                f"dataset must support len() and indexing, got {type(dataset).__name__}"
            )
        if len(dataset) == 0:
            raise ValueError("dataset must hold at least one sample, got an empty dataset")
        self.dataset = dataset
        self.scale = _check_upscale(scale)
        fps = _check_fps(fps)
        self._sample = _Sample(dataset[0], 0)
        t = len(self._sample.frames)

        self.sample_slider = widgets.IntSlider(
            value=0, min=0, max=len(dataset) - 1, description="sample",
            continuous_update=False,  # loading an item can be slow: load where the drag ends
        )
        self.frame_slider = widgets.IntSlider(value=0, min=0, max=t - 1, description="frame")
        self.play = widgets.Play(value=0, min=0, max=t - 1, interval=max(int(1000 / fps), 1))
        # Linked in the browser, so playback does not wait for a kernel round trip per frame.
        widgets.jslink((self.play, "value"), (self.frame_slider, "value"))
        self.masks_box = widgets.Checkbox(value=True, description="masks", indent=False)
        self.trajectory_box = widgets.Checkbox(value=True, description="trajectory", indent=False)
        self.caption_label = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.sample_slider, self.play, self.frame_slider]),
                widgets.HBox([self.masks_box, self.trajectory_box]),
                self.image,
                self.caption_label,
            ]
        )
        self.sample_slider.observe(self._on_sample, names="value")
        for control in (self.frame_slider, self.masks_box, self.trajectory_box):
            control.observe(self._on_view, names="value")
        self._refresh_controls()
        self._redraw()

    # State changes -----------------------------------------------------------------------------

    def _on_sample(self, change) -> None:
        self._sample = _Sample(self.dataset[change["new"]], change["new"])
        t = len(self._sample.frames)
        self.frame_slider.value = min(self.frame_slider.value, t - 1)
        self.frame_slider.max = self.play.max = t - 1
        self._refresh_controls()
        self._redraw()

    def _on_view(self, change) -> None:
        self._redraw()

    def _refresh_controls(self) -> None:
        sample = self._sample
        _show(self.masks_box, sample.masks is not None)
        _show(self.trajectory_box, sample.trajectory is not None)
        _show(self.caption_label, sample.caption is not None)
        self.caption_label.value = html.escape(sample.caption or "")

    def _redraw(self) -> None:
        image = self.frame_image()
        _fix_size(self.image, image)
        self.image.value = _png(image)

    # Public views --------------------------------------------------------------------------------

    def frame_image(self) -> np.ndarray:
        """The picture the browser shows now: ``(h*scale, w*scale, 3)`` uint8."""
        return self._sample.render(
            self.frame_slider.value,
            scale=self.scale,
            masks=self.masks_box.value,
            trajectory=self.trajectory_box.value,
        )

    def static_figure(self, *, max_frames: int | None = None) -> Figure:
        """A frame grid of the current sample, overlays as chosen, captioned: the static view."""
        sample = self._sample
        keep = _frame_indices(len(sample.frames), max_frames)
        frames = np.stack(
            [
                sample.render(
                    int(j), scale=self.scale, masks=self.masks_box.value,
                    trajectory=self.trajectory_box.value,
                )
                for j in keep
            ]
        )
        fig = _grid_figure(frames[None], keep.tolist(), titles=None, scale=1.5, ax=None)
        title = f"sample {self.sample_slider.value}"
        if sample.caption:
            title += ": " + sample.caption
        fig.axes[0].set_title(textwrap.fill(title, 90), fontsize=8, loc="left")
        return fig


# --- a frame scrubber for any batch ------------------------------------------------------------


class FrameScrubber(FallbackDisplay):
    """A frame slider and play button over a batch of videos shown side by side.

    Args:
        videos: ``(t, c, h, w)`` or ``(b, t, c, h, w)`` in ``[-1, 1]``.
        scale: integer nearest-neighbour upscaling.
        fps: playback speed of the play button.
        titles: one caption, or one string per sample (shown under its video).
    """

    def __init__(self, videos, *, scale: int = 4, fps: float = 8, titles=None):
        self.scale = _check_upscale(scale)
        fps = _check_fps(fps)
        self._frames = side_by_side(videos, scale=self.scale)  # (t, h*scale, b*(w*scale+1)-1, 3)
        self._grid_frames = to_uint8(videos)  # (b, t, h, w, 3), for the static figure
        b, t = self._grid_frames.shape[:2]
        self.titles = titles
        caption = _caption_html(titles, b, self._grid_frames.shape[3] * self.scale)
        self._png_cache: dict[int, bytes] = {}

        self.frame_slider = widgets.IntSlider(value=0, min=0, max=t - 1, description="frame")
        self.play = widgets.Play(value=0, min=0, max=t - 1, interval=max(int(1000 / fps), 1))
        widgets.jslink((self.play, "value"), (self.frame_slider, "value"))
        self.image = widgets.Image(format="png")
        self.caption_label = widgets.HTML(value=caption)
        _show(self.caption_label, titles is not None)
        self.widget = widgets.VBox(
            [widgets.HBox([self.play, self.frame_slider]), self.image, self.caption_label]
        )
        self.frame_slider.observe(self._on_frame, names="value")
        self._redraw()

    def _on_frame(self, change) -> None:
        self._redraw()

    def _redraw(self) -> None:
        frame = self.frame_slider.value
        if frame not in self._png_cache:  # each frame is encoded once, however often it plays
            self._png_cache[frame] = _png(self._frames[frame])
        _fix_size(self.image, self._frames[frame])
        self.image.value = self._png_cache[frame]

    def frame_image(self) -> np.ndarray:
        """The picture shown now: ``(h*scale, b*(w*scale+1)-1, 3)`` uint8."""
        return self._frames[self.frame_slider.value]

    def static_figure(self, *, max_frames: int | None = None) -> Figure:
        """A frame grid of the whole batch: the view for readers without a kernel."""
        b, t = self._grid_frames.shape[:2]
        keep = _frame_indices(t, max_frames)
        per_sample = self.titles is not None and not isinstance(self.titles, str)
        fig = _grid_figure(
            self._grid_frames[:, keep],
            keep.tolist(),
            titles=list(self.titles) if per_sample else None,
            scale=1.0,
            ax=None,
        )
        if isinstance(self.titles, str):
            fig.axes[0].set_title(textwrap.fill(self.titles, 90), fontsize=8, loc="left")
        return fig
