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
# # Exercises 10: U-ViT
#
# Three pieces of chapter 10: putting the step and class tokens in front of every frame's patch
# tokens, the long skip's join, and what one block's attention costs on space-time tokens. Write
# each function in place of the `raise NotImplementedError` line and run the `check(...)` under
# it: it compares your function with the library on several inputs and says what it expected and
# what it got. A failed check never stops the notebook; the last cell shows your score.
#
# (You are reading the teacher's copy, with the answers. `make blank-exercises` writes your own
# blank copies to `my_exercises/`.)

# %%
import torch
import torch.nn.functional as F
from einops import rearrange, repeat

from tinyvdm.exercises import check, score

# %% [markdown]
# ## Exercise 1: every frame gets its own copy of the extra tokens
#
# The patch tokens of a clip come as a grid `(b, t, h, w, d)`; the extra tokens (the diffusion
# step's token, then the class token, if any) as `(b, k, d)`. Return the rows the U-ViT's blocks
# read: shape `(b, t, 1, k + h w, d)`, where row `f` is a copy of the `k` extra tokens followed by
# frame `f`'s patch tokens read row by row (the axis of size 1 lets the blocks treat each row as a
# one-line "frame" of tokens).
#
# Why a copy per frame, rather than one set in front of the whole clip? So that spatial attention,
# which never leaves a frame, still lets every frame read the step token.

# %%
def join_frame_tokens(grid: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
    """grid (b, t, h, w, d), extra (b, k, d) -> (b, t, 1, k + h w, d)."""
    # BEGIN SOLUTION
    copies = repeat(extra, "b k d -> b t k d", t=grid.shape[1])
    patches = rearrange(grid, "b t h w d -> b t (h w) d")
    return torch.cat([copies, patches], dim=2)[:, :, None]
    # END SOLUTION


check("10.join_frame_tokens")

# %% [markdown]
# ## Exercise 2: the long skip's join
#
# An out-block receives its input `x` and the saved output `skip` of the matching in-block, both
# `(b, t, h, w, d)`. U-ViT concatenates them on the width axis (`x` first, then `skip`: `2 d`
# features per token) and applies one linear layer, `weight` `(d, 2 d)` and `bias` `(d,)`, to
# get back to `d`. The result *replaces* `x` (it is not added to it). Return it.

# %%
def long_skip_join(x: torch.Tensor, skip: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x, skip (b, t, h, w, d); weight (d, 2 d); bias (d,) -> (b, t, h, w, d)."""
    # BEGIN SOLUTION
    return F.linear(torch.cat([x, skip], dim=-1), weight, bias)
    # END SOLUTION


check("10.long_skip_join")

# %% [markdown]
# ## Exercise 3: what does one block's attention score?
#
# A clip of `t` frames, each a row of `m` tokens (`m = k + h w`). Count the (query, key) pairs one
# block's attention scores, per head, for each pattern of the course's models:
#
# - `"spatial"`: each token reads the tokens of its own frame;
# - `"full"`: every token reads every token;
# - `"causal"`: a token of frame `f` reads every token of frames `0 .. f`;
# - `"sparse-causal"`: a token of frame `f` reads every token of frame 0, frame `f - 1` and frame
#   `f` (a frame counted once when two of these coincide);
# - `"factorised"`: a spatial layer, then a temporal one, in which each of the `m` positions reads
#   the same position in every frame.
#
# Return an int.

# %%
def attention_pairs(attention: str, frames: int, tokens_per_frame: int) -> int:
    """The (query, key) pairs one block scores per head."""
    # BEGIN SOLUTION
    t, m = frames, tokens_per_frame
    if attention == "spatial":
        return t * m * m
    if attention == "full":
        return (t * m) ** 2
    if attention == "causal":
        return t * (t + 1) // 2 * m * m
    if attention == "sparse-causal":
        return sum(len({0, max(f - 1, 0), f}) for f in range(t)) * m * m
    if attention == "factorised":
        return t * m * m + m * t * t
    raise ValueError(f"unknown attention {attention!r}")
    # END SOLUTION


check("10.attention_pairs")

# %% [markdown]
# For chapter 10's clips (8 frames of 1 + 1 + 8 x 8 tokens), compare full and factorised attention
# with your function: how many times cheaper is factorised, and how does the ratio grow with the
# number of frames?

# %%
try:
    for frames in (8, 16, 32):
        full, factorised = attention_pairs("full", frames, 66), attention_pairs("factorised", frames, 66)
        print(f"{frames:>2} frames: full {full:>12,} pairs, factorised {factorised:>10,} "
              f"({full / factorised:.1f}x fewer)")
except NotImplementedError:
    print("write attention_pairs above first")

# %% [markdown]
# ## Your score

# %%
score("10")
