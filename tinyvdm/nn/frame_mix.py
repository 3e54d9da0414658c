"""Frame mixing for transformer denoisers: a dense temporal layer over a fixed number of frames.

Chapter 07 found that, on short clips of one bouncing object, attention over the frames of one
position learns motion slowly, while a layer that folds the ``t`` frames into the channels and maps
them with one dense linear layer learns it much sooner (the UNet's ``temporal="mix"``,
:class:`~tinyvdm.models.unet.TemporalMix`). :class:`FrameMix` is the same idea for tokens, shared
by the U-ViT (chapter 10) and the DiT (chapter 11):

``x`` ``(b, t, h, w, d)`` -> ``x + W (LayerNorm(x) folded to (b, h, w, t d))``, unfolded back.

At each token position ``(h, w)`` the ``t * d`` values of all frames go through one linear map
``t d -> t d``: every pair of frames ``(source, target)`` has its own ``d x d`` block of weights,
so frame 7 reads frame 0 directly and the layer can learn fixed relations such as "the object one
frame later sits one step further along". Positions never mix (that is the attention's job) and
clips never mix. The map starts at zero, so the layer starts as the identity and a model with it
computes exactly what the model without it does at initialisation. The price is a fixed clip
length: the layer only takes clips of exactly ``frames`` token frames.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from tinyvdm.checks import describe


class FrameMix(nn.Module):
    """Residual dense mixing of all ``frames`` frames at each token position.

    ``dim``: the token width ``d``; ``frames``: the number of token frames ``t`` the layer takes
    (``frames / tubelet`` for a model with tubelets). ``forward(x (b, t, h, w, d))`` -> same shape.
    """

    def __init__(self, dim: int, frames: int):
        super().__init__()
        for name, value in (("dim", dim), ("frames", frames)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.dim, self.frames = dim, frames
        self.norm = nn.LayerNorm(dim)
        self.mix = nn.Linear(frames * dim, frames * dim)
        self.initialize_weights()

    def initialize_weights(self):
        # A zero map: the layer is the identity at initialisation, like the other residual layers.
        nn.init.zeros_(self.mix.weight)
        nn.init.zeros_(self.mix.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 5 or x.shape[-1] != self.dim:
            raise ValueError(f"x must have shape (b, t, h, w, {self.dim}), got {describe(x, dtype=False)}")
        if x.shape[1] != self.frames:
            raise ValueError(f"frame mixing was built for clips of exactly frames={self.frames} token frames "
                             f"(the model's frames / tubelet), got {x.shape[1]}")
        folded = rearrange(self.norm(x), "b t h w d -> b h w (t d)")  # all frames of one position side by side
        return x + rearrange(self.mix(folded), "b h w (t d) -> b t h w d", t=self.frames)
