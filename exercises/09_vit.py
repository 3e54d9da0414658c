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
# # Exercises 09: the Vision Transformer
#
# Two pieces of chapter 09: the step that turns a clip into tokens, and reading an attention map
# back out of the token sequence. Write each function in place of the `raise NotImplementedError`
# line and run the `check(...)` under it: it compares your function with the library on several
# inputs and says what it expected and what it got. A failed check never stops the notebook; the
# last cell shows your score.
#
# (You are reading the teacher's copy, with the answers. `make blank-exercises` writes your own
# blank copies to `my_exercises/`.)

# %%
import torch
from einops import rearrange

from tinyvdm.exercises import check, score

# %% [markdown]
# ## Exercise 1: patchify
#
# A clip `x` of shape `(b, t, c, h, w)` is cut into boxes of `pt` frames by `p x p` pixels
# (`p = patch_size`, `pt = tubelet`; `pt = 1` is an image ViT's patch). Return the boxes on their
# grid, each flattened into one vector: shape `(b, t / pt, h / p, w / p, pt * p * p * c)`.
#
# The order inside each vector matters, because the next layer's weights are tied to it. Use the
# library's order `(pt p p c)`: frame within the tubelet first, then the row inside the patch,
# then the column, then the channel fastest. So for `pt = 1` the first `c` numbers of a patch's
# vector are the colour of its top-left pixel, the next `c` the pixel to its right.
#
# `einops.rearrange` makes this one line; `reshape` and `permute` work too, if the axes are split
# and moved in the right order (a plain `reshape` without moving axes gives the right shape and
# the wrong boxes).

# %%
def patchify(x: torch.Tensor, patch_size: int, tubelet: int) -> torch.Tensor:
    """(b, t, c, h, w) -> (b, t / pt, h / p, w / p, pt p p c)."""
    # BEGIN SOLUTION
    return rearrange(x, "b (t pt) c (h p1) (w p2) -> b t h w (pt p1 p2 c)", pt=tubelet, p1=patch_size,
                     p2=patch_size)
    # END SOLUTION


check("09.patchify")

# %% [markdown]
# ## Exercise 2: what do the class tokens read?
#
# The course's ViT puts one class token in front of every frame's patches, so its `n` tokens run
# frame by frame: frame 0's class token, frame 0's `h w` patches row by row, frame 1's class
# token, frame 1's patches, and so on: `n = t (1 + h w)`. One attention layer's weights have shape
# `(b, heads, n, n)`: row `i` is what token `i` reads (it sums to 1), column `j` what token `j`
# is read for.
#
# Return the attention map the viewer of chapter 09 paints: the weight that the class tokens give
# each patch, **averaged over the heads and over the `t` class tokens** (the classifier's head
# reads the average of the class tokens), as a `(b, t, h, w)` tensor: entry `[b, g, i, j]` is the
# weight on patch `(i, j)` of frame `g`. Leave out the weight that class tokens give class tokens.

# %%
def class_token_map(weights: torch.Tensor, frames: int, height: int, width: int) -> torch.Tensor:
    """(b, heads, n, n) with n = t (1 + h w) -> (b, t, h, w)."""
    # BEGIN SOLUTION
    grid = rearrange(weights, "b heads (tq q) (tk k) -> b heads tq q tk k", tq=frames, tk=frames)
    rows = grid[:, :, :, 0]  # the class tokens' rows: (b, heads, t, t, 1 + h w)
    patches = rows[..., 1:].mean(dim=(1, 2))  # (b, t, h w)
    return rearrange(patches, "b t (h w) -> b t h w", h=height, w=width)
    # END SOLUTION


check("09.class_token_map")

# %% [markdown]
# ## Your score

# %%
score("09")
