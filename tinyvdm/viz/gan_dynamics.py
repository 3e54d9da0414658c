"""Pictures of a GAN's training: the adversarial dynamics, and samples from fixed noise over time.

Taught in chapter 03. A GAN's losses are not a progress bar: the two players' losses measure
each other, so they hover or oscillate while the samples improve (or collapse). The dynamics plot
puts next to them what does measure progress: how far apart ``D`` keeps real and fake clips (its
mean logits), and numbers computed on the samples themselves (diversity, a judge's recognition
rate). The snapshot viewer is a slider over the samples that the same noise produced at each
snapshot step, with a static grid for readers without a kernel.
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from tinyvdm.models.gan import GANRun
from tinyvdm.viz.frames import _check_upscale, grid_image
from tinyvdm.viz.widgets import FallbackDisplay, _fix_size, _png


def moving_average(values, width: int) -> np.ndarray:
    """Trailing mean over ``width`` points (fewer at the start), same length as ``values``."""
    if not isinstance(width, (int, np.integer)) or isinstance(width, bool) or width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    values = np.asarray(values, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {values.shape}")
    sums = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - width, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)


def _check_run(run) -> GANRun:
    if not isinstance(run, GANRun):
        raise ValueError(f"run must be a GANRun (from tinyvdm.models.gan.fit_gan), got {type(run).__name__}")
    if not run.history:
        raise ValueError("run has no recorded steps")
    return run


def plot_gan_dynamics(run: GANRun, snapshot_scores: dict[str, list[float]] | None = None,
                      real_diversity: float | None = None, smooth: int = 10) -> Figure:
    """Three panels: ``D`` and ``G`` losses; ``D``'s mean logits on real and fake clips; sample numbers.

    ``snapshot_scores``: extra series over ``run.snapshot_steps`` (e.g. ``{"recognised": [...]}``,
    values in ``[0, 1]``), drawn with the diversity on the third panel; ``real_diversity``: the
    same diversity number on real clips, a dotted line. Losses and logits are shown raw (faint)
    and as a ``smooth``-step moving average.
    """
    run = _check_run(run)
    steps = np.arange(1, len(run.history) + 1)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.4))
    for ax, keys, title in ((axes[0], ("d_loss", "g_loss"), "losses (they measure each other)"),
                            (axes[1], ("d_real", "d_fake"), "D's mean logit on real and on fake clips")):
        for colour, key in zip(("C0", "C1"), keys):
            values = np.array(run.series(key))
            ax.plot(steps, values, color=colour, alpha=0.25, lw=0.8)
            ax.plot(steps, moving_average(values, smooth), color=colour, label=key)
        ax.set(xlabel="training step", title=title)
        ax.legend(fontsize=8)
    axes[1].axhline(0, color="grey", lw=0.6, ls=":")
    ax = axes[2]
    ax.plot(run.snapshot_steps, run.diversity, "o-", color="C2", label="sample diversity")
    if real_diversity is not None:
        ax.axhline(real_diversity, color="C2", ls=":", label="diversity of real clips")
    for i, (name, values) in enumerate((snapshot_scores or {}).items()):
        if len(values) != len(run.snapshot_steps):
            raise ValueError(f"snapshot_scores[{name!r}] has {len(values)} values for "
                             f"{len(run.snapshot_steps)} snapshots")
        ax.plot(run.snapshot_steps, values, "s-", color=f"C{3 + i}", label=name)
    ax.set(xlabel="training step", title="measured on samples from fixed noise", ylim=(0, None))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


class SnapshotViewer(FallbackDisplay):
    """A slider over ``run.snapshots``: the clips that fixed noise gave at each snapshot step.

    Each snapshot is shown as a mosaic, one row per clip (the first ``clips``), one column per
    frame, upscaled ``scale`` times. ``titles``: one line per snapshot (e.g. its recognition rate).
    ``ema=True`` shows the snapshots of the generator's moving average (``run.ema_snapshots``).
    """

    def __init__(self, run: GANRun, clips: int = 6, scale: int = 3, titles: list[str] | None = None,
                 ema: bool = False):
        run = _check_run(run)
        snapshots = run.ema_snapshots if ema else run.snapshots
        if not snapshots:
            raise ValueError("run has no " + ("EMA snapshots (fit_gan with ema_decay > 0)" if ema else "snapshots"))
        if not isinstance(clips, int) or clips < 1:
            raise ValueError(f"clips must be a positive int, got {clips!r}")
        self.scale = _check_upscale(scale)
        if titles is not None and len(titles) != len(snapshots):
            raise ValueError(f"titles must have one entry per snapshot ({len(snapshots)}), got {len(titles)}")
        self.steps = list(run.snapshot_steps)
        self.titles = titles or [f"step {s}" for s in self.steps]
        self.mosaics = [grid_image(s[:clips]) for s in snapshots]  # uint8 (rows, cols, 3) each
        self.slider = widgets.SelectionSlider(options=self.steps, value=self.steps[-1], description="step")
        self.image = widgets.Image(format="png")
        self.label = widgets.HTML()
        self.widget = widgets.VBox([self.slider, self.label, self.image])
        self.slider.observe(lambda change: self._redraw(), names="value")
        self._redraw()

    def _redraw(self) -> None:
        i = self.steps.index(self.slider.value)
        picture = self.mosaic(i)
        _fix_size(self.image, picture)
        self.image.value = _png(picture)
        self.label.value = self.titles[i]

    def mosaic(self, index: int) -> np.ndarray:
        """The upscaled uint8 picture of snapshot ``index``."""
        return self.mosaics[index].repeat(self.scale, axis=0).repeat(self.scale, axis=1)

    def static_figure(self, max_snapshots: int = 5) -> Figure:
        """Up to ``max_snapshots`` evenly spaced snapshots (first and last kept), side by side."""
        n = len(self.steps)
        keep = sorted(set(np.linspace(0, n - 1, min(n, max_snapshots)).round().astype(int).tolist()))
        fig, axes = plt.subplots(1, len(keep), figsize=(3.2 * len(keep), 3.2), squeeze=False)
        for ax, i in zip(axes[0], keep):
            ax.imshow(self.mosaics[i], interpolation="nearest")
            ax.set_title(self.titles[i], fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.tight_layout()
        return fig
