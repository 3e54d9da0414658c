"""Two-dimensional toy distributions: where generative models are compared before video.

Taught in chapter 01 (the generative landscape): a GAN, a VAE, an autoregressive model and a
diffusion model each learn these point clouds in seconds, and a scatter plot shows at a glance
what each one gets wrong. The mixtures (``gaussians8``, ``gaussians25``) have known modes, so
:func:`mode_coverage` can count the modes a model drops (mode collapse) and
:func:`fraction_near_modes` how many of its samples land on a mode at all (blur).

Every distribution lives roughly in ``[-2, 2] x [-2, 2]``; samples are a pure function of
``(name, n, seed)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

NAMES = ("gaussians8", "gaussians25", "moons", "spiral", "rings", "checkerboard")

# Standard deviation of each mixture component; modes are many deviations apart (8 gaussians:
# 11 deviations between neighbours, 25 gaussians: 16), so "which mode" is never ambiguous.
MIXTURE_STD = {"gaussians8": 0.1, "gaussians25": 0.05}


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise ValueError(f"name must be one of {NAMES}, got {name!r}")


def modes(name: str) -> torch.Tensor | None:
    """Centres ``(k, 2)`` of a mixture's components; ``None`` for a distribution without modes."""
    _check_name(name)
    if name == "gaussians8":
        angle = np.arange(8) * (2 * math.pi / 8)
        centres = 1.5 * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    elif name == "gaussians25":
        grid = np.linspace(-1.6, 1.6, 5)
        centres = np.stack(np.meshgrid(grid, grid, indexing="xy"), axis=-1).reshape(-1, 2)
    else:
        return None
    return torch.from_numpy(centres.astype(np.float32))


def sample(name: str, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` points ``(n, 2)`` float32 from distribution ``name``, the same for the same seed."""
    _check_name(name)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    rng = np.random.default_rng(seed)
    if name in MIXTURE_STD:
        centres = modes(name).numpy()
        which = rng.integers(len(centres), size=n)
        points = centres[which] + MIXTURE_STD[name] * rng.standard_normal((n, 2))
    elif name == "moons":
        # Two interleaved half circles, centred and stretched to fill the box.
        angle = rng.uniform(0.0, math.pi, size=n)
        upper = rng.random(n) < 0.5
        x = np.where(upper, np.cos(angle), 1.0 - np.cos(angle))
        y = np.where(upper, np.sin(angle), 0.5 - np.sin(angle))
        points = 1.2 * (np.stack([x, y], axis=-1) - [0.5, 0.25])
        points += 0.06 * rng.standard_normal((n, 2))
    elif name == "spiral":
        # sqrt spreads points evenly along the arm instead of crowding the centre.
        turn = 0.5 + 4 * math.pi * np.sqrt(rng.random(n))
        radius = 1.8 * turn / (0.5 + 4 * math.pi)
        points = np.stack([radius * np.cos(turn), radius * np.sin(turn)], axis=-1)
        points += 0.04 * rng.standard_normal((n, 2))
    elif name == "rings":
        radii = np.array([0.6, 1.2, 1.8])
        # Pick a ring in proportion to its length, so all three have the same density.
        ring = rng.choice(3, size=n, p=radii / radii.sum())
        angle = rng.uniform(0.0, 2 * math.pi, size=n)
        r = radii[ring] + 0.04 * rng.standard_normal(n)
        points = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=-1)
    else:  # checkerboard: the 8 dark cells of a 4 x 4 board on [-2, 2]^2
        cells = np.array([(i, j) for i in range(4) for j in range(4) if (i + j) % 2 == 0])
        cell = cells[rng.integers(len(cells), size=n)]
        points = cell - 2.0 + rng.random((n, 2))
    return torch.from_numpy(points.astype(np.float32))


def _nearest_mode(points, name: str, radius: float | None):
    centres = modes(name)
    if centres is None:
        mixtures = tuple(MIXTURE_STD)
        raise ValueError(f"modes are defined only for the mixtures {mixtures}, got {name!r}")
    points = torch.as_tensor(points, dtype=torch.float32).detach().cpu()
    if points.ndim != 2 or points.shape[-1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {tuple(points.shape)}")
    if radius is None:
        radius = 3 * MIXTURE_STD[name]
    if radius <= 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    distance, nearest = torch.cdist(points, centres).min(dim=1)  # (n,), (n,)
    return nearest, distance <= radius, len(centres)


def mode_coverage(points, name: str, radius: float | None = None, min_share: float = 0.1):
    """How many of a mixture's modes a set of points covers.

    A point counts for its nearest mode when it lies within ``radius`` of it (default: 3
    standard deviations, which holds 98.9 % of a component's own samples). A mode is covered
    when it gets at least ``min_share`` of its fair share ``n / k`` of the points, so that a
    handful of stray points does not count as covering it.

    Args:
        points: ``(n, 2)`` samples, e.g. from a generator.
        name: ``"gaussians8"`` or ``"gaussians25"``.

    Returns:
        ``(covered, counts)``: the fraction of modes covered (a float in ``[0, 1]``) and int64
        ``(k,)`` the number of points counted for each mode.
    """
    nearest, close, k = _nearest_mode(points, name, radius)
    if not 0 <= min_share <= 1:
        raise ValueError(f"min_share must be in [0, 1], got {min_share}")
    counts = torch.bincount(nearest[close], minlength=k)
    covered = (counts >= max(1.0, min_share * len(nearest) / k)).float().mean().item()
    return covered, counts


def fraction_near_modes(points, name: str, radius: float | None = None) -> float:
    """Share of the points within ``radius`` (default 3 standard deviations) of some mode.

    High coverage with a low share here is a blurry model (mass between the modes); a high
    share with low coverage is mode collapse.
    """
    _, close, _ = _nearest_mode(points, name, radius)
    return close.float().mean().item()
