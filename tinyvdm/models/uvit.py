"""U-ViT: a transformer denoiser where everything is a token, with long skips like a UNet's.

Taught in chapter 10 (transformer denoisers, U-ViT), following Bao et al. 2023, "All are Worth
Words: A ViT Backbone for Diffusion Models". Its two ideas, and the chapter's two experiments:

- *all inputs are tokens*: the diffusion step becomes a token (its sinusoidal code through an
  MLP), the class label another (a learned embedding, with a null class), and the noisy clip a grid
  of space-time patch tokens; plain transformer blocks read them all, with no adaptive norms;
- *long skip connections*: ``depth // 2`` in-blocks, one middle block, ``depth // 2`` out-blocks;
  out-block ``i`` concatenates the output of the matching in-block (the last in-block for the
  first out-block, as a UNet's decoder reads its encoder backwards) and a linear layer maps the
  ``2 d`` features back to ``d`` before the block runs. ``long_skips=False`` removes them (and
  their linear layers), the paper's ablation (its Figure 2: without them, FID is much worse).

After the last block: LayerNorm, a linear map of each patch token to its ``pt p p c`` pixels,
:func:`~tinyvdm.nn.patch.unpatchify`, and a 3x3 convolution on each frame (the paper's extra
convolution, which smooths the seams between patches).

For video the condition tokens are copied in front of every frame's patch tokens (see
:mod:`tinyvdm.nn.transformer`), and ``attention`` picks the pattern over space-time tokens:
``factorised`` (spatial then temporal in each block), ``full``, or ``spatial`` / ``causal`` /
``sparse-causal``.

The denoiser interface is the project's (see :mod:`tinyvdm.models.unet`):
``model(x (b, t, c, h, w), timestep (b,), cond (b,) int64 | None)`` -> shaped like ``x``; label
``num_classes`` and ``cond=None`` mean the null class.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from einops import rearrange
from torch import nn

from tinyvdm.nn.embeddings import TimestepEmbedder
from tinyvdm.nn.frame_mix import FrameMix
from tinyvdm.nn.patch import PatchEmbed, SpaceTimePositionEmbedding, unpatchify
from tinyvdm.nn.transformer import (
    LabelEmbedder,
    TransformerBlock,
    check_denoiser_inputs,
    check_local_mlp,
    check_transformer_config,
    forward_flops,
    join_frame_tokens,
    split_frame_tokens,
    token_grid,
)


@dataclass
class UViTConfig:
    """Sizes and switches of :class:`UViT`; toy-sized defaults (see ``UVIT_CONFIGS``).

    ``depth`` counts every block and must be odd: ``depth // 2`` in-blocks, a middle one,
    ``depth // 2`` out-blocks. ``image_size`` and ``frames`` are the largest inputs (they size the
    learned position tables). ``patch_size`` ``p``, ``tubelet`` ``pt``. ``attention``: one of
    ``MODEL_ATTENTIONS`` of :mod:`tinyvdm.nn.transformer`. ``num_classes`` (``None`` or 0: no class
    token) adds a class token with one extra row, the null class. ``long_skips=False``: the
    ablation without skips. ``final_conv=False`` drops the last 3x3 convolution. ``frame_mix=True``
    (off by default; not in the paper) ends every block with a :class:`~tinyvdm.nn.frame_mix.FrameMix`
    layer, a dense map over all ``frames / tubelet`` token frames at each position; the model then
    takes clips of exactly ``frames`` frames. ``local_mlp=True`` (off by default; not in the paper)
    gives every block's MLP a depthwise 3x3 convolution over each frame's token grid
    (:class:`~tinyvdm.nn.transformer.LocalMLP`; the time and label tokens skip it), reaching
    ``local_frames`` neighbouring frames, with one 3-D kernel or (``local_factorised=True``) a
    temporal then a spatial one.
    """

    in_channels: int = 3
    out_channels: int | None = None  # None: same as in_channels
    image_size: int = 32
    frames: int = 16
    patch_size: int = 4
    tubelet: int = 1
    dim: int = 64
    depth: int = 5
    heads: int = 4
    mlp_ratio: float = 4.0
    attention: str = "factorised"
    position: str = "learned"
    num_classes: int | None = None
    long_skips: bool = True
    final_conv: bool = True
    frame_mix: bool = False
    local_mlp: bool = False  # a depthwise 3x3 convolution in every block's MLP (LocalMLP; not in the paper)
    local_frames: int = 1  # its extent in time (1: each frame on its own)
    local_factorised: bool = False  # that kernel as a per-channel kernel across frames, then 3x3 per frame
    dropout: float = 0.0
    backend: str = "auto"

    def __post_init__(self):
        check_transformer_config(self, ("in_channels", "image_size", "frames", "patch_size", "tubelet", "dim",
                                        "depth", "heads"))
        if not isinstance(self.frame_mix, bool):
            raise ValueError(f"frame_mix must be a bool, got {self.frame_mix!r}")
        check_local_mlp(self)
        if self.depth % 2 == 0:
            raise ValueError(f"depth must be odd (depth // 2 in-blocks, one middle block, depth // 2 out-blocks), "
                             f"got {self.depth}")

    @property
    def max_grid(self) -> tuple[int, int, int]:
        """The largest token grid ``(t', h', w')``."""
        return token_grid(self)


def _tiny() -> UViTConfig:
    return UViTConfig(dim=64, depth=5, heads=4)


def _small() -> UViTConfig:
    return UViTConfig(dim=128, depth=9, heads=4)


def _base() -> UViTConfig:
    # U-ViT-S's 13 blocks (6 in, middle, 6 out) and head width (64) at three eighths of its width (512).
    return UViTConfig(dim=192, depth=13, heads=3)


# Named sizes (factorised attention, 4x4 patches, 3 channels, no classes), parameters and forward
# GFLOPs on (1, 8, 3, 32, 32): tiny 0.37M, 0.41 (tests, and chapter 10's experiment: a training step on
# 8 clips takes about 0.4 s on one CPU thread); small 2.6M, 2.8 (near the UNet "small"; about 5x slower);
# base 8.3M, 8.8 (a GPU).
UVIT_CONFIGS = {"tiny": _tiny, "small": _small, "base": _base}


class UViTBlock(nn.Module):
    """A pre-norm transformer block, with an optional long-skip input merged in first.

    ``x`` ``(b, t, h, w, d)`` and ``skip`` (same shape, out-blocks only) -> ``(b, t, h, w, d)``:
    ``linear(concat(x, skip))`` (``2 d`` -> ``d``), then :class:`~tinyvdm.nn.transformer.TransformerBlock`,
    then (``config.frame_mix``) a :class:`~tinyvdm.nn.frame_mix.FrameMix` layer.
    """

    def __init__(self, config: UViTConfig, skip: bool = False):
        super().__init__()
        self.skip_linear = nn.Linear(2 * config.dim, config.dim) if skip else None
        self.block = TransformerBlock(config.dim, config.heads, config.attention, config.mlp_ratio, config.dropout,
                                      config.backend, config.local_mlp, config.local_frames, config.local_factorised)
        self.frame_mix = FrameMix(config.dim, config.frames // config.tubelet) if config.frame_mix else None

    def join_skip(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """The long skip's join: ``linear(concat(x, skip))``, ``(b, t, h, w, d)`` twice -> ``(b, t, h, w, d)``.

        Concatenating keeps the two paths apart until a learned layer weighs them (an addition
        would fix their mix at 1 : 1), which is how U-ViT's ablation found it works best.
        """
        if self.skip_linear is None:
            raise ValueError("this block was built without a long skip (skip=False)")
        if not isinstance(skip, torch.Tensor) or skip.shape != x.shape:
            got = tuple(skip.shape) if isinstance(skip, torch.Tensor) else type(skip).__name__
            raise ValueError(f"skip must have the shape of x, {tuple(x.shape)}, got {got}")
        return self.skip_linear(torch.cat([x, skip], dim=-1))  # (b, t, h, w, 2 d) -> (b, t, h, w, d)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None,
                layout: tuple[int, int] | None = None) -> torch.Tensor:
        """``layout`` ``(k, h)``: where the token grid sits in the rows (for ``local_mlp``)."""
        if self.skip_linear is not None:
            x = self.join_skip(x, skip)
        x = self.block(x, layout=layout)
        return x if self.frame_mix is None else self.frame_mix(x)


class UViT(nn.Module):
    """The U-ViT denoiser: ``forward(x (b, t, c, h, w), timestep (b,), cond (b,) | None)`` -> like ``x``.

    See the module docstring; build a named size with :meth:`from_name`.
    """

    def __init__(self, config: UViTConfig | None = None):
        super().__init__()
        self.config = config = config or UViTConfig()
        out_channels = config.out_channels or config.in_channels
        self.patch_embed = PatchEmbed(config.in_channels, config.dim, config.patch_size, config.tubelet)
        self.position = SpaceTimePositionEmbedding(config.dim, config.position, config.max_grid)
        self.time_embed = TimestepEmbedder(config.dim)
        self.class_embed = LabelEmbedder(config.num_classes, config.dim) if config.num_classes else None
        half = config.depth // 2
        self.in_blocks = nn.ModuleList(UViTBlock(config) for _ in range(half))
        self.mid_block = UViTBlock(config)
        self.out_blocks = nn.ModuleList(UViTBlock(config, skip=config.long_skips) for _ in range(half))
        self.norm = nn.LayerNorm(config.dim)
        self.to_patches = nn.Linear(config.dim, config.tubelet * config.patch_size**2 * out_channels)
        self.final = nn.Conv2d(out_channels, out_channels, 3, padding=1) if config.final_conv else None
        self.initialize_weights()

    def initialize_weights(self):
        # U-ViT's scheme (as ViT's): truncated normal std 0.02 for every linear layer, zero biases,
        # LayerNorms as the identity, so each residual block starts close to the identity and the
        # 2d -> d skip layers start as small random mixes of the two paths. The convolution keeps
        # PyTorch's default, as in the paper's code.
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.trunc_normal_(module.weight, std=0.02)
        self.position.initialize_weights()
        for module in self.modules():
            if isinstance(module, FrameMix):
                module.initialize_weights()  # back to zero: frame mixing starts as the identity

    @classmethod
    def from_name(cls, name: str, **overrides) -> UViT:
        """A named size from ``UVIT_CONFIGS`` (``"tiny"``, ``"small"``, ``"base"``), fields overridden."""
        if name not in UVIT_CONFIGS:
            raise ValueError(f"unknown U-ViT size {name!r}; choose one of {sorted(UVIT_CONFIGS)}")
        return cls(replace(UVIT_CONFIGS[name](), **overrides))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def flops_per_forward(self, x_shape: tuple[int, ...] = (1, 8, 3, 32, 32)) -> int:
        """FLOPs of one forward pass on ``x_shape`` ``(b, t, c, h, w)``, 2 per multiply-add, counted on the meta device.

        See :func:`~tinyvdm.nn.transformer.forward_flops` for what is counted.
        """
        return forward_flops(self, x_shape)

    def gflops(self, x_shape: tuple[int, ...] = (1, 8, 3, 32, 32)) -> float:
        """:meth:`flops_per_forward` in billions."""
        return self.flops_per_forward(x_shape) / 1e9

    def forward(self, x: torch.Tensor, timestep: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``(b, t, c, h, w)``, ``timestep`` ``(b,)``, ``cond`` ``(b,)`` or None -> ``(b, t, c_out, h, w)``."""
        config = self.config
        check_denoiser_inputs("U-ViT", x, timestep, cond, config.in_channels, config.patch_size, config.tubelet,
                              config.num_classes)
        b, t = x.shape[:2]
        grid = self.position(self.patch_embed(x))  # (b, t', h', w', d)
        h = grid.shape[2]
        extra = [self.time_embed(timestep)]  # the step as a token, (b, d)
        if self.class_embed is not None:
            extra.append(self.class_embed(cond, b, x.device))  # the label as a token, (b, d)
        k = len(extra)
        tokens = join_frame_tokens(grid, torch.stack(extra, dim=1).to(grid.dtype))  # (b, t', 1, k + h' w', d)

        layout = (k, h) if config.local_mlp else None  # where each row's grid starts, for the local MLP
        skips = []
        for block in self.in_blocks:
            tokens = block(tokens, layout=layout)
            skips.append(tokens)
        tokens = self.mid_block(tokens, layout=layout)
        for block in self.out_blocks:
            # The deepest in-block output meets the first out-block, as in a UNet.
            tokens = block(tokens, skips.pop() if config.long_skips else None, layout=layout)

        patches = self.to_patches(self.norm(tokens))  # (b, t', 1, k + h' w', pt p p c_out)
        _, patches = split_frame_tokens(patches, k, h)  # (b, t', h', w', pt p p c_out)
        out = unpatchify(patches, config.patch_size, config.tubelet)  # (b, t, c_out, h, w)
        if self.final is not None:
            out = rearrange(self.final(rearrange(out, "b t c h w -> (b t) c h w")), "(b t) c h w -> b t c h w", t=t)
        return out
