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
# # Exercises 05: autoregressive video
#
# Three pieces of chapter 05: the tokenizer's nearest-code lookup, the distribution a sampler
# draws each token from, and one step of attention with a KV cache. Write each function in place
# of the `raise NotImplementedError` line and run the `check(...)` under it: it compares your
# function with the library on several inputs and says what it expected and what it got. A
# failed check never stops the notebook; the last cell shows your score.
#
# (You are reading the teacher's copy, with the answers. `make blank-exercises` writes your own
# blank copies to `my_exercises/`.)

# %%
import math

import torch

from tinyvdm.exercises import check, score

# %% [markdown]
# ## Exercise 1: nearest code, with the straight-through gradient
#
# `z` holds `n` encoder outputs of width `d`, shape `(n, d)`; `codebook` holds `k` codes, shape
# `(k, d)`. Return `(quantized, indices)`:
#
# - `indices` `(n,)` int64: for each row of `z`, the code with the smallest squared Euclidean
#   distance `||z - e_k||^2` (not the largest dot product: codes have different lengths);
# - `quantized` `(n, d)`: the chosen codes, but wired so that the gradient of any loss with
#   respect to `quantized` reaches `z` unchanged (the straight-through estimator). Forward it
#   must equal `codebook[indices]`; backward, `d quantized / d z` must be the identity.
#
# Hint: `x.detach()` is `x` without a gradient; `z + (something - z).detach()` equals
# `something` and has derivative 1 with respect to `z`.

# %%
def quantize(z: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """z (n, d), codebook (k, d) -> quantized (n, d) with a straight-through gradient, indices (n,)."""
    # BEGIN SOLUTION
    distances = (z.pow(2).sum(1, keepdim=True) - 2 * z @ codebook.t() + codebook.pow(2).sum(1)[None, :])
    indices = distances.argmin(dim=1)
    codes = codebook[indices]
    return z + (codes - z).detach(), indices
    # END SOLUTION


check("05.quantize")

# %% [markdown]
# ## Exercise 2: temperature and top-k
#
# The transformer gives one row of `vocab` logits per clip being generated, shape `(b, vocab)`.
# Return the probabilities the next token is drawn from, shape `(b, vocab)`, each row summing to 1:
#
# 1. divide the logits by `temperature` (below 1 sharpens the distribution, above 1 flattens it);
# 2. if `top_k` is not `None`, keep only the `top_k` largest logits of each row (ties with the
#    `k`-th largest are kept too) and give every other code probability exactly 0;
# 3. softmax over the vocabulary, so the kept codes share all of the probability.
#
# Hint: setting a logit to `float("-inf")` before the softmax gives it probability 0.

# %%
def sampling_distribution(logits: torch.Tensor, temperature: float, top_k: int | None) -> torch.Tensor:
    """(b, vocab) logits -> (b, vocab) probabilities."""
    # BEGIN SOLUTION
    scaled = logits / temperature
    if top_k is not None:
        kth = torch.topk(scaled, top_k, dim=1).values[:, -1:]
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    return torch.softmax(scaled, dim=1)
    # END SOLUTION


check("05.sampling_distribution")

# %% [markdown]
# ## Exercise 3: one attention step with a KV cache
#
# While sampling with a cache, a layer receives the query, key and value of the *one* new token,
# `q`, `k`, `v`, each `(b, heads, 1, e)`, and the keys and values of the `m` tokens before it from
# the cache, `past_k` and `past_v`, each `(b, heads, m, e)` (`m` may be 0). Return the new token's
# attention output `(b, heads, 1, e)`: softmax of the scores `q . key / sqrt(e)` over **all**
# `m + 1` keys (the earlier tokens and the new token itself), applied to the matching values.
#
# No causal mask is needed: the one new query may look at every stored key, all of which come
# before it.

# %%
def cached_attention(q: torch.Tensor, past_k: torch.Tensor, past_v: torch.Tensor, k: torch.Tensor,
                     v: torch.Tensor) -> torch.Tensor:
    """q, k, v (b, heads, 1, e); past_k, past_v (b, heads, m, e) -> (b, heads, 1, e)."""
    # BEGIN SOLUTION
    keys = torch.cat([past_k, k], dim=2)  # (b, heads, m + 1, e)
    values = torch.cat([past_v, v], dim=2)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (b, heads, 1, m + 1)
    return scores.softmax(dim=-1) @ values
    # END SOLUTION


check("05.cached_attention")

# %% [markdown]
# ## Your score

# %%
score("05")
