"""A small denoiser for 2-D toy points: an MLP told the diffusion step.

Taught in chapter 06 (diffusion: forward and reverse), where it learns the toy distributions of
:mod:`tinyvdm.data.toy2d` in seconds, and reused in chapter 01 (the generative landscape). It has
the interface of every denoiser in the course, ``model(x, timestep, cond=None)``, so the losses
and samplers of :mod:`tinyvdm.diffusion` take it as they take the video UNet.

The step enters the way it enters the UNet: a sinusoidal code, an MLP on it
(:class:`~tinyvdm.nn.TimestepEmbedder`), and the resulting vector added inside every residual
block, so that each block can act differently at each noise level.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from tinyvdm.nn.embeddings import TimestepEmbedder


@dataclass
class MLPConfig:
    """Sizes of :class:`MLPDenoiser`; toy-sized defaults (about 70k parameters).

    ``dim`` is the size of a point (2 for the toy data), ``width`` the hidden width, ``depth`` the
    number of residual blocks, ``emb_dim`` the width of the step embedding (``None``: ``width``).
    ``num_classes`` adds a class embedding with one extra row, the null class, as the UNet does.
    """

    dim: int = 2
    width: int = 128
    depth: int = 3
    emb_dim: int | None = None
    num_classes: int | None = None

    def __post_init__(self):
        for name in ("dim", "width", "depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.emb_dim is not None and (isinstance(self.emb_dim, bool) or not isinstance(self.emb_dim, int)
                                         or self.emb_dim < 1):
            raise ValueError(f"emb_dim must be None or an int >= 1, got {self.emb_dim!r}")
        if self.num_classes is not None and (isinstance(self.num_classes, bool)
                                             or not isinstance(self.num_classes, int) or self.num_classes < 1):
            raise ValueError(f"num_classes must be None or an int >= 1, got {self.num_classes!r}")


class ResidualMLPBlock(nn.Module):
    """``h + MLP(norm(h) + emb)``: one pre-norm residual block that sees the step embedding."""

    def __init__(self, width: int, emb_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.emb_proj = nn.Linear(emb_dim, width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.SiLU(), nn.Linear(2 * width, width))

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """``h`` ``(b, width)``, ``emb`` ``(b, emb_dim)`` (already through SiLU) -> ``(b, width)``."""
        return h + self.mlp(self.norm(h) + self.emb_proj(emb))


class MLPDenoiser(nn.Module):
    """``forward(x (b, dim), timestep (b,), cond (b,) | None)`` -> ``(b, dim)``.

    What the output means (eps, x0 or v) is decided by the loss it is trained with, not by the
    network. Build it with keywords (``MLPDenoiser(width=64)``) or a :class:`MLPConfig`.
    """

    def __init__(self, config: MLPConfig | None = None, **overrides):
        super().__init__()
        if config is not None and not isinstance(config, MLPConfig):
            raise ValueError(f"config must be an MLPConfig or None, got {type(config).__name__}")
        if config is None:
            config = MLPConfig(**overrides)
        elif overrides:
            config = MLPConfig(**{**config.__dict__, **overrides})
        self.config = config
        emb_dim = config.emb_dim or config.width
        self.time_embed = TimestepEmbedder(emb_dim)
        self.class_embed = nn.Embedding(config.num_classes + 1, emb_dim) if config.num_classes else None
        self.in_proj = nn.Linear(config.dim, config.width)
        self.blocks = nn.ModuleList([ResidualMLPBlock(config.width, emb_dim) for _ in range(config.depth)])
        self.out_norm = nn.LayerNorm(config.width)
        self.out_proj = nn.Linear(config.width, config.dim)
        self.initialize_weights()

    def initialize_weights(self):
        # PyTorch's defaults, except the output layer, which starts at zero: the untrained network
        # then predicts 0, the mean of the noise it learns to predict, and each residual block
        # starts close to the identity, which keeps the first steps of training stable.
        nn.init.zeros_(self.out_proj.weight)
        nn.init.zeros_(self.out_proj.bias)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def check_inputs(self, x: torch.Tensor, timestep: torch.Tensor, cond: torch.Tensor | None) -> None:
        """Raise ``ValueError`` naming the expected shape when an input does not fit."""
        dim = self.config.dim
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != dim:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must have shape (b, {dim}), got {got}")
        b = x.shape[0]
        if not isinstance(timestep, torch.Tensor) or timestep.shape != (b,):
            got = tuple(timestep.shape) if isinstance(timestep, torch.Tensor) else type(timestep).__name__
            raise ValueError(f"timestep must have shape (b,) = ({b},), got {got}")
        if cond is None:
            return
        if self.class_embed is None:
            raise ValueError("cond was given but the MLPDenoiser was built with num_classes=None")
        if not isinstance(cond, torch.Tensor) or cond.shape != (b,) or cond.dtype != torch.long:
            got = f"{cond.dtype} {tuple(cond.shape)}" if isinstance(cond, torch.Tensor) else type(cond).__name__
            raise ValueError(f"cond must be int64 class labels of shape (b,) = ({b},), got {got}")

    def forward(self, x: torch.Tensor, timestep: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        self.check_inputs(x, timestep, cond)
        emb = self.time_embed(timestep)  # (b, emb_dim)
        if self.class_embed is not None:
            if cond is None:  # the null class: unconditional
                cond = torch.full((x.shape[0],), self.config.num_classes, dtype=torch.long, device=x.device)
            emb = emb + self.class_embed(cond)  # (b, emb_dim)
        emb = nn.functional.silu(emb)
        h = self.in_proj(x)  # (b, width)
        for block in self.blocks:
            h = block(h, emb)  # (b, width)
        return self.out_proj(nn.functional.silu(self.out_norm(h)))  # (b, dim)
