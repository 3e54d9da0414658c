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
# # Exercises 08: space-time attention
#
# Two pieces of chapter 08: the rule that says which frames a query frame may read under each
# attention pattern, and attention itself with a mask. Write each function in place of the
# `raise NotImplementedError` line and run the `check(...)` under it: it compares your function
# with the library on several inputs and says what it expected and what it got. A failed check
# never stops the notebook; the last cell shows your score.
#
# (You are reading the teacher's copy, with the answers. `make blank-exercises` writes your own
# blank copies to `my_exercises/`.)

# %%
import math

import torch

from tinyvdm.exercises import check, score

# %% [markdown]
# ## Exercise 1: the frame rule of each pattern
#
# A space-time attention pattern is a rule over frames times a rule over positions. Write the
# frame rule: `frame_mask(pattern, frames)` returns a `(t, t)` **bool** tensor whose entry
# `[f, g]` is `True` when a query token of frame `f` may read keys of frame `g`:
#
# - `"spatial"`: only its own frame;
# - `"temporal"` and `"full"`: every frame (temporal differs in its *position* rule: it reads only
#   the same position; that is not part of this mask);
# - `"causal"`: its own frame and every earlier one;
# - `"sparse-causal"`: frame 0, the previous frame `f - 1` and its own frame (the course's version
#   of Tune-A-Video's rule, which keeps the own frame so a token still sees its frame).
#
# Mind the short clips: with one or two frames, "first", "previous" and "own" overlap.

# %%
def frame_mask(pattern: str, frames: int) -> torch.Tensor:
    """(t, t) bool: row = query frame, column = key frame, True = may attend."""
    # BEGIN SOLUTION
    if pattern == "spatial":
        return torch.eye(frames, dtype=torch.bool)
    everything = torch.ones(frames, frames, dtype=torch.bool)
    if pattern in ("temporal", "full"):
        return everything
    past = everything.tril()  # own and earlier frames
    if pattern == "causal":
        return past
    own_or_previous = past & ~past.tril(diagonal=-2)
    own_or_previous[:, 0] = True  # and the first frame
    return own_or_previous
    # END SOLUTION


check("08.frame_mask")

# %% [markdown]
# ## Exercise 2: attention with a mask
#
# For queries `q`, keys `k` and values `v` of shape `(b, heads, n, d)` and a bool mask `(n, n)`
# (`True` = may attend), compute `softmax(q k^T / sqrt(d)) v` where every forbidden score is set
# to `-inf` *before* the softmax, so that its weight is exactly zero and the allowed weights of
# each query still sum to 1. (Every row of the masks used here allows at least one key.)

# %%
def masked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(b, heads, n, d) x3 and an (n, n) bool mask -> (b, heads, n, d)."""
    # BEGIN SOLUTION
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (b, heads, n, n)
    scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1) @ v
    # END SOLUTION


check("08.masked_attention")

# %% [markdown]
# ## Your score

# %%
score("08")
