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
# # Exercises 00: video as data
#
# Three small functions from chapter 00. Write each one in place of the
# `raise NotImplementedError` line, then run the `check(...)` cell under it: it tests your
# function on random inputs against the library and tells you what it expected and what it got.
# A failed check never stops the notebook. The last cell shows your score.
#
# (You are reading the teacher's copy, with the answers. `make blank-exercises` writes your own
# blank copies to `my_exercises/`.)

# %%
import torch
from einops import rearrange

from tinyvdm.exercises import check, score

# %% [markdown]
# ## Exercise 1: from a decoded file to a tensor
#
# A video decoder hands you frames as `uint8` values in `[0, 255]`, laid out `(t, h, w, c)`.
# Models in this course want `float32` in `[-1, 1]`, laid out `(t, c, h, w)`.
# Write `to_unit_range(frames)`. (Watch both ends of the range: 0 must map to -1 and 255 to 1.)

# %%
def to_unit_range(frames: torch.Tensor) -> torch.Tensor:
    """uint8 (t, h, w, c) in [0, 255] -> float32 (t, c, h, w) in [-1, 1]."""
    # BEGIN SOLUTION
    video = frames.float() / 127.5 - 1.0
    return rearrange(video, "t h w c -> t c h w")
    # END SOLUTION


check("00.to_unit_range")

# %% [markdown]
# ## Exercise 2: a batch of clips as one picture
#
# To look at a batch `(b, t, c, h, w)` at once, lay it out as one image: one row per sample,
# one column per frame. Write `frames_to_grid(videos)` returning `(c, b*h, t*w)` with a single
# `einops.rearrange`.

# %%
def frames_to_grid(videos: torch.Tensor) -> torch.Tensor:
    """(b, t, c, h, w) -> (c, b*h, t*w): sample i is row i, frame k is column k."""
    # BEGIN SOLUTION
    return rearrange(videos, "b t c h w -> c (b h) (t w)")
    # END SOLUTION


check("00.frames_to_grid")

# %% [markdown]
# ## Exercise 3: the physics of a bouncing shape
#
# The bouncing-shapes dataset moves each object by its velocity every frame, and reflects it off
# the walls like a billiard ball. The frame spans `[0, size]` on both axes; an object of radius
# `r` must keep its centre in `[r, size - r]`. If a step would take the centre past `r` to
# `p < r`, the object ends at `2r - p` and that velocity component changes sign; past
# `size - r` it ends at `2(size - r) - p`, also with the component flipped.
#
# Write `bounce_step(position, velocity, radius, size)` for `n` objects at once: `position` and
# `velocity` are `(n, 2)` tensors of `(x, y)`, `radius` is `(n,)`. Return the new
# `(position, velocity)` and do not modify the inputs in place. (Hint: `torch.where`.)

# %%
def bounce_step(position: torch.Tensor, velocity: torch.Tensor, radius: torch.Tensor, size: float):
    """One step of motion with elastic bounces. (n, 2), (n, 2), (n,) -> ((n, 2), (n, 2))."""
    # BEGIN SOLUTION
    low = radius[:, None].expand_as(position)
    high = size - low
    moved = position + velocity
    below, above = moved < low, moved > high
    moved = torch.where(below, 2 * low - moved, moved)
    moved = torch.where(above, 2 * high - moved, moved)
    velocity = torch.where(below | above, -velocity, velocity)
    return moved, velocity
    # END SOLUTION


check("00.bounce_step")

# %% [markdown]
# ## Your score

# %%
score("00")
