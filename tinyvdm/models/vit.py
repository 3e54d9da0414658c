"""A Vision Transformer that classifies frames or clips, and shows where it looks.

Taught in chapter 09 (transformers for video): first frames, cut into patches (Dosovitskiy et al.
2021, "An image is worth 16x16 words"), then clips, cut into tubelets of ``tubelet`` frames
(ViViT, Arnab et al. 2021), with the attention pattern as the experiment: ``spatial`` (each frame
on its own: a frame classifier whose votes are averaged), ``factorised`` (spatial then temporal,
TimeSformer's divided attention) or ``full`` (every token reads every token).

The network: :class:`~tinyvdm.nn.patch.PatchEmbed` turns ``(b, t, c, h, w)`` into a token grid
``(b, t', h', w', d)``, a position code is added, a learned class token is put in front of every
frame's tokens (one copy per frame, see :mod:`tinyvdm.nn.transformer`), ``depth`` pre-norm blocks
run, and the class tokens' outputs, averaged over the frames, go through a LayerNorm and a linear
head to ``num_classes`` logits. An image ``(b, c, h, w)`` is a clip of one frame.
:meth:`ViT.attention_maps` returns every attention layer's weights, for pictures.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from einops import rearrange
from torch import nn

from tinyvdm.nn.patch import PatchEmbed, SpaceTimePositionEmbedding, check_patchable
from tinyvdm.nn.transformer import (
    TransformerBlock,
    check_transformer_config,
    forward_flops,
    join_frame_tokens,
    split_frame_tokens,
    token_grid,
)


@dataclass
class ViTConfig:
    """Sizes and switches of :class:`ViT`; toy-sized defaults (see ``VIT_CONFIGS``).

    ``image_size`` and ``frames`` size the learned position tables: the largest inputs they code
    (smaller inputs are fine; a sin-cos code takes any size). ``patch_size`` ``p``, ``tubelet`` ``pt`` (1: per-frame
    patches). ``attention``: one of ``MODEL_ATTENTIONS`` of :mod:`tinyvdm.nn.transformer`.
    ``position``: ``"learned"`` or ``"sincos"`` (:class:`~tinyvdm.nn.patch.SpaceTimePositionEmbedding`).
    """

    num_classes: int = 10
    in_channels: int = 3
    image_size: int = 32
    frames: int = 8
    patch_size: int = 4
    tubelet: int = 1
    dim: int = 64
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    attention: str = "factorised"
    position: str = "learned"
    dropout: float = 0.0
    backend: str = "auto"

    def __post_init__(self):
        check_transformer_config(self, ("num_classes", "in_channels", "image_size", "frames", "patch_size",
                                        "tubelet", "dim", "depth", "heads"))

    @property
    def max_grid(self) -> tuple[int, int, int]:
        """The largest token grid ``(t', h', w')``."""
        return token_grid(self)


def _tiny() -> ViTConfig:
    return ViTConfig(dim=64, depth=4, heads=4)


def _small() -> ViTConfig:
    return ViTConfig(dim=128, depth=6, heads=4)


def _base() -> ViTConfig:
    # ViT-Ti's width and depth (192 wide, 12 deep, 3 heads), on 32-pixel clips.
    return ViTConfig(dim=192, depth=12, heads=3)


def class_token_rows(weights: torch.Tensor, frames: int) -> torch.Tensor:
    """The class tokens' rows of one attention layer: ``(b, heads, n, n)`` -> ``(b, heads, t, t, 1 + h w)``.

    ``n = t (1 + h w)`` tokens in the order of :meth:`ViT.attention_maps` (in each frame the
    class token, then the patches row by row). Entry ``[b, head, f, g, 0]`` is what frame ``f``'s
    class token gives frame ``g``'s class token, ``[b, head, f, g, 1 + i w + j]`` what it gives
    patch ``(i, j)`` of frame ``g``; each ``[b, head, f]`` sums to 1.
    """
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
        raise ValueError(f"frames must be a positive int, got {frames!r}")
    if (not isinstance(weights, torch.Tensor) or weights.ndim != 4 or weights.shape[-1] != weights.shape[-2]
            or weights.shape[-1] % frames or weights.shape[-1] // frames < 2):
        got = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
        raise ValueError(f"weights must have shape (b, heads, n, n) with n = frames * (1 + h w) = {frames} * "
                         f"(1 + h w), got {got}")
    grid = rearrange(weights, "b heads (tq k) (tk j) -> b heads tq k tk j", tq=frames, tk=frames)
    return grid[:, :, :, 0]  # (b, heads, t, t, 1 + h w): slot 0 of each query frame is its class token


# Named sizes (factorised attention, 4x4 patches, 10 classes), parameters and forward GFLOPs on
# (1, 8, 3, 32, 32): tiny 0.28M, 0.32 (tests, smoke profile); small 1.6M, 1.8 (the CPU chapter);
# base 7.1M, 7.7 (a GPU).
VIT_CONFIGS = {"tiny": _tiny, "small": _small, "base": _base}


class ViT(nn.Module):
    """Classify a clip ``(b, t, c, h, w)`` or an image ``(b, c, h, w)``: logits ``(b, num_classes)``.

    See the module docstring for the layers; build a named size with :meth:`from_name`.
    """

    def __init__(self, config: ViTConfig | None = None):
        super().__init__()
        self.config = config = config or ViTConfig()
        self.patch_embed = PatchEmbed(config.in_channels, config.dim, config.patch_size, config.tubelet)
        self.position = SpaceTimePositionEmbedding(config.dim, config.position, config.max_grid)
        self.class_token = nn.Parameter(torch.empty(1, 1, config.dim))
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(config.dim, config.heads, config.attention, config.mlp_ratio, config.dropout,
                             config.backend)
            for _ in range(config.depth))
        self.norm = nn.LayerNorm(config.dim)
        self.head = nn.Linear(config.dim, config.num_classes)
        self.initialize_weights()

    def initialize_weights(self):
        # ViT's scheme (as in timm): truncated normal std 0.02 for every linear layer and the class
        # token, zero biases, LayerNorms as the identity. Small weights keep the residual stream
        # near its input at first, so a deep stack trains without warm-up tricks. The head starts
        # at zero: the first logits are uniform, the loss starts at log(num_classes).
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.trunc_normal_(self.class_token, std=0.02)
        self.position.initialize_weights()
        nn.init.zeros_(self.head.weight)

    @classmethod
    def from_name(cls, name: str, **overrides) -> ViT:
        """A named size from ``VIT_CONFIGS`` (``"tiny"``, ``"small"``, ``"base"``), fields overridden."""
        if name not in VIT_CONFIGS:
            raise ValueError(f"unknown ViT size {name!r}; choose one of {sorted(VIT_CONFIGS)}")
        return cls(replace(VIT_CONFIGS[name](), **overrides))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def flops_per_forward(self, x_shape: tuple[int, ...] = (1, 8, 3, 32, 32)) -> int:
        """FLOPs of one forward pass on ``x_shape`` ``(b, t, c, h, w)``, 2 per multiply-add, counted on the meta device.

        See :func:`~tinyvdm.nn.transformer.forward_flops` for what is counted.
        """
        return forward_flops(self, x_shape, denoiser=False)

    def gflops(self, x_shape: tuple[int, ...] = (1, 8, 3, 32, 32)) -> float:
        """:meth:`flops_per_forward` in billions."""
        return self.flops_per_forward(x_shape) / 1e9

    def as_clip(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as a clip ``(b, t, c, h, w)`` (an image ``(b, c, h, w)`` becomes one frame), shape checked."""
        config = self.config
        if isinstance(x, torch.Tensor) and x.ndim == 4:
            x = x[:, None]
        if not isinstance(x, torch.Tensor) or x.ndim != 5 or x.shape[2] != config.in_channels:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            c = config.in_channels
            raise ValueError(f"x must have shape (b, t, {c}, h, w) or (b, {c}, h, w), got {got}")
        check_patchable(x, config.patch_size, config.tubelet)
        return x

    def tokens(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        """The first block's input ``(b, t', 1, 1 + h' w', d)`` (class token first in each frame) and ``h'``."""
        grid = self.position(self.patch_embed(self.as_clip(x)))  # (b, t', h', w', d)
        class_token = self.class_token.expand(grid.shape[0], -1, -1)  # (b, 1, d)
        return self.dropout(join_frame_tokens(grid, class_token)), grid.shape[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(b, t, c, h, w)`` or ``(b, c, h, w)`` -> logits ``(b, num_classes)``."""
        tokens, h = self.tokens(x)  # (b, t', 1, 1 + h' w', d)
        for block in self.blocks:
            tokens = block(tokens)
        class_out, _ = split_frame_tokens(tokens, 1, h)  # (b, t', 1, d)
        # Averaging the per-frame class tokens: with spatial attention each one has seen only its
        # frame, so this is a vote of frame classifiers; with factorised or full attention they
        # have already exchanged information across frames.
        return self.head(self.norm(class_out.mean(dim=(1, 2))))  # (b, num_classes)

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every attention layer's weights on ``x``: a list of ``(b, heads, n, n)``, layers in order.

        ``n = t' (1 + h' w')`` tokens in ``(t h w)`` order of the first block's input: in each frame
        the class token, then the patches row by row. A factorised block gives two entries
        (spatial, then temporal). Each row is a softmax over the tokens the pattern allows (zero
        elsewhere), so it sums to 1. Runs the teaching path of attention: keep ``x`` small.
        """
        tokens, _ = self.tokens(x)
        maps = []
        for block in self.blocks:
            tokens, weights = block(tokens, return_weights=True)
            maps.extend(weights)
        return maps

    @torch.no_grad()
    def class_token_attention(self, x: torch.Tensor) -> torch.Tensor:
        """What each frame's class token reads in each attention layer: ``(layers, b, heads, t', t', 1 + h' w')``.

        :func:`class_token_rows` of every entry of :meth:`attention_maps`, stacked: entry
        ``[l, b, head, f, g]`` is what frame ``f``'s class token reads in frame ``g`` at layer
        ``l``, its class token first, then its patches row by row.
        """
        frames = self.as_clip(x).shape[1] // self.config.tubelet
        return torch.stack([class_token_rows(weights, frames) for weights in self.attention_maps(x)])

    def layer_names(self) -> list[str]:
        """One name per entry of :meth:`attention_maps`, e.g. ``"block 0, spatial"``."""
        return [f"block {i}, {pattern}" for i, block in enumerate(self.blocks) for pattern in block.patterns]
