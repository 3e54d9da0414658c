"""Sinusoidal embeddings of the diffusion step (and of any other integer position).

Taught in chapter 07 (the UNet denoiser for video): a network that serves every noise level must be
told which one it is looking at. The step is written as a vector of sines and cosines of
geometrically spaced frequencies (Vaswani et al. 2017, section 3.5; Ho et al. 2020, appendix B),
then an MLP turns that fixed code into the features the residual blocks consume.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def timestep_embedding(timestep: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of ``timestep`` ``(b,)`` -> ``(b, dim)`` float32.

    With ``half = dim // 2`` and frequencies ``freq_i = max_period ** (-i / half)`` for
    ``i = 0 .. half - 1`` (from 1 down to almost ``1 / max_period``), the first ``half`` columns are
    ``cos(timestep * freq_i)`` and the next ``half`` are ``sin(timestep * freq_i)``: the halves are
    concatenated, not interleaved as in the Transformer paper (the order is a permutation, which
    the next linear layer absorbs). An odd ``dim`` gets one zero column at the end.

    Integer and float steps are both accepted; the frequencies assume steps of order 1..1000
    (so scale a continuous time in ``[0, 1]`` up by the number of steps before calling).
    """
    if not isinstance(timestep, torch.Tensor) or timestep.ndim != 1:
        got = tuple(timestep.shape) if isinstance(timestep, torch.Tensor) else type(timestep).__name__
        raise ValueError(f"timestep must have shape (b,), got {got}")
    if not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    half = dim // 2
    # Computed in float32 whatever the caller's autocast: step 999 times a frequency near 1 needs
    # more mantissa than bf16 has, or neighbouring steps would share an embedding.
    exponent = torch.arange(half, dtype=torch.float32, device=timestep.device) / max(half, 1)
    freqs = torch.exp(-math.log(max_period) * exponent)  # (half,)
    angles = timestep.to(torch.float32)[:, None] * freqs[None, :]  # (b, half)
    embedding = torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)  # (b, 2 * half)
    if dim % 2:
        embedding = nn.functional.pad(embedding, (0, 1))  # (b, dim)
    return embedding


class TimestepEmbedder(nn.Module):
    """The diffusion step as a learned feature: sinusoidal code -> Linear -> SiLU -> Linear.

    ``timestep`` ``(b,)`` -> ``(b, dim)``. ``frequency_dim`` is the width of the fixed sinusoidal
    code (default ``dim``).
    """

    def __init__(self, dim: int, frequency_dim: int | None = None, max_period: float = 10000.0):
        super().__init__()
        self.frequency_dim = frequency_dim or dim
        self.max_period = max_period
        self.mlp = nn.Sequential(nn.Linear(self.frequency_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, timestep: torch.Tensor) -> torch.Tensor:
        code = timestep_embedding(timestep, self.frequency_dim, self.max_period)  # (b, frequency_dim)
        return self.mlp(code.to(self.mlp[0].weight.dtype))  # (b, dim)
