"""The noise-schedule explorer: watch a real clip drown in noise, step by step, under each schedule.

Taught in chapter 06 (diffusion: forward and reverse). Pick a schedule (linear, cosine, sigmoid),
the number of training steps ``T`` and a diffusion step; the explorer shows the clip noised to
that step with eq. 4 of DDPM, ``xt = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) eps``, beside the
curves of ``alpha_bar`` and of the signal-to-noise ratio ``snr = alpha_bar / (1 - alpha_bar)``
(log scale) with a marker at the chosen step.

The noise ``eps`` is drawn once, from ``seed``: moving the slider changes how much of it is
mixed in, never which noise it is, so what changes on screen is the noise level alone.

Like every widget of the course it is displayed with a PNG of the same view, so a static viewer
(GitHub, nbviewer, nbval) sees a picture instead of an empty box.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from tinyvdm.diffusion.forward import q_sample
from tinyvdm.diffusion.schedules import SCHEDULE_NAMES, NoiseSchedule
from tinyvdm.viz.frames import _check_upscale, grid_image
from tinyvdm.viz.widgets import FallbackDisplay, _fix_size, _png, _upscale, figure_png

# Step counts offered by default. The linear schedule is defined for T >= 21 only (its betas are
# rescaled by 1000 / T and must stay below 1), so no choice goes below that.
STEP_CHOICES = (25, 50, 100, 250, 1000)
MIN_STEPS = 21
CURVE_SIZE = (6.4, 2.4)  # inches: the two curves side by side


def _as_video_batch(video) -> torch.Tensor:
    """``(t, c, h, w)`` or ``(b, t, c, h, w)``, c in {1, 3} -> float32 ``(b, t, c, h, w)`` on the CPU."""
    if isinstance(video, np.ndarray):
        video = torch.from_numpy(np.asarray(video, dtype=np.float32))
    if not isinstance(video, torch.Tensor):
        raise ValueError(f"video must be a torch.Tensor or numpy.ndarray of shape (t, c, h, w) or "
                         f"(b, t, c, h, w), got {type(video).__name__}")
    shape = tuple(video.shape)
    video = video.detach().to("cpu", torch.float32)
    if video.ndim == 4:
        video = video[None]  # (t, c, h, w) -> (1, t, c, h, w)
    if video.ndim != 5 or video.shape[2] not in (1, 3) or 0 in video.shape:
        raise ValueError(f"video must have shape (t, c, h, w) or (b, t, c, h, w) with c in {{1, 3}}, "
                         f"got {shape}")
    return video


def _check_choices(step_choices) -> tuple[int, ...]:
    choices = tuple(step_choices) if isinstance(step_choices, (list, tuple)) else None
    if not choices or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < MIN_STEPS
                          for n in choices):
        raise ValueError(f"step_choices must be a non-empty list of ints >= {MIN_STEPS} (the linear "
                         f"schedule needs T >= {MIN_STEPS}), got {step_choices!r}")
    return tuple(sorted({int(n) for n in choices}))


class NoiseScheduleExplorer(FallbackDisplay):
    """Schedule, ``T`` and diffusion step -> the noised clip, and the ``alpha_bar`` and SNR curves.

    Args:
        video: ``(t, c, h, w)`` or ``(b, t, c, h, w)`` in ``[-1, 1]`` (several clips show as rows).
        schedule: the schedule shown first, one of ``SCHEDULE_NAMES``.
        num_steps: ``T`` shown first, one of ``step_choices``.
        timestep: the step shown first, in ``0 .. T - 1`` (default: the middle of the chain).
        step_choices: the values of ``T`` on offer, each ``>= 21``.
        seed: seeds the one draw of ``eps``.
        scale: integer nearest-neighbour upscaling of the frames.

    ``show()`` (or leaving the explorer as a cell's last expression) displays it.
    """

    def __init__(self, video, *, schedule: str = "cosine", num_steps: int = 1000, timestep: int | None = None,
                 step_choices=STEP_CHOICES, seed: int = 0, scale: int = 4):
        self.video = _as_video_batch(video)  # (b, t, c, h, w)
        self.step_choices = _check_choices(step_choices)
        if schedule not in SCHEDULE_NAMES:
            raise ValueError(f"schedule must be one of {SCHEDULE_NAMES}, got {schedule!r}")
        if isinstance(num_steps, bool) or num_steps not in self.step_choices:
            raise ValueError(f"num_steps must be one of step_choices {self.step_choices}, got {num_steps!r}")
        if timestep is None:
            timestep = num_steps // 2
        if isinstance(timestep, bool) or not isinstance(timestep, (int, np.integer)) or not 0 <= timestep < num_steps:
            raise ValueError(f"timestep must be an int in [0, {num_steps - 1}], got {timestep!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}")
        self.scale = _check_upscale(scale)
        self.eps = torch.randn(self.video.shape, generator=torch.Generator().manual_seed(int(seed)))
        self._schedules: dict[tuple[str, int], NoiseSchedule] = {}

        self.schedule_menu = widgets.Dropdown(options=list(SCHEDULE_NAMES), value=schedule, description="schedule")
        self.steps_menu = widgets.Dropdown(options=list(self.step_choices), value=int(num_steps), description="T")
        self.timestep_slider = widgets.IntSlider(value=int(timestep), min=0, max=int(num_steps) - 1,
                                                 description="timestep")
        self.play = widgets.Play(value=int(timestep), min=0, max=int(num_steps) - 1, step=max(1, num_steps // 50),
                                 interval=100)
        # Linked in the browser, so playback runs without a kernel round trip per step.
        widgets.jslink((self.play, "value"), (self.timestep_slider, "value"))
        self.info = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.curves = widgets.Image(format="png")
        self.widget = widgets.VBox([
            widgets.HBox([self.schedule_menu, self.steps_menu]),
            widgets.HBox([self.play, self.timestep_slider]),
            self.info,
            self.image,
            self.curves,
        ])
        self.schedule_menu.observe(self._on_change, names="value")
        self.steps_menu.observe(self._on_steps, names="value")
        self.timestep_slider.observe(self._on_change, names="value")
        self._redraw()

    # State ---------------------------------------------------------------------------------------

    @property
    def schedule(self) -> NoiseSchedule:
        """The schedule chosen now (built once per (name, T) and kept)."""
        key = (self.schedule_menu.value, int(self.steps_menu.value))
        if key not in self._schedules:
            self._schedules[key] = NoiseSchedule.from_name(*key)
        return self._schedules[key]

    @property
    def timestep(self) -> int:
        return int(self.timestep_slider.value)

    def _on_steps(self, change) -> None:
        # Keep the same place along the chain: step 500 of 1000 becomes step 25 of 50.
        old, new = int(change["old"]), int(change["new"])
        fraction = self.timestep / max(old - 1, 1)
        with self.timestep_slider.hold_trait_notifications():
            self.timestep_slider.max = self.play.max = new - 1
            self.play.step = max(1, new // 50)
            self.timestep_slider.value = int(round(fraction * (new - 1)))
        self._redraw()

    def _on_change(self, change) -> None:
        self._redraw()

    def _redraw(self) -> None:
        image = self.frame_image()
        _fix_size(self.image, image)
        self.image.value = _png(image)
        fig = self.curves_figure()
        self.curves.value = figure_png(fig)
        self.info.value = html.escape(self.describe())

    # Views ---------------------------------------------------------------------------------------

    def noised_video(self, timestep: int | None = None) -> torch.Tensor:
        """The clip(s) at ``timestep`` (default: the slider's) under the chosen schedule, ``(b, t, c, h, w)``."""
        timestep = self.timestep if timestep is None else timestep
        if isinstance(timestep, bool) or not isinstance(timestep, (int, np.integer)) \
                or not 0 <= timestep < self.schedule.num_steps:
            raise ValueError(f"timestep must be an int in [0, {self.schedule.num_steps - 1}], got {timestep!r}")
        steps = torch.full((self.video.shape[0],), int(timestep), dtype=torch.long)
        return q_sample(self.schedule, self.video, steps, self.eps)

    def correlation(self, timestep: int | None = None) -> float:
        """Pearson correlation of the noised clip(s) with the clean one(s): 1 clean, 0 pure noise."""
        noised = self.noised_video(timestep).flatten()
        clean = self.video.flatten()
        return float(torch.corrcoef(torch.stack([noised, clean]))[0, 1])

    def describe(self) -> str:
        """One line of numbers for the chosen step."""
        schedule, k = self.schedule, self.timestep
        alpha_bar, snr = float(schedule.alpha_bar[k]), float(schedule.snr[k])
        return (f"{self.schedule_menu.value}, T = {schedule.num_steps}, timestep {k} (the paper's t = {k + 1}): "
                f"alpha_bar = {alpha_bar:.4f}, SNR = {snr:.3g}, correlation with the clean clip = "
                f"{self.correlation():.2f}")

    def frame_image(self) -> np.ndarray:
        """The picture the explorer shows now: one row per clip, one column per frame, uint8."""
        return _upscale(grid_image(self.noised_video()), self.scale)

    def _draw_curves(self, ax_alpha, ax_snr) -> None:
        schedule, k = self.schedule, self.timestep
        steps = np.arange(schedule.num_steps)
        ax_alpha.plot(steps, schedule.alpha_bar.numpy(), color="C0")
        ax_alpha.plot([k], [float(schedule.alpha_bar[k])], "o", color="C3")
        ax_alpha.set(xlabel="timestep", title="alpha_bar (signal kept)", ylim=(-0.03, 1.03))
        ax_snr.semilogy(steps, schedule.snr.numpy(), color="C1")
        ax_snr.plot([k], [float(schedule.snr[k])], "o", color="C3")
        ax_snr.axhline(1.0, color="grey", lw=0.8, ls=":")  # signal and noise equally strong
        ax_snr.set(xlabel="timestep", title="SNR (log scale)")
        for ax in (ax_alpha, ax_snr):
            ax.axvline(k, color="C3", lw=0.8, alpha=0.5)
            ax.tick_params(labelsize=7)
            ax.title.set_fontsize(9)

    def curves_figure(self) -> Figure:
        """``alpha_bar`` and SNR (log scale) against the step, with a marker at the chosen step.

        An off-screen figure (not pyplot's), so redrawing on every slider move piles nothing up.
        """
        fig = Figure(figsize=CURVE_SIZE)
        self._draw_curves(*fig.subplots(1, 2))
        fig.suptitle(f"{self.schedule_menu.value} schedule, T = {self.schedule.num_steps}", fontsize=9)
        fig.tight_layout()
        return fig

    def static_figure(self, rows: int = 4) -> Figure:
        """The static view, a pyplot figure: the first clip at ``rows`` steps along the chain (the
        chosen one added, marked ``>``), and the curves with the chosen step marked."""
        if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or rows < 1:
            raise ValueError(f"rows must be an int >= 1, got {rows!r}")
        num_steps = self.schedule.num_steps
        chosen = sorted({int(k) for k in np.linspace(0, num_steps - 1, rows).round()} | {self.timestep})
        clips = torch.stack([self.noised_video(k)[0] for k in chosen])  # (rows, t, c, h, w)
        mosaic = grid_image(clips)
        top = 0.5 * len(chosen) + 0.6
        fig = plt.figure(figsize=(CURVE_SIZE[0], top + CURVE_SIZE[1]))
        grid = fig.add_gridspec(2, 2, height_ratios=[top, CURVE_SIZE[1]])
        ax = fig.add_subplot(grid[0, :])
        ax.imshow(mosaic, interpolation="nearest")
        h = clips.shape[-2]
        ax.set_yticks([(h + 1) * i + h / 2 for i in range(len(chosen))],
                      [f"{'> ' if k == self.timestep else ''}timestep {k}" for k in chosen], fontsize=7)
        ax.set_xticks([])
        ax.set_title(self.describe(), fontsize=7, loc="left")
        self._draw_curves(fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1]))
        fig.tight_layout()
        return fig
