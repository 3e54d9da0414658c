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
# # Exercises 04: GAN vs VAE, training challenges
#
# Three pieces of chapter 04: counting the active latent units that reveal posterior collapse,
# the KL-annealing schedule that fights it, and the sharpness measure that tells a blurred VAE
# sample from a sharp GAN one. Write each function in place of the `raise NotImplementedError`
# line and run the `check(...)` under it: it compares your function with the library on several
# inputs and says what it expected and what it got. A failed check never stops the notebook; the
# last cell shows your score.
#
# (You are reading the teacher's copy, with the answers. `make blank-exercises` writes your own
# blank copies to `my_exercises/`.)

# %%
import torch

from tinyvdm.exercises import check, score

# %% [markdown]
# ## Exercise 1: active units
#
# `posterior_means` has one row per clip, `(n, ...)`: the encoder's mean for every latent unit
# (every entry after the first axis is a unit; a latent grid `(n, t, z, h, w)` has `t z h w`
# units). A unit is **active** when its mean *varies across clips*: its variance over the `n`
# clips exceeds `threshold` (Burda et al. 2016). A collapsed unit gives every clip the same mean.
# Return the number of active units, an `int`.

# %%
def count_active_units(posterior_means: torch.Tensor, threshold: float) -> int:
    """(n, ...) posterior means -> how many units have Var over clips > threshold."""
    # BEGIN SOLUTION
    variance = posterior_means.flatten(1).var(dim=0)  # (units,)
    return int((variance > threshold).sum())
    # END SOLUTION


check("04.active_units")

# %% [markdown]
# ## Exercise 2: the KL weight schedule
#
# Return the KL weight at optimizer step `step` (counted from 0):
#
# - `schedule == "linear"`: `beta * min(1, step / warmup_steps)`, or `beta` when `warmup_steps`
#   is 0 (Bowman et al. 2016);
# - `schedule == "cyclical"`: the same ramp restarted every `cycle_steps` steps; inside each
#   cycle the weight rises linearly from 0 over the first `ramp_fraction` of the cycle, then holds
#   at `beta` (Fu et al. 2019). `(step % cycle_steps) / cycle_steps` is where you are in a cycle.

# %%
def anneal_weight(step: int, beta: float, warmup_steps: int, schedule: str, cycle_steps, ramp_fraction: float) -> float:
    """The KL weight at ``step`` for a "linear" or "cyclical" schedule."""
    # BEGIN SOLUTION
    if schedule == "linear":
        return beta if warmup_steps == 0 else beta * min(1.0, step / warmup_steps)
    position = (step % cycle_steps) / cycle_steps
    return beta * min(1.0, position / ramp_fraction)
    # END SOLUTION


check("04.kl_weight")

# %% [markdown]
# ## Exercise 3: sharpness as gradient energy
#
# For clips `(n, t, c, h, w)` return one number per clip, `(n,)`: the mean of the squared
# differences between horizontal neighbours (`x[..., :, 1:] - x[..., :, :-1]`) plus the mean of
# the squared differences between vertical neighbours, each mean taken over all its differences,
# channels and frames. A blur shrinks it.

# %%
def gradient_energy(videos: torch.Tensor) -> torch.Tensor:
    """(n, t, c, h, w) -> (n,) mean squared horizontal + vertical differences."""
    # BEGIN SOLUTION
    dx = (videos[..., :, 1:] - videos[..., :, :-1]).pow(2).flatten(1).mean(dim=1)
    dy = (videos[..., 1:, :] - videos[..., :-1, :]).pow(2).flatten(1).mean(dim=1)
    return dx + dy
    # END SOLUTION


check("04.gradient_energy")

# %% [markdown]
# ## Your score

# %%
score("04")
