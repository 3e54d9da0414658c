"""Sharpness and diversity of generated clips, without a trained network.

Taught in chapter 04 (GAN vs VAE), where they place the two models on a trade-off: a VAE's
samples are blurred, a GAN's are sharp but may all look alike (mode collapse).

- :func:`gradient_energy`: the mean squared difference between neighbouring pixels of every
  frame, ``(d_x^2 + d_y^2)`` averaged over pixels, channels and frames. A blur lowers it (it
  averages neighbours, so their differences shrink); noise raises it, so read it next to a
  recognition rate, and as a ratio to the real clips' value.
- :func:`pairwise_distance`: the mean root-mean-square distance between two different clips of a
  batch. A generator that collapsed onto one clip scores 0; real clips set the scale.
"""

from __future__ import annotations

import torch


def _check_videos(videos, least: int = 1) -> None:
    if not isinstance(videos, torch.Tensor) or videos.ndim != 5 or not videos.is_floating_point() or len(videos) < least:
        got = f"{videos.dtype} {tuple(videos.shape)}" if isinstance(videos, torch.Tensor) else type(videos).__name__
        raise ValueError(f"videos must be a floating tensor of shape (n, t, c, h, w) with n >= {least}, got {got}")
    if videos.shape[-1] < 2 or videos.shape[-2] < 2:
        raise ValueError(f"frames must be at least 2 x 2 pixels, got {tuple(videos.shape[-2:])}")


def gradient_energy(videos: torch.Tensor) -> torch.Tensor:
    """Per clip, ``mean(d_x^2) + mean(d_y^2)`` of its frames: ``(n, t, c, h, w)`` -> ``(n,)``.

    ``d_x = x[..., :, 1:] - x[..., :, :-1]`` (horizontal neighbours) and ``d_y`` the same down the
    rows; each mean runs over all its differences, channels and frames. Differences across
    frames are left out: this measures the sharpness of pictures, not motion.
    """
    _check_videos(videos)
    x = videos.float()
    dx = (x[..., :, 1:] - x[..., :, :-1]).pow(2).flatten(1).mean(dim=1)
    dy = (x[..., 1:, :] - x[..., :-1, :]).pow(2).flatten(1).mean(dim=1)
    return dx + dy


def pairwise_distance(videos: torch.Tensor) -> float:
    """Mean over pairs ``i != j`` of the RMS distance between clips ``i`` and ``j`` of ``(b, t, c, h, w)``.

    ``sqrt(mean((x_i - x_j)^2))`` averaged over all ordered pairs; a generator that collapsed onto
    one clip scores 0. Also the diversity curve that :func:`tinyvdm.models.gan.fit_gan` records.
    """
    if not isinstance(videos, torch.Tensor) or videos.ndim != 5 or not videos.is_floating_point() or len(videos) < 2:
        got = f"{videos.dtype} {tuple(videos.shape)}" if isinstance(videos, torch.Tensor) else type(videos).__name__
        raise ValueError(f"videos must be a floating tensor of shape (b, t, c, h, w) with at least 2 clips "
                         f"(n >= 2), got {got}")
    flat = videos.detach().double().flatten(1)  # float64: a collapsed batch must give 0, not rounding
    distances = torch.cdist(flat[None], flat[None])[0] / flat.shape[1] ** 0.5  # (b, b), zero diagonal
    n = len(flat)
    return float(distances.sum() / (n * (n - 1)))
