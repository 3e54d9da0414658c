"""A video VAE: encode a clip into a small Gaussian latent, decode it back.

Taught in chapter 02 (VAE: the ELBO, reparameterisation, latent traversals, compression ratio),
revisited in chapter 04 (posterior collapse and KL annealing, measured with :func:`active_units`)
and reused as the latent space of chapter 12 (latent diffusion), which trains a denoiser on
``model.encode_latents(x)`` and decodes its samples with ``model.decode_latents(z)``.

The model (Kingma & Welling 2014), for a clip ``x`` ``(b, t, c, h, w)`` in ``[-1, 1]``:

- encoder ``q(z | x) = N(mean(x), diag(exp(logvar(x))))``, a :class:`DiagonalGaussian` over a
  latent grid ``z`` ``(b, t', z, h', w')`` with ``h' = h / 4``, ``w' = w / 4`` for the default
  three levels, and ``t' = t / temporal_downsample``;
- prior ``p(z) = N(0, I)``;
- decoder likelihood ``p(x | z) = N(decoder(z), decoder_std^2 I)``: a Gaussian with a *fixed*
  standard deviation, so ``-log p(x | z)`` is the squared error divided by ``2 decoder_std^2``
  plus a constant, and ``decoder_std`` sets how much a pixel of error costs against a nat of KL.

Training maximises the ELBO, ``log p(x) >= E_q[log p(x | z)] - KL(q(z | x) || p(z))``, with the
KL term weighted by ``beta`` (beta-VAE, Higgins et al. 2017) and ``beta`` optionally annealed from
0 (:func:`kl_weight`; Bowman et al. 2016, cyclical: Fu et al. 2019).

Bits per dimension: the clips are treated as 8-bit images mapped to ``[-1, 1]``, 256 levels
``2 / 255`` apart. A density ``p`` on ``[-1, 1]`` gives each level about ``p(x) * 2 / 255`` of
probability, so the negative ELBO in nats becomes bits per dimension as
``bpd = -ELBO / (D ln 2) + log2(255 / 2)`` with ``D = t c h w`` (:func:`bits_per_dim`). It is an
upper bound on the code length of the quantised clip, up to that bin approximation.

The network is factorised like the UNet's: 2-D convolutions on every frame with the frames folded
into the batch, ``(b t) c h w``, and a residual 1-D convolution across frames at each pixel after
every residual block below full resolution (where it is cheap), plus optional strided
convolutions across frames for temporal downsampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from tinyvdm.models.unet import Downsample, TemporalConv, Upsample

KL_SCHEDULES = ("constant", "linear", "cyclical")
# Stable Diffusion's autoencoder clamps the same way: exp(20) and exp(-30) are the largest and
# smallest variances anyone needs, and the clamp keeps exp(logvar) finite early in training.
LOGVAR_RANGE = (-30.0, 20.0)
# 8-bit data in [-1, 1]: 256 levels, bins of width 2 / 255.
BIN_WIDTH = 2.0 / 255.0


# ---------------------------------------------------------------------------------------------
# The posterior


class DiagonalGaussian:
    """``N(mean, diag(exp(logvar)))`` over a tensor of any shape ``(b, ...)``; sums run over ``...``.

    ``logvar`` is clamped to ``LOGVAR_RANGE``. Not an ``nn.Module``: it holds the encoder's
    outputs, not parameters.
    """

    def __init__(self, mean: torch.Tensor, logvar: torch.Tensor):
        for name, value in (("mean", mean), ("logvar", logvar)):
            if not isinstance(value, torch.Tensor) or not value.is_floating_point() or value.ndim < 1:
                got = f"{value.dtype} {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"{name} must be a floating tensor of shape (b, ...), got {got}")
        if mean.shape != logvar.shape:
            raise ValueError(f"mean and logvar must have the same shape, got {tuple(mean.shape)} "
                             f"and {tuple(logvar.shape)}")
        self.mean = mean
        self.logvar = logvar.clamp(*LOGVAR_RANGE)
        self.std = torch.exp(0.5 * self.logvar)
        self.var = torch.exp(self.logvar)

    @classmethod
    def from_parameters(cls, parameters: torch.Tensor, dim: int = 2) -> DiagonalGaussian:
        """Split ``parameters`` in two along ``dim`` (first half the mean, second the logvar)."""
        if parameters.ndim <= dim or parameters.shape[dim] % 2:
            raise ValueError(f"parameters must have an even size along dim {dim} (mean and logvar), "
                             f"got shape {tuple(parameters.shape)}")
        mean, logvar = parameters.chunk(2, dim=dim)
        return cls(mean, logvar)

    @property
    def shape(self) -> torch.Size:
        return self.mean.shape

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """``z = mean + std * eps``, ``eps ~ N(0, I)``: the reparameterisation trick.

        Written this way, ``z`` is a differentiable function of ``mean`` and ``std``, so the
        reconstruction loss trains the encoder through the sample (Kingma & Welling 2014, eq. 10).
        """
        eps = torch.randn(self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + self.std * eps

    def mode(self) -> torch.Tensor:
        """The most likely ``z``: the mean."""
        return self.mean

    def kl(self, other: DiagonalGaussian | None = None) -> torch.Tensor:
        """``KL(self || other)`` in nats, summed over all but the batch axis: ``(b,)``.

        ``other=None`` means the prior ``N(0, I)``: ``0.5 * sum(mean^2 + var - 1 - logvar)``, which
        is exactly zero when ``mean = 0`` and ``logvar = 0``. Between two diagonal Gaussians it is
        ``0.5 * sum(logvar_o - logvar + (var + (mean - mean_o)^2) / var_o - 1)``.
        """
        if other is None:
            terms = self.mean.pow(2) + self.var - 1.0 - self.logvar
        else:
            if not isinstance(other, DiagonalGaussian) or other.shape != self.shape:
                got = tuple(other.shape) if isinstance(other, DiagonalGaussian) else type(other).__name__
                raise ValueError(f"other must be a DiagonalGaussian of shape {tuple(self.shape)}, got {got}")
            terms = (other.logvar - self.logvar + (self.var + (self.mean - other.mean).pow(2)) / other.var - 1.0)
        return 0.5 * terms.flatten(1).sum(dim=1)

    def nll(self, z: torch.Tensor) -> torch.Tensor:
        """``-log q(z)`` in nats, summed over all but the batch axis: ``(b,)``."""
        if z.shape != self.shape:
            raise ValueError(f"z must have shape {tuple(self.shape)}, got {tuple(z.shape)}")
        terms = math.log(2 * math.pi) + self.logvar + (z - self.mean).pow(2) / self.var
        return 0.5 * terms.flatten(1).sum(dim=1)


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, std: float) -> torch.Tensor:
    """``-log N(x; mean, std^2 I)`` in nats, summed over all but the batch axis: ``(b,)``."""
    if x.shape != mean.shape:
        raise ValueError(f"x and mean must have the same shape, got {tuple(x.shape)} and {tuple(mean.shape)}")
    if not std > 0:
        raise ValueError(f"std must be positive, got {std!r}")
    squared = (x.float() - mean.float()).pow(2).flatten(1).sum(dim=1)  # (b,)
    dims = x[0].numel()
    return squared / (2 * std**2) + dims * (math.log(std) + 0.5 * math.log(2 * math.pi))


def bits_per_dim(nll_nats: torch.Tensor, dims: int) -> torch.Tensor:
    """Nats of a density on ``[-1, 1]^dims`` -> bits per dimension of the 8-bit quantised data.

    Each of the 256 levels covers a bin of width ``2 / 255``, so its probability is about
    ``p(x) * 2 / 255`` and ``-log2 P = -log2 p(x) + log2(255 / 2)`` per dimension.
    """
    if not isinstance(dims, int) or dims < 1:
        raise ValueError(f"dims must be a positive int, got {dims!r}")
    return nll_nats / (dims * math.log(2)) - math.log2(BIN_WIDTH)


def kl_weight(step: int, beta: float = 1.0, warmup_steps: int = 0, schedule: str = "linear",
              cycle_steps: int | None = None, ramp_fraction: float = 0.5) -> float:
    """The KL weight at optimizer step ``step`` (0-based): KL annealing.

    - ``"constant"``: ``beta`` at every step.
    - ``"linear"`` (Bowman et al. 2016): ``beta * min(1, step / warmup_steps)``, rising from 0 so
      the decoder learns to use ``z`` before the KL term can push the posterior onto the prior
      (posterior collapse); ``warmup_steps=0`` is ``beta`` from the start.
    - ``"cyclical"`` (Fu et al. 2019): the linear ramp repeated every ``cycle_steps``; in each
      cycle the weight rises over the first ``ramp_fraction`` of it, then holds at ``beta``.
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be an int >= 0, got {step!r}")
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta!r}")
    if schedule not in KL_SCHEDULES:
        raise ValueError(f"schedule must be one of {KL_SCHEDULES}, got {schedule!r}")
    if schedule == "constant":
        return float(beta)
    if schedule == "linear":
        if not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an int >= 0, got {warmup_steps!r}")
        return float(beta) if warmup_steps == 0 else float(beta) * min(1.0, step / warmup_steps)
    if not isinstance(cycle_steps, int) or cycle_steps < 1:
        raise ValueError(f"the cyclical schedule needs cycle_steps, an int >= 1, got {cycle_steps!r}")
    if not 0 < ramp_fraction <= 1:
        raise ValueError(f"ramp_fraction must be in (0, 1], got {ramp_fraction!r}")
    position = (step % cycle_steps) / cycle_steps
    return float(beta) * min(1.0, position / ramp_fraction)


def free_bits_kl(kl_per_unit: torch.Tensor, free_bits: float) -> torch.Tensor:
    """The free-bits KL (Kingma et al. 2016, eq. 15): ``sum_u max(free_bits, mean_b KL_u)``, a scalar.

    ``kl_per_unit`` ``(b, ...)``: each clip's KL in nats for every latent unit (every entry after
    the batch axis is a unit). A unit whose batch-mean KL is below ``free_bits`` is charged the
    constant ``free_bits``, so its gradient is zero: the encoder may put that much information in
    it for free, which keeps the KL term from pushing a barely used unit back onto the prior
    (posterior collapse). The max acts on the batch mean, not on each clip, as in the paper, so a
    unit cannot dodge the charge by carrying much for a few clips and nothing for the rest.
    ``free_bits = 0`` is the plain KL, ``sum_u mean_b KL_u``.
    """
    if not isinstance(kl_per_unit, torch.Tensor) or kl_per_unit.ndim < 2 or not kl_per_unit.is_floating_point():
        got = (f"{kl_per_unit.dtype} {tuple(kl_per_unit.shape)}" if isinstance(kl_per_unit, torch.Tensor)
               else type(kl_per_unit).__name__)
        raise ValueError(f"kl_per_unit must be a floating tensor of shape (b, units...), got {got}")
    if isinstance(free_bits, bool) or not isinstance(free_bits, (int, float)) or not free_bits >= 0:
        raise ValueError(f"free_bits must be a number >= 0 (nats per unit), got {free_bits!r}")
    per_unit = kl_per_unit.flatten(1).mean(dim=0)  # (units,)
    return per_unit.clamp(min=float(free_bits)).sum()


# ---------------------------------------------------------------------------------------------
# The network (shared with the VQ-VAE of models/vqvae.py)


class ConvResBlock(nn.Module):
    """GroupNorm-SiLU-Conv3x3 twice, plus a skip: ``(n, c_in, h, w)`` -> ``(n, c_out, h, w)``."""

    def __init__(self, in_channels: int, out_channels: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class TemporalDownsample(nn.Module):
    """Halve the frames with a stride-2 width-3 convolution across time.

    ``((b t), c, h, w)`` -> ``((b t/2), c, h, w)``.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv3d(channels, channels, (3, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0))

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        out = self.conv(rearrange(x, "(b t) c h w -> b c t h w", t=frames))  # (b, c, t/2, h, w)
        return rearrange(out, "b c t h w -> (b t) c h w")


class TemporalUpsample(nn.Module):
    """Double the frames: repeat each, then a width-3 convolution across time.

    ``((b t), c, h, w)`` -> ``((b 2t), c, h, w)``.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0))

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        hidden = rearrange(x, "(b t) c h w -> b c t h w", t=frames).repeat_interleave(2, dim=2)  # (b, c, 2t, h, w)
        return rearrange(self.conv(hidden), "b c t h w -> (b t) c h w")


def _check_architecture(base_channels: int, channel_mults: tuple[int, ...], num_res_blocks: int,
                        temporal_downsample: int, groups: int):
    if not channel_mults or any(not isinstance(m, int) or m < 1 for m in channel_mults):
        raise ValueError(f"channel_mults must be a non-empty tuple of positive ints, got {channel_mults}")
    if any((m * base_channels) % groups for m in channel_mults):
        raise ValueError(f"every level width (base_channels * mult) must be divisible by groups={groups}, "
                         f"got base_channels={base_channels}, channel_mults={channel_mults}")
    if num_res_blocks < 1:
        raise ValueError(f"num_res_blocks must be >= 1, got {num_res_blocks}")
    if temporal_downsample not in (1, 2, 4):
        raise ValueError(f"temporal_downsample must be 1, 2 or 4, got {temporal_downsample}")


class VideoEncoder(nn.Module):
    """Clips ``(b, t, c_in, h, w)`` -> feature grids ``(b, t / temporal_downsample, c_out, h / f, w / f)``.

    ``f = 2 ** (len(channel_mults) - 1)``: one stride-2 convolution between levels. Residual
    blocks work frame by frame; a residual convolution across frames (:class:`TemporalConv`,
    the identity at initialisation) follows each block below full resolution when ``temporal``.
    """

    def __init__(self, in_channels: int, out_channels: int, base_channels: int, channel_mults: tuple[int, ...],
                 num_res_blocks: int, temporal: bool, temporal_downsample: int, groups: int):
        super().__init__()
        _check_architecture(base_channels, channel_mults, num_res_blocks, temporal_downsample, groups)
        self.stem = nn.Conv2d(in_channels, base_channels, 3, padding=1)
        blocks: list[nn.Module] = []
        channels = base_channels
        for level, mult in enumerate(channel_mults):
            for _ in range(num_res_blocks):
                blocks.append(ConvResBlock(channels, mult * base_channels, groups))
                channels = mult * base_channels
                if temporal and level > 0:
                    blocks.append(TemporalConv(channels, groups))
            if level < len(channel_mults) - 1:
                blocks.append(Downsample(channels))
        blocks.extend(TemporalDownsample(channels) for _ in range(int(math.log2(temporal_downsample))))
        blocks.append(ConvResBlock(channels, channels, groups))
        if temporal:
            blocks.append(TemporalConv(channels, groups))
        self.blocks = nn.ModuleList(blocks)
        self.out_norm = nn.GroupNorm(groups, channels)
        self.out_conv = nn.Conv2d(channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[1]
        h = self.stem(rearrange(x, "b t c h w -> (b t) c h w"))  # ((b t), base, h, w)
        for block in self.blocks:
            if isinstance(block, TemporalDownsample):
                h = block(h, frames)
                frames //= 2
            elif isinstance(block, TemporalConv):
                h = block(h, frames)
            else:
                h = block(h)
        out = self.out_conv(F.silu(self.out_norm(h)))  # ((b t'), c_out, h', w')
        return rearrange(out, "(b t) c h w -> b t c h w", t=frames)


class VideoDecoder(nn.Module):
    """Latent grids ``(b, t', c_in, h', w')`` -> clips ``(b, t' * temporal_downsample, c_out, h' * f, w' * f)``.

    The mirror image of :class:`VideoEncoder`: nearest-neighbour upsampling plus a convolution
    between levels, repeated frames plus a convolution across time for temporal upsampling.
    """

    def __init__(self, in_channels: int, out_channels: int, base_channels: int, channel_mults: tuple[int, ...],
                 num_res_blocks: int, temporal: bool, temporal_downsample: int, groups: int):
        super().__init__()
        _check_architecture(base_channels, channel_mults, num_res_blocks, temporal_downsample, groups)
        channels = channel_mults[-1] * base_channels
        self.stem = nn.Conv2d(in_channels, channels, 3, padding=1)
        blocks: list[nn.Module] = [ConvResBlock(channels, channels, groups)]
        if temporal:
            blocks.append(TemporalConv(channels, groups))
        blocks.extend(TemporalUpsample(channels) for _ in range(int(math.log2(temporal_downsample))))
        for level in reversed(range(len(channel_mults))):
            for _ in range(num_res_blocks):
                blocks.append(ConvResBlock(channels, channel_mults[level] * base_channels, groups))
                channels = channel_mults[level] * base_channels
                if temporal and level > 0:
                    blocks.append(TemporalConv(channels, groups))
            if level > 0:
                blocks.append(Upsample(channels))
        self.blocks = nn.ModuleList(blocks)
        self.out_norm = nn.GroupNorm(groups, channels)
        self.out_conv = nn.Conv2d(channels, out_channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        frames = z.shape[1]
        h = self.stem(rearrange(z, "b t c h w -> (b t) c h w"))  # ((b t'), c_top, h', w')
        for block in self.blocks:
            if isinstance(block, TemporalUpsample):
                h = block(h, frames)
                frames *= 2
            elif isinstance(block, TemporalConv):
                h = block(h, frames)
            else:
                h = block(h)
        out = self.out_conv(F.silu(self.out_norm(h)))  # ((b t), c_out, h, w)
        return rearrange(out, "(b t) c h w -> b t c h w", t=frames)


# ---------------------------------------------------------------------------------------------
# The VAE


@dataclass
class VAEConfig:
    """Sizes and likelihood of :class:`VideoVAE`; toy-sized defaults (see ``VAE_CONFIGS``).

    ``channel_mults[i] * base_channels`` is the width of level ``i``; ``len(channel_mults) - 1``
    stride-2 convolutions make the spatial downsampling factor ``2 ** (levels - 1)`` (4 for the
    default three levels). ``latent_channels`` is ``z``, the channels of the latent grid.
    ``temporal`` adds convolutions across frames; ``temporal_downsample`` (1, 2 or 4) shrinks
    the frames. ``decoder_std`` is the fixed standard deviation of the Gaussian decoder
    ``p(x | z)`` in data units (the data span 2).
    """

    in_channels: int = 3
    latent_channels: int = 4
    base_channels: int = 16
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    temporal: bool = True
    temporal_downsample: int = 1
    groups: int = 8
    decoder_std: float = 0.1

    def __post_init__(self):
        self.channel_mults = tuple(self.channel_mults)
        _check_architecture(self.base_channels, self.channel_mults, self.num_res_blocks,
                            self.temporal_downsample, self.groups)
        if self.in_channels < 1 or self.latent_channels < 1:
            raise ValueError(f"in_channels and latent_channels must be >= 1, got {self.in_channels} "
                             f"and {self.latent_channels}")
        if not self.decoder_std > 0:
            raise ValueError(f"decoder_std must be positive, got {self.decoder_std!r}")

    @property
    def spatial_downsample(self) -> int:
        return 2 ** (len(self.channel_mults) - 1)


def _tiny() -> VAEConfig:
    return VAEConfig(base_channels=8, channel_mults=(1, 2, 2), latent_channels=4)


def _small() -> VAEConfig:
    return VAEConfig(base_channels=16, channel_mults=(1, 2, 2), latent_channels=4)


def _base() -> VAEConfig:
    return VAEConfig(base_channels=64, channel_mults=(1, 2, 4), num_res_blocks=2, latent_channels=4)


# Named sizes, parameters for RGB clips: tiny 45k (tests, smoke profile), small 0.17M for the CPU
# chapters (0.67 GFLOP forward per 8-frame 32x32 clip; on bouncing shapes, held-out PSNR 25 dB after
# 200 steps of 16 clips and 26.9 dB after 400 steps of 8, lr 2e-3, beta 1), base 10.8M for a GPU.
# Most compute sits at full resolution, so width there is what costs.
VAE_CONFIGS = {"tiny": _tiny, "small": _small, "base": _base}


def check_video(x: torch.Tensor, channels: int, spatial: int, temporal: int, name: str = "x") -> None:
    """Raise ``ValueError`` unless ``x`` is ``(b, t, channels, h, w)`` with ``t``, ``h``, ``w`` divisible."""
    if not isinstance(x, torch.Tensor) or x.ndim != 5 or x.shape[2] != channels:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must have shape (b, t, {channels}, h, w), got {got}")
    _, t, _, h, w = x.shape
    if t % temporal or h % spatial or w % spatial:
        raise ValueError(f"{name} of shape (b, t, c, h, w) needs t divisible by {temporal} and h, w divisible "
                         f"by {spatial}, got {tuple(x.shape)}")


class VideoVAE(nn.Module):
    """A convolutional VAE on clips: ``encode(x) -> DiagonalGaussian``, ``decode(z) -> x``.

    ``x`` ``(b, t, c, h, w)`` in ``[-1, 1]``; latents ``(b, t', z, h', w')``. ``forward(x,
    generator)`` returns ``(reconstruction, posterior)``. For latent diffusion use
    :meth:`encode_latents` / :meth:`decode_latents`, which multiply by ``latent_scale``
    (set it with :func:`estimate_latent_scale`). Build a named size with :meth:`from_name`.
    """

    def __init__(self, config: VAEConfig | None = None):
        super().__init__()
        self.config = config = config or VAEConfig()
        arch = dict(base_channels=config.base_channels, channel_mults=config.channel_mults,
                    num_res_blocks=config.num_res_blocks, temporal=config.temporal,
                    temporal_downsample=config.temporal_downsample, groups=config.groups)
        # The encoder's last convolution makes mean and logvar together: 2 z channels.
        self.encoder = VideoEncoder(config.in_channels, 2 * config.latent_channels, **arch)
        self.decoder = VideoDecoder(config.latent_channels, config.in_channels, **arch)
        # A buffer, so it is saved with the weights and travels with the model.
        self.register_buffer("latent_scale", torch.tensor(1.0))

    @classmethod
    def from_name(cls, name: str, **overrides) -> VideoVAE:
        """A named size from ``VAE_CONFIGS`` (``"tiny"``, ``"small"``, ``"base"``), fields overridden."""
        if name not in VAE_CONFIGS:
            raise ValueError(f"unknown VAE size {name!r}; choose one of {sorted(VAE_CONFIGS)}")
        return cls(replace(VAE_CONFIGS[name](), **overrides))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def latent_shape(self, x_shape: tuple[int, ...]) -> tuple[int, int, int, int, int]:
        """``(b, t', z, h', w')`` of the latents of clips shaped ``x_shape`` ``(b, t, c, h, w)``."""
        c = self.config
        b, t, _, h, w = x_shape
        f = c.spatial_downsample
        return (b, t // c.temporal_downsample, c.latent_channels, h // f, w // f)

    def encode(self, x: torch.Tensor) -> DiagonalGaussian:
        """``x`` ``(b, t, c, h, w)`` -> the posterior ``q(z | x)`` over ``(b, t', z, h', w')``."""
        c = self.config
        check_video(x, c.in_channels, c.spatial_downsample, c.temporal_downsample)
        # float32 whatever the autocast: the KL sums thousands of terms, more than bf16 can carry.
        return DiagonalGaussian.from_parameters(self.encoder(x).float(), dim=2)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` ``(b, t', z, h', w')`` -> the decoder's mean ``(b, t, c, h, w)`` (unscaled latents)."""
        if not isinstance(z, torch.Tensor) or z.ndim != 5 or z.shape[2] != self.config.latent_channels:
            got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"z must have shape (b, t', {self.config.latent_channels}, h', w'), got {got}")
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None,
                sample: bool = True) -> tuple[torch.Tensor, DiagonalGaussian]:
        """``(reconstruction (b, t, c, h, w), posterior)``; ``sample=False`` decodes the mean."""
        posterior = self.encode(x)
        z = posterior.sample(generator) if sample else posterior.mode()
        return self.decode(z), posterior

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean of ``x``: the deterministic reconstruction used for PSNR."""
        return self.decode(self.encode(x).mode())

    def encode_latents(self, x: torch.Tensor, generator: torch.Generator | None = None,
                       sample: bool = True) -> torch.Tensor:
        """Latents for diffusion: ``latent_scale * z``, ``z`` sampled from (or the mean of) ``q(z | x)``."""
        posterior = self.encode(x)
        z = posterior.sample(generator) if sample else posterior.mode()
        return z * self.latent_scale

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`encode_latents`: divide by ``latent_scale``, then decode."""
        return self.decode(latents / self.latent_scale)


def _unwrap(model: nn.Module) -> nn.Module:
    # The Trainer wraps the model in DistributedDataParallel under torchrun; its config lives inside.
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def video_from_batch(batch) -> torch.Tensor:
    """The clips of a batch: the tensor itself, ``batch["video"]``, or the first item of a list/tuple."""
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, dict) and "video" in batch:
        return batch["video"]
    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], torch.Tensor):
        return batch[0]
    raise ValueError("batch must be a (b, t, c, h, w) tensor, a dict with 'video' or a list/tuple whose "
                     f"first item is the clips, got {type(batch).__name__}")


def vae_loss(model: nn.Module, batch, generator: torch.Generator | None = None,
             beta: float = 1.0, free_bits: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """The negative beta-ELBO per dimension, for the Trainer: ``(loss, {"recon", "kl", "bpd", ...})``.

    ``loss = (-log p(x | z) + beta * KL(q(z | x) || N(0, I))) / D``, averaged over the batch, with
    ``z`` one reparameterised sample and ``D = t c h w``. Logged: ``recon`` and ``kl`` in nats per
    dimension, ``bpd`` the bits per dimension of the unweighted ELBO (beta = 1, so it stays a
    bound whatever ``beta`` is), ``mse`` and ``beta``.

    ``free_bits > 0`` charges the KL through :func:`free_bits_kl` (each latent unit's batch-mean KL
    counted as at least ``free_bits`` nats; chapter 04); the logged ``kl`` and ``bpd`` stay the
    plain ones.

    KL annealing needs the step; read the Trainer's own, which survives a resume (bind ``trainer``
    before calling ``fit``, since the loss reads it)::

        trainer = Trainer(model, lambda m, b, g: vae_loss(
            m, b, g, beta=kl_weight(trainer.step, beta=1.0, warmup_steps=500)), data, config)
        trainer.fit()
    """
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta!r}")
    x = video_from_batch(batch)
    recon, posterior = model(x, generator=generator)
    dims = x[0].numel()
    nll = gaussian_nll(x, recon, _unwrap(model).config.decoder_std)  # (b,)
    kl = posterior.kl().float()  # (b,)
    if free_bits > 0:
        kl_units = 0.5 * (posterior.mean.pow(2) + posterior.var - 1.0 - posterior.logvar)  # (b, t', z, h', w')
        loss = (nll.mean() + beta * free_bits_kl(kl_units, free_bits)) / dims
    else:
        loss = (nll + beta * kl).mean() / dims
    with torch.no_grad():
        mse = (recon.float() - x.float()).pow(2).mean()
        bpd = bits_per_dim(nll + kl, dims).mean()
        nll, kl = nll.mean(), kl.mean()
    return loss, {"recon": float(nll) / dims, "kl": float(kl) / dims, "bpd": float(bpd),
                  "mse": float(mse), "beta": float(beta)}


# ---------------------------------------------------------------------------------------------
# Helpers on a trained VAE


def _batches(videos: torch.Tensor, batch_size: int):
    if not isinstance(videos, torch.Tensor) or videos.ndim != 5:
        got = tuple(videos.shape) if isinstance(videos, torch.Tensor) else type(videos).__name__
        raise ValueError(f"videos must have shape (n, t, c, h, w), got {got}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for start in range(0, len(videos), batch_size):
        yield videos[start:start + batch_size]


@torch.no_grad()
def posterior_means(model: VideoVAE, videos: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """The posterior means of ``videos`` ``(n, t, c, h, w)``: ``(n, t', z, h', w')``, on the CPU."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    means = [model.encode(chunk.to(device)).mean.float().cpu() for chunk in _batches(videos, batch_size)]
    model.train(was_training)
    return torch.cat(means)


def active_units(posterior_means: torch.Tensor, threshold: float = 0.01) -> int:
    """How many latent dimensions are *active*: their posterior mean varies across the data.

    Burda et al. 2016 (Importance Weighted Autoencoders, section 5.2): unit ``u`` is active when
    ``Cov_x(E_q(u|x)[u]) > threshold``. A collapsed unit has ``q(u | x) = p(u)`` for every ``x``,
    so its mean is the same constant for all clips and its variance across clips is ~0.
    ``posterior_means`` ``(n, ...)``: one row per clip (``n >= 2``); every other entry is a unit.
    """
    if not isinstance(posterior_means, torch.Tensor) or posterior_means.ndim < 2 or len(posterior_means) < 2:
        got = (tuple(posterior_means.shape) if isinstance(posterior_means, torch.Tensor)
               else type(posterior_means).__name__)
        raise ValueError(f"posterior_means must have shape (n, ...) with n >= 2 clips, got {got}")
    if not threshold >= 0:
        raise ValueError(f"threshold must be >= 0, got {threshold!r}")
    variance = posterior_means.double().flatten(1).var(dim=0)  # (units,)
    return int((variance > threshold).sum())


@torch.no_grad()
def estimate_latent_scale(model: VideoVAE, videos: torch.Tensor, batch_size: int = 64,
                          generator: torch.Generator | None = None) -> float:
    """Set ``model.latent_scale`` to ``1 / std`` of posterior samples of ``videos``; return it.

    Diffusion schedules assume data of about unit variance (the noise is unit variance); a VAE's
    latents have whatever scale training left them with, so latent diffusion rescales them first
    (Rombach et al. 2022, section G: Stable Diffusion's 0.18215 is this number for its VAE).
    Samples, not means, since samples are what the diffusion model is trained on.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, total_sq, count = 0.0, 0.0, 0
    for chunk in _batches(videos, batch_size):
        z = model.encode(chunk.to(device)).sample(generator).double()
        total += float(z.sum())
        total_sq += float(z.pow(2).sum())
        count += z.numel()
    model.train(was_training)
    variance = total_sq / count - (total / count) ** 2
    if not variance > 0:
        raise ValueError(f"the latents of these videos have no variance ({variance}); cannot scale them")
    scale = 1.0 / math.sqrt(variance)
    model.latent_scale.fill_(scale)
    return scale
