"""Tests for tinyvdm.metrics.class_fidelity and tinyvdm.diffusion.label_dropout (chapter 11)."""

import pytest
import torch

from tinyvdm.data import BouncingShapes
from tinyvdm.data.bouncing_shapes import COLOUR_NAMES, COLOURS
from tinyvdm.diffusion import NoiseSchedule, diffusion_loss
from tinyvdm.diffusion.label_dropout import class_conditional_loss, drop_labels
from tinyvdm.metrics.class_fidelity import class_fidelity, dominant_colour
from tinyvdm.metrics.sample_quality import denoising_error

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def real():
    return BouncingShapes(n=12, seed=3).batch(range(12))


def test_real_clips_score_full_marks_and_wrong_labels_score_zero(real):
    colours, shapes = real["colour"][:, 0], real["shape"][:, 0]
    scores = class_fidelity(real["video"], colours, shapes)
    assert scores.frames_clean == 1.0 and scores.valid == 1.0 and scores.colour_match == 1.0
    assert scores.dominant_match == 1.0 and scores.shape_match > 0.9 and scores.rules == {}
    wrong = class_fidelity(real["video"], (colours + 1) % len(COLOUR_NAMES), (shapes + 1) % 3)
    assert wrong.colour_match == 0.0 and wrong.dominant_match == 0.0 and wrong.shape_match < 0.1
    assert wrong.frames_clean == 1.0  # the frames are still clean: only the class is wrong


def test_noise_scores_nothing():
    noise = torch.rand(3, 8, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    scores = class_fidelity(noise, torch.zeros(3, dtype=torch.long))
    assert scores.frames_clean == 0.0 and scores.valid == 0.0 and scores.colour_match == 0.0
    assert scores.rules.get("noise") == 3


def test_dominant_colour_weighs_pixels_by_brightness():
    video = -torch.ones(3, 2, 3, 16, 16)
    blue, red = torch.tensor(COLOURS["blue"]), torch.tensor(COLOURS["red"])
    # Clip 0: a half-bright blue block of 30 pixels outweighs a bright red block of 12 (15 vs 12 votes).
    video[0, :, :, :5, :6] = (blue * 0.5 * 2 - 1)[:, None, None]
    video[0, :, :, 10:13, :4] = (red * 2 - 1)[:, None, None]
    # Clip 1: a faint red wash over the whole frame (the checker calls it background) still reads red.
    video[1] = (red * 0.08 * 2 - 1)[None, :, None, None]
    # Clip 2 stays black: -1.
    assert dominant_colour(video).tolist() == [COLOUR_NAMES.index("blue"), COLOUR_NAMES.index("red"), -1]


def test_conditional_error_matches_diffusion_loss(real):
    schedule = NoiseSchedule.from_name("cosine", 100)
    calls = []

    def model(x, t, cond):
        calls.append(cond)
        return x * 0.5

    labels = real["colour"][:, 0]
    errors = denoising_error(model, schedule, real["video"], [10, 60], cond=labels, repeats=1, seed=4)
    generator = torch.Generator().manual_seed(4)
    expected = diffusion_loss(schedule, model, real["video"], timestep=60, prediction="x0", cond=labels,
                              generator=generator)
    assert errors.shape == (2,) and errors[1] == pytest.approx(expected.item())
    assert all(torch.equal(c, labels) for c in calls)


def test_drop_labels_rate_and_null():
    labels = torch.arange(6).repeat(2000)
    dropped = drop_labels(labels, 6, 0.1, torch.Generator().manual_seed(0))
    nulls = dropped == 6
    assert 0.08 < nulls.float().mean() < 0.12
    assert torch.equal(dropped[~nulls], labels[~nulls])
    assert torch.equal(drop_labels(labels, 6, 0.0), labels) and (drop_labels(labels, 6, 1.0) == 6).all()


def test_class_conditional_loss_passes_the_dropped_labels():
    seen = []

    def model(x, t, cond):
        seen.append(cond)
        return torch.zeros_like(x)

    schedule = NoiseSchedule.from_name("cosine", 100)
    x0 = torch.zeros(4, 2, 3, 8, 8)
    loss = class_conditional_loss(schedule, model, x0, torch.tensor([0, 1, 2, 3]), 9, p=1.0, prediction="x0")
    assert loss.item() == 0.0 and torch.equal(seen[0], torch.full((4,), 9))


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match=r"videos must be a tensor of shape \(b, t, 3, h, w\)"):
        class_fidelity(torch.zeros(8, 3, 32, 32))
    with pytest.raises(ValueError, match=r"colours must be None or an int64 tensor of shape \(b,\) = \(2,\)"):
        class_fidelity(torch.zeros(2, 2, 3, 32, 32), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="colours must be indices in 0..5"):
        class_fidelity(torch.zeros(2, 2, 3, 32, 32), torch.tensor([0, 6]))
    with pytest.raises(ValueError, match=r"videos must be a tensor of shape"):
        dominant_colour(torch.zeros(2, 2, 1, 8, 8))
    with pytest.raises(ValueError, match="labels must be an int64 tensor"):
        drop_labels(torch.zeros(3), 6, 0.1)
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\]"):
        drop_labels(torch.zeros(3, dtype=torch.long), 6, 1.5)
    with pytest.raises(ValueError, match="null_label must be a non-negative int"):
        drop_labels(torch.zeros(3, dtype=torch.long), -1, 0.1)


def test_class_effect_is_zero_for_a_label_blind_model_and_exact_for_a_known_offset():
    from tinyvdm.metrics.class_fidelity import class_effect

    xt = torch.randn(4, 2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([10, 200, 500, 900])
    labels = torch.tensor([0, 1, 2, 3])

    def blind(x, timestep, cond):
        return 2 * x

    def offset(x, timestep, cond):  # the null class (6) adds nothing, class k adds 0.1 * (k + 1)
        shift = torch.where(cond == 6, torch.zeros(()), 0.1 * (cond + 1).float())
        return torch.ones_like(x) + shift.view(-1, 1, 1, 1, 1)

    assert class_effect(blind, xt, t, labels, 6) == 0.0
    # |difference| averages 0.1 * mean(1, 2, 3, 4) = 0.25; |output| averages 1.25.
    assert class_effect(offset, xt, t, labels, 6) == pytest.approx(0.25 / 1.25)
    with pytest.raises(ValueError, match="labels must be an int64"):
        class_effect(blind, xt, t, labels.float(), 6)
    with pytest.raises(ValueError, match=r"xt must be a tensor of shape \(b, t, c, h, w\)"):
        class_effect(blind, xt[0], t, labels, 6)
