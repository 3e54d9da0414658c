"""The sampling-trajectory scrubber of chapter 07."""

import numpy as np
import pytest
import torch

from tinyvdm.diffusion import NoiseSchedule
from tinyvdm.diffusion.samplers.base import Trajectory
from tinyvdm.diffusion.samplers.ddim import DDIMSampler
from tinyvdm.viz.trajectory import TrajectoryScrubber


def trajectory(steps=5, b=3, t=4):
    def model(x, timestep, cond=None):
        return 0.5 * x  # any smooth denoiser will do: the scrubber only shows what happened

    sampler = DDIMSampler(NoiseSchedule.from_name("cosine", 100), steps)
    generator = torch.Generator().manual_seed(0)
    _, run = sampler.sample(model, (b, t, 3, 8, 8), generator=generator, return_trajectory=True)
    return run


def test_scrubber_shows_each_step_and_the_final_sample():
    run = trajectory()
    scrubber = TrajectoryScrubber(run, scale=2, max_clips=2)
    assert scrubber.steps == 5
    first = scrubber.image_at(0)
    # 2 clips x 2 rows (x_t, predicted x0) of 8 px + separators; 4 frames of 8 px + separators.
    assert first.shape == ((4 * 9 - 1) * 2, (4 * 9 - 1) * 2, 3) and first.dtype == np.uint8
    assert not np.array_equal(scrubber.image_at(0), scrubber.image_at(3))
    last = scrubber.image_at(5)
    # At the end both rows of a clip show the final sample: rows of 8 px, scaled 2x, 1-px separators.
    assert np.array_equal(last[:16], last[18:34])
    assert "t = " in scrubber.describe(0) and "final" in scrubber.describe(5)


def test_moving_the_slider_changes_the_picture():
    scrubber = TrajectoryScrubber(trajectory())
    before = scrubber.image.value
    scrubber.step_slider.value = 4
    assert scrubber.image.value != before
    assert "step 5/5" in scrubber.label.value
    figure = scrubber.static_figure(num_steps=3)
    assert len(figure.axes) == 3


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="return_trajectory=True"):
        TrajectoryScrubber([torch.zeros(1)])
    with pytest.raises(ValueError, match="n >= 1 timesteps"):
        TrajectoryScrubber(Trajectory())
    flat = Trajectory(timesteps=[5], samples=[torch.zeros(2, 4), torch.zeros(2, 4)],
                      pred_original_samples=[torch.zeros(2, 4)])
    with pytest.raises(ValueError, match=r"\(b, t, c, h, w\)"):
        TrajectoryScrubber(flat)
    with pytest.raises(ValueError, match="max_clips"):
        TrajectoryScrubber(trajectory(), max_clips=0)
    with pytest.raises(ValueError, match="step must be in"):
        TrajectoryScrubber(trajectory()).image_at(9)
