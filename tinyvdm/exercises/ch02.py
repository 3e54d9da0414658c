"""Checks for chapter 02, the VAE (``exercises/02_vae.py``).

Every check runs on latent grids or clips of several shapes with no two axes of equal length, so
a sum over the wrong axis changes the shape or the values. Log-variances are drawn in
``[-4, 3]``, inside the library's clamp, so an exact formula matches the library to float
precision.
"""

from __future__ import annotations

import math

import torch

from tinyvdm.exercises.compare import assert_close
from tinyvdm.exercises.registry import Mismatch, exercise
from tinyvdm.models.vae import DiagonalGaussian, gaussian_nll

# (b, t', z, h', w') latent grids; the last one has a batch of 1.
_LATENT_SHAPES = [(3, 2, 4, 5, 6), (2, 5, 3, 4, 1), (1, 4, 2, 3, 5)]
# (b, t, c, h, w) clips.
_CLIP_SHAPES = [(3, 4, 2, 5, 6), (2, 3, 1, 6, 4), (4, 2, 3, 5, 7)]


def _gaussian(shape, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    mean = 2 * torch.randn(shape, generator=gen, dtype=torch.float64)
    logvar = -4 + 7 * torch.rand(shape, generator=gen, dtype=torch.float64)
    return mean, logvar


@exercise("02.reparameterise", "reparameterise",
          "z = mean + exp(logvar / 2) * eps, a sample the gradient flows through")
def check_reparameterise(fn) -> str:
    gen = torch.Generator().manual_seed(20)
    for shape in _LATENT_SHAPES:
        mean, logvar = _gaussian(shape, gen)
        eps = torch.randn(shape, generator=gen, dtype=torch.float64)
        case = f"mean, logvar, eps of shape {shape}"
        mean_in, logvar_in = mean.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
        z = fn(mean_in, logvar_in, eps.clone())
        expected = mean + torch.exp(0.5 * logvar) * eps
        assert_close(z, expected, what="z", case=case, atol=1e-8, rtol=1e-8)
        # The point of the trick: dz/dmean = 1 and dz/dlogvar = eps * std / 2, through the sample.
        if not z.requires_grad:
            raise Mismatch(f"{case}: z carries no gradient (did you detach it, or draw it with "
                           "torch.normal?); the loss could not train the encoder through it")
        weights = torch.randn(shape, generator=gen, dtype=torch.float64)
        (z * weights).sum().backward()
        if mean_in.grad is None or logvar_in.grad is None:
            raise Mismatch(f"{case}: no gradient reached {'mean' if mean_in.grad is None else 'logvar'}")
        assert_close(mean_in.grad, weights, what="the gradient with respect to mean", case=case,
                     atol=1e-8, rtol=1e-8)
        assert_close(logvar_in.grad, weights * eps * torch.exp(0.5 * logvar) / 2,
                     what="the gradient with respect to logvar", case=case, atol=1e-8, rtol=1e-8)
    return "3 latent grids sampled correctly, with the right gradients to mean and logvar"


@exercise("02.gaussian_kl", "gaussian_kl",
          "KL(N(mean, exp(logvar)) || N(0, I)) in nats, summed over all but the batch axis: (b,)")
def check_gaussian_kl(fn) -> str:
    gen = torch.Generator().manual_seed(21)
    for shape in _LATENT_SHAPES:
        mean, logvar = _gaussian(shape, gen)
        expected = DiagonalGaussian(mean, logvar).kl()
        assert_close(fn(mean.clone(), logvar.clone()), expected, what="the KL per sample",
                     case=f"mean, logvar of shape {shape}", atol=1e-7, rtol=1e-9)
    # At the prior itself the KL is exactly 0, whatever the shape.
    zeros = torch.zeros(2, 3, 1, 2, 2, dtype=torch.float64)
    assert_close(fn(zeros.clone(), zeros.clone()), torch.zeros(2, dtype=torch.float64), what="the KL per sample",
                 case="mean = 0 and logvar = 0 (the prior itself)", atol=1e-12)
    return "3 posteriors and the prior itself: the KL matches the library's, one number per sample"


@exercise("02.negative_elbo", "negative_elbo",
          "-ELBO in nats per clip: Gaussian reconstruction NLL + beta * KL to the prior: (b,)")
def check_negative_elbo(fn) -> str:
    gen = torch.Generator().manual_seed(22)
    cases = 0
    for shape, latent_shape, std, beta in zip(_CLIP_SHAPES, _LATENT_SHAPES, (0.1, 0.5, 1.3), (1.0, 0.25, 3.0)):
        x = 2 * torch.rand(shape, generator=gen, dtype=torch.float64) - 1
        recon = x + 0.2 * torch.randn(shape, generator=gen, dtype=torch.float64)
        mean, logvar = _gaussian((shape[0],) + latent_shape[1:], gen)
        # The library's gaussian_nll, written out in float64 (the library sums in float32).
        dims = x[0].numel()
        nll = (x - recon).pow(2).flatten(1).sum(1) / (2 * std**2) + dims * (math.log(std) + 0.5 * math.log(2 * math.pi))
        if not torch.allclose(nll.float(), gaussian_nll(x, recon, std), rtol=1e-5):
            raise AssertionError("the check's own reference disagrees with tinyvdm.models.vae.gaussian_nll")
        expected = nll + beta * DiagonalGaussian(mean, logvar).kl()
        got = fn(x.clone(), recon.clone(), mean.clone(), logvar.clone(), std, beta)
        case = f"clips {shape}, latents {(shape[0],) + latent_shape[1:]}, decoder_std={std}, beta={beta}"
        assert_close(got, expected, what="the negative ELBO per clip", case=case, atol=1e-6, rtol=1e-9)
        cases += 1
    return f"{cases} batches: reconstruction term (with its constant) plus beta times the KL, per clip"
