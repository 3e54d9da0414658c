"""The attention-map viewer: where does a trained ViT's class token look, layer by layer, head by head?

Taught in chapter 09 (ViT). Hand it a :class:`~tinyvdm.models.vit.ViT` and a few clips; pick a
clip, an attention layer, a head (or the mean over heads) and whose class token to follow (one
frame's, or the mean over all frames' class tokens, which is what the classifier's head reads).
The viewer paints the weights that class token gives every patch over the frames themselves:
bright where it reads, dark where it does not, one patch-sized square per token.

The weights are the model's own (:meth:`ViT.class_token_attention`, from the teaching path of
attention): each class token's row sums to 1 over the class tokens and patches it may read, so
the viewer also prints how that 1 splits between frames and how much of it the class tokens keep
among themselves. Like every widget of the course it is displayed with a PNG of the same content
for static viewers: every layer of the chosen clip, one row each.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure

from tinyvdm.models.vit import ViT
from tinyvdm.viz.frames import _check_upscale, to_uint8
from tinyvdm.viz.widgets import FallbackDisplay, _fix_size, _png, _upscale

MAX_CLIPS = 16
MEAN = "mean"  # the head and query choice that averages
HEAT = colormaps["inferno"]
HEAT_ALPHA = 0.7  # how much of a fully read patch is heat colour rather than the frame
UNIFORM_FLOOR = 4.0  # the colour scale tops out at no less than this many times the mean weight


def _check_choice(name: str, value, count: int):
    """``value`` is ``"mean"`` or an int in ``0 .. count - 1``."""
    if value == MEAN:
        return MEAN
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < count:
        raise ValueError(f"{name} must be {MEAN!r} or an int in [0, {count - 1}], got {value!r}")
    return int(value)


def select_attention(rows: torch.Tensor, head="mean", query="mean") -> tuple[np.ndarray, np.ndarray]:
    """One class token's view of one layer: patch weights ``(t, h, w)`` and class-token weights ``(t,)``.

    Args:
        rows: one clip's class-token rows of one layer, ``(heads, t, t, 1 + h w)`` (an entry of
            :meth:`ViT.class_token_attention`, clip and layer chosen), with ``h == w``.
        head: a head index or ``"mean"`` (average over heads).
        query: whose class token: a frame index or ``"mean"`` (average over frames' class tokens).

    Returns:
        ``patches`` ``(t, h, w)`` and ``class_tokens`` ``(t,)``, float64, together summing to 1:
        the weight given to each key frame's patches and to its class token.
    """
    if not isinstance(rows, torch.Tensor) or rows.ndim != 4 or rows.shape[1] != rows.shape[2]:
        got = tuple(rows.shape) if isinstance(rows, torch.Tensor) else type(rows).__name__
        raise ValueError(f"rows must have shape (heads, t, t, 1 + h w), got {got}")
    heads, frames, _, keys = rows.shape
    side = int(round((keys - 1) ** 0.5))
    if side < 1 or side * side != keys - 1:
        raise ValueError(f"rows' last axis must be 1 + h w with h == w (a square token grid), got {keys}")
    head = _check_choice("head", head, heads)
    query = _check_choice("query", query, frames)
    weights = rows.detach().double().cpu()
    weights = weights.mean(dim=0) if head == MEAN else weights[head]  # (t_q, t_k, 1 + h w)
    weights = weights.mean(dim=0) if query == MEAN else weights[query]  # (t_k, 1 + h w)
    return weights[:, 1:].reshape(frames, side, side).numpy(), weights[:, 0].numpy()


def overlay_attention(frames: np.ndarray, patches: np.ndarray, scale: int = 4, vmax: float | None = None) -> np.ndarray:
    """Paint patch weights over frames: ``(t, H, W, 3)`` uint8 and ``(t', h, w)`` -> ``(t, H s, W s, 3)`` uint8.

    Every patch's ``H / h`` by ``W / w`` pixels (and, for tubelets, its ``t / t'`` frames) are
    mixed with the heat colour of its weight, in proportion to ``weight / vmax``: an unread patch
    keeps the frame, darkened, and the most-read one is almost all heat colour. ``vmax`` defaults
    to the largest weight shown, but to no less than four times the mean weight, so that reading
    spread evenly over every patch shows as a dim wash rather than as a bright one.
    """
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        got = f"{frames.dtype} {frames.shape}" if isinstance(frames, np.ndarray) else type(frames).__name__
        raise ValueError(f"frames must be uint8 of shape (t, H, W, 3), got {got}")
    t, height, width, _ = frames.shape
    patches = np.asarray(patches, dtype=np.float64)
    if (patches.ndim != 3 or t % patches.shape[0] or height % patches.shape[1] or width % patches.shape[2]):
        raise ValueError(f"patches must have shape (t', h, w) dividing the frames' (t, H, W) = ({t}, {height}, "
                         f"{width}), got {patches.shape}")
    scale = _check_upscale(scale)
    top = max(patches.max(), UNIFORM_FLOOR * patches.mean()) if vmax is None else float(vmax)
    level = np.clip(patches / top, 0.0, 1.0) if top > 0 else np.zeros_like(patches)
    level = level.repeat(t // patches.shape[0], axis=0)
    level = level.repeat(height // patches.shape[1], axis=1).repeat(width // patches.shape[2], axis=2)  # (t, H, W)
    heat = HEAT(level)[..., :3] * 255.0
    alpha = (HEAT_ALPHA * level)[..., None]
    mixed = (1 - alpha) * (0.45 * frames) + alpha * heat
    return np.stack([_upscale(frame, scale) for frame in mixed.round().astype(np.uint8)])


def _strip(images: np.ndarray, gap: int = 2) -> np.ndarray:
    """Frames ``(t, H, W, 3)`` side by side with white gaps: ``(H, t (W + gap) - gap, 3)``."""
    t, height, width, _ = images.shape
    strip = np.full((height, t * (width + gap) - gap, 3), 255, dtype=np.uint8)
    for k in range(t):
        strip[:, k * (width + gap): k * (width + gap) + width] = images[k]
    return strip


class AttentionMapViewer(FallbackDisplay):
    """Clip, layer, head and query frame -> the class token's attention painted over the clip.

    Args:
        model: a trained :class:`~tinyvdm.models.vit.ViT` (kept in eval mode).
        videos: ``(b, t, c, h, w)`` in ``[-1, 1]``, ``1 <= b <= 16``: the clips to browse.
        titles: ``b`` strings, one per clip (e.g. its label and the model's guess).
        clip, layer: first choices, ints.
        head, query: first choices, an int or ``"mean"``.
        scale: integer upscaling of the frames on screen.

    ``show()`` (or leaving the viewer as a cell's last expression) displays it.
    """

    def __init__(self, model: ViT, videos: torch.Tensor, titles: list[str] | None = None, *, clip: int = 0,
                 layer: int = 0, head="mean", query="mean", scale: int = 4):
        if not isinstance(model, ViT):
            raise ValueError(f"model must be a tinyvdm ViT, got {type(model).__name__}")
        c = model.config.in_channels
        if (not isinstance(videos, torch.Tensor) or videos.ndim != 5 or videos.shape[2] != c
                or not 1 <= videos.shape[0] <= MAX_CLIPS):
            got = tuple(videos.shape) if isinstance(videos, torch.Tensor) else type(videos).__name__
            raise ValueError(f"videos must have shape (b, t, {c}, h, w) with 1 <= b <= {MAX_CLIPS}, got {got}")
        b = videos.shape[0]
        titles = [f"clip {i}" for i in range(b)] if titles is None else list(titles)
        if len(titles) != b or not all(isinstance(title, str) for title in titles):
            raise ValueError(f"titles must be {b} strings, one per clip, got {len(titles)} entries")
        self.scale = _check_upscale(scale)
        self.titles = titles
        model.eval()
        device = next(model.parameters()).device
        videos = videos.detach().float()
        self.rows = model.class_token_attention(videos.to(device)).cpu()  # (layers, b, heads, t', t', 1 + h' w')
        self.layer_names = model.layer_names()
        self.frames = to_uint8(videos)  # (b, t, h, w, 3)
        layers, _, heads, frames = self.rows.shape[:4]
        if isinstance(clip, bool) or not isinstance(clip, (int, np.integer)) or not 0 <= clip < b:
            raise ValueError(f"clip must be an int in [0, {b - 1}], got {clip!r}")
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < layers:
            raise ValueError(f"layer must be an int in [0, {layers - 1}], got {layer!r}")
        head = _check_choice("head", head, heads)
        query = _check_choice("query", query, frames)

        self.clip_menu = widgets.Dropdown(options=[(title, i) for i, title in enumerate(titles)], value=int(clip),
                                          description="clip")
        self.layer_slider = widgets.IntSlider(value=int(layer), min=0, max=layers - 1, description="layer")
        self.head_menu = widgets.Dropdown(options=[MEAN] + list(range(heads)), value=head, description="head")
        self.query_menu = widgets.Dropdown(options=[MEAN] + list(range(frames)), value=query,
                                           description="class token")
        self.info = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.widget = widgets.VBox([
            widgets.HBox([self.clip_menu, self.layer_slider]),
            widgets.HBox([self.head_menu, self.query_menu]),
            self.info,
            self.image,
        ])
        for control in (self.clip_menu, self.layer_slider, self.head_menu, self.query_menu):
            control.observe(self._on_change, names="value")
        self._redraw()

    # State ---------------------------------------------------------------------------------------

    @property
    def clip(self) -> int:
        return int(self.clip_menu.value)

    @property
    def layer(self) -> int:
        return int(self.layer_slider.value)

    @property
    def head(self):
        return self.head_menu.value

    @property
    def query(self):
        return self.query_menu.value

    def weights(self, clip: int | None = None, layer: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(patches (t', h', w'), class_tokens (t',))`` for the chosen (or given) clip and layer."""
        clip = self.clip if clip is None else clip
        layer = self.layer if layer is None else layer
        return select_attention(self.rows[layer, clip], self.head, self.query)

    def describe(self) -> str:
        patches, class_tokens = self.weights()
        per_frame = patches.sum(axis=(1, 2))
        who = "the mean of all frames' class tokens" if self.query == MEAN else f"frame {self.query}'s class token"
        head = "mean over heads" if self.head == MEAN else f"head {self.head}"
        shares = " ".join(f"{100 * share:.0f}" for share in per_frame)
        return (f"{self.titles[self.clip]} | layer {self.layer} ({self.layer_names[self.layer]}), {head}: "
                f"{who} puts {100 * per_frame.sum():.0f}% on patches ({shares} % by frame) and "
                f"{100 * class_tokens.sum():.0f}% on class tokens; most-read frame {int(per_frame.argmax())}")

    def image_array(self) -> np.ndarray:
        """The picture shown now: the chosen clip's frames with the attention painted on, uint8."""
        patches, _ = self.weights()
        return _strip(overlay_attention(self.frames[self.clip], patches, self.scale))

    def _on_change(self, change) -> None:
        self._redraw()

    def _redraw(self) -> None:
        image = self.image_array()
        _fix_size(self.image, image)
        self.image.value = _png(image)
        self.info.value = html.escape(self.describe())

    def static_figure(self) -> Figure:
        """The static view: every layer of the chosen clip, one row each, head and query as chosen.

        Each row is scaled to its own largest weight; the row label gives the share of the
        class token's attention that lands on patches.
        """
        layers = self.rows.shape[0]
        strips = []
        for layer in range(layers):
            patches, _ = self.weights(layer=layer)
            strips.append((layer, patches.sum(), _strip(overlay_attention(self.frames[self.clip], patches, 2))))
        width = strips[0][2].shape[1] / 100 + 2.2
        fig, axes = plt.subplots(layers, 1, figsize=(width, 0.9 * layers * strips[0][2].shape[0] / 64 + 0.6),
                                 squeeze=False)
        for ax, (layer, on_patches, strip) in zip(axes[:, 0], strips):
            ax.imshow(strip, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_ylabel(f"{self.layer_names[layer]}\n{100 * on_patches:.0f}% on patches", fontsize=7,
                          rotation=0, ha="right", va="center")
        who = "mean of the class tokens" if self.query == MEAN else f"class token of frame {self.query}"
        head = "mean over heads" if self.head == MEAN else f"head {self.head}"
        axes[0, 0].set_title(f"{self.titles[self.clip]}: {who}, {head}", fontsize=8)
        fig.tight_layout()
        return fig
