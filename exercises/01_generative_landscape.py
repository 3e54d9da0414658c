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
# # Exercises 01: the generative landscape
#
# Three pieces of chapter 01: the number that tells which models cover every mode, and the two
# halves of the toy autoregressive model, turning a point into tokens and drawing one token from
# the model's logits. Write each function in place of the `raise NotImplementedError` line and
# run the `check(...)` under it: it compares your function with the library on several inputs and
# says what it expected and what it got. A failed check never stops the notebook; the last cell
# shows your score.
#
# (You are reading the teacher's copy, with the answers. `make blank-exercises` writes your own
# blank copies to `my_exercises/`.)

# %%
import torch

from tinyvdm.exercises import check, score

# %% [markdown]
# ## Exercise 1: mode coverage
#
# A mixture of Gaussians has known centres `centres` `(k, 2)`. Given a model's samples `points`
# `(n, 2)`:
#
# 1. give each point to its nearest centre, and count it only if it lies within `radius` of that
#    centre (Euclidean distance, `<=`): `counts` `(k,)`, an int64 tensor;
# 2. call a mode **covered** when its count reaches `min_share` of its fair share `n / k`, and
#    never fewer than one point (so `min_share = 0` still needs a point);
# 3. return `(covered, counts)`, with `covered` the *fraction* of the `k` modes that are covered
#    (a float in `[0, 1]`).
#
# `torch.cdist` gives all the distances at once; `torch.bincount(..., minlength=k)` counts.

# %%
def mode_coverage(points: torch.Tensor, centres: torch.Tensor, radius: float, min_share: float):
    """(n, 2) points, (k, 2) centres -> (fraction of modes covered, (k,) int64 counts)."""
    # BEGIN SOLUTION
    distance, nearest = torch.cdist(points, centres).min(dim=1)  # (n,), (n,)
    counts = torch.bincount(nearest[distance <= radius], minlength=len(centres))
    threshold = max(1.0, min_share * len(points) / len(centres))
    return (counts >= threshold).float().mean().item(), counts
    # END SOLUTION


check("01.mode_coverage")

# %% [markdown]
# ## Exercise 2: a point as two tokens
#
# The toy autoregressive model does not predict numbers, it predicts tokens: each coordinate is
# cut into `bins` equal bins over `[low, high)`, of width `w = (high - low) / bins`, and bin `k`
# holds `[low + k w, low + (k + 1) w)`. Return the bin of each coordinate, `(b, 2)` int64. A
# coordinate below `low` goes to bin 0, one at or above `high` to bin `bins - 1`.

# %%
def to_tokens(points: torch.Tensor, bins: int, low: float, high: float) -> torch.Tensor:
    """(b, 2) float -> (b, 2) int64 in 0 .. bins - 1."""
    # BEGIN SOLUTION
    width = (high - low) / bins
    return torch.floor((points - low) / width).clamp(0, bins - 1).long()
    # END SOLUTION


check("01.to_tokens")

# %% [markdown]
# ## Exercise 3: one ancestral sampling step
#
# At each position the model gives `logits` `(b, bins)`; the sampler draws one token per row
# from `p = softmax(logits / temperature)`. Do it with the inverse CDF, so that the draw is a
# function you can check: given one uniform number `u` in `[0, 1)` per row, the token is the first
# `k` whose running sum `F[k] = p[0] + ... + p[k]` is **greater than** `u`. (Floating-point sums
# can leave `F[-1]` a hair below 1: never return a token past `bins - 1`.)
#
# The toy model calls this twice per point: once for `x`, once more for `y` given the `x` just
# drawn. That second call is why its sampling cost is two network calls, not one.

# %%
def sample_token(logits: torch.Tensor, uniform: torch.Tensor, temperature: float) -> torch.Tensor:
    """(b, bins) logits, (b,) uniforms -> (b,) int64 tokens."""
    # BEGIN SOLUTION
    cdf = torch.softmax(logits / temperature, dim=1).cumsum(dim=1)  # (b, bins)
    return (cdf <= uniform[:, None]).sum(dim=1).clamp(max=logits.shape[1] - 1)
    # END SOLUTION


check("01.sample_token")

# %% [markdown]
# ## Your score

# %%
score("01")
