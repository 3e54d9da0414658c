"""The latent traversal: move single numbers of a VAE's latent and watch the decoded clip change.

Taught in chapter 02 (VAE). A video VAE encodes a clip into a posterior ``q(z | x)`` over a grid
of latent numbers ``(t', z, h', w')``; the decoder turns any such grid back into a clip. The
traversal starts from the posterior mean of one clip (which decodes to its reconstruction) and
gives a slider to each of a few chosen latent *units* (one entry ``(frame, channel, row, col)``
of the grid). A slider adds an offset, in units of the prior's standard deviation, to its unit
alone; the clip is decoded again on every move.

Which units? By default those this clip spends most information on: the largest per-unit
``KL(q(z_u | x) || N(0, 1))``, the units whose posterior the encoder moved furthest from the
prior. A unit the clip does not use (KL near 0) usually changes little when moved.

The view shows three rows: the clip, the decoded clip with the offsets applied, and how much
each pixel changed against the plain reconstruction (grey levels: black for no change, white
for a change of ``FULL_CHANGE`` = 0.5, a quarter of the data range, or more in any channel).
Like every widget of the course it is displayed with a PNG of the same content for viewers
without a kernel: a grid of the decoded frame of each unit as its offset is swept.

The units a clip uses most often sit far out in the prior's tail (posterior means of several
prior standard deviations), so a slider range of a few standard deviations can move them only a
little: pass a larger ``value_range`` to see what they do.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from tinyvdm.viz.frames import _check_upscale, grid_image
from tinyvdm.viz.widgets import FallbackDisplay, _fix_size, _png, _upscale

SWEEP_STEPS = 5  # offsets in the static figure: evenly spaced over [-value_range, value_range]
FULL_CHANGE = 0.5  # a pixel change (in [-1, 1] units) drawn white in the change row


def _check_model(model) -> None:
    for method in ("encode", "decode", "parameters"):
        if not callable(getattr(model, method, None)):
            raise ValueError(f"model must be a VAE with encode(x) -> posterior and decode(z) -> x "
                             f"(a tinyvdm.models.vae.VideoVAE), got {type(model).__name__} without {method}()")


def _as_clip(video) -> torch.Tensor:
    """One clip ``(t, c, h, w)`` or ``(1, t, c, h, w)`` -> float32 ``(1, t, c, h, w)`` on the CPU."""
    if isinstance(video, np.ndarray):
        video = torch.from_numpy(np.asarray(video, dtype=np.float32))
    if not isinstance(video, torch.Tensor):
        raise ValueError(f"video must be a torch.Tensor or numpy.ndarray of shape (t, c, h, w) or "
                         f"(1, t, c, h, w), got {type(video).__name__}")
    shape = tuple(video.shape)
    video = video.detach().to("cpu", torch.float32)
    if video.ndim == 4:
        video = video[None]  # (t, c, h, w) -> (1, t, c, h, w)
    if video.ndim != 5 or video.shape[0] != 1 or 0 in video.shape:
        raise ValueError(f"video must be one clip of shape (t, c, h, w) or (1, t, c, h, w), got {shape}")
    return video


def _check_offset(value, limit: float, name: str = "offset") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if abs(value) > limit:
        raise ValueError(f"{name} must be in [-{limit}, {limit}] (value_range), got {value}")
    return float(value)


class LatentTraversal(FallbackDisplay):
    """Sliders over the most informative latent units of a VAE, the clip decoded live.

    Args:
        model: a VAE with ``encode(x) -> DiagonalGaussian`` and ``decode(z)`` (a ``VideoVAE``).
        video: one clip ``(t, c, h, w)`` or ``(1, t, c, h, w)`` in ``[-1, 1]``.
        units: the latent units to give sliders, each a flat index into the latent grid
            ``(t', z, h', w')`` or a tuple ``(frame, channel, row, col)``. Default: the
            ``num_sliders`` units with the largest KL for this clip.
        num_sliders: how many units to pick when ``units`` is None.
        value_range: each slider spans ``[-value_range, value_range]`` prior standard deviations.
        scale: integer nearest-neighbour upscaling of the frames.

    ``offsets`` (one per unit) are what the sliders hold; :meth:`latent` is the posterior mean
    with the offsets added; :meth:`decoded` decodes it. ``show()`` displays the widget.
    """

    def __init__(self, model, video, *, units: Sequence | None = None, num_sliders: int = 6,
                 value_range: float = 3.0, scale: int = 4):
        _check_model(model)
        self.model = model
        self.video = _as_clip(video)  # (1, t, c, h, w)
        self.scale = _check_upscale(scale)
        if isinstance(value_range, bool) or not isinstance(value_range, (int, float)) \
                or not np.isfinite(value_range) or value_range <= 0:
            raise ValueError(f"value_range must be a positive number, got {value_range!r}")
        self.value_range = float(value_range)
        self._device = next(model.parameters()).device
        with torch.no_grad():
            posterior = model.encode(self.video.to(self._device))
        self.mean = posterior.mean.detach().float().cpu()  # (1, t', z, h', w')
        self.grid_shape = tuple(self.mean.shape[1:])  # (t', z, h', w')
        # Per-unit KL to N(0, 1), in nats: which numbers this clip's code really uses.
        var = posterior.var.detach().float().cpu()
        logvar = posterior.logvar.detach().float().cpu()
        self.unit_kl = (0.5 * (self.mean.pow(2) + var - 1.0 - logvar))[0]  # (t', z, h', w')
        self.units = self._choose_units(units, num_sliders)  # flat indices
        self.reconstruction = self._decode(self.mean)  # (1, t, c, h, w): all offsets 0

        step = self.value_range / 20
        self.sliders = [
            widgets.FloatSlider(value=0.0, min=-self.value_range, max=self.value_range, step=step,
                                description=self.label(unit), continuous_update=False,
                                style={"description_width": "initial"},
                                layout=widgets.Layout(width="360px"))
            for unit in self.units
        ]
        self.reset_button = widgets.Button(description="reset", tooltip="set every offset back to 0")
        self.info = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox(self.sliders[0::2]), widgets.VBox(self.sliders[1::2])]),
            self.reset_button,
            self.info,
            self.image,
        ])
        self._quiet = False
        for slider in self.sliders:
            slider.observe(self._on_change, names="value")
        self.reset_button.on_click(lambda button: self.reset())
        self._redraw()

    # Units ---------------------------------------------------------------------------------------

    def _choose_units(self, units, num_sliders) -> list[int]:
        total = int(np.prod(self.grid_shape))
        if units is None:
            if isinstance(num_sliders, bool) or not isinstance(num_sliders, (int, np.integer)) \
                    or not 1 <= num_sliders <= total:
                raise ValueError(f"num_sliders must be an int in [1, {total}] (the latent has {total} units), "
                                 f"got {num_sliders!r}")
            return torch.argsort(self.unit_kl.flatten(), descending=True, stable=True)[:int(num_sliders)].tolist()
        if isinstance(units, (str, bytes)) or not isinstance(units, Sequence) or len(units) == 0:
            raise ValueError(f"units must be a non-empty list of flat indices or (frame, channel, row, col) "
                             f"tuples, got {units!r}")
        flat = []
        for unit in units:
            if isinstance(unit, (tuple, list)):
                if len(unit) != 4 or any(isinstance(i, bool) or not isinstance(i, (int, np.integer)) for i in unit) \
                        or not all(0 <= i < n for i, n in zip(unit, self.grid_shape)):
                    raise ValueError(f"a unit tuple must be (frame, channel, row, col) within the latent grid "
                                     f"{self.grid_shape}, got {tuple(unit)}")
                flat.append(int(np.ravel_multi_index(tuple(int(i) for i in unit), self.grid_shape)))
            elif isinstance(unit, (int, np.integer)) and not isinstance(unit, bool) and 0 <= unit < total:
                flat.append(int(unit))
            else:
                raise ValueError(f"a unit must be a flat index in [0, {total - 1}] or a (frame, channel, row, col) "
                                 f"tuple, got {unit!r}")
        if len(set(flat)) != len(flat):
            raise ValueError(f"units must be distinct, got {list(units)!r}")
        return flat

    def position(self, unit: int) -> tuple[int, int, int, int]:
        """``(frame, channel, row, col)`` of a flat unit index in the latent grid ``(t', z, h', w')``."""
        return tuple(int(i) for i in np.unravel_index(unit, self.grid_shape))

    def label(self, unit: int) -> str:
        """``t<frame> z<channel> (<row>,<col>)``: where a flat unit index sits in the latent grid."""
        frame, channel, row, col = self.position(unit)
        return f"t{frame} z{channel} ({row},{col})"

    # State ---------------------------------------------------------------------------------------

    @property
    def offsets(self) -> list[float]:
        """The slider values, one per unit, in prior standard deviations."""
        return [float(slider.value) for slider in self.sliders]

    def latent(self, offsets: Sequence[float] | None = None) -> torch.Tensor:
        """The posterior mean with ``offsets`` (default: the sliders') added to the units: ``(1, t', z, h', w')``."""
        offsets = self.offsets if offsets is None else offsets
        if isinstance(offsets, (str, bytes)) or not isinstance(offsets, Sequence) or len(offsets) != len(self.units):
            raise ValueError(f"offsets must be a list of {len(self.units)} numbers (one per unit), got {offsets!r}")
        z = self.mean.clone().flatten()
        for unit, offset in zip(self.units, offsets):
            z[unit] += _check_offset(offset, self.value_range)
        return z.view_as(self.mean)

    @torch.no_grad()
    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        was_training = getattr(self.model, "training", False)
        if hasattr(self.model, "eval"):
            self.model.eval()
        try:
            return self.model.decode(z.to(self._device)).float().cpu()
        finally:
            if was_training:
                self.model.train()

    def decoded(self, offsets: Sequence[float] | None = None) -> torch.Tensor:
        """The clip decoded from :meth:`latent`: ``(1, t, c, h, w)``."""
        return self._decode(self.latent(offsets))

    def reset(self) -> None:
        """Every offset back to 0: the view shows the plain reconstruction."""
        self._quiet = True  # one redraw at the end, not one per slider
        try:
            for slider in self.sliders:
                slider.value = 0.0
        finally:
            self._quiet = False
        self._redraw()

    def _on_change(self, change) -> None:
        if not self._quiet:
            self._redraw()

    # Views ---------------------------------------------------------------------------------------

    def rows(self, decoded: torch.Tensor | None = None) -> torch.Tensor:
        """The three rows shown: clip, decoded clip, change against the reconstruction ``(3, t, c, h, w)``."""
        decoded = self.decoded() if decoded is None else decoded
        # Grey: the largest change over the colour channels, black for none, white from FULL_CHANGE up.
        change = (decoded - self.reconstruction).abs().amax(dim=2, keepdim=True)  # (1, t, 1, h, w)
        change = (change / FULL_CHANGE).clamp(max=1.0) * 2 - 1
        return torch.cat([self.video, decoded, change.expand_as(decoded)])

    def frame_image(self, decoded: torch.Tensor | None = None) -> np.ndarray:
        """The picture the traversal shows now, uint8 ``(H, W, 3)``."""
        return _upscale(grid_image(self.rows(decoded)), self.scale)

    def describe(self, decoded: torch.Tensor | None = None) -> str:
        """The moved units, their KL for this clip and the largest pixel change, in one line."""
        decoded = self.decoded() if decoded is None else decoded
        moved = [(unit, offset) for unit, offset in zip(self.units, self.offsets) if offset != 0]
        change = float((decoded - self.reconstruction).abs().max())
        if not moved:
            return (f"rows: clip, decoded, change. All offsets 0 (the reconstruction). Units with the largest "
                    f"KL for this clip: {self.unit_kl.flatten()[self.units[0]]:.2f} nats down to "
                    f"{self.unit_kl.flatten()[self.units[-1]]:.2f}.")
        parts = [f"{self.label(unit)} {offset:+.2f} (KL {self.unit_kl.flatten()[unit]:.2f} nats)"
                 for unit, offset in moved]
        return f"rows: clip, decoded, change. Moved: {'; '.join(parts)}. Largest pixel change {change:.2f}."

    def _redraw(self) -> None:
        decoded = self.decoded()  # once per move, shared by the picture and the line of numbers
        image = self.frame_image(decoded)
        _fix_size(self.image, image)
        self.image.value = _png(image)
        self.info.value = html.escape(self.describe(decoded))

    def sweep_figure(self, values: Sequence[float] | None = None) -> Figure:
        """Each unit (a row) moved alone through ``values`` (columns): the decoded frame it sits in.

        With temporal downsampling, latent frame ``t'`` covers several clip frames; the first is
        shown. ``values`` default: ``SWEEP_STEPS`` offsets from ``-value_range`` to ``value_range``.
        The static view of the widget.
        """
        if values is None:
            values = np.linspace(-self.value_range, self.value_range, SWEEP_STEPS).tolist()
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"values must be a non-empty list of offsets, got {values!r}")
        values = [_check_offset(v, self.value_range, "each value") for v in values]
        frames_per_latent = self.video.shape[1] // self.grid_shape[0]
        tiles = []
        for index, unit in enumerate(self.units):
            frame = self.position(unit)[0] * frames_per_latent
            row = []
            for value in values:
                offsets = [0.0] * len(self.units)
                offsets[index] = value
                row.append(self.decoded(offsets)[0, frame])  # (c, h, w)
            tiles.append(torch.stack(row))
        mosaic = grid_image(torch.stack(tiles))  # rows: units, columns: offsets
        h, w = self.video.shape[-2:]
        fig, ax = plt.subplots(figsize=(1.0 * len(values) + 1.6, 0.9 * len(self.units) + 0.8))
        ax.imshow(mosaic, interpolation="nearest")
        ax.set_xticks([j * (w + 1) + (w - 1) / 2 for j in range(len(values))], [f"{v:+.1f}" for v in values],
                      fontsize=7)
        ax.set_yticks([i * (h + 1) + (h - 1) / 2 for i in range(len(self.units))],
                      [f"{self.label(u)}\nKL {self.unit_kl.flatten()[u]:.2f}" for u in self.units], fontsize=7)
        ax.tick_params(length=0)
        ax.set_xlabel("offset added to the unit (prior standard deviations)", fontsize=8)
        ax.set_title("one latent unit moved at a time: the frame it sits in", fontsize=8)
        fig.tight_layout()
        return fig

    def static_figure(self) -> Figure:
        """The widget's fallback picture: :meth:`sweep_figure` with the default sweep."""
        return self.sweep_figure()
