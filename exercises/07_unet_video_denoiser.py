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
# # Exercises 07: the UNet denoiser for video
#
# Five pieces of chapter 07: how the network is told the diffusion step, how a DDIM sampler
# takes one step, how it takes one that agrees with its clipping, how the chapter's re-noising
# sampler takes one, and the reshape that lets a temporal layer look across frames. Write each
# function in place of the `raise NotImplementedError` line and run the `check(...)` under it: it
# compares your function with the library on random inputs and says what it expected and what
# it got. A failed check never stops the notebook; the last cell shows your score.
#
# (You are reading the teacher's copy, with the answers. `make blank-exercises` writes your own
# blank copies to `my_exercises/`.)

# %%
import math

import torch
from einops import rearrange

from tinyvdm.exercises import check, score

# %% [markdown]
# ## Exercise 1: the sinusoidal step code
#
# The UNet learns one network for every noise level, so it must be told the step `t`. It gets a
# fixed code first: with `half = dim // 2` frequencies `freq_i = 10000 ** (-i / half)` for
# `i = 0 .. half - 1`, the code of step `t` is
#
# `[cos(t * freq_0), ..., cos(t * freq_{half-1}), sin(t * freq_0), ..., sin(t * freq_{half-1})]`
#
# (all cosines, then all sines), plus one zero column at the end when `dim` is odd.
# Write `timestep_embedding(timestep, dim)` for a batch of steps `(b,)` returning `(b, dim)`
# in float32. Integer steps come in: convert before multiplying.

# %%
def timestep_embedding(timestep: torch.Tensor, dim: int) -> torch.Tensor:
    """(b,) diffusion steps -> (b, dim) sinusoidal code: cosines, then sines, then a zero if dim is odd."""
    # BEGIN SOLUTION
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)  # (half,)
    angles = timestep.float()[:, None] * freqs[None, :]  # (b, half)
    code = torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)  # (b, 2 * half)
    if dim % 2:
        code = torch.cat([code, torch.zeros(len(timestep), 1)], dim=1)
    return code
    # END SOLUTION


check("07.timestep_embedding")

# %% [markdown]
# ## Exercise 2: one DDIM step
#
# DDIM (Song et al. 2021) with `eta = 0` is deterministic. From the network's noise guess `eps`
# at the current sample `x_t`, with `a_t = alpha_bar[t]` and `a_prev = alpha_bar[t_prev]`
# (`a_prev = 1` when the step leads to the clean clip):
#
# 1. predict the clean clip: `x0 = (x_t - sqrt(1 - a_t) * eps) / sqrt(a_t)`;
# 2. re-noise it to the earlier step along the same noise direction:
#    `x_prev = sqrt(a_prev) * x0 + sqrt(1 - a_prev) * eps`.
#
# Write `ddim_step(eps, xt, alpha_bar_t, alpha_bar_prev)` returning the tuple `(x_prev, x0)`.
# `alpha_bar_t` and `alpha_bar_prev` are Python floats. Do not clip `x0` (the library's sampler
# can clip it to `[-1, 1]`; the check turns that off).

# %%
def ddim_step(eps: torch.Tensor, xt: torch.Tensor, alpha_bar_t: float, alpha_bar_prev: float):
    """One DDIM step with eta = 0: returns (x_prev, predicted x0), both shaped like xt."""
    # BEGIN SOLUTION
    x0 = (xt - math.sqrt(1.0 - alpha_bar_t) * eps) / math.sqrt(alpha_bar_t)
    x_prev = math.sqrt(alpha_bar_prev) * x0 + math.sqrt(1.0 - alpha_bar_prev) * eps
    return x_prev, x0
    # END SOLUTION


check("07.ddim_step")

# %% [markdown]
# ## Exercise 3: a DDIM step that agrees with its clipping
#
# The data lie in `[-1, 1]`, so samplers clip the predicted clean clip: `x0 = clamp(x0, -1, 1)`.
# Chapter 07 ("DDPM against DDIM") found that this alone breaks stochastic DDIM at many steps: the
# step then moves towards the clipped `x0` along the *unclipped* network's `eps`, two halves that
# no longer describe the same `x_t`. The fix: after clipping, recompute the noise that, with the
# clipped `x0`, gives back `x_t`, from `x_t = sqrt(a_t) * x0 + sqrt(1 - a_t) * eps`; then take the
# step of exercise 2 with both.
#
# Write `clipped_ddim_step(eps, xt, alpha_bar_t, alpha_bar_prev)` returning `(x_prev, x0)` with
# the clipped `x0` (`eta = 0`, as in exercise 2).

# %%
def clipped_ddim_step(eps: torch.Tensor, xt: torch.Tensor, alpha_bar_t: float, alpha_bar_prev: float):
    """One DDIM step (eta = 0) with x0 clipped to [-1, 1] and eps recomputed from it: (x_prev, x0)."""
    # BEGIN SOLUTION
    x0 = ((xt - math.sqrt(1.0 - alpha_bar_t) * eps) / math.sqrt(alpha_bar_t)).clamp(-1.0, 1.0)
    eps = (xt - math.sqrt(alpha_bar_t) * x0) / math.sqrt(1.0 - alpha_bar_t)  # the noise this x0 implies
    x_prev = math.sqrt(alpha_bar_prev) * x0 + math.sqrt(1.0 - alpha_bar_prev) * eps
    return x_prev, x0
    # END SOLUTION


check("07.clipped_ddim_step")

# %% [markdown]
# ## Exercise 4: one step of the re-noising sampler
#
# Chapter 07 samples with a sampler that keeps nothing of `x_t` but the network's guess: from the
# noise guess `eps` at `x_t`, predict the clean clip and clip it to `[-1, 1]` (as in exercise 3),
# then noise that guess afresh to the earlier step with the new noise `z` it is given:
# `x_prev = sqrt(a_prev) * x0 + sqrt(1 - a_prev) * z`. At the last step (`a_prev = 1`) this
# returns the clean clip itself.
#
# Write `renoise_step(eps, xt, alpha_bar_t, alpha_bar_prev, noise)` returning `(x_prev, x0)`.

# %%
def renoise_step(eps: torch.Tensor, xt: torch.Tensor, alpha_bar_t: float, alpha_bar_prev: float,
                 noise: torch.Tensor):
    """One re-noising step: x0 from eps, clipped to [-1, 1], noised afresh with ``noise``: (x_prev, x0)."""
    # BEGIN SOLUTION
    x0 = ((xt - math.sqrt(1.0 - alpha_bar_t) * eps) / math.sqrt(alpha_bar_t)).clamp(-1.0, 1.0)
    x_prev = math.sqrt(alpha_bar_prev) * x0 + math.sqrt(1.0 - alpha_bar_prev) * noise
    return x_prev, x0
    # END SOLUTION


check("07.renoise_step")

# %% [markdown]
# ## Exercise 5: tokens for temporal attention
#
# Inside the UNet the frames of `b` clips are folded into the batch: activations are
# `((b t), c, h, w)`, clip-major (all frames of clip 0, then clip 1, ...). A temporal attention
# layer wants one short sequence per pixel: for every clip and every pixel, the `t` feature
# vectors of that pixel across the frames, `((b h w), t, c)`, ordered clip, then row, then
# column. Write `temporal_tokens(x, frames)` with one `einops.rearrange`.

# %%
def temporal_tokens(x: torch.Tensor, frames: int) -> torch.Tensor:
    """((b t), c, h, w) -> ((b h w), t, c): one sequence over the frames per pixel of each clip."""
    # BEGIN SOLUTION
    return rearrange(x, "(b t) c h w -> (b h w) t c", t=frames)
    # END SOLUTION


check("07.temporal_tokens")

# %% [markdown]
# ## Your score

# %%
score("07")
