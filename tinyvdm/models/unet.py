"""A UNet denoiser for video: 2-D frame by frame, or space-time with temporal layers.

Taught in chapter 07 (the UNet denoiser for video), which trains the frame-by-frame UNet
(``temporal=None``: frames never exchange information), then grows it into the space-time one
(``temporal="attention"``, ``"conv"`` or ``"mix"``) and compares the two on the same clips.

The network follows DDPM's UNet (Ho et al. 2020, appendix B) with improved-DDPM's scale-shift
conditioning (Nichol & Dhariwal 2021): residual blocks at each resolution, self-attention at the
coarse ones, skip connections concatenated on the way up. Video is handled as in VDM (Ho et al.
2022) and Make-A-Video (Singer et al. 2022): every spatial layer sees the frames folded into the
batch, ``(b t) c h w``, and a residual temporal layer after each residual block mixes the frames
at each pixel. Temporal layers start as the identity, so the space-time network at initialisation
*is* the 2-D network and can start from its weights.

Every sampler calls it as ``model(x, timestep, cond)``:

- ``x`` ``(b, t, c, h, w)``: noisy clips; ``h`` and ``w`` divisible by ``2 ** (levels - 1)``;
- ``timestep`` ``(b,)``: the diffusion step, integers in ``[0, num_steps)`` (floats accepted);
- ``cond`` ``(b,)`` int64 class labels in ``[0, num_classes]``, or ``None``. Label ``num_classes``
  is the *null class*, "no label", and ``cond=None`` means the null class for the whole batch:
  train with labels dropped to ``num_classes`` now and then, and classifier-free guidance can ask
  the same network for its unconditional prediction.

It returns a tensor shaped like ``x`` (the predicted noise, or whatever the loss trains).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from tinyvdm.nn.attention import VideoAttention
from tinyvdm.nn.embeddings import TimestepEmbedder, timestep_embedding

TEMPORAL_KINDS = ("attention", "conv", "mix", None)
ATTENTION_IMPLS = ("auto", "sdpa", "plain")
# Up to this many frames, "auto" temporal attention uses the plain matmul-softmax path on the
# CPU: MACHINE.md measured it 2-4x faster than SDPA for many sequences of 8 frames, while SDPA
# wins on long sequences and on GPUs (fused kernels, no (t, t) score tensor in memory).
PLAIN_ATTENTION_MAX_FRAMES = 32


def plain_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v, written out: ``(..., n, d)`` -> ``(..., n, d)``.

    The teaching version of ``F.scaled_dot_product_attention`` (the tests prove them equal); also
    the faster of the two for very short sequences on a CPU.
    """
    scores = torch.matmul(q, k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)  # (..., n, n)
    return torch.matmul(scores.softmax(dim=-1), v)  # (..., n, d)


@dataclass
class UNetConfig:
    """Sizes and switches of :class:`UNet`; toy-sized defaults (1.3M parameters, see ``UNET_CONFIGS``).

    ``channel_mults[i] * base_channels`` is the width of resolution level ``i`` (level 0 is the
    input resolution, each next level halves ``h`` and ``w``). ``attention_levels`` lists the
    levels with spatial self-attention (negative indices count from the coarsest, ``-1``); the
    middle block has it when the coarsest level has. ``temporal`` picks the layer that mixes
    frames: ``"attention"``, ``"conv"``, ``"mix"`` or ``None`` (a 2-D UNet applied frame by frame);
    ``"mix"`` (:class:`TemporalMix`) is tied to clips of exactly ``frames`` frames and reads
    ``mix_kernel`` x ``mix_kernel`` neighbourhoods;
    ``temporal_levels`` restricts it to some levels (``None``: every level and the middle);
    ``temporal_heads`` and ``temporal_attention_impl`` tune temporal attention.
    ``joint_levels`` lists levels (among those with a temporal layer) whose temporal layer is
    *joint* space-time attention instead: every position of every frame of the clip reads every
    other (:class:`JointAttention`), affordable at the coarsest levels, where a clip has few
    positions. Empty by default (every temporal layer factorised).
    ``num_classes`` adds a class embedding with one extra row, the null class.
    """

    in_channels: int = 3
    out_channels: int | None = None  # None: same as in_channels
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    attention_levels: tuple[int, ...] = (-1,)
    heads: int = 4
    temporal: str | None = "attention"
    temporal_levels: tuple[int, ...] | None = None
    temporal_attention_impl: str = "auto"
    # None: same as heads. With 1 head the plain path's matmuls read q, k, v in place (no
    # head-split copies): 104 vs 139 ms fwd+bwd for 4 heads over 64 frames of 32 ch at 32 px.
    temporal_heads: int | None = None
    joint_levels: tuple[int, ...] = ()
    frames: int | None = None  # clip length, needed (only) by temporal="mix"
    mix_kernel: int = 1
    num_classes: int | None = None
    dropout: float = 0.0
    groups: int = 8
    # Pixels per side folded into channels before the stem and unfolded after the last layer
    # (space-to-depth, as a DiT patchifies): patch 2 runs the whole network at half the
    # resolution, a quarter of the FLOPs, with 4x wider input and output convolutions.
    patch_size: int = 1

    def __post_init__(self):
        levels = len(self.channel_mults)
        if levels < 1 or any(m < 1 for m in self.channel_mults):
            raise ValueError(f"channel_mults must be a non-empty tuple of positive ints, got {self.channel_mults}")
        for name in ("attention_levels", "temporal_levels", "joint_levels"):
            chosen = getattr(self, name)
            if chosen is not None and any(not -levels <= i < levels for i in chosen):
                raise ValueError(f"{name} must index the {levels} levels (-{levels} .. {levels - 1}), got {chosen}")
        if self.temporal not in TEMPORAL_KINDS:
            raise ValueError(f"temporal must be one of {TEMPORAL_KINDS}, got {self.temporal!r}")
        if self.temporal == "mix" and (isinstance(self.frames, bool) or not isinstance(self.frames, int)
                                       or self.frames < 2):
            raise ValueError(f"temporal='mix' needs frames, the clip length (an int >= 2), got {self.frames!r}")
        if isinstance(self.mix_kernel, bool) or not isinstance(self.mix_kernel, int) or self.mix_kernel < 1 \
                or self.mix_kernel % 2 == 0:
            raise ValueError(f"mix_kernel must be an odd positive int, got {self.mix_kernel!r}")
        if self.temporal_attention_impl not in ATTENTION_IMPLS:
            raise ValueError(f"temporal_attention_impl must be one of {ATTENTION_IMPLS}, "
                             f"got {self.temporal_attention_impl!r}")
        for mult in self.channel_mults:
            width = mult * self.base_channels
            temporal_heads = self.temporal_heads or self.heads
            if width % self.groups or width % self.heads or width % temporal_heads:
                raise ValueError(f"every level width (base_channels * mult, here {width}) must be divisible "
                                 f"by groups={self.groups}, heads={self.heads} and temporal_heads={temporal_heads}")
        if self.num_classes is not None and self.num_classes < 1:
            raise ValueError(f"num_classes must be None or >= 1, got {self.num_classes}")
        if self.num_res_blocks < 1:
            raise ValueError(f"num_res_blocks must be >= 1, got {self.num_res_blocks}")
        if not isinstance(self.patch_size, int) or self.patch_size < 1:
            raise ValueError(f"patch_size must be a positive int, got {self.patch_size!r}")

    @property
    def levels(self) -> int:
        return len(self.channel_mults)

    def _chosen(self, levels: tuple[int, ...], level: int) -> bool:
        """Whether ``levels`` names ``level``, counting from the top (0, 1, ..) or the bottom (-1, -2, ..)."""
        return level in levels or level - self.levels in levels

    def has_attention(self, level: int) -> bool:
        return self._chosen(self.attention_levels, level)

    def has_temporal(self, level: int) -> bool:
        if self.temporal is None:
            return False
        return self.temporal_levels is None or self._chosen(self.temporal_levels, level)

    def temporal_kind(self, level: int) -> str | None:
        """The temporal layer at ``level``: ``None``, ``temporal``, or ``"joint"`` for ``joint_levels``."""
        if not self.has_temporal(level):
            return None
        return "joint" if self._chosen(self.joint_levels, level) else self.temporal


def _tiny() -> UNetConfig:
    return UNetConfig(base_channels=16, channel_mults=(1, 2, 3), num_res_blocks=1, heads=2)


def _small() -> UNetConfig:
    return UNetConfig(base_channels=32, channel_mults=(1, 2, 4), num_res_blocks=1, heads=4)


def _compact() -> UNetConfig:
    # Chapter 07's video denoiser: 2x2 pixels folded into channels, so a 32x32 clip is denoised at
    # 16x16 and 8x8, where the CPU's convolutions run well, for a quarter of the FLOPs of patch 1.
    return UNetConfig(base_channels=32, channel_mults=(1, 2), num_res_blocks=1, heads=4, patch_size=2)


def _wide() -> UNetConfig:
    # The benchmark's match for video-diffusion-pytorch's Unet3D (3.16M parameters), shaped for a
    # CPU: 2x2 pixels folded into channels, then 64 channels at 16x16 and 128 at 8x8. Wide, few
    # layers keep every convolution's GEMM large enough for the matmul kernels, where "small"
    # spends its parameters on 32-channel layers at full resolution that run well below the
    # machine's ceiling (measured by `python -m tinyvdm.bench --models unet-small,unet-wide`).
    return UNetConfig(base_channels=64, channel_mults=(1, 2), num_res_blocks=1, heads=4, patch_size=2)


def _base() -> UNetConfig:
    return UNetConfig(base_channels=64, channel_mults=(1, 2, 2, 2), num_res_blocks=2,
                      attention_levels=(-2, -1), heads=4)


# Named sizes, parameters with 3 input channels (2-D .. temporal attention): tiny 0.48-0.53M for
# the smoke profile and the tests, small 2.9-3.2M for the CPU chapters (most width at the coarse
# levels, where it is cheap: ~0.85 GFLOP per 32x32 frame forward), wide 3.1-3.3M for the same
# benchmark match at CPU-friendly widths, base 9.9-11M for a GPU.
UNET_CONFIGS = {"tiny": _tiny, "compact": _compact, "small": _small, "wide": _wide, "base": _base}


class ResBlock(nn.Module):
    """GroupNorm-SiLU-Conv3x3, scale-shift by the step embedding, GroupNorm-SiLU-dropout-Conv3x3, + skip.

    ``x`` ``(n, c_in, h, w)`` and ``emb`` ``(n, emb_dim)`` -> ``(n, c_out, h, w)``, where ``n`` is
    whatever batch the caller folded (``b t`` for video). The embedding (step plus class) scales
    and shifts the second normalisation per channel (improved DDPM's "AdaGN").
    """

    def __init__(self, in_channels: int, out_channels: int, emb_dim: int, groups: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.emb_proj = nn.Linear(emb_dim, 2 * out_channels)
        self.norm2 = nn.GroupNorm(groups, out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb_proj(emb)[:, :, None, None].chunk(2, dim=1)  # 2 x (n, c_out, 1, 1)
        # One fused pass for norm * (1 + scale) + shift instead of three elementwise ones.
        h = torch.addcmul(shift, self.norm2(h), 1 + scale)
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


class SpatialAttention(nn.Module):
    """Residual multi-head self-attention over the ``h w`` pixels of each frame, separately.

    ``x`` ``((b t), c, h, w)`` -> same shape. Frames are folded into the batch, ``(b t) (h w) d``,
    so this layer never mixes frames.
    """

    def __init__(self, channels: int, heads: int, groups: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        h, w = x.shape[-2:]
        tokens = rearrange(self.norm(x), "(b t) d h w -> (b t) (h w) d", t=frames)
        q, k, v = rearrange(self.qkv(tokens), "(b t) n (three heads d) -> three (b t) heads n d",
                            t=frames, three=3, heads=self.heads)
        out = F.scaled_dot_product_attention(q, k, v)  # ((b t), heads, n, d)
        out = self.proj(rearrange(out, "(b t) heads n d -> (b t) n (heads d)", t=frames))
        return x + rearrange(out, "(b t) (h w) d -> (b t) d h w", t=frames, h=h, w=w)


class TemporalAttention(nn.Module):
    """Residual multi-head self-attention over the ``t`` frames at each pixel, separately.

    ``x`` ``((b t), c, h, w)`` -> same shape. Pixels are folded into the batch, ``(b h w) t d``,
    so this layer never mixes pixels. A sinusoidal code of the frame index is added to the
    normalised tokens, or the attention could not tell frame order apart.

    ``impl``: ``"sdpa"`` (``F.scaled_dot_product_attention``), ``"plain"`` (:func:`plain_attention`)
    or ``"auto"``: plain on the CPU for at most ``PLAIN_ATTENTION_MAX_FRAMES`` frames (faster for
    many tiny sequences there), SDPA otherwise.
    """

    def __init__(self, channels: int, heads: int, impl: str = "auto"):
        super().__init__()
        if impl not in ATTENTION_IMPLS:
            raise ValueError(f"impl must be one of {ATTENTION_IMPLS}, got {impl!r}")
        self.heads = heads
        self.impl = impl
        self.norm = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        self.initialize_weights()

    def initialize_weights(self):
        # A zero output projection makes the layer the identity at initialisation: a space-time
        # UNet then computes exactly what its 2-D counterpart does, so it can start from trained
        # 2-D weights and learn motion on top (video LDM, Make-A-Video). The gradient still
        # reaches proj (its input is non-zero), so the layer wakes up on the first step.
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def use_sdpa(self, x: torch.Tensor, frames: int) -> bool:
        if self.impl == "auto":
            return x.device.type != "cpu" or frames > PLAIN_ATTENTION_MAX_FRAMES
        return self.impl == "sdpa"

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        b = x.shape[0] // frames
        c, h, w = x.shape[1:]
        tokens = rearrange(x, "(b t) d h w -> (b h w) t d", t=frames)
        position = timestep_embedding(torch.arange(frames, device=x.device), c)  # (t, d)
        tokens = self.norm(tokens) + position.to(tokens.dtype)  # ((b h w), t, d)
        q, k, v = rearrange(self.qkv(tokens), "(b h w) t (three heads d) -> three (b h w) heads t d",
                            b=b, h=h, three=3, heads=self.heads)
        if self.use_sdpa(x, frames):
            out = F.scaled_dot_product_attention(q, k, v)  # ((b h w), heads, t, d)
        else:
            out = plain_attention(q, k, v)  # ((b h w), heads, t, d)
        out = self.proj(rearrange(out, "(b h w) heads t d -> (b h w) t (heads d)", b=b, h=h))
        # Add in 5-D views: x's layout comes first, so the sum is written straight into it with no
        # separate copy to bring the permuted attention output back to (b t) c h w.
        x5 = rearrange(x, "(b t) d h w -> b t d h w", t=frames)
        out5 = rearrange(out, "(b h w) t d -> b t d h w", b=b, h=h)
        return (x5 + out5).reshape(x.shape)  # ((b t), c, h, w), a view


class TemporalConv(nn.Module):
    """Residual width-3 convolution across frames at each pixel (zero-padded at the clip's ends).

    ``x`` ``((b t), c, h, w)`` -> same shape: GroupNorm, SiLU, then a ``(3, 1, 1)`` 3-D convolution
    over ``b c t h w``, which is a 1-D convolution over ``t`` at every pixel (the "pseudo-3D"
    convolution of Make-A-Video). No bias: the residual stream already has one.
    """

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.conv = nn.Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0), bias=False)
        self.initialize_weights()

    def initialize_weights(self):
        # A zero kernel makes the layer the identity at initialisation, so the space-time UNet
        # starts as the 2-D UNet (and can load its weights), as in video LDM and Make-A-Video.
        nn.init.zeros_(self.conv.weight)

    def conv1d_weight(self) -> torch.Tensor:
        """The equivalent ``F.conv1d`` weight ``(c_out, c_in, 3)`` over ``(b h w) c t``."""
        return self.conv.weight[:, :, :, 0, 0]

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        # Measured on the course CPU (fwd+bwd, 64 frames of 32 ch at 32 px): one contiguous copy
        # into b c t h w for Conv3d costs 35 ms; a 1x1 conv making the three taps in the (b t)
        # layout, summed over shifted slices, cost 96 ms (slice backward zero-fills 3c-wide grads).
        hidden = rearrange(F.silu(self.norm(x)), "(b t) d h w -> b d t h w", t=frames).contiguous()
        out = self.conv(hidden)  # (b, c, t, h, w)
        # Add in 5-D views with x first, so the sum lands in x's (b t) c h w layout with no copy.
        x5 = rearrange(x, "(b t) d h w -> b t d h w", t=frames)
        return (x5 + rearrange(out, "b d t h w -> b t d h w")).reshape(x.shape)  # ((b t), c, h, w), a view


class TemporalMix(nn.Module):
    """Residual dense mixing of all ``t`` frames at each position: a temporal layer of fixed length.

    ``x`` ``((b t), c, h, w)`` -> same shape. The frames are folded into the channels,
    ``b (t c) h w``, and one convolution maps all ``t * c`` channels to all ``t * c`` (1 x 1 by
    default: each pixel reads every frame at that pixel; ``kernel`` 3 reads the 3 x 3 around it).
    Unlike attention or a width-3 convolution, every pair of frames gets its own weights: frame 7
    reads frame 0 directly, and the layer can learn fixed relations such as "one frame later";
    but it only takes clips of exactly ``frames`` frames (early fusion, as in the first video
    CNNs).
    """

    def __init__(self, channels: int, frames: int, groups: int, kernel: int = 1):
        super().__init__()
        self.frames = frames
        self.norm = nn.GroupNorm(groups, channels)
        self.mix = nn.Conv2d(frames * channels, frames * channels, kernel, padding=kernel // 2)
        self.initialize_weights()

    def initialize_weights(self):
        # A zero map: the layer is the identity at initialisation, like the other temporal layers.
        nn.init.zeros_(self.mix.weight)
        nn.init.zeros_(self.mix.bias)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        if frames != self.frames:
            raise ValueError(f"temporal='mix' layers were built for clips of {self.frames} frames "
                             f"(UNetConfig.frames), got {frames}")
        hidden = rearrange(F.silu(self.norm(x)), "(b t) d h w -> b (t d) h w", t=frames)
        return x + rearrange(self.mix(hidden), "b (t d) h w -> (b t) d h w", t=frames)


class JointAttention(nn.Module):
    """Residual attention over all ``t h w`` positions of a clip at once (joint space-time attention).

    ``x`` ``((b t), c, h, w)`` -> same shape. Where :class:`TemporalAttention` lets a pixel read
    only its own position in the other frames, here a position reads every position of every
    frame: an object that has moved to another cell is still in view, so the layer can keep one
    object's colour, shape and path across the clip. It costs ``(t h w)^2`` scores per clip, so it
    belongs at the coarse levels (8 frames of 4 x 4 positions: 128 tokens). The attention itself
    is chapter 08's :class:`~tinyvdm.nn.attention.VideoAttention` with the ``"full"`` pattern; this
    layer adds the normalisation, a sinusoidal code of the frame index (as TemporalAttention) and
    the residual, with a zero output projection so that it starts as the identity.
    """

    def __init__(self, channels: int, heads: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.attention = VideoAttention(channels, heads, pattern="full")
        self.initialize_weights()

    def initialize_weights(self):
        # Zero output projection: the layer is the identity at initialisation, so a space-time
        # UNet grown from a 2-D one starts by computing exactly what the 2-D one does.
        nn.init.zeros_(self.attention.proj.weight)
        nn.init.zeros_(self.attention.proj.bias)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        c = x.shape[1]
        tokens = rearrange(x, "(b t) d h w -> b t h w d", t=frames)
        position = timestep_embedding(torch.arange(frames, device=x.device), c)  # (t, d)
        tokens = self.norm(tokens) + position[:, None, None].to(tokens.dtype)  # (b, t, h, w, d)
        out = self.attention(tokens)  # (b, t, h, w, d)
        return x + rearrange(out, "b t h w d -> (b t) d h w")


class Downsample(nn.Module):
    """Halve ``h`` and ``w`` with a stride-2 3x3 convolution: ``(n, c, h, w)`` -> ``(n, c, h/2, w/2)``."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Double ``h`` and ``w``: nearest-neighbour, then a 3x3 convolution. ``(n, c, h, w)`` -> ``(n, c, 2h, 2w)``."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class SpaceTimeBlock(nn.Module):
    """One UNet stage: a :class:`ResBlock`, then optional spatial attention, then an optional temporal layer.

    ``x`` ``((b t), c_in, h, w)`` and ``emb`` ``((b t), emb_dim)`` -> ``((b t), c_out, h, w)``.
    """

    def __init__(self, in_channels: int, out_channels: int, emb_dim: int, config: UNetConfig,
                 attention: bool, temporal: str | None):
        super().__init__()
        self.res = ResBlock(in_channels, out_channels, emb_dim, config.groups, config.dropout)
        self.attention = SpatialAttention(out_channels, config.heads, config.groups) if attention else None
        if temporal == "attention":
            self.temporal = TemporalAttention(out_channels, config.temporal_heads or config.heads,
                                              config.temporal_attention_impl)
        elif temporal == "conv":
            self.temporal = TemporalConv(out_channels, config.groups)
        elif temporal == "mix":
            self.temporal = TemporalMix(out_channels, config.frames, config.groups, config.mix_kernel)
        elif temporal == "joint":
            self.temporal = JointAttention(out_channels, config.temporal_heads or config.heads)
        else:
            self.temporal = None

    def forward(self, x: torch.Tensor, emb: torch.Tensor, frames: int) -> torch.Tensor:
        x = self.res(x, emb)
        if self.attention is not None:
            x = self.attention(x, frames)
        if self.temporal is not None:
            x = self.temporal(x, frames)
        return x


class UNet(nn.Module):
    """The video denoiser: ``forward(x (b, t, c, h, w), timestep (b,), cond (b,) | None)`` -> like ``x``.

    See the module docstring for the arguments and the null class. Build a named size with
    :meth:`from_name`.
    """

    def __init__(self, config: UNetConfig | None = None):
        super().__init__()
        self.config = config = config or UNetConfig()
        base = config.base_channels
        emb_dim = 4 * base
        out_channels = config.out_channels or config.in_channels
        self.time_embed = TimestepEmbedder(emb_dim, frequency_dim=base)
        self.class_embed = nn.Embedding(config.num_classes + 1, emb_dim) if config.num_classes else None
        patch_area = config.patch_size**2
        self.stem = nn.Conv2d(config.in_channels * patch_area, base, 3, padding=1)

        self.down = nn.ModuleList()
        skip_channels = [base]
        channels = base
        for level, mult in enumerate(config.channel_mults):
            for _ in range(config.num_res_blocks):
                self.down.append(SpaceTimeBlock(channels, mult * base, emb_dim, config, config.has_attention(level),
                                                config.temporal_kind(level)))
                channels = mult * base
                skip_channels.append(channels)
            if level < config.levels - 1:
                self.down.append(Downsample(channels))
                skip_channels.append(channels)

        lowest = config.levels - 1
        self.middle = nn.ModuleList([
            SpaceTimeBlock(channels, channels, emb_dim, config, config.has_attention(lowest),
                           config.temporal_kind(lowest)),
            SpaceTimeBlock(channels, channels, emb_dim, config, attention=False, temporal=None),
        ])

        self.up = nn.ModuleList()
        for level in reversed(range(config.levels)):
            mult = config.channel_mults[level]
            for _ in range(config.num_res_blocks + 1):
                self.up.append(SpaceTimeBlock(channels + skip_channels.pop(), mult * base, emb_dim, config,
                                              config.has_attention(level),
                                              config.temporal_kind(level)))
                channels = mult * base
            if level > 0:
                self.up.append(Upsample(channels))

        self.out_norm = nn.GroupNorm(config.groups, channels)
        self.out_conv = nn.Conv2d(channels, out_channels * patch_area, 3, padding=1)
        self.initialize_weights()

    def initialize_weights(self):
        # PyTorch's defaults everywhere except two places. The final convolution starts at zero,
        # so the untrained network predicts 0 (the mean of the noise it learns to predict) instead
        # of a random image, and early training does not first have to undo that. Temporal layers
        # zero their own output projections (see TemporalAttention / TemporalConv).
        nn.init.zeros_(self.out_conv.weight)
        nn.init.zeros_(self.out_conv.bias)

    @classmethod
    def from_name(cls, name: str, **overrides) -> UNet:
        """A named size from ``UNET_CONFIGS`` (``"tiny"``, ``"small"``, ``"base"``), fields overridden."""
        if name not in UNET_CONFIGS:
            raise ValueError(f"unknown UNet size {name!r}; choose one of {sorted(UNET_CONFIGS)}")
        return cls(replace(UNET_CONFIGS[name](), **overrides))

    def inflate(self, temporal: str = "attention", **overrides) -> UNet:
        """A space-time UNet that starts as this frame-by-frame one: same weights, new temporal layers.

        The temporal layers are zero-initialised residual layers, so the new network computes
        exactly what this one does until training moves them (Make-A-Video and video LDM grow
        their video models from image models this way). ``overrides`` change other config fields
        that do not alter the existing weights (e.g. ``temporal_levels``).
        """
        if temporal not in ("attention", "conv", "mix"):
            raise ValueError(f"temporal must be 'attention', 'conv' or 'mix', got {temporal!r}")
        if self.config.temporal is not None:
            raise ValueError(f"inflate() grows a frame-by-frame UNet (temporal=None); this one has "
                             f"temporal={self.config.temporal!r}")
        video = UNet(replace(self.config, temporal=temporal, **overrides)).to(next(self.parameters()).device)
        try:
            missing, unexpected = video.load_state_dict(self.state_dict(), strict=False)
        except RuntimeError as error:  # a weight of another shape
            raise ValueError(f"overrides {overrides} change the 2-D weights: {error}") from None
        new = [name for name in missing if ".temporal." not in name]
        if new or unexpected:
            raise ValueError(f"overrides {overrides} change the 2-D weights: missing {new}, unexpected {unexpected}")
        return video

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of parameters (only those with ``requires_grad`` if ``trainable_only``)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def flops_per_forward(self, x_shape: tuple[int, ...]) -> int:
        """FLOPs of one forward pass on ``x_shape`` ``(b, t, c, h, w)``, counted by ``FlopCounterMode``.

        Counted on a copy built on the meta device (no memory, no compute), where every matmul,
        convolution and attention is visible to the counter (on real CPU tensors it does not see
        inside ``scaled_dot_product_attention``). Elementwise ops and norms are not counted.
        """
        with torch.device("meta"):
            model = UNet(self.config)
            x = torch.empty(*x_shape)
            timestep = torch.zeros(x_shape[0], dtype=torch.long)
        # Use the count-visible path the model would pick on its own device.
        device = next(self.parameters()).device
        for module in model.modules():
            if isinstance(module, TemporalAttention) and module.impl == "auto":
                module.impl = "sdpa" if device.type != "cpu" or x_shape[1] > PLAIN_ATTENTION_MAX_FRAMES else "plain"
        with FlopCounterMode(display=False) as counter:
            model(x, timestep)
        return counter.get_total_flops()

    def check_inputs(self, x: torch.Tensor, timestep: torch.Tensor, cond: torch.Tensor | None):
        """Raise ``ValueError`` naming the expected shape when an input does not fit."""
        config = self.config
        factor = config.patch_size * 2 ** (config.levels - 1)
        if x.ndim != 5 or x.shape[2] != config.in_channels:
            raise ValueError(f"x must have shape (b, t, {config.in_channels}, h, w), got {tuple(x.shape)}")
        b, _, _, h, w = x.shape
        if h % factor or w % factor:
            raise ValueError(f"x's h and w must be divisible by patch_size * 2 ** (levels - 1) = {factor} "
                             f"(shape (b, t, c, h, w)), got {tuple(x.shape)}")
        if not isinstance(timestep, torch.Tensor) or timestep.shape != (b,):
            got = tuple(timestep.shape) if isinstance(timestep, torch.Tensor) else type(timestep).__name__
            raise ValueError(f"timestep must have shape (b,) = ({b},), got {got}")
        if config.temporal == "mix" and x.shape[1] != config.frames:
            raise ValueError(f"this UNet (temporal='mix') denoises clips of exactly frames={config.frames} frames: "
                             f"x must have shape (b, {config.frames}, c, h, w), got {tuple(x.shape)}")
        if cond is None:
            return
        if config.num_classes is None:
            raise ValueError("cond was given but the UNet was built with num_classes=None")
        if cond.shape != (b,) or cond.dtype != torch.long:
            raise ValueError(f"cond must be int64 class labels of shape (b,) = ({b},), "
                             f"got {cond.dtype} {tuple(cond.shape)}")

    def forward(self, x: torch.Tensor, timestep: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``(b, t, c, h, w)``, ``timestep`` ``(b,)``, ``cond`` ``(b,)`` or None -> ``(b, t, c_out, h, w)``."""
        self.check_inputs(x, timestep, cond)
        b, t = x.shape[:2]
        emb = self.time_embed(timestep)  # (b, emb_dim)
        if self.class_embed is not None:
            if cond is None:
                cond = torch.full((b,), self.config.num_classes, dtype=torch.long, device=x.device)
            emb = emb + self.class_embed(cond)  # (b, emb_dim)
        # Every ResBlock applies SiLU to the embedding before its projection: do it once here.
        emb = repeat(F.silu(emb), "b d -> (b t) d", t=t)  # ((b t), emb_dim)

        frames = F.pixel_unshuffle(rearrange(x, "b t c h w -> (b t) c h w"), self.config.patch_size)
        h = self.stem(frames)  # ((b t), base, h / patch, w / patch)
        skips = [h]
        for block in self.down:
            h = block(h, emb, t) if isinstance(block, SpaceTimeBlock) else block(h)
            skips.append(h)
        for block in self.middle:
            h = block(h, emb, t)
        for block in self.up:
            if isinstance(block, SpaceTimeBlock):
                h = block(torch.cat([h, skips.pop()], dim=1), emb, t)  # ((b t), c + c_skip, h, w) in
            else:
                h = block(h)
        out = self.out_conv(F.silu(self.out_norm(h)))  # ((b t), c_out * patch**2, h / patch, w / patch)
        out = F.pixel_shuffle(out, self.config.patch_size)  # ((b t), c_out, h, w)
        return rearrange(out, "(b t) c h w -> b t c h w", t=t)

