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
# # Exercises 06: diffusion, forward and reverse
#
# Three functions from chapter 06: the jump to any noise level, the posterior mean, and one step
# of the DDPM sampler. Write each one in place of the `raise NotImplementedError` line, then run
# the `check(...)` cell under it: it tests your function against the library on random videos
# `(b, t, c, h, w)` of several shapes, under three schedules, with a **different diffusion step
# for each sample of the batch** (step 0 and the last step always among them), and tells you what
# it expected and what it got. A failed check never stops the notebook. The last cell shows your
# score.
#
# Conventions (the library's, see `tinyvdm/diffusion/schedules.py`):
#
# - `timestep` is a `(b,)` int64 tensor in `0 .. T - 1`; `timestep = k` is the paper's `t = k + 1`.
# - `beta`, `alpha = 1 - beta` and `alpha_bar` (the running product of `alpha`) are `(T,)` tensors.
#   `alpha_bar_prev`, the value one step earlier, is **1 before step 0**.
# - A per-step number picked with `values[timestep]` has shape `(b,)`: reshape it to
#   `(b, 1, 1, 1, 1)` so that it multiplies each *sample* of a `(b, t, c, h, w)` batch, not each
#   frame.
#
# (You are reading the teacher's copy, with the answers. `make blank-exercises` writes your own
# blank copies to `my_exercises/`.)

# %%
import torch

from tinyvdm.exercises import check, score

# %% [markdown]
# ## Exercise 1: jump straight to step t
#
# The forward process never has to be run step by step: with `alpha_bar` it jumps to any step
# at once (DDPM eq. 4),
#
# $$x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon .$$
#
# Write `q_sample(x0, timestep, eps, alpha_bar)`.

# %%
def q_sample(x0: torch.Tensor, timestep: torch.Tensor, eps: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """x0, eps (b, t, c, h, w); timestep (b,); alpha_bar (T,) -> xt (b, t, c, h, w)."""
    # BEGIN SOLUTION
    a = alpha_bar[timestep].view(-1, 1, 1, 1, 1)  # (b,) -> (b, 1, 1, 1, 1)
    return a.sqrt() * x0 + (1 - a).sqrt() * eps
    # END SOLUTION


check("06.q_sample")

# %% [markdown]
# ## Exercise 2: the posterior mean
#
# Given both the clean clip and the noisy one, the step before is Gaussian with a mean that
# mixes the two (DDPM eq. 7):
#
# $$\tilde\mu_t(x_t, x_0) = \frac{\beta_t \sqrt{\bar\alpha_{t-1}}}{1 - \bar\alpha_t}\, x_0
# + \frac{(1 - \bar\alpha_{t-1}) \sqrt{\alpha_t}}{1 - \bar\alpha_t}\, x_t .$$
#
# Write `posterior_mean(x0, xt, timestep, beta, alpha, alpha_bar)`. Step 0 needs care: there
# `alpha_bar_prev` is 1, not `alpha_bar[-1]` (which Python reads as the *last* step).

# %%
def posterior_mean(x0: torch.Tensor, xt: torch.Tensor, timestep: torch.Tensor, beta: torch.Tensor,
                   alpha: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """x0, xt (b, t, c, h, w); timestep (b,); beta, alpha, alpha_bar (T,) -> mean (b, t, c, h, w)."""
    # BEGIN SOLUTION
    alpha_bar_prev = torch.cat([alpha_bar.new_ones(1), alpha_bar[:-1]])

    def at(values):
        return values[timestep].view(-1, 1, 1, 1, 1)  # (b,) -> (b, 1, 1, 1, 1)

    coef_x0 = at(beta) * at(alpha_bar_prev).sqrt() / (1 - at(alpha_bar))
    coef_xt = (1 - at(alpha_bar_prev)) * at(alpha).sqrt() / (1 - at(alpha_bar))
    return coef_x0 * x0 + coef_xt * xt
    # END SOLUTION


check("06.posterior_mean")

# %% [markdown]
# ## Exercise 3: one step of the DDPM sampler
#
# A trained network gives `eps_pred`, its guess of the noise in `xt`. One ancestral step
# (DDPM Algorithm 2, line 4) goes to the step before:
#
# 1. the clean clip implied by the guess: `x0 = (xt - sqrt(1 - alpha_bar) eps_pred) / sqrt(alpha_bar)`;
# 2. the posterior mean of exercise 2 at that `x0` (equivalently eq. 11:
#    `(xt - beta / sqrt(1 - alpha_bar) eps_pred) / sqrt(alpha)`);
# 3. plus `sigma * noise`, where `noise` is given (so the check can replay it).
#
# Two rules decide the answer, and this exercise fixes both:
#
# - **The variance is the posterior variance** `sigma^2 = beta_tilde = beta (1 - alpha_bar_prev) / (1 - alpha_bar)`
#   (DDPM's "fixed small" choice, the library's default). DDPM also allows `sigma^2 = beta`
#   ("fixed large"); that is not a mistake in general, but it is a different sampler, and this
#   check accepts only `beta_tilde`.
# - **No noise at step 0** (the paper's `t = 1`): the last step returns the mean alone. (There
#   `beta_tilde` is 0 anyway; the rule matters for the `beta` choice and for code that divides
#   by `sigma`.)
#
# Do not clip the predicted `x0` (the library's sampler clips by default; the check runs it with
# `clip_x0=False`). Write `ddpm_step(xt, eps_pred, timestep, noise, beta, alpha, alpha_bar)`.

# %%
def ddpm_step(xt: torch.Tensor, eps_pred: torch.Tensor, timestep: torch.Tensor, noise: torch.Tensor,
              beta: torch.Tensor, alpha: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """xt, eps_pred, noise (b, t, c, h, w); timestep (b,); beta, alpha, alpha_bar (T,) -> x_{t-1}."""
    # BEGIN SOLUTION
    alpha_bar_prev = torch.cat([alpha_bar.new_ones(1), alpha_bar[:-1]])

    def at(values):
        return values[timestep].view(-1, 1, 1, 1, 1)  # (b,) -> (b, 1, 1, 1, 1)

    mean = (xt - at(beta) / (1 - at(alpha_bar)).sqrt() * eps_pred) / at(alpha).sqrt()  # eq. 11
    variance = at(beta) * (1 - at(alpha_bar_prev)) / (1 - at(alpha_bar))  # beta_tilde, eq. 7
    last = (timestep == 0).view(-1, 1, 1, 1, 1)  # no noise at step 0
    return torch.where(last, mean, mean + variance.sqrt() * noise)
    # END SOLUTION


check("06.ddpm_step")

# %% [markdown]
# ## Your score

# %%
score("06")
