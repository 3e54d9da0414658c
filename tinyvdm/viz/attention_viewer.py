"""The attention-mask viewer: which keys does one query token of a clip read, under each pattern?

Taught in chapter 08 (space-time attention). Pick a pattern (spatial, temporal, full, causal,
sparse-causal), the number of frames ``t``, the token grid ``h x w`` of each frame and one query
token (its frame and position). The viewer draws the same mask of
:func:`tinyvdm.nn.attention.attention_mask` twice:

- on the frame grid: one small ``h x w`` board per frame, the keys the query may read filled in,
  the query itself outlined;
- as the ``(n, n)`` matrix, ``n = t h w``, tokens in ``(t h w)`` order, with the query's row
  marked: the object a kernel actually receives.

Both pictures come from the library's mask, never from a separate drawing of the rule, so what
the learner sees is what the attention layers do. Like every widget of the course it is displayed
with a PNG of the same view for static viewers.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from tinyvdm.nn.attention import PATTERNS, attention_mask
from tinyvdm.viz.widgets import FallbackDisplay, figure_png

MAX_FRAMES = 16
MAX_GRID = 8
SEEN = "#2a7fb8"  # keys the query reads
QUERY = "#d62728"


def _check_int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")
    return int(value)


def check_query(frames: int, height: int, width: int, query: tuple[int, int, int]) -> tuple[int, int, int]:
    """``query`` = ``(frame, row, column)`` of a token inside a ``frames x height x width`` grid."""
    if not (isinstance(query, (tuple, list)) and len(query) == 3):
        raise ValueError(f"query must be (frame, row, column), got {query!r}")
    return (_check_int("query frame", query[0], 0, frames - 1), _check_int("query row", query[1], 0, height - 1),
            _check_int("query column", query[2], 0, width - 1))


def query_index(frames: int, height: int, width: int, query: tuple[int, int, int]) -> int:
    """The token number of ``query`` = ``(frame, row, column)`` in ``(t h w)`` order."""
    frame, row, column = check_query(frames, height, width, query)
    return (frame * height + row) * width + column


def visible_keys(pattern: str, frames: int, height: int, width: int, query: tuple[int, int, int]) -> np.ndarray:
    """Which keys the query token reads: bool ``(t, h, w)``, the query's row of :func:`attention_mask`."""
    mask = attention_mask(pattern, frames, height, width)  # (n, n), True = may attend
    return mask[query_index(frames, height, width, query)].reshape(frames, height, width).numpy()


def draw_query(ax_grid, ax_matrix, pattern: str, frames: int, height: int, width: int,
               query: tuple[int, int, int]) -> None:
    """Draw one pattern's view for ``query`` on two axes: the frame boards and the ``(n, n)`` mask."""
    seen = visible_keys(pattern, frames, height, width, query)  # (t, h, w)
    frame, row, column = query
    gap = 1  # empty cells between boards
    board = np.ones((height, frames * (width + gap) - gap, 3))
    for k in range(frames):
        cells = board[:, k * (width + gap): k * (width + gap) + width]
        cells[:] = 0.93
        cells[seen[k]] = np.array([int(SEEN[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    ax_grid.imshow(board, interpolation="nearest")
    ax_grid.add_patch(Rectangle((frame * (width + gap) + column - 0.5, row - 0.5), 1, 1, fill=False,
                                edgecolor=QUERY, lw=2))
    ax_grid.set_xticks([k * (width + gap) + (width - 1) / 2 for k in range(frames)],
                       [str(k) for k in range(frames)], fontsize=7)
    ax_grid.set_yticks([])
    ax_grid.set_xlabel("frame", fontsize=8)
    n = frames * height * width
    ax_grid.set_title(f"{pattern}: the query (red) reads {int(seen.sum())} of {n} tokens", fontsize=9)

    mask = attention_mask(pattern, frames, height, width).numpy()
    ax_matrix.imshow(mask, cmap="Blues", vmin=0, vmax=1.4, interpolation="nearest")
    index = query_index(frames, height, width, query)
    ax_matrix.axhline(index, color=QUERY, lw=1)
    for k in range(1, frames):  # frame boundaries
        ax_matrix.axhline(k * height * width - 0.5, color="grey", lw=0.3)
        ax_matrix.axvline(k * height * width - 0.5, color="grey", lw=0.3)
    ax_matrix.set_xticks([])
    ax_matrix.set_yticks([])
    ax_matrix.set_xlabel("key token", fontsize=8)
    ax_matrix.set_ylabel("query token", fontsize=8)
    ax_matrix.set_title(f"(n, n) mask, density {mask.mean():.2f}", fontsize=9)


def pattern_gallery(frames: int = 4, height: int = 4, width: int = 4, query: tuple[int, int, int] | None = None,
                    patterns: tuple[str, ...] = PATTERNS) -> Figure:
    """Every pattern for the same query, one row each: frame boards left, mask matrix right.

    ``query`` defaults to the centre token of the last frame, where the patterns differ most.
    """
    frames = _check_int("frames", frames, 1, MAX_FRAMES)
    height = _check_int("height", height, 1, MAX_GRID)
    width = _check_int("width", width, 1, MAX_GRID)
    query = (frames - 1, height // 2, width // 2) if query is None else check_query(frames, height, width, query)
    unknown = [p for p in patterns if p not in PATTERNS]
    if not patterns or unknown:
        raise ValueError(f"patterns must be a non-empty tuple drawn from {PATTERNS}, got {patterns!r}")
    fig = plt.figure(figsize=(10, 2.1 * len(patterns)))
    grid = fig.add_gridspec(len(patterns), 2, width_ratios=[3, 1])
    for i, pattern in enumerate(patterns):
        draw_query(fig.add_subplot(grid[i, 0]), fig.add_subplot(grid[i, 1]), pattern, frames, height, width, query)
    fig.tight_layout()
    return fig


class AttentionMaskViewer(FallbackDisplay):
    """Pattern, frames, grid and query token -> the keys it reads, on the frames and in the mask.

    Args:
        pattern: one of ``PATTERNS``.
        frames: ``t``, 1 .. 16.
        height, width: tokens per frame, 1 .. 8 each.
        query: ``(frame, row, column)``; default the centre of the last frame.

    ``show()`` (or leaving the viewer as a cell's last expression) displays it.
    """

    def __init__(self, pattern: str = "sparse-causal", frames: int = 6, height: int = 4, width: int = 4,
                 query: tuple[int, int, int] | None = None):
        if pattern not in PATTERNS:
            raise ValueError(f"pattern must be one of {PATTERNS}, got {pattern!r}")
        frames = _check_int("frames", frames, 1, MAX_FRAMES)
        height = _check_int("height", height, 1, MAX_GRID)
        width = _check_int("width", width, 1, MAX_GRID)
        query = (frames - 1, height // 2, width // 2) if query is None else check_query(frames, height, width, query)
        self.pattern_menu = widgets.Dropdown(options=list(PATTERNS), value=pattern, description="pattern")
        self.frames_slider = widgets.IntSlider(value=frames, min=1, max=MAX_FRAMES, description="frames t")
        self.height_slider = widgets.IntSlider(value=height, min=1, max=MAX_GRID, description="grid h")
        self.width_slider = widgets.IntSlider(value=width, min=1, max=MAX_GRID, description="grid w")
        self.frame_slider = widgets.IntSlider(value=query[0], min=0, max=frames - 1, description="query frame")
        self.row_slider = widgets.IntSlider(value=query[1], min=0, max=height - 1, description="query row")
        self.column_slider = widgets.IntSlider(value=query[2], min=0, max=width - 1, description="query col")
        self.info = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.widget = widgets.VBox([
            widgets.HBox([self.pattern_menu, self.frames_slider]),
            widgets.HBox([self.height_slider, self.width_slider]),
            widgets.HBox([self.frame_slider, self.row_slider, self.column_slider]),
            self.info,
            self.image,
        ])
        for control in (self.frames_slider, self.height_slider, self.width_slider):
            control.observe(self._on_grid, names="value")
        for control in (self.pattern_menu, self.frame_slider, self.row_slider, self.column_slider):
            control.observe(self._on_change, names="value")
        self._redraw()

    @property
    def pattern(self) -> str:
        return self.pattern_menu.value

    @property
    def grid(self) -> tuple[int, int, int]:
        """``(t, h, w)`` chosen now."""
        return int(self.frames_slider.value), int(self.height_slider.value), int(self.width_slider.value)

    @property
    def query(self) -> tuple[int, int, int]:
        return int(self.frame_slider.value), int(self.row_slider.value), int(self.column_slider.value)

    def _on_grid(self, change) -> None:
        # Keep the query inside the grid when the grid shrinks.
        frames, height, width = self.grid
        for slider, top in ((self.frame_slider, frames), (self.row_slider, height), (self.column_slider, width)):
            with slider.hold_trait_notifications():
                slider.value = min(slider.value, top - 1)
                slider.max = top - 1
        self._redraw()

    def _on_change(self, change) -> None:
        self._redraw()

    def visible(self) -> np.ndarray:
        """The keys the chosen query reads: bool ``(t, h, w)``."""
        return visible_keys(self.pattern, *self.grid, self.query)

    def describe(self) -> str:
        frames, height, width = self.grid
        seen = self.visible()
        read = [k for k in range(frames) if seen[k].any()]
        return (f"{self.pattern}: query at frame {self.query[0]}, row {self.query[1]}, column {self.query[2]} reads "
                f"{int(seen.sum())} of {frames * height * width} tokens, in frames {read}")

    def figure(self) -> Figure:
        """The view now, as an off-screen figure (redrawn on every move, so nothing piles up)."""
        frames = self.grid[0]
        fig = Figure(figsize=(max(6.0, 0.9 * frames + 3.5), 3.0))
        grid = fig.add_gridspec(1, 2, width_ratios=[max(2.0, 0.9 * frames / 1.5), 1.3])
        draw_query(fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), self.pattern, *self.grid, self.query)
        fig.tight_layout()
        return fig

    def _redraw(self) -> None:
        self.image.value = figure_png(self.figure())
        self.info.value = html.escape(self.describe())

    def static_figure(self) -> Figure:
        """The static view: every pattern for the chosen query and grid (:func:`pattern_gallery`)."""
        return pattern_gallery(*self.grid, query=self.query)
