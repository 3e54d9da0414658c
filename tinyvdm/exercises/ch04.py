"""Checks for chapter 04, GAN vs VAE and their training challenges (``exercises/04_gan_vs_vae.py``)."""

from __future__ import annotations

import torch

from tinyvdm.exercises.compare import assert_close
from tinyvdm.exercises.registry import Mismatch, exercise
from tinyvdm.metrics.sharpness import gradient_energy
from tinyvdm.models.vae import active_units, kl_weight


def _means_away_from_threshold(n: int, units: int, threshold: float, gen: torch.Generator) -> torch.Tensor:
    """Posterior means ``(n, units)`` whose per-unit variances across clips sit well away from ``threshold``.

    Unit scales are spread over five decades, and a unit whose variance lands within 30% of the
    threshold is drawn again, so the biased and unbiased variance both give the library's count.
    """
    columns = []
    while len(columns) < units:
        scale = 10 ** (torch.rand((), generator=gen) * 5 - 4)  # std from 1e-4 to 10
        column = torch.randn(n, generator=gen) * scale + torch.randn((), generator=gen)
        variance = float(column.double().var())
        if abs(variance - threshold) > 0.3 * threshold and abs(variance * (n - 1) / n - threshold) > 0.3 * threshold:
            columns.append(column)
    return torch.stack(columns, dim=1)


@exercise("04.active_units", "count_active_units",
          "how many latent units are active: Var over clips of the posterior mean > threshold")
def check_active_units(fn) -> str:
    gen = torch.Generator().manual_seed(4)
    cases = [((16, 12), 0.01), ((9, 30), 0.01), ((40, 7), 0.1), ((12, 2, 3, 4), 0.01)]
    for shape, threshold in cases:
        n, units = shape[0], int(torch.tensor(shape[1:]).prod())
        means = _means_away_from_threshold(n, units, threshold, gen).reshape(shape)
        expected = active_units(means, threshold)
        got = fn(means.clone(), threshold)
        if int(got) != expected:
            raise Mismatch(f"posterior means of shape {shape}, threshold {threshold}: expected {expected} active "
                           f"units, got {got}")
    return "4 sets of posterior means, latent vectors and latent grids, counted like the library"


@exercise("04.kl_weight", "anneal_weight",
          "the KL weight at a step: linear warm-up to beta, or cyclical ramps (Bowman 2016, Fu 2019)")
def check_kl_weight(fn) -> str:
    cases = []
    for beta, warmup in ((1.0, 100), (0.5, 7), (2.0, 1)):
        cases += [(step, beta, warmup, "linear", None, 0.5) for step in (0, 1, 3, warmup - 1, warmup, 5 * warmup + 3)]
    for beta, cycle, ramp in ((1.0, 10, 0.5), (0.8, 7, 1.0), (1.5, 12, 0.25)):
        cases += [(step, beta, 0, "cyclical", cycle, ramp) for step in (0, 1, 2, 3, cycle - 1, cycle, cycle + 2, 5 * cycle + 4)]
    for step, beta, warmup, schedule, cycle, ramp in cases:
        expected = kl_weight(step, beta, warmup_steps=warmup, schedule=schedule, cycle_steps=cycle, ramp_fraction=ramp)
        got = fn(step, beta, warmup, schedule, cycle, ramp)
        assert_close(torch.tensor(float(got), dtype=torch.float64), torch.tensor(expected, dtype=torch.float64), what="the weight",
                     case=f"step={step}, beta={beta}, warmup_steps={warmup}, schedule={schedule!r}, "
                          f"cycle_steps={cycle}, ramp_fraction={ramp}", atol=1e-9, rtol=1e-9)
    return f"{len(cases)} steps of linear and cyclical schedules agree with the library"


@exercise("04.gradient_energy", "gradient_energy",
          "sharpness of clips (n, t, c, h, w) -> (n,): mean squared horizontal + vertical pixel differences")
def check_gradient_energy(fn) -> str:
    gen = torch.Generator().manual_seed(40)
    shapes = [(2, 3, 3, 8, 8), (1, 2, 1, 5, 7), (3, 4, 2, 6, 4)]
    for shape in shapes:
        x = torch.rand(shape, generator=gen) * 2 - 1
        x[:, :, :, :, : shape[-1] // 2] *= 0.2  # the left half smoother than the right: h and w are not alike
        assert_close(fn(x.clone()), gradient_energy(x), what="the energies",
                     case=f"clips of shape (n, t, c, h, w) = {shape}", atol=1e-6, rtol=1e-5)
    return "3 batches of clips scored like tinyvdm.metrics.sharpness.gradient_energy"
