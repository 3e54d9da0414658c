import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from tinyvdm.models.gan import GANRun  # noqa: E402
from tinyvdm.viz.gan_dynamics import SnapshotViewer, moving_average, plot_gan_dynamics  # noqa: E402


def fake_run(steps=12, snapshots=(0, 5, 10, 12), ema=True):
    gen = torch.Generator().manual_seed(0)
    history = [dict(d_loss=1.0 + 0.1 * i, g_loss=0.5, r1=0.0, d_real=0.3, d_fake=-0.3) for i in range(steps)]
    clips = [torch.rand(4, 2, 3, 8, 8, generator=gen) * 2 - 1 for _ in snapshots]
    return GANRun(history=history, snapshot_steps=list(snapshots), snapshots=clips, diversity=[0.5] * len(snapshots),
                  seconds=1.0, ema_snapshots=[c * 0 for c in clips] if ema else [],
                  ema_diversity=[0.0] * len(snapshots) if ema else [])


def test_moving_average_is_a_trailing_mean():
    values = [1.0, 3.0, 5.0, 7.0]
    assert np.allclose(moving_average(values, 2), [1.0, 2.0, 4.0, 6.0])
    assert np.allclose(moving_average(values, 1), values)
    assert np.allclose(moving_average(values, 10), np.cumsum(values) / np.arange(1, 5))
    with pytest.raises(ValueError, match="width must be a positive int"):
        moving_average(values, 0)


def test_dynamics_plot_draws_the_series():
    run = fake_run()
    fig = plot_gan_dynamics(run, snapshot_scores={"recognised": [0, 0.1, 0.2, 0.3]}, real_diversity=0.4, smooth=3)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    lines = fig.axes[0].get_lines()
    assert np.allclose(lines[0].get_ydata(), run.series("d_loss"))  # the raw loss, then its average
    assert np.allclose(fig.axes[2].get_lines()[-1].get_ydata(), [0, 0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="has 2 values for 4 snapshots"):
        plot_gan_dynamics(run, snapshot_scores={"recognised": [0, 1]})
    with pytest.raises(ValueError, match="must be a GANRun"):
        plot_gan_dynamics({"history": []})


def test_snapshot_viewer_shows_the_chosen_step():
    run = fake_run()
    viewer = SnapshotViewer(run, clips=2, scale=2)
    assert viewer.slider.value == 12 and viewer.label.value == "step 12"
    picture = viewer.mosaic(viewer.steps.index(5))
    assert picture.shape == (2 * (2 * 8 + 1), 2 * (2 * 8 + 1), 3)  # 2 clips x 2 frames of 8 px, a 1-px gap; x2
    viewer.slider.value = 5
    assert viewer.label.value == "step 5"
    ema_view = SnapshotViewer(run, clips=2, ema=True)
    assert (ema_view.mosaics[0][:8, :8] == 128).all()  # the fake EMA clips are all 0: mid grey
    assert len(viewer.static_figure(max_snapshots=3).axes) == 3
    with pytest.raises(ValueError, match="no EMA snapshots"):
        SnapshotViewer(fake_run(ema=False), ema=True)
    with pytest.raises(ValueError, match="one entry per snapshot"):
        SnapshotViewer(run, titles=["a"])
