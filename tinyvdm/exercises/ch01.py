"""Checks for chapter 01, the generative landscape (``exercises/01_generative_landscape.py``)."""

from __future__ import annotations

import torch

from tinyvdm.data import toy2d
from tinyvdm.exercises.compare import assert_close
from tinyvdm.exercises.registry import Mismatch, exercise
from tinyvdm.models.toy2d import TokenGrid, sample_token, to_tokens


@exercise("01.mode_coverage", "mode_coverage",
          "count the points within radius of their nearest mode; a mode is covered with min_share of its fair share")
def check_mode_coverage(fn) -> str:
    gen = torch.Generator().manual_seed(1)
    cases = []
    for name, kept, n, radius, min_share in [("gaussians8", 8, 400, None, 0.1), ("gaussians8", 5, 300, 0.2, 0.1),
                                             ("gaussians25", 25, 500, None, 0.3), ("gaussians25", 12, 250, 0.1, 0.0),
                                             ("gaussians8", 8, 40, 0.5, 0.5)]:
        centres = toy2d.modes(name)
        which = torch.randint(kept, (n,), generator=gen)
        # Points near a subset of the modes, some scattered far off, and one mode given few points.
        points = centres[which] + toy2d.MIXTURE_STD[name] * 1.5 * torch.randn(n, 2, generator=gen)
        points[: n // 10] = 4 * torch.rand(n // 10, 2, generator=gen) - 2
        points[n // 10: n // 10 + 2] = centres[kept - 1]
        cases.append((name, points, radius, min_share))
    for name, points, radius, min_share in cases:
        centres = toy2d.modes(name)
        expected_covered, expected_counts = toy2d.mode_coverage(points, name, radius=radius, min_share=min_share)
        used_radius = 3 * toy2d.MIXTURE_STD[name] if radius is None else radius
        case = f"{len(points)} points around the {len(centres)} modes of {name}, radius={used_radius}, min_share={min_share}"
        result = fn(points.clone(), centres.clone(), used_radius, min_share)
        if not isinstance(result, tuple) or len(result) != 2:
            raise Mismatch(f"{case}: expected a pair (covered, counts), got {type(result).__name__}")
        covered, counts = result
        assert_close(counts, expected_counts, what="the points counted for each mode", case=case, atol=0)
        covered = float(covered)
        if abs(covered - expected_covered) > 1e-6:
            raise Mismatch(f"{case}: expected covered = {expected_covered:.4f} (a fraction of the modes), got {covered:.4f}")
    return "5 point clouds: the same counts per mode and the same fraction covered as tinyvdm.data.toy2d"


@exercise("01.to_tokens", "to_tokens",
          "a point (b, 2) -> the bin of each coordinate (b, 2) int64, out-of-range points in the end bins")
def check_to_tokens(fn) -> str:
    gen = torch.Generator().manual_seed(2)
    for bins, low, high in [(128, -2.2, 2.2), (10, -1.0, 1.0), (7, 0.0, 3.5), (33, -3.0, 1.0)]:
        grid = TokenGrid(bins=bins, low=low, high=high)
        span = high - low
        points = low - 0.2 * span + 1.4 * span * torch.rand(300, 2, generator=gen)  # some outside the range
        points[:3] = torch.tensor([[low, high], [low + grid.bin_width * 2.5, low + grid.bin_width * 0.999],
                                   [high - 1e-4, low - 1e-4]])
        assert_close(fn(points.clone(), bins, low, high), to_tokens(points, grid), what="the tokens",
                     case=f"300 points, {bins} bins over [{low}, {high})", atol=0)
    return "4 grids: every coordinate in the same bin as the library's tokenizer, edges and outliers too"


@exercise("01.sample_token", "sample_token",
          "one ancestral sampling step: logits (b, bins) and uniforms (b,) -> tokens (b,) by the inverse CDF")
def check_sample_token(fn) -> str:
    gen = torch.Generator().manual_seed(3)
    for b, bins, temperature, scale in [(50, 8, 1.0, 1.0), (40, 128, 0.5, 2.0), (30, 5, 2.0, 3.0), (20, 16, 0.1, 1.0)]:
        logits = scale * torch.randn(b, bins, generator=gen)
        uniform = torch.rand(b, generator=gen)
        uniform[0] = 0.0
        uniform[1] = 1 - 1e-7
        assert_close(fn(logits.clone(), uniform.clone(), temperature), sample_token(logits, uniform, temperature),
                     what="the tokens", case=f"{b} rows of {bins} logits, temperature {temperature}", atol=0)
    return "4 batches of logits: the same token as the library's inverse-CDF draw for every uniform"
