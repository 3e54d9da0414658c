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
# # Exercises 11: the diffusion transformer
#
# Two pieces of chapter 11's DiT: the adaLN-Zero residual step that lets the diffusion step and the
# class steer every block, and the last step of the network, which puts the output tokens back
# into a clip. Write each function in place of the `raise NotImplementedError` line and run the
# `check(...)` under it: it compares your function with the library on several inputs and says
# what it expected and what it got. A failed check never stops the notebook; the last cell shows
# your score.
#
# (You are reading the teacher's copy, with the answers. `make blank-exercises` writes your own
# blank copies to `my_exercises/`.)

# %%
import torch
import torch.nn.functional as F
from einops import rearrange

from tinyvdm.exercises import check, score

# %% [markdown]
# ## Exercise 1: one adaLN-Zero sublayer
#
# In an adaLN-Zero block, every sublayer (an attention, the MLP) takes one residual step
#
# `x + gate * layer(LayerNorm(x) * (1 + scale) + shift)`
#
# where `LayerNorm` has no weights of its own (normalise the last axis to mean 0 and variance 1,
# `eps = 1e-6`), and `shift`, `scale`, `gate` have shape `(b, d)`: one vector per clip, regressed
# from the condition, the same for all of that clip's tokens. `x` has shape `(b, ..., d)` (for a
# video block `(b, t, h, w, d)`), so the three vectors must be broadcast over all the token axes.
# `layer` is any callable from `(b, ..., d)` to `(b, ..., d)`.
#
# Why `1 + scale` and a gate? The regression starts at zero, so at initialisation `scale = 0`
# leaves the normalised input as it is, and `gate = 0` makes the whole step the identity.

# %%
def adaln_zero_sublayer(x: torch.Tensor, layer, shift: torch.Tensor, scale: torch.Tensor,
                        gate: torch.Tensor) -> torch.Tensor:
    """x (b, ..., d); shift, scale, gate (b, d) -> (b, ..., d)."""
    # BEGIN SOLUTION
    view = (x.shape[0],) + (1,) * (x.ndim - 2) + (x.shape[-1],)  # (b, 1, ..., 1, d)
    hidden = F.layer_norm(x, x.shape[-1:], eps=1e-6) * (1 + scale.reshape(view)) + shift.reshape(view)
    return x + gate.reshape(view) * layer(hidden)
    # END SOLUTION


check("11.adaln_zero")

# %% [markdown]
# ## Exercise 2: unpatchify
#
# The DiT's final layer maps each token to the pixels of its box: a tensor of shape
# `(b, t', h', w', pt * p * p * c)`, one flattened box per token, in the library's order
# `(pt p p c)` (frame within the tubelet, then row, then column, channel fastest; chapter 09's
# patchify). Put the boxes back into a clip `(b, t' pt, c, h' p, w' p)`: the box of token
# `(g, i, j)` covers frames `g pt ..`, rows `i p ..` and columns `j p ..`. `c` is the last axis
# divided by `pt * p * p`.

# %%
def unpatchify(tokens: torch.Tensor, patch_size: int, tubelet: int) -> torch.Tensor:
    """(b, t', h', w', pt p p c) -> (b, t' pt, c, h' p, w' p)."""
    # BEGIN SOLUTION
    return rearrange(tokens, "b t h w (pt p1 p2 c) -> b (t pt) c (h p1) (w p2)", pt=tubelet, p1=patch_size,
                     p2=patch_size)
    # END SOLUTION


check("11.unpatchify")

# %% [markdown]
# ## Your score

# %%
score("11")
