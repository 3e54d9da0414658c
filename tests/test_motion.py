"""Object centres and motion against the ground truth: exact on drawn squares, small on real clips."""

import pytest
import torch

from tinyvdm.data import BouncingShapes
from tinyvdm.metrics.motion import jitter, object_centroids, position_error


def square_clip(xs, ys, size=16, side=3):
    """(1, t, 3, size, size): a white side x side square whose top-left pixel is (xs[k], ys[k])."""
    video = -torch.ones(1, len(xs), 3, size, size)
    for k, (x, y) in enumerate(zip(xs, ys)):
        video[0, k, :, y:y + side, x:x + side] = 1.0
    return video


def test_centroid_of_a_square_is_its_centre_in_pixel_centre_convention():
    video = square_clip([2, 5, 9], [1, 1, 4])
    centre, mass = object_centroids(video)
    expected = torch.tensor([[[3.5, 2.5], [6.5, 2.5], [10.5, 5.5]]])
    torch.testing.assert_close(centre, expected)
    assert torch.allclose(mass, torch.full((1, 3), 9 * 0.8))
    empty, mass = object_centroids(-torch.ones(1, 2, 3, 8, 8))
    assert (mass == 0).all() and torch.equal(empty, torch.full((1, 2, 2), 4.0))


def test_jitter_ignores_a_constant_offset_but_not_a_wobble():
    xs, ys = [1, 3, 5, 7, 9], [2, 2, 2, 2, 2]
    video = square_clip(xs, ys)
    true = torch.tensor([[[x + 1.5, y + 1.5] for x, y in zip(xs, ys)]])
    assert position_error(video, true).max() < 1e-5
    shifted = true + torch.tensor([2.0, -1.0])
    assert jitter(video, shifted).item() < 1e-5  # same motion, offset: no jitter
    assert position_error(video, shifted).min() > 2.2
    wobble = square_clip([1, 4, 5, 8, 9], ys)
    assert jitter(wobble, true).item() > 1.0


def test_real_clips_sit_on_their_trajectory_and_shuffled_frames_do_not():
    data = BouncingShapes(n=32, seed=3)
    batch = data.batch(range(32))
    video, trajectory = batch["video"], batch["trajectory"]
    assert position_error(video, trajectory).mean() < 0.8  # a triangle's centroid is off its centre
    assert jitter(video, trajectory).mean() < 0.2
    shuffled = video[:, torch.randperm(video.shape[1], generator=torch.Generator().manual_seed(0))]
    assert jitter(shuffled, trajectory).mean() > 5 * jitter(video, trajectory).mean()


def test_bad_shapes_name_what_was_expected():
    video = square_clip([1, 2, 3], [1, 1, 1])
    with pytest.raises(ValueError, match=r"\(b, t, c, h, w\)"):
        object_centroids(video[0])
    with pytest.raises(ValueError, match=r"\(b, t, 2\)"):
        position_error(video, torch.zeros(1, 4, 2))
    with pytest.raises(ValueError, match="at least 3 frames"):
        jitter(video[:, :2], torch.zeros(1, 2, 2))
    with pytest.raises(ValueError, match="dark"):
        object_centroids(video, dark=1.5)
