"""Tests for tinyvdm.metrics: scene checker, PSNR/SSIM, Fréchet distance."""

import math

import numpy as np
import pytest
import torch

from tinyvdm.data import BouncingShapes
from tinyvdm.data.bouncing_shapes import SHAPES, render
from tinyvdm.metrics import (
    check_batch,
    check_clip,
    detect_objects,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_features,
    psnr,
    ssim,
    track,
)
from tinyvdm.metrics.image import gaussian_window
from tinyvdm.metrics.scene import shape_moments


# --------------------------------------------------------------------------- scene checker

def _real_items(count, seed0=0):
    items = []
    for seed in range(seed0, seed0 + count // 20):
        for frames in (8, 16):
            data = BouncingShapes(10, seed=seed, frames=frames, max_objects=2)
            items.extend(data[i] for i in range(len(data)))
    return items


def _broken(kind, item, other, gen):
    video = item["video"].clone()
    t = video.shape[0]
    if kind == "gaussian":
        return torch.randn(video.shape, generator=gen).clamp(-1, 1)
    if kind == "noisy":
        return (video + 0.3 * torch.randn(video.shape, generator=gen)).clamp(-1, 1)
    if kind == "shuffled":
        order = torch.randperm(t, generator=gen)
        while bool((order == torch.arange(t)).all()):
            order = torch.randperm(t, generator=gen)
        return video[order]
    if kind == "teleport":
        k = int(torch.randint(1, t - 1, (1,), generator=gen))
        video[k] = other["video"][min(k, other["video"].shape[0] - 1)]
        return video
    if kind == "recolour":
        # Every object's colour channels are permuted from a random frame on.
        k = int(torch.randint(1, t - 1, (1,), generator=gen))
        video[k:] = video[k:, [2, 0, 1]]
        return video
    if kind == "blended":
        return (video + other["video"][:t]) / 2
    if kind == "empty":
        return torch.full_like(video, -1.0)
    if kind == "reshaped":
        # Every object becomes the next shape from about the middle of the clip on, keeping its
        # colour, size and path: the clip breaks only the rule "each object keeps its shape".
        k = t // 2 + int(torch.randint(-1, 2, (1,), generator=gen))
        n = int(item["num_objects"])
        other_shapes = [(int(s) + 1) % len(SHAPES) for s in item["shape"][:n]]
        reshaped, _ = render(item["trajectory"][:, :n], other_shapes, item["colour"][:n], item["radius"][:n],
                             video.shape[-1])
        video[k:] = reshaped[k:]
        return video
    raise AssertionError(kind)


def _blur(video, sigma):
    """Each frame of ``(t, 3, h, w)`` convolved with a Gaussian of ``sigma`` pixels (a softer edge)."""
    offsets = torch.arange(-3, 4, dtype=torch.float32)
    kernel = torch.exp(-offsets**2 / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    coverage = (video + 1) / 2  # background 0, so zero padding adds nothing
    rows = torch.nn.functional.conv2d(coverage, kernel.view(1, 1, 7, 1).repeat(3, 1, 1, 1), padding=(3, 0), groups=3)
    both = torch.nn.functional.conv2d(rows, kernel.view(1, 1, 1, 7).repeat(3, 1, 1, 1), padding=(0, 3), groups=3)
    return both * 2 - 1


BROKEN = ("gaussian", "noisy", "shuffled", "teleport", "recolour", "blended", "empty")


def test_accepts_real_clips():
    items = _real_items(200)
    valid = [check_clip(it["video"], int(it["num_objects"])).valid for it in items]
    assert np.mean(valid) >= 0.95, np.mean(valid)


def test_accepts_real_clips_with_softer_edges():
    # A slight blur changes no object's shape, size or path; generated clips are often this soft.
    # (Reading shapes from box fill and corner pixels, the checker rejected 12% of such clips.)
    items = _real_items(200)
    valid = [check_clip(_blur(it["video"], 0.7), int(it["num_objects"])).valid for it in items]
    assert np.mean(valid) >= 0.95, np.mean(valid)


def test_shape_moments_match_the_shapes_and_ignore_blur():
    # Large objects, so that pixels are small next to them: the continuum values of the docstring.
    centre = torch.full((1, 1, 2), 32.0)
    expected = {"circle": (0.0, 0.0), "square": (0.0, -1 / 240), "triangle": (-0.0169, 0.0)}
    for shape, (skewness, anisotropy) in expected.items():
        video, _ = render(centre, [shape], [(1.0, 1.0, 1.0)], torch.tensor([12.0]), 64)
        for sigma in (None, 1.0, 2.0):
            frames = video if sigma is None else _blur(video, sigma)
            weight = ((frames[0, 0] + 1) / 2).double().numpy()
            got = shape_moments(weight)
            assert got[0] == pytest.approx(skewness, abs=0.0015), (shape, sigma, got)
            assert got[1] == pytest.approx(anisotropy, abs=0.0003), (shape, sigma, got)
    for bad in (np.zeros((8, 8)), np.ones(8), -np.ones((8, 8)), np.full((8, 8), np.nan)):
        with pytest.raises(ValueError, match="non-negative"):
            shape_moments(bad)


def test_rejects_a_shape_change():
    # One object per clip: where two overlap, the checker judges no shape (an occluded object's
    # visible part is not its shape), so a change hidden in those frames goes unseen.
    items = [BouncingShapes(10, seed=seed, frames=frames, max_objects=1)[i]
             for seed in range(200, 203) for frames in (8, 16) for i in range(10)]
    gen = torch.Generator().manual_seed(0)
    rejected = [not check_clip(_broken("reshaped", item, item, gen), 1).valid for item in items]
    assert np.mean(rejected) >= 0.95, np.mean(rejected)


@pytest.mark.parametrize("kind", BROKEN)
def test_rejects_broken_clips(kind):
    items = _real_items(40, seed0=100)
    gen = torch.Generator().manual_seed(0)
    rejected = []
    for i, item in enumerate(items):
        other = items[i + 1 if i % 10 == 0 else i - 1]  # same block of 10: same length
        video = _broken(kind, item, other, gen)
        rejected.append(not check_clip(video, int(item["num_objects"])).valid)
    assert np.mean(rejected) >= 0.95, (kind, np.mean(rejected))


def test_detection_and_tracking_match_ground_truth():
    item = BouncingShapes(4, seed=3, frames=8, max_objects=1)[0]
    detections = [detect_objects(frame) for frame in item["video"]]
    assert all(len(d) == 1 for d in detections)
    tracks = track(detections)
    assert len(tracks) == 1
    # Coverage-weighted centroids sit within a fraction of a pixel of the true centres
    # (triangles' centroids sit below their box centre, so allow a constant offset).
    error = tracks[0].positions - item["trajectory"][:, 0].numpy()
    assert np.abs(error - error.mean(axis=0)).max() < 0.3


def test_batch_report_and_validation():
    items = _real_items(20)[:4]
    videos = torch.stack([it["video"] for it in items if it["video"].shape[0] == 8])
    report = check_batch(videos)
    assert len(report.reports) == videos.shape[0]
    assert 0.0 <= report.valid_rate <= 1.0
    assert report.mean_smoothness < 0.5
    with pytest.raises(ValueError, match=r"\(t, 3, h, w\)"):
        check_clip(videos)
    with pytest.raises(ValueError, match=r"\(3, h, w\)"):
        detect_objects(videos[0])


# --------------------------------------------------------------------------- PSNR / SSIM

def test_psnr_identical_and_known_mse():
    x = torch.rand(3, 2, 3, 8, 8) * 2 - 1
    assert torch.isinf(psnr(x, x)).all()
    y = x + 0.1  # MSE 0.01 exactly (up to float rounding)
    expected = 10 * math.log10(4 / 0.01)
    assert torch.allclose(psnr(x, y), torch.full((3,), expected), atol=1e-3)


def _ssim_brute(x, y, data_range, window, sigma):
    """Per-window SSIM in float64 loops: the definition, no convolutions."""
    g = gaussian_window(window, sigma).numpy()
    kernel = np.outer(g, g)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    values = []
    for ch in range(x.shape[0]):
        for i in range(x.shape[1] - window + 1):
            for j in range(x.shape[2] - window + 1):
                a = x[ch, i:i + window, j:j + window]
                b = y[ch, i:i + window, j:j + window]
                ma, mb = (kernel * a).sum(), (kernel * b).sum()
                va, vb = (kernel * (a - ma) ** 2).sum(), (kernel * (b - mb) ** 2).sum()
                cov = (kernel * (a - ma) * (b - mb)).sum()
                values.append((2 * ma * mb + c1) * (2 * cov + c2)
                              / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    return float(np.mean(values))


def test_ssim_matches_brute_force_and_drops_with_noise():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 2, 12, 12, generator=gen, dtype=torch.float64) * 2 - 1
    y = (x + 0.3 * torch.randn(x.shape, generator=gen, dtype=torch.float64)).clamp(-1, 1)
    for window in (7, 11):
        fast = float(ssim(x, y, window=window))
        slow = _ssim_brute(x[0].numpy(), y[0].numpy(), 2.0, window, 1.5)
        assert abs(fast - slow) < 1e-10
    clip = torch.rand(2, 3, 3, 16, 16, generator=gen) * 2 - 1
    assert torch.allclose(ssim(clip, clip, window=7), torch.ones(2))
    scores = [float(ssim(clip, (clip + s * torch.randn(clip.shape, generator=gen)).clamp(-1, 1),
                         window=7).mean()) for s in (0.05, 0.2, 0.5)]
    assert scores[0] > scores[1] > scores[2]
    with pytest.raises(ValueError, match="same shape"):
        ssim(clip, clip[:, 0])


# --------------------------------------------------------------------------- Fréchet distance

def _random_cov(d, rng):
    a = rng.standard_normal((d, d + 3))
    return a @ a.T / d


def test_frechet_matches_eigenvalue_route():
    rng = np.random.default_rng(0)
    d = 6
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    s1, s2 = _random_cov(d, rng), _random_cov(d, rng)
    # tr sqrt(s1 s2) = sum of square roots of the (real, non-negative) eigenvalues of s1 s2.
    trace_root = np.sqrt(np.linalg.eigvals(s1 @ s2).real.clip(0)).sum()
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * trace_root
    assert abs(frechet_distance(mu1, s1, mu2, s2) - expected) < 1e-8
    assert abs(frechet_distance(mu1, s1, mu2, s2) - frechet_distance(mu2, s2, mu1, s1)) < 1e-8
    assert abs(frechet_distance(mu1, s1, mu1, s1)) < 1e-8


def test_frechet_diagonal_closed_form_and_features():
    rng = np.random.default_rng(1)
    v1, v2 = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 2, 5)
    mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    got = frechet_distance(torch.tensor(mu1), np.diag(v1), mu2, torch.tensor(np.diag(v2)))
    assert abs(got - expected) < 1e-10
    a = rng.standard_normal((200, 4))
    mu, sigma = feature_statistics(a)
    assert mu.shape == (4,) and sigma.shape == (4, 4)
    assert abs(frechet_distance_from_features(a, a)) < 1e-8
    assert frechet_distance_from_features(a, a + 1.0) == pytest.approx(4.0, abs=1e-8)
    with pytest.raises(ValueError, match=r"\(d, d\)"):
        frechet_distance(mu, sigma[:3], mu, sigma)
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        feature_statistics(np.zeros(5))
