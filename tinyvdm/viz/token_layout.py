"""What a U-ViT reads: its token sequence, the attention pairs it scores, and where its long skips go.

Taught in chapter 10 (U-ViT). A U-ViT (:mod:`tinyvdm.models.uvit`) turns *everything* into tokens:
the diffusion step, the class label and the patches of the clip. On video, the course's models put
a copy of the step and label tokens in front of every frame's patch tokens
(:func:`~tinyvdm.nn.transformer.join_frame_tokens`), so a clip of ``t'`` token frames of
``h' x w'`` patches is a sequence of ``t' (k + h' w')`` tokens, ``k`` the number of extra tokens.
Time (the *frames*, not the diffusion step) is carried by two things only: each patch token's
space-time position code, and the attention pattern, which decides whether a token may read
another frame at all.

- :func:`token_layout`: every token of the sequence, in order: its kind (``"time"``, ``"class"``
  or ``"patch"``), its token frame and, for patches, its row and column.
- :func:`attention_pairs`: how many (query, key) pairs one attention layer of a pattern scores.
- :func:`skip_pairs`: which block's output each long skip carries to which block.
- :func:`token_layout_figure` and :class:`TokenLayoutViewer`: the picture, and a widget over it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from tinyvdm.nn.attention import frame_mask
from tinyvdm.nn.transformer import MODEL_ATTENTIONS
from tinyvdm.viz.widgets import FallbackDisplay, figure_png

KIND_COLOURS = {"time": "#f28e2b", "class": "#b07aa1", "patch": "#4e79a7"}
MAX_FRAMES, MAX_SIDE, MAX_DEPTH = 16, 16, 15


@dataclass(frozen=True)
class Token:
    """One token of a U-ViT's sequence: ``index`` in it, ``kind``, token ``frame``; ``row``/``col`` for patches."""

    index: int
    kind: str
    frame: int
    row: int | None = None
    col: int | None = None


def _check_int(name: str, value, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (
            high is not None and value > high):
        bound = f"an int >= {low}" if high is None else f"an int in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return int(value)


def _extra_kinds(class_token: bool) -> tuple[str, ...]:
    return ("time", "class") if class_token else ("time",)


def token_layout(frames: int, height: int, width: int, class_token: bool = True) -> list[Token]:
    """The sequence a U-ViT reads for ``frames`` token frames of ``height x width`` patches.

    In the order of :func:`~tinyvdm.nn.transformer.join_frame_tokens`: for each token frame, the
    step (``"time"``) token, then the ``"class"`` token if ``class_token``, then the patches row
    by row. ``frames`` counts *token* frames (``t / tubelet``).
    """
    frames = _check_int("frames", frames, 1)
    height = _check_int("height", height, 1)
    width = _check_int("width", width, 1)
    tokens: list[Token] = []
    for frame in range(frames):
        for kind in _extra_kinds(class_token):
            tokens.append(Token(len(tokens), kind, frame))
        for row in range(height):
            for col in range(width):
                tokens.append(Token(len(tokens), "patch", frame, row, col))
    return tokens


def attention_pairs(attention: str, frames: int, tokens_per_frame: int) -> int:
    """The (query, key) pairs one block's attention scores, per head, on ``frames`` rows of ``tokens_per_frame``.

    ``spatial``: each frame's tokens read each other, ``t m^2`` (``m = tokens_per_frame``);
    ``full``: every token reads every token, ``(t m)^2``; ``causal`` and ``sparse-causal``: the
    frame pairs their frame rule allows (see :func:`~tinyvdm.nn.attention.frame_mask`) times
    ``m^2``; ``factorised``: a spatial layer plus a temporal one (each of the ``m`` positions reads
    itself in every frame, ``m t^2``). These are the pairs the pattern *allows*; a kernel handed
    a mask (causal, sparse-causal) still computes all ``(t m)^2``.
    """
    if attention not in MODEL_ATTENTIONS:
        raise ValueError(f"attention must be one of {MODEL_ATTENTIONS}, got {attention!r}")
    frames = _check_int("frames", frames, 1)
    m = _check_int("tokens_per_frame", tokens_per_frame, 1)
    if attention == "factorised":
        return frames * m * m + m * frames * frames
    return int(frame_mask(attention, frames).sum()) * m * m


def skip_pairs(depth: int) -> list[tuple[int, int]]:
    """``(from block, to block)`` of each long skip, blocks numbered ``0 .. depth - 1`` through the stack.

    ``depth // 2`` in-blocks, a middle block, ``depth // 2`` out-blocks; in-block ``i`` feeds
    block ``depth - 1 - i``: the first block meets the last, as a UNet's first level meets its
    last. Ordered as the out-blocks run (the deepest skip first).
    """
    depth = _check_int("depth", depth, 1)
    if depth % 2 == 0:
        raise ValueError(f"depth must be odd (in-blocks, a middle block, out-blocks), got {depth}")
    half = depth // 2
    return [(half - 1 - j, half + 1 + j) for j in range(half)]


def _draw_sequence(ax, frames: int, height: int, width: int, class_token: bool, attention: str,
                   shown_patches: int) -> None:
    """One row per token frame: extra tokens, then patches (the middle ones elided when there are many)."""
    k = len(_extra_kinds(class_token))
    patches = height * width
    elide = patches > shown_patches
    kept = list(range(shown_patches - 2)) + [patches - 2, patches - 1] if elide else list(range(patches))
    columns = k + len(kept) + (1 if elide else 0)
    for frame in range(frames):
        y = frames - 1 - frame
        x = 0
        for kind in _extra_kinds(class_token):
            ax.add_patch(Rectangle((x, y), 0.9, 0.8, color=KIND_COLOURS[kind]))
            ax.text(x + 0.45, y + 0.4, kind[0].upper(), ha="center", va="center", color="white", fontsize=7)
            x += 1
        for position, p in enumerate(kept):
            if elide and position == len(kept) - 2:
                ax.text(x + 0.45, y + 0.4, "...", ha="center", va="center", fontsize=8)
                x += 1
            shade = 0.55 + 0.45 * (p // width) / max(1, height - 1)  # lighter further down the frame
            ax.add_patch(Rectangle((x, y), 0.9, 0.8, color=KIND_COLOURS["patch"], alpha=shade))
            x += 1
        ax.text(-0.3, y + 0.4, f"frame {frame}", ha="right", va="center", fontsize=8)
    # What one attention layer lets a token read: a frame's row (spatial), or a column through the frames.
    if attention in ("spatial", "factorised"):
        ax.add_patch(Rectangle((-0.1, frames - 1 - 0.1), columns + 0.1, 1.0, fill=False, ec="black", lw=1.2))
        ax.text(columns + 0.2, frames - 0.6, "spatial: one frame's row", fontsize=7, va="center")
    if attention == "factorised":
        ax.add_patch(Rectangle((k + 2 - 0.1, -0.1), 1.1, frames, fill=False, ec="red", lw=1.2))
        ax.text(k + 2.5, -0.5, "temporal: one position, every frame", fontsize=7, ha="left", va="top", color="red")
    if attention in ("full", "causal", "sparse-causal"):
        ax.add_patch(Rectangle((-0.1, -0.1), columns + 0.1, frames, fill=False, ec="red", lw=1.2))
        ax.text(columns + 0.2, frames / 2, f"{attention}: across frames\n(by the frame rule)", fontsize=7,
                va="center", color="red")
    ax.text(columns / 2, frames + 0.15, "every frame carries its own copy of the step (and class) tokens",
            ha="center", fontsize=7)
    ax.set_xlim(-3.2, columns + 6.5)
    ax.set_ylim(-1.3, frames + 0.6)
    ax.set_axis_off()


def _draw_stack(ax, depth: int, long_skips: bool) -> None:
    """Blocks as a U: in-blocks down the left, the middle block at the bottom, out-blocks up the right."""
    half = depth // 2
    places = {}
    for i in range(half):
        places[i] = (0.0, half - i)
        places[depth - 1 - i] = (2.2, half - i)
    places[half] = (1.1, 0.0)
    for block, (x, y) in places.items():
        role = "in" if block < half else ("mid" if block == half else "out")
        ax.add_patch(Rectangle((x, y), 1.0, 0.6, fc="#dddddd", ec="black", lw=0.8))
        ax.text(x + 0.5, y + 0.3, f"{role} {block}", ha="center", va="center", fontsize=7)
    order = list(range(depth))
    for a, b in zip(order, order[1:]):
        (xa, ya), (xb, yb) = places[a], places[b]
        start, end = ((xa + 0.5, ya), (xb + 0.5, yb + 0.6)) if yb < ya else ((xa + 0.5, ya + 0.6), (xb + 0.5, yb))
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="->", mutation_scale=8, color="grey", lw=0.8))
    if long_skips:
        for source, target in skip_pairs(depth):
            (xa, ya), (xb, yb) = places[source], places[target]
            ax.add_patch(FancyArrowPatch((xa + 1.0, ya + 0.3), (xb, yb + 0.3), arrowstyle="->", mutation_scale=9,
                                         color="#e15759", lw=1.4))
        ax.text(1.6, half + 0.95, "long skip: every token (T, C and patches) concatenated\nwith its own earlier self, "
                "then Linear(2d -> d)", ha="center", fontsize=7, color="#e15759")
    else:
        ax.text(1.6, half + 0.95, "no long skips (the ablation)", ha="center", fontsize=7, color="#e15759")
    ax.set_xlim(-0.3, 3.5)
    ax.set_ylim(-0.4, half + 1.3)
    ax.set_axis_off()


def token_layout_figure(frames: int = 4, height: int = 8, width: int = 8, class_token: bool = True,
                        depth: int = 5, long_skips: bool = True, attention: str = "factorised",
                        shown_patches: int = 12) -> Figure:
    """The token sequence (one row per token frame) and the block stack with its long skips.

    The title counts the tokens and the attention pairs one block scores (:func:`attention_pairs`).
    Frames with more than ``shown_patches`` patches are drawn with the middle patches elided.
    """
    frames = _check_int("frames", frames, 1, MAX_FRAMES)
    height = _check_int("height", height, 1, MAX_SIDE)
    width = _check_int("width", width, 1, MAX_SIDE)
    depth = _check_int("depth", depth, 1, MAX_DEPTH)
    shown_patches = _check_int("shown_patches", shown_patches, 4)
    skip_pairs(depth)  # checks depth is odd
    if attention not in MODEL_ATTENTIONS:
        raise ValueError(f"attention must be one of {MODEL_ATTENTIONS}, got {attention!r}")
    k = len(_extra_kinds(class_token))
    per_frame = k + height * width
    fig = Figure(figsize=(12.5, 0.45 * frames + 2.4))
    grid = fig.add_gridspec(1, 2, width_ratios=[3.2, 1.2])
    ax_tokens, ax_stack = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    _draw_sequence(ax_tokens, frames, height, width, class_token, attention, shown_patches)
    extras = "T = step token, C = class token" if class_token else "T = step token"
    ax_tokens.set_title(f"{frames} frames x ({k} + {height} x {width}) = {frames * per_frame} tokens; {extras}; "
                        f"{attention} attention scores {attention_pairs(attention, frames, per_frame):,} pairs "
                        "per head per block", fontsize=9)
    _draw_stack(ax_stack, depth, long_skips)
    ax_stack.set_title(f"{depth} blocks: {depth // 2} in, 1 middle, {depth // 2} out", fontsize=9)
    fig.tight_layout()
    return fig


class TokenLayoutViewer(FallbackDisplay):
    """Sliders over :func:`token_layout_figure`: clip length, patch grid, class token, depth, skips, attention.

    ``show()`` (or leaving the viewer as a cell's last expression) displays it, with the default
    view as the static picture.
    """

    def __init__(self, frames: int = 4, height: int = 8, width: int = 8, class_token: bool = True, depth: int = 5,
                 long_skips: bool = True, attention: str = "factorised"):
        self._first = token_layout_figure(frames, height, width, class_token, depth, long_skips, attention)
        self.frames_slider = widgets.IntSlider(value=frames, min=1, max=MAX_FRAMES, description="frames t'")
        self.height_slider = widgets.IntSlider(value=height, min=1, max=MAX_SIDE, description="grid h'")
        self.width_slider = widgets.IntSlider(value=width, min=1, max=MAX_SIDE, description="grid w'")
        self.class_box = widgets.Checkbox(value=class_token, description="class token")
        self.depth_slider = widgets.IntSlider(value=depth, min=1, max=MAX_DEPTH, step=2, description="depth")
        self.skips_box = widgets.Checkbox(value=long_skips, description="long skips")
        self.attention_menu = widgets.Dropdown(options=list(MODEL_ATTENTIONS), value=attention, description="attention")
        self.info = widgets.HTML()
        self.image = widgets.Image(format="png")
        controls = (self.frames_slider, self.height_slider, self.width_slider, self.class_box, self.depth_slider,
                    self.skips_box, self.attention_menu)
        self.widget = widgets.VBox([widgets.HBox(list(controls[:3])), widgets.HBox(list(controls[3:])), self.info,
                                    self.image])
        for control in controls:
            control.observe(self._on_change, names="value")
        self._redraw()

    def settings(self) -> dict:
        return dict(frames=int(self.frames_slider.value), height=int(self.height_slider.value),
                    width=int(self.width_slider.value), class_token=bool(self.class_box.value),
                    depth=int(self.depth_slider.value), long_skips=bool(self.skips_box.value),
                    attention=self.attention_menu.value)

    def describe(self) -> str:
        s = self.settings()
        per_frame = len(_extra_kinds(s["class_token"])) + s["height"] * s["width"]
        full = attention_pairs("full", s["frames"], per_frame)
        chosen = attention_pairs(s["attention"], s["frames"], per_frame)
        return (f"{s['frames'] * per_frame} tokens; {s['attention']} attention scores {chosen:,} pairs per head "
                f"per block ({chosen / full:.1%} of full attention's {full:,}); "
                f"{len(skip_pairs(s['depth'])) if s['long_skips'] else 0} long skips")

    def figure(self) -> Figure:
        return token_layout_figure(**self.settings())

    def _on_change(self, change) -> None:
        self._redraw()

    def _redraw(self) -> None:
        self.image.value = figure_png(self.figure())
        self.info.value = html.escape(self.describe())

    def static_figure(self) -> Figure:
        """The view the viewer opened with."""
        return self._first
