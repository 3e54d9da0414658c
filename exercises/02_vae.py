# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exercises 02: the VAE
#
# Three pieces of chapter 02, the three lines a VAE's training step rests on: drawing a latent
# sample that gradients can flow through, the KL of the encoder's Gaussian to the prior, and the
# negative ELBO that the trainer minimises. Write each function in place of the
# `raise NotImplementedError` line and run the `check(...)` under it: it compares your function
# with the library (`tinyvdm.models.vae`) on random latent grids `(b, t', z, h', w')` and clips
# `(b, t, c, h, w)` of several shapes, and says what it expected and what it got. A failed check
# never stops the notebook; the last cell shows your score.
#
# Conventions (the library's): the encoder returns a `mean` and a `logvar` (the log of the
# variance, not of the standard deviation), both shaped like the latent grid. Every sum runs over
# all axes **but the batch axis**: one number per clip.
#
# (You are reading the teacher's copy, with the answers. `make blank-exercises` writes your own
# blank copies to `my_exercises/`.)

# %%
import math

import torch

from tinyvdm.exercises import check, score

# %% [markdown]
# ## Exercise 1: the reparameterisation trick
#
# Sampling `z ~ N(mean, exp(logvar))` with `torch.normal` gives a number with no gradient: the
# loss could not reach the encoder through it. Written as a fixed noise draw `eps ~ N(0, I)`
# moved and stretched by the encoder's outputs,
#
# $$z = \mu + \sigma \odot \epsilon, \qquad \sigma = \exp(\tfrac12 \log\sigma^2),$$
#
# the sample is a plain differentiable function of `mean` and `logvar`. Write
# `reparameterise(mean, logvar, eps)`. The check also looks at the gradients: `dz/dmean` must be
# 1 and `dz/dlogvar` must be `eps * sigma / 2`.

# %%
def reparameterise(mean: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """mean, logvar, eps (b, t', z, h', w') -> z of the same shape, differentiable in mean and logvar."""
    # BEGIN SOLUTION
    return mean + torch.exp(0.5 * logvar) * eps
    # END SOLUTION


check("02.reparameterise")

# %% [markdown]
# ## Exercise 2: the KL of the posterior to the prior
#
# For one latent number with posterior `N(mu, sigma^2)` and prior `N(0, 1)`,
#
# $$\mathrm{KL} = \tfrac12\left(\mu^2 + \sigma^2 - 1 - \log\sigma^2\right)$$
#
# nats. The numbers of a diagonal Gaussian are independent, so their KLs add up. Write
# `gaussian_kl(mean, logvar)` returning one KL per sample, shape `(b,)`. (At `mean = 0`,
# `logvar = 0` the posterior *is* the prior: your KL must be exactly 0 there.)

# %%
def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) in nats, summed over all but the batch axis: (b,)."""
    # BEGIN SOLUTION
    terms = mean.pow(2) + torch.exp(logvar) - 1.0 - logvar  # (b, ...)
    return 0.5 * terms.flatten(1).sum(dim=1)
    # END SOLUTION


check("02.gaussian_kl")

# %% [markdown]
# ## Exercise 3: the negative ELBO
#
# The decoder of the course's VAE is a Gaussian with a fixed standard deviation `decoder_std`
# around its output `recon`, so the reconstruction term is a Gaussian negative log-likelihood,
# summed over the `D = t c h w` numbers of a clip:
#
# $$-\log p(x \mid z) = \frac{\lVert x - \hat x \rVert^2}{2\,\sigma_{dec}^2} + D\left(\log\sigma_{dec} + \tfrac12\log 2\pi\right).$$
#
# The negative ELBO adds the KL of exercise 2, weighted by `beta` (1 for the true bound; the
# beta-VAE and KL annealing change it). Write `negative_elbo(x, recon, mean, logvar,
# decoder_std, beta)` returning one number per clip, `(b,)`, in nats. Keep the constant term:
# without it the number is no longer a bound on `-log p(x)`, and bits per dimension come out
# wrong. You may call your `gaussian_kl`.

# %%
def negative_elbo(x: torch.Tensor, recon: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor,
                  decoder_std: float, beta: float = 1.0) -> torch.Tensor:
    """x, recon (b, t, c, h, w); mean, logvar (b, t', z, h', w') -> -ELBO per clip (b,), in nats."""
    # BEGIN SOLUTION
    dims = x[0].numel()
    squared = (x - recon).pow(2).flatten(1).sum(dim=1)  # (b,)
    nll = squared / (2 * decoder_std**2) + dims * (math.log(decoder_std) + 0.5 * math.log(2 * math.pi))
    return nll + beta * gaussian_kl(mean, logvar)
    # END SOLUTION


check("02.negative_elbo")

# %% [markdown]
# ## Your score

# %%
score("02")
