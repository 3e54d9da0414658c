"""The sampling-trajectory scrubber: watch a sampler turn noise into a clip, step by step.

Taught in chapter 07. A sampler run kept with ``return_trajectory=True`` holds, for every reverse
step, the current sample ``x_t`` and the clean clip the denoiser predicted from it, ``x0_hat``.
Scrubbing through the steps shows what the schedule and the network do together: the prediction
``x0_hat`` settles on a layout (where the object is, which colour) long before ``x_t`` stops
looking like noise, and the last steps only sharpen edges.

Like every view in :mod:`tinyvdm.viz.widgets`, the live widget is displayed in one output with a
PNG of the same content, so static viewers and nbval see a picture.
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from tinyvdm.diffusion.samplers.base import Trajectory
from tinyvdm.viz.figures import DPI
from tinyvdm.viz.frames import _check_upscale, grid_image
from tinyvdm.viz.widgets import FallbackDisplay, _fix_size, _png


def _check_trajectory(trajectory) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """``(steps + 1, b, t, c, h, w)`` samples, ``(steps, b, t, c, h, w)`` predictions, timesteps."""
    if not isinstance(trajectory, Trajectory):
        raise ValueError(
            "trajectory must be the Trajectory a sampler returns with return_trajectory=True, "
            f"got {type(trajectory).__name__}"
        )
    steps = len(trajectory.timesteps)
    if steps < 1 or len(trajectory.samples) != steps + 1 or len(trajectory.pred_original_samples) != steps:
        raise ValueError(
            "trajectory must hold n >= 1 timesteps, n + 1 samples (x_T first) and n predicted "
            f"clean samples, got {steps} timesteps, {len(trajectory.samples)} samples and "
            f"{len(trajectory.pred_original_samples)} predictions"
        )
    samples = torch.stack([s.detach().float().cpu() for s in trajectory.samples])
    predictions = torch.stack([p.detach().float().cpu() for p in trajectory.pred_original_samples])
    if samples.ndim != 6:
        raise ValueError(
            "trajectory samples must be video batches (b, t, c, h, w), got shape "
            f"{tuple(samples.shape[1:])}"
        )
    return samples, predictions, [int(t) for t in trajectory.timesteps]


class TrajectoryScrubber(FallbackDisplay):
    """Slide through the steps of a sampling run: ``x_t`` above, the predicted clean clip below.

    Args:
        trajectory: a :class:`~tinyvdm.diffusion.samplers.base.Trajectory` of video batches
            ``(b, t, c, h, w)`` (keep ``b`` small: every step of every clip is held in memory).
        scale: integer nearest-neighbour upscaling of the frames.
        max_clips: show at most this many clips of the batch (the first ones).

    Step ``k`` of the slider shows the sample *entering* reverse step ``k`` (``x_t`` at
    ``t = timesteps[k]``; ``k = 0`` is pure noise) and the clean clip the denoiser predicted from
    it. The last position, ``k = steps``, shows the final sample.
    """

    def __init__(self, trajectory: Trajectory, *, scale: int = 3, max_clips: int = 4):
        self.scale = _check_upscale(scale)
        if not isinstance(max_clips, int) or isinstance(max_clips, bool) or max_clips < 1:
            raise ValueError(f"max_clips must be a positive int, got {max_clips!r}")
        samples, predictions, self.timesteps = _check_trajectory(trajectory)
        self.samples = samples[:, :max_clips]  # (steps + 1, b, t, c, h, w)
        self.predictions = predictions[:, :max_clips]  # (steps, b, t, c, h, w)
        self.steps = len(self.timesteps)
        self._cache: dict[int, bytes] = {}

        self.step_slider = widgets.IntSlider(value=0, min=0, max=self.steps, description="step")
        self.play = widgets.Play(value=0, min=0, max=self.steps, interval=120)
        widgets.jslink((self.play, "value"), (self.step_slider, "value"))
        self.label = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.widget = widgets.VBox([widgets.HBox([self.play, self.step_slider, self.label]), self.image])
        self.step_slider.observe(lambda change: self._redraw(), names="value")
        self._redraw()

    def describe(self, step: int) -> str:
        """What position ``step`` of the slider shows, in words."""
        if not 0 <= step <= self.steps:
            raise ValueError(f"step must be in 0..{self.steps}, got {step}")
        if step == self.steps:
            return f"final sample after {self.steps} steps"
        return f"step {step + 1}/{self.steps}: x_t at t = {self.timesteps[step]}"

    def image_at(self, step: int) -> np.ndarray:
        """The picture for slider position ``step``: rows ``x_t`` / ``x0_hat`` per clip, columns frames.

        Returns ``(H, W, 3)`` uint8. At the last position both rows show the final sample.
        """
        if not 0 <= step <= self.steps:
            raise ValueError(f"step must be in 0..{self.steps}, got {step}")
        current = self.samples[step]  # (b, t, c, h, w)
        predicted = self.predictions[step] if step < self.steps else self.samples[-1]
        # Interleave: clip i's x_t on row 2i, its prediction on row 2i + 1.
        rows = torch.stack([current, predicted], dim=1).flatten(0, 1)  # (2b, t, c, h, w)
        image = grid_image(rows, pad=1)
        return image.repeat(self.scale, axis=0).repeat(self.scale, axis=1)

    def _redraw(self) -> None:
        step = self.step_slider.value
        if step not in self._cache:  # each position is encoded once, however often it plays
            picture = self.image_at(step)
            self._cache[step] = _png(picture)
            _fix_size(self.image, picture)  # every position has the same size
        self.image.value = self._cache[step]
        self.label.value = f"<code>{self.describe(step)}</code> &nbsp; rows: x_t, predicted x0 (per clip)"

    def static_figure(self, num_steps: int = 5) -> Figure:
        """``num_steps`` evenly spaced positions, first clip only: ``x_t`` and ``x0_hat`` per row."""
        if not isinstance(num_steps, int) or num_steps < 2:
            raise ValueError(f"num_steps must be an int >= 2, got {num_steps!r}")
        positions = np.unique(np.linspace(0, self.steps, num_steps).round().astype(int))
        fig, axes = plt.subplots(len(positions), 1, figsize=(6, 1.5 * len(positions)), dpi=DPI, squeeze=False)
        for ax, step in zip(axes[:, 0], positions):
            current = self.samples[step, :1]
            predicted = self.predictions[step, :1] if step < self.steps else self.samples[-1, :1]
            ax.imshow(grid_image(torch.cat([current, predicted]), pad=1), interpolation="nearest")
            ax.set_axis_off()
            ax.set_title(f"{self.describe(int(step))}  (top: x_t, bottom: predicted x0)", fontsize=8, loc="left")
        fig.tight_layout()
        return fig

