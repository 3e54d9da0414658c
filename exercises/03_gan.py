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
# # Exercises 03: the video GAN
#
# Three pieces of chapter 03: the discriminator's loss, the R1 penalty that keeps it flat on real
# data, and the power-iteration step behind spectral normalisation. Write each function in place
# of the `raise NotImplementedError` line and run the `check(...)` under it: it compares your
# function with the library on several inputs and says what it expected and what it got. A
# failed check never stops the notebook; the last cell shows your score.
#
# (You are reading the teacher's copy, with the answers. `make blank-exercises` writes your own
# blank copies to `my_exercises/`.)

# %%
import torch
import torch.nn.functional as F

from tinyvdm.exercises import check, score

# %% [markdown]
# ## Exercise 1: the discriminator's loss
#
# `D` gives one logit per clip: `real` `(b,)` on real clips, `fake` `(b',)` on generated ones
# (the two batches need not be the same size). Return a scalar, each term a mean over its batch:
#
# - `kind == "non_saturating"`: the binary cross-entropy of calling real clips real and fakes
#   fake, `-log sigmoid(real) - log(1 - sigmoid(fake))`. Use `-log sigmoid(l) = softplus(-l)`
#   and `-log(1 - sigmoid(l)) = softplus(l)`: they do not overflow for large logits.
# - `kind == "hinge"`: `relu(1 - real) + relu(1 + fake)`: nothing to gain once real logits pass
#   1 and fake ones fall below -1.

# %%
def discriminator_loss(real: torch.Tensor, fake: torch.Tensor, kind: str) -> torch.Tensor:
    """Logits (b,) and (b',) -> D's loss, a scalar."""
    # BEGIN SOLUTION
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    return F.softplus(-real).mean() + F.softplus(fake).mean()
    # END SOLUTION


check("03.discriminator_loss")

# %% [markdown]
# ## Exercise 2: the R1 penalty
#
# R1 (Mescheder et al. 2018) penalises the steepness of `D` on real clips:
# `E_x ||grad_x D(x)||^2`, the squared norm of each clip's input gradient, averaged over the
# batch (without the `gamma / 2`, which the caller applies). Two details decide whether it works:
#
# - the penalty must *train* `D`, so the input gradient must itself be differentiable with
#   respect to `D`'s weights: `torch.autograd.grad(..., create_graph=True)`;
# - each clip's logit depends only on that clip, so the gradient of the *sum* of the logits gives
#   every clip its own gradient in one call (the gradient of the mean would divide each by `b`).
#
# Do not change `real` itself: work on a detached copy that requires a gradient.

# %%
def r1_penalty(discriminator, real: torch.Tensor) -> torch.Tensor:
    """Real clips (b, t, c, h, w) -> mean over clips of ||grad_x D(x)||^2, differentiable in D's weights."""
    # BEGIN SOLUTION
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(real).sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(dim=1).mean()
    # END SOLUTION


check("03.r1_penalty")

# %% [markdown]
# ## Exercise 3: one step of spectral normalisation
#
# Spectral normalisation divides a weight by its largest singular value `sigma`. Computing `sigma`
# exactly (an SVD) at every step would be slow; instead each layer keeps a guess `v` of the top
# right-singular vector and improves it by one step of the power method per forward pass. Read the
# weight `(out, ...)` as a matrix `W` of shape `(out, in)` (flatten everything after the first
# axis), then, in this order:
#
# 1. `u = normalise(W v)`, 2. `v_new = normalise(W^T u)`, 3. `sigma = u . (W v_new)`.
#
# Return `(u, v_new, sigma)`. (`F.normalize(x, dim=0)` divides a vector by its length.) This is
# the order `torch.nn.utils.parametrizations.spectral_norm` uses.

# %%
def spectral_norm_step(weight: torch.Tensor, v: torch.Tensor):
    """W (out, ...) and v (in,) -> (u (out,), v_new (in,), sigma ())."""
    # BEGIN SOLUTION
    matrix = weight.reshape(weight.shape[0], -1)
    u = F.normalize(matrix @ v, dim=0)
    v = F.normalize(matrix.T @ u, dim=0)
    return u, v, torch.dot(u, matrix @ v)
    # END SOLUTION


check("03.spectral_norm_step")

# %% [markdown]
# Repeat the step and `sigma` converges to the largest singular value (for a random matrix, in
# a few dozen steps); a layer gets away with one step per forward because its weight changes little
# between training steps and `v` is kept. (The cell uses the library's step, so that it runs
# before your own is written.)

# %%
from tinyvdm.models.gan import spectral_norm_step as library_step

W = torch.randn(16, 3, 3, 3, generator=torch.Generator().manual_seed(0))
v = F.normalize(torch.randn(27, generator=torch.Generator().manual_seed(1)), dim=0)
for step in range(1, 31):
    u, v, sigma = library_step(W, v)
    if step in (1, 3, 10, 30):
        print(f"step {step:2d}: sigma {float(sigma):.4f}")
print(f"largest singular value: {torch.linalg.matrix_norm(W.reshape(16, -1), ord=2):.4f}")

# %% [markdown]
# ## Your score

# %%
score("03")
