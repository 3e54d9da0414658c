import pytest
import torch
import torch.nn.functional as F

from tinyvdm.data.bouncing_shapes import BouncingShapes
from tinyvdm.metrics.sharpness import gradient_energy, pairwise_distance


def test_gradient_energy_of_known_patterns():
    flat = torch.zeros(2, 3, 3, 8, 8)
    assert torch.equal(gradient_energy(flat), torch.zeros(2))
    stripes = torch.zeros(1, 1, 1, 4, 4)
    stripes[..., ::2] = 1.0  # columns 1 0 1 0: every horizontal difference is +-1, vertical ones 0
    assert torch.allclose(gradient_energy(stripes), torch.tensor([1.0]))
    assert torch.allclose(gradient_energy(stripes.transpose(-1, -2)), torch.tensor([1.0]))
    # Matches a direct double loop on a random clip.
    x = torch.randn(1, 2, 1, 3, 4, generator=torch.Generator().manual_seed(0))
    dx = sum((x[0, t, 0, i, j + 1] - x[0, t, 0, i, j]) ** 2 for t in range(2) for i in range(3) for j in range(3)) / 18
    dy = sum((x[0, t, 0, i + 1, j] - x[0, t, 0, i, j]) ** 2 for t in range(2) for i in range(2) for j in range(4)) / 16
    assert torch.allclose(gradient_energy(x), (dx + dy).reshape(1), atol=1e-6)


def test_blur_lowers_gradient_energy_of_real_clips():
    clips = BouncingShapes(4, seed=0, size=16, frames=2).batch(range(4))["video"]
    frames = clips.flatten(0, 1)
    blurred = F.avg_pool2d(frames, 3, stride=1, padding=1, count_include_pad=False).reshape(clips.shape)
    assert (gradient_energy(blurred) < 0.7 * gradient_energy(clips)).all()


def test_pairwise_distance():
    same = torch.rand(1, 2, 3, 4, 4).expand(5, -1, -1, -1, -1)
    assert pairwise_distance(same) == pytest.approx(0.0, abs=1e-6)
    two = torch.stack([torch.zeros(2, 1, 2, 2), torch.full((2, 1, 2, 2), 2.0)])
    assert pairwise_distance(two) == pytest.approx(2.0)


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(n, t, c, h, w\)"):
        gradient_energy(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="n >= 2"):
        pairwise_distance(torch.zeros(1, 2, 3, 4, 4))
