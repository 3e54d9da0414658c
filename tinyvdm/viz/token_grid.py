"""What a VQ-VAE tokenizer makes of a clip: codebook usage, and the token grid beside the frames.

Taught in chapter 05 (autoregressive video). A VQ-VAE replaces a clip by a grid of integers
``(t', h', w')``, each naming one code of a codebook of ``K``; an autoregressive model then reads
and writes those integers. Two pictures make that concrete:

- :func:`codebook_usage_figure`: how often each code is used, sorted, on a log scale, with the
  perplexity (the number of equally used codes with the same entropy) and the share of codes
  used at all. A healthy codebook has a long, flat-ish curve; a collapsed one a few tall bars.
- :func:`token_grid_figure` and the :class:`TokenGridViewer` widget: each frame next to its
  token grid, every code drawn in its own colour, so one sees which tokens are background, which
  carry the object, and how the object's tokens travel from frame to frame. The viewer can
  highlight every place one code is used.

Code colours come from :func:`code_colours`: a fixed pseudo-random colour per code number, the
same in every figure, with the most used code of the shown grids drawn black (it is almost
always the empty background).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from tinyvdm.viz.frames import _check_upscale, to_uint8
from tinyvdm.viz.widgets import _fix_size, _png, _upscale, display_with_fallback


def _check_grids(grids, name: str = "grids") -> torch.Tensor:
    if not isinstance(grids, torch.Tensor) or grids.dtype != torch.long or grids.ndim != 4:
        got = f"{grids.dtype} {tuple(grids.shape)}" if isinstance(grids, torch.Tensor) else type(grids).__name__
        raise ValueError(f"{name} must be int64 token grids of shape (n, t', h', w'), got {got}")
    if grids.numel() and grids.min() < 0:
        raise ValueError(f"{name} must hold code numbers >= 0, got a minimum of {int(grids.min())}")
    return grids.detach().cpu()


def code_usage(grids: torch.Tensor, codebook_size: int) -> torch.Tensor:
    """How many times each code appears in ``grids`` (any shape, int64): ``(codebook_size,)`` int64."""
    if not isinstance(codebook_size, int) or codebook_size < 1:
        raise ValueError(f"codebook_size must be a positive int, got {codebook_size!r}")
    if not isinstance(grids, torch.Tensor) or grids.dtype != torch.long or grids.numel() == 0:
        got = f"{grids.dtype} {tuple(grids.shape)}" if isinstance(grids, torch.Tensor) else type(grids).__name__
        raise ValueError(f"grids must be a non-empty int64 tensor of code numbers, got {got}")
    if grids.min() < 0 or grids.max() >= codebook_size:
        raise ValueError(f"code numbers must be in [0, {codebook_size}), got values in "
                         f"[{int(grids.min())}, {int(grids.max())}]")
    return torch.bincount(grids.detach().cpu().flatten(), minlength=codebook_size)


def code_colours(codebook_size: int, background: int | None = None) -> np.ndarray:
    """A fixed RGB colour per code, ``(codebook_size, 3)`` uint8; ``background`` (a code) drawn black.

    Colours are drawn from a seeded generator, bright enough to stand out against black, so code
    ``k`` has the same colour in every figure of a session and across sessions.
    """
    if not isinstance(codebook_size, int) or codebook_size < 1:
        raise ValueError(f"codebook_size must be a positive int, got {codebook_size!r}")
    if background is not None and not 0 <= background < codebook_size:
        raise ValueError(f"background must be None or a code in [0, {codebook_size}), got {background!r}")
    rng = np.random.default_rng(12345)
    colours = rng.integers(60, 256, size=(codebook_size, 3)).astype(np.uint8)
    if background is not None:
        colours[background] = 0
    return colours


def token_image(grid: torch.Tensor, colours: np.ndarray, highlight: int | None = None) -> np.ndarray:
    """One frame's tokens ``(h', w')`` as an RGB image ``(h', w', 3)`` uint8, one pixel per token.

    With ``highlight`` (a code), every other token is dimmed to a quarter of its brightness.
    """
    if not isinstance(grid, torch.Tensor) or grid.ndim != 2 or grid.dtype != torch.long:
        got = f"{grid.dtype} {tuple(grid.shape)}" if isinstance(grid, torch.Tensor) else type(grid).__name__
        raise ValueError(f"grid must be int64 of shape (h', w'), got {got}")
    if grid.numel() and (grid.min() < 0 or grid.max() >= len(colours)):
        raise ValueError(f"grid codes must be in [0, {len(colours)}), got [{int(grid.min())}, {int(grid.max())}]")
    codes = grid.cpu().numpy()
    image = colours[codes].copy()
    if highlight is not None:
        image[codes != highlight] //= 4
    return image


def codebook_usage_figure(counts: torch.Tensor, title: str = "codebook usage") -> Figure:
    """Code frequencies ``(K,)`` sorted from most to least used, log scale, with perplexity and usage."""
    if not isinstance(counts, torch.Tensor) or counts.ndim != 1 or counts.numel() < 1 or counts.sum() <= 0:
        got = f"{counts.dtype} {tuple(counts.shape)}" if isinstance(counts, torch.Tensor) else type(counts).__name__
        raise ValueError(f"counts must be a 1-D tensor of code counts with a positive sum, got {got}")
    counts = counts.detach().cpu().double()
    probs = counts / counts.sum()
    entropy = -(probs[probs > 0] * probs[probs > 0].log()).sum()
    ordered = probs.sort(descending=True).values.numpy()
    used = int((counts > 0).sum())
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.bar(np.arange(len(ordered)), np.where(ordered > 0, ordered, np.nan), width=1.0, color="tab:blue")
    ax.set_yscale("log")
    ax.axhline(1 / len(ordered), color="grey", lw=0.8, ls="--", label="uniform use, 1 / K")
    ax.set(xlabel="code, from most to least used", ylabel="share of tokens",
           title=f"{title}: {used} of {len(ordered)} codes used, perplexity {float(entropy.exp()):.0f}")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def _background_code(grids: torch.Tensor) -> int:
    return int(torch.bincount(grids.flatten()).argmax())


def token_grid_figure(videos: torch.Tensor, grids: torch.Tensor, codebook_size: int, max_clips: int = 4,
                      max_frames: int = 8, titles: Sequence[str] | None = None) -> Figure:
    """Each clip as two rows: its frames, and under each frame the token grid it was coded as.

    ``videos`` ``(n, t, c, h, w)`` in ``[-1, 1]`` and ``grids`` ``(n, t', h', w')``; with fewer
    token frames than frames (temporal compression), token frame ``k t' / t`` sits under frame ``k``.
    """
    grids = _check_grids(grids)
    to_uint8(videos[:1])  # validates the layout
    if len(videos) != len(grids) or len(grids) == 0:
        raise ValueError(f"videos and grids must hold the same number (>= 1) of clips, got {len(videos)} and {len(grids)}")
    n = min(len(grids), max_clips)
    frames = to_uint8(videos[:n])  # (n, t, h, w, 3)
    t = min(frames.shape[1], max_frames)
    colours = code_colours(codebook_size, _background_code(grids[:n]))
    fig, axes = plt.subplots(2 * n, t, figsize=(1.2 * t, 2.5 * n), squeeze=False)
    for i in range(n):
        for k in range(t):
            token_frame = k * grids.shape[1] // frames.shape[1]
            axes[2 * i, k].imshow(frames[i, k], interpolation="nearest")
            axes[2 * i + 1, k].imshow(token_image(grids[i, token_frame], colours), interpolation="nearest")
            if i == 0:
                axes[0, k].set_title(f"t={k}", fontsize=8)
        label = titles[i] if titles is not None and i < len(titles) else f"clip {i}"
        axes[2 * i, 0].set_ylabel(label, fontsize=8)
        axes[2 * i + 1, 0].set_ylabel("tokens", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


class TokenGridViewer:
    """Scrub clips and frames: the frame, its token grid, and where one chosen code sits.

    ``videos`` ``(n, t, c, h, w)`` in ``[-1, 1]``, ``grids`` ``(n, t', h', w')`` int64 (the clip's
    tokens, or the tokens a model sampled, beside their decoding). The code box highlights every
    token with that code number (the background code shows the empty area; an object code shows
    where the object is). Display with :meth:`show` (live widget plus a static figure).
    """

    def __init__(self, videos: torch.Tensor, grids: torch.Tensor, codebook_size: int, scale: int = 6,
                 titles: Sequence[str] | None = None):
        self.grids = _check_grids(grids)
        self.frames = to_uint8(videos)  # (n, t, h, w, 3)
        if len(self.frames) != len(self.grids) or len(self.grids) == 0:
            raise ValueError(f"videos and grids must hold the same number (>= 1) of clips, got "
                             f"{len(self.frames)} and {len(self.grids)}")
        if int(self.grids.max()) >= codebook_size:
            raise ValueError(f"grid codes must be in [0, {codebook_size}), got a maximum of {int(self.grids.max())}")
        self.scale = _check_upscale(scale)
        self.codebook_size = codebook_size
        self.titles = list(titles) if titles is not None else [f"clip {i}" for i in range(len(self.grids))]
        self.background = _background_code(self.grids)
        self.colours = code_colours(codebook_size, self.background)
        self.clip = widgets.IntSlider(0, 0, len(self.grids) - 1, description="clip")
        self.frame = widgets.IntSlider(0, 0, self.frames.shape[1] - 1, description="frame")
        self.code = widgets.BoundedIntText(-1, min=-1, max=codebook_size - 1, description="highlight code",
                                           style={"description_width": "initial"})
        self.picture = widgets.Image(format="png")
        self.caption = widgets.HTML()
        for control in (self.clip, self.frame, self.code):
            control.observe(lambda change: self.update(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.clip, self.frame, self.code]), self.picture, self.caption])
        self.update()

    def image(self, clip: int, frame: int, code: int | None = None) -> np.ndarray:
        """The frame and its token grid side by side, both upscaled to the same height: ``(H, W, 3)`` uint8."""
        if not 0 <= clip < len(self.grids) or not 0 <= frame < self.frames.shape[1]:
            raise ValueError(f"clip must be in [0, {len(self.grids)}) and frame in [0, {self.frames.shape[1]}), "
                             f"got {clip} and {frame}")
        picture = self.frames[clip, frame]
        token_frame = frame * self.grids.shape[1] // self.frames.shape[1]
        tokens = token_image(self.grids[clip, token_frame], self.colours, code)
        # One token covers (h / h') pixels: upscale the token map to the frame's size first.
        tokens = _upscale(tokens, picture.shape[0] // tokens.shape[0])
        gap = np.full((picture.shape[0], 2, 3), 255, dtype=np.uint8)
        return _upscale(np.concatenate([picture, gap, tokens], axis=1), self.scale)

    def update(self) -> None:
        code = None if self.code.value < 0 else int(self.code.value)
        clip, frame = int(self.clip.value), int(self.frame.value)
        image = self.image(clip, frame, code)
        self.picture.value = _png(image)
        _fix_size(self.picture, image)
        token_frame = frame * self.grids.shape[1] // self.frames.shape[1]
        grid = self.grids[clip, token_frame]
        distinct = len(torch.unique(grid))
        where = "" if code is None else f"; code {code} appears {int((grid == code).sum())} times in this frame"
        self.caption.value = html.escape(f"{self.titles[clip]}: token frame {token_frame}, {distinct} distinct codes, "
                                         f"background code {self.background} (black){where}")

    def show(self, max_clips: int = 3) -> None:
        """Display the live widget with :func:`token_grid_figure` as its static picture."""
        videos = torch.from_numpy(self.frames[:max_clips]).permute(0, 1, 4, 2, 3).float() / 127.5 - 1
        display_with_fallback(self.widget, token_grid_figure(videos, self.grids[:max_clips], self.codebook_size,
                                                             max_clips=max_clips, titles=self.titles))
