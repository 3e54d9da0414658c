"""A video VQ-VAE: turn a clip into a grid of integer tokens, and tokens back into a clip.

Taught in chapter 05 (autoregressive video), where it is the tokenizer: a causal transformer is
trained on the token grids of :meth:`VQVAE.encode_to_indices` and its samples are decoded with
:meth:`VQVAE.decode_indices`.

VQ-VAE (van den Oord et al. 2017, "Neural Discrete Representation Learning"): the encoder's
output vector ``z_e`` at every latent position is replaced by its nearest codebook vector
``e_k``, ``k = argmin_j ||z_e - e_j||^2`` (eq. 1-2). The argmin has no gradient, so the decoder's
gradient is copied straight through to the encoder (the straight-through estimator). The loss
is eq. 3::

    L = ||x - decoder(e_k)||^2 + ||sg[z_e] - e_k||^2 + beta ||z_e - sg[e_k]||^2

(``sg``: stop-gradient): reconstruction, codebook and commitment terms. With
``codebook="ema"`` the codebook term is replaced by exponential moving averages of the vectors
assigned to each code (appendix A.1; VQ-VAE-2), which trains faster and more stably.

Codes that no vector picks get no update and stay dead for ever; a code unused for
``restart_after`` training steps is moved onto a random encoder output of the current batch
(as in Jukebox, Dhariwal et al. 2020). Codebook health is reported as *perplexity*,
``exp(entropy)`` of the code frequencies (the number of equally used codes that would give the
same entropy), and *usage*, the fraction of codes used in a batch.

On clips that are mostly plain background, plain MSE rewards a tokenizer that draws the object
as a dim blob in the right place; :func:`weighted_reconstruction_error` (``foreground_weight`` in
the config) counts the error on object pixels more, so their colour and outline earn codes.

With ``background_code=True`` code 0 is reserved for empty background: a token whose pixels hold
no foreground pixel (:func:`background_tokens`) is written as code 0, a vector fixed at zero, and
every other token picks among codes ``1 .. K-1``. On clips that are mostly plain background the
token grid is then mostly one symbol, so a transformer over the tokens has far less to predict.

The encoder and decoder are the video VAE's (:mod:`tinyvdm.models.vae`): factorised 2-D
space + 1-D time convolutions, 4x spatial downsampling with the default three levels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from tinyvdm.checks import describe
from tinyvdm.models.vae import VideoDecoder, VideoEncoder, _check_architecture, check_video, video_from_batch

CODEBOOK_KINDS = ("ema", "learned")


def squared_distances(vectors: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """``||a - b||^2`` for every vector ``a`` ``(n, d)`` and code ``b`` ``(k, d)``: ``(n, k)``.

    Expanded as ``||a||^2 - 2 a.b + ||b||^2`` so the bulk is one ``(n, d) x (d, k)`` matmul,
    instead of an ``(n, k, d)`` tensor of differences.
    """
    if vectors.ndim != 2 or codebook.ndim != 2 or vectors.shape[1] != codebook.shape[1]:
        raise ValueError(f"vectors (n, d) and codebook (k, d) must share d, got {tuple(vectors.shape)} "
                         f"and {tuple(codebook.shape)}")
    return (vectors.pow(2).sum(dim=1, keepdim=True)  # (n, 1)
            - 2 * vectors @ codebook.t()  # (n, k)
            + codebook.pow(2).sum(dim=1)[None, :])  # (1, k)


def perplexity(indices: torch.Tensor, codebook_size: int) -> torch.Tensor:
    """``exp(-sum_k p_k log p_k)`` of the code frequencies ``p_k`` in ``indices`` (any shape).

    ``codebook_size`` when every code is used equally often; 1 when a single code is used.
    """
    if not isinstance(codebook_size, int) or codebook_size < 1:
        raise ValueError(f"codebook_size must be a positive int, got {codebook_size!r}")
    if indices.numel() == 0 or indices.dtype != torch.long:
        raise ValueError(f"indices must be a non-empty int64 tensor, got {indices.dtype} {tuple(indices.shape)}")
    counts = torch.bincount(indices.flatten(), minlength=codebook_size).double()
    probs = counts / counts.sum()
    # 0 log 0 = 0: unused codes contribute nothing.
    entropy = -(probs * torch.log(probs.clamp_min(1e-30))).sum()
    return entropy.exp().float()


class QuantizerOutput(NamedTuple):
    """What :class:`VectorQuantizer` returns (``...`` is the caller's leading shape)."""

    quantized: torch.Tensor  # (..., d) the chosen codes, with the straight-through gradient to z
    indices: torch.Tensor  # (...,) int64 code numbers
    commitment_loss: torch.Tensor  # ||z - sg[e]||^2, mean over elements (unweighted)
    codebook_loss: torch.Tensor  # ||sg[z] - e||^2 (learned codebook) or 0 (EMA)
    loss: torch.Tensor  # codebook_loss + beta * commitment_loss
    perplexity: torch.Tensor  # () of this batch's code frequencies
    usage: torch.Tensor  # () fraction of the codebook used in this batch
    restarted: int  # codes re-initialised by this call


class VectorQuantizer(nn.Module):
    """Nearest-code quantisation of vectors ``(..., d)`` with a codebook of ``codebook_size`` codes.

    ``codebook="learned"``: the codes are a parameter trained by the codebook loss.
    ``codebook="ema"``: the codes are a buffer, updated in training mode as the exponential moving
    average (``decay``) of the vectors assigned to them, with Laplace-smoothed counts
    (``epsilon``) so a rarely used code never divides by zero. ``beta`` weights the commitment
    loss. ``restart_after`` (``None``: never) re-initialises codes unused for that many training
    calls from random inputs of the current call, drawn with the ``generator`` given to
    :meth:`forward`. The first training call initialises the whole codebook from its inputs, so the
    codes start where the encoder's outputs are rather than at an arbitrary scale.

    ``background_code=True`` reserves code 0: it stays the zero vector (no EMA update, no
    gradient, no restart), :meth:`nearest` never picks it, and :meth:`forward` writes it exactly at
    the positions its ``background`` mask marks (those vectors get no gradient and do not move the
    codebook).

    Buffers change in training mode only, once per :meth:`forward`. Under torchrun, DDP broadcasts
    rank 0's buffers at every forward, so the EMA codebook follows rank 0's statistics.
    """

    def __init__(self, codebook_size: int, dim: int, beta: float = 0.25, codebook: str = "ema",
                 decay: float = 0.99, epsilon: float = 1e-5, restart_after: int | None = 20,
                 background_code: bool = False):
        super().__init__()
        if codebook_size < 2 or dim < 1:
            raise ValueError(f"codebook_size must be >= 2 and dim >= 1, got {codebook_size} and {dim}")
        if codebook not in CODEBOOK_KINDS:
            raise ValueError(f"codebook must be one of {CODEBOOK_KINDS}, got {codebook!r}")
        if not 0 <= decay < 1 or not epsilon > 0 or not beta >= 0:
            raise ValueError(f"need 0 <= decay < 1, epsilon > 0 and beta >= 0, got {decay}, {epsilon}, {beta}")
        if restart_after is not None and (not isinstance(restart_after, int) or restart_after < 1):
            raise ValueError(f"restart_after must be None or an int >= 1, got {restart_after!r}")
        self.codebook_size, self.dim, self.beta = codebook_size, dim, beta
        if not isinstance(background_code, bool):
            raise ValueError(f"background_code must be a bool, got {background_code!r}")
        self.kind, self.decay, self.epsilon, self.restart_after = codebook, decay, epsilon, restart_after
        self.background_code = background_code
        # Uniform in +-1/k, as in the VQ-VAE reference code; replaced by data on the first training call.
        initial = torch.empty(codebook_size, dim).uniform_(-1 / codebook_size, 1 / codebook_size)
        if codebook == "learned":
            self.embedding = nn.Parameter(initial)
        else:
            self.register_buffer("embedding", initial)
            # N_k (counts) and m_k (sums) start at 1 and at the codes, so e_k = m_k / N_k holds
            # from the first update; starting both at 0 would divide by a tiny count.
            self.register_buffer("cluster_size", torch.ones(codebook_size))
            self.register_buffer("embed_sum", initial.clone())
        self.register_buffer("unused_steps", torch.zeros(codebook_size, dtype=torch.long))
        self.register_buffer("initialized", torch.tensor(False))
        self._fix_background_code()

    def nearest(self, vectors: torch.Tensor) -> torch.Tensor:
        """The index of the nearest code of each vector: ``(n, d)`` -> ``(n,)`` int64."""
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"vectors must have shape (n, {self.dim}), got {tuple(vectors.shape)}")
        distances = squared_distances(vectors.float(), self.embedding.float())
        if self.background_code:
            distances[:, 0] = float("inf")  # code 0 is written by the background mask only
        return distances.argmin(dim=1)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """The codes of ``indices`` ``(...)`` int64: ``(..., d)``."""
        out_of_range = indices.numel() and (indices.min() < 0 or indices.max() >= self.codebook_size)
        if indices.dtype != torch.long or out_of_range:
            raise ValueError(f"indices must be int64 in [0, {self.codebook_size}), got {indices.dtype} "
                             f"{tuple(indices.shape)}")
        return F.embedding(indices, self.embedding)

    def _random_rows(self, vectors: torch.Tensor, count: int, generator: torch.Generator | None) -> torch.Tensor:
        # Without replacement when there are enough vectors, so restarted codes start apart.
        n = len(vectors)
        if n >= count:
            picks = torch.randperm(n, generator=generator, device=vectors.device)[:count]
        else:
            picks = torch.randint(n, (count,), generator=generator, device=vectors.device)
        return vectors[picks].detach().float()

    @torch.no_grad()
    def _set_codes(self, which: torch.Tensor, codes: torch.Tensor):
        self.embedding.data[which] = codes.to(self.embedding.dtype)
        if self.kind == "ema":
            self.cluster_size[which] = 1.0
            self.embed_sum[which] = codes

    @torch.no_grad()
    def _fix_background_code(self):
        """Put the reserved code 0 back at the zero vector (a no-op without ``background_code``)."""
        if not self.background_code:
            return
        self.embedding.data[0] = 0.0
        self.unused_steps[0] = 0
        if self.kind == "ema":
            self.cluster_size[0] = 1.0
            self.embed_sum[0] = 0.0

    @torch.no_grad()
    def _ema_update(self, vectors: torch.Tensor, indices: torch.Tensor, counts: torch.Tensor):
        """Appendix A.1: ``N <- decay N + (1 - decay) n``, ``m <- decay m + (1 - decay) sum z``, ``e = m / N``."""
        # Sum the vectors assigned to each code: an index_add rather than a (n, k) one-hot matmul.
        sums = torch.zeros_like(self.embed_sum).index_add_(0, indices, vectors)  # (k, d)
        self.cluster_size.mul_(self.decay).add_(counts.float(), alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        # Laplace smoothing: (N_k + eps) / (N + k eps) * N keeps every count positive, total unchanged.
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.epsilon) / (total + self.codebook_size * self.epsilon) * total
        self.embedding.copy_(self.embed_sum / smoothed[:, None])

    @torch.no_grad()
    def _restart_dead_codes(self, vectors: torch.Tensor, counts: torch.Tensor,
                            generator: torch.Generator | None) -> int:
        self.unused_steps.add_(1)
        self.unused_steps[counts > 0] = 0
        if self.restart_after is None:
            return 0
        dead = (self.unused_steps >= self.restart_after).nonzero().flatten()
        if len(dead) == 0:
            return 0
        self._set_codes(dead, self._random_rows(vectors, len(dead), generator))
        self.unused_steps[dead] = 0
        return len(dead)

    def forward(self, z: torch.Tensor, generator: torch.Generator | None = None,
                background: torch.Tensor | None = None) -> QuantizerOutput:
        """Quantise ``z`` ``(..., d)``; in training mode also update the codebook (EMA, restarts).

        ``background`` ``(...)`` bool (only with ``background_code``): positions written as code 0.
        """
        if not isinstance(z, torch.Tensor) or z.ndim < 2 or z.shape[-1] != self.dim:
            raise ValueError(f"z must have shape (..., {self.dim}), got {describe(z, dtype=False)}")
        if background is not None:
            if not self.background_code:
                raise ValueError("a background mask needs a quantizer built with background_code=True")
            if not isinstance(background, torch.Tensor) or background.dtype != torch.bool \
                    or background.shape != z.shape[:-1]:
                raise ValueError(f"background must be a bool tensor of shape {tuple(z.shape[:-1])}, got "
                                 f"{describe(background)}")
        vectors = z.reshape(-1, self.dim).float()  # (n, d)
        keep = None if background is None else ~background.reshape(-1)  # (n,) vectors that pick a code
        chosen = vectors if keep is None else vectors[keep]
        if self.training and not bool(self.initialized) and len(chosen):
            with torch.no_grad():
                self._set_codes(torch.arange(self.codebook_size, device=z.device),
                                self._random_rows(chosen, self.codebook_size, generator))
                self._fix_background_code()
                self.initialized.fill_(True)
        indices = self.nearest(vectors.detach())  # (n,)
        if keep is not None:
            indices = indices.masked_fill(~keep, 0)
        codes = F.embedding(indices, self.embedding).float()  # (n, d)
        # The losses and the codebook's statistics count only vectors that chose their code.
        chosen_codes = codes if keep is None else codes[keep]
        zero = torch.zeros((), device=z.device)
        commitment = F.mse_loss(chosen, chosen_codes.detach()) if len(chosen) else zero
        if self.kind == "learned" and len(chosen):
            codebook_loss = F.mse_loss(chosen_codes, chosen.detach())
        else:
            codebook_loss = zero
        with torch.no_grad():
            counts = torch.bincount(indices, minlength=self.codebook_size)
            usage = (counts > 0).float().mean()
            batch_perplexity = perplexity(indices, self.codebook_size)
        restarted = 0
        if self.training and len(chosen):
            chosen_indices = indices if keep is None else indices[keep]
            chosen_counts = counts if keep is None else torch.bincount(chosen_indices, minlength=self.codebook_size)
            if self.kind == "ema":
                self._ema_update(chosen.detach(), chosen_indices, chosen_counts)
            restarted = self._restart_dead_codes(chosen, chosen_counts, generator)
            self._fix_background_code()
        # Straight-through: the forward value is the code, the backward pass treats
        # quantisation as the identity, so d loss / d z = d loss / d quantized.
        quantized = vectors + (codes - vectors).detach()
        if keep is not None:
            # Background positions are the fixed code, whatever the encoder said: no gradient to it.
            quantized = torch.where(keep[:, None], quantized, codes.detach())
        return QuantizerOutput(
            quantized=quantized.to(z.dtype).reshape(z.shape),
            indices=indices.reshape(z.shape[:-1]),
            commitment_loss=commitment,
            codebook_loss=codebook_loss,
            loss=codebook_loss + self.beta * commitment,
            perplexity=batch_perplexity,
            usage=usage,
            restarted=restarted,
        )


@dataclass
class VQVAEConfig:
    """Sizes and codebook of :class:`VQVAE`; toy-sized defaults (see ``VQVAE_CONFIGS``).

    The network fields mean what they mean in :class:`~tinyvdm.models.vae.VAEConfig`.
    ``embedding_dim`` is ``d``, the width of a code; ``codebook_size`` the number of codes ``k``;
    ``beta`` the commitment weight (0.25 in the paper); ``codebook`` ``"ema"`` or ``"learned"``;
    ``ema_decay`` and ``ema_epsilon`` tune the EMA; ``restart_after`` the training steps a code may
    go unused before it is restarted (``None``: never). ``foreground_weight`` weights the
    reconstruction error of foreground pixels (see :func:`foreground_mask`) that many times more
    than the background's in :func:`vqvae_loss` (1: plain MSE). ``background_code`` reserves code
    0 for tokens with no foreground pixel (see :func:`background_tokens`).
    """

    in_channels: int = 3
    base_channels: int = 16
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    temporal: bool = True
    temporal_downsample: int = 1
    groups: int = 8
    embedding_dim: int = 8
    codebook_size: int = 512
    beta: float = 0.25
    codebook: str = "ema"
    ema_decay: float = 0.99
    ema_epsilon: float = 1e-5
    restart_after: int | None = 20
    foreground_weight: float = 1.0
    background_code: bool = False

    def __post_init__(self):
        self.channel_mults = tuple(self.channel_mults)
        _check_architecture(self.base_channels, self.channel_mults, self.num_res_blocks,
                            self.temporal_downsample, self.groups)
        if self.codebook not in CODEBOOK_KINDS:
            raise ValueError(f"codebook must be one of {CODEBOOK_KINDS}, got {self.codebook!r}")
        if self.codebook_size < 2 or self.embedding_dim < 1:
            raise ValueError(f"codebook_size must be >= 2 and embedding_dim >= 1, got {self.codebook_size} "
                             f"and {self.embedding_dim}")
        if not isinstance(self.foreground_weight, (int, float)) or self.foreground_weight < 1:
            raise ValueError(f"foreground_weight must be a number >= 1, got {self.foreground_weight!r}")
        if not isinstance(self.background_code, bool):
            raise ValueError(f"background_code must be a bool, got {self.background_code!r}")

    @property
    def spatial_downsample(self) -> int:
        return 2 ** (len(self.channel_mults) - 1)


def _tiny() -> VQVAEConfig:
    return VQVAEConfig(base_channels=8, embedding_dim=4, codebook_size=32)


def _small() -> VQVAEConfig:
    return VQVAEConfig(base_channels=16, embedding_dim=8, codebook_size=512)


def _base() -> VQVAEConfig:
    return VQVAEConfig(base_channels=64, channel_mults=(1, 2, 4), num_res_blocks=2, embedding_dim=16,
                       codebook_size=1024)


# Named sizes, parameters for RGB clips: tiny 44k (tests, smoke profile), small 0.17M for the CPU
# chapters (8 x 8 tokens per 32 x 32 frame; on bouncing shapes, after 340 steps of 8 clips at lr 2e-3,
# held-out PSNR 25.7 dB, 99% of the 512 codes used on held-out clips, perplexity ~107: the black
# background takes most tokens), base 10.8M for a GPU.
VQVAE_CONFIGS = {"tiny": _tiny, "small": _small, "base": _base}


class VQVAE(nn.Module):
    """Clips ``(b, t, c, h, w)`` <-> token grids ``(b, t', h', w')`` of ints in ``[0, codebook_size)``.

    ``forward(x, generator)`` returns ``(reconstruction, QuantizerOutput)`` (the output's
    ``quantized`` is ``(b, t', d, h', w')``). Build a named size with :meth:`from_name`.
    """

    def __init__(self, config: VQVAEConfig | None = None):
        super().__init__()
        self.config = config = config or VQVAEConfig()
        arch = dict(base_channels=config.base_channels, channel_mults=config.channel_mults,
                    num_res_blocks=config.num_res_blocks, temporal=config.temporal,
                    temporal_downsample=config.temporal_downsample, groups=config.groups)
        self.encoder = VideoEncoder(config.in_channels, config.embedding_dim, **arch)
        self.quantizer = VectorQuantizer(config.codebook_size, config.embedding_dim, beta=config.beta,
                                         codebook=config.codebook, decay=config.ema_decay,
                                         epsilon=config.ema_epsilon, restart_after=config.restart_after,
                                         background_code=config.background_code)
        self.decoder = VideoDecoder(config.embedding_dim, config.in_channels, **arch)

    @classmethod
    def from_name(cls, name: str, **overrides) -> VQVAE:
        """A named size from ``VQVAE_CONFIGS`` (``"tiny"``, ``"small"``, ``"base"``), fields overridden."""
        if name not in VQVAE_CONFIGS:
            raise ValueError(f"unknown VQ-VAE size {name!r}; choose one of {sorted(VQVAE_CONFIGS)}")
        return cls(replace(VQVAE_CONFIGS[name](), **overrides))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def token_shape(self, x_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """``(b, t', h', w')`` of the token grid of clips shaped ``x_shape`` ``(b, t, c, h, w)``."""
        c = self.config
        b, t, _, h, w = x_shape
        return (b, t // c.temporal_downsample, h // c.spatial_downsample, w // c.spatial_downsample)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(b, t, c, h, w)`` -> the encoder's output ``z_e`` ``(b, t', d, h', w')``, before quantisation."""
        c = self.config
        check_video(x, c.in_channels, c.spatial_downsample, c.temporal_downsample)
        return self.encoder(x)

    def quantize(self, z_e: torch.Tensor, generator: torch.Generator | None = None,
                 background: torch.Tensor | None = None) -> QuantizerOutput:
        """Quantise ``z_e`` ``(b, t', d, h', w')``; the output's ``quantized`` has the same shape.

        ``background`` ``(b, t', h', w')`` bool: tokens written as the reserved code 0
        (``background_code`` only; :meth:`forward` computes it from the clip).
        """
        out = self.quantizer(rearrange(z_e, "b t d h w -> b t h w d"), generator, background)
        return out._replace(quantized=rearrange(out.quantized, "b t h w d -> b t d h w"))

    def background_mask(self, x: torch.Tensor) -> torch.Tensor | None:
        """The tokens of clips ``x`` that are empty background ``(b, t', h', w')``; ``None`` without ``background_code``."""
        if not self.config.background_code:
            return None
        return background_tokens(x, self.config.temporal_downsample, self.config.spatial_downsample)

    def forward(self, x: torch.Tensor,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, QuantizerOutput]:
        """``(reconstruction (b, t, c, h, w), QuantizerOutput)``."""
        quantized = self.quantize(self.encode(x), generator, self.background_mask(x))
        return self.decoder(quantized.quantized), quantized

    @torch.no_grad()
    def encode_to_indices(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(b, t, c, h, w)`` -> tokens ``(b, t', h', w')`` int64 (no codebook update)."""
        z_e = rearrange(self.encode(x), "b t d h w -> b t h w d")
        b, t, h, w, d = z_e.shape
        indices = self.quantizer.nearest(z_e.reshape(-1, d)).reshape(b, t, h, w)
        background = self.background_mask(x)
        return indices if background is None else indices.masked_fill(background, 0)

    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """Tokens ``(b, t', h', w')`` int64 -> clips ``(b, t, c, h, w)``."""
        if not isinstance(indices, torch.Tensor) or indices.ndim != 4 or indices.dtype != torch.long:
            got = (f"{indices.dtype} {tuple(indices.shape)}" if isinstance(indices, torch.Tensor)
                   else type(indices).__name__)
            raise ValueError(f"indices must be int64 of shape (b, t', h', w'), got {got}")
        codes = self.quantizer.lookup(indices)  # (b, t', h', w', d)
        return self.decoder(rearrange(codes, "b t h w d -> b t d h w"))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Encode to tokens and decode them: the reconstruction used for PSNR."""
        return self.decode_indices(self.encode_to_indices(x))


def foreground_mask(x: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """Pixels of clips ``x`` ``(b, t, c, h, w)`` that differ from their clip's background: ``(b, t, 1, h, w)`` bool.

    The background of a clip is taken to be its per-channel median over all frames and pixels
    (right for a still, plain background that covers more than half of every clip, as in bouncing
    shapes); a pixel is foreground when some channel is more than ``threshold`` away from it.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 5 or not x.is_floating_point():
        raise ValueError(f"x must be floating clips of shape (b, t, c, h, w), got {describe(x)}")
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold!r}")
    flat = rearrange(x.float(), "b t c h w -> b c (t h w)")
    background = flat.median(dim=2).values  # (b, c)
    distance = (x.float() - background[:, None, :, None, None]).abs()  # (b, t, c, h, w)
    return distance.amax(dim=2, keepdim=True) > threshold


def background_tokens(x: torch.Tensor, temporal_downsample: int, spatial_downsample: int,
                      threshold: float = 0.1) -> torch.Tensor:
    """Which tokens of clips ``x`` ``(b, t, c, h, w)`` cover no foreground pixel: ``(b, t', h', w')`` bool.

    A token covers a block of ``temporal_downsample`` frames of ``spatial_downsample`` squared
    pixels; it is background when none of them is foreground (:func:`foreground_mask`).
    """
    if not isinstance(temporal_downsample, int) or not isinstance(spatial_downsample, int) \
            or temporal_downsample < 1 or spatial_downsample < 1:
        raise ValueError(f"downsample factors must be positive ints, got {temporal_downsample!r} and "
                         f"{spatial_downsample!r}")
    mask = foreground_mask(x, threshold)  # (b, t, 1, h, w); checks x
    _, t, _, h, w = mask.shape
    if t % temporal_downsample or h % spatial_downsample or w % spatial_downsample:
        raise ValueError(f"clips of {t} frames of {h} x {w} do not split into tokens of {temporal_downsample} "
                         f"frames of {spatial_downsample} x {spatial_downsample}")
    blocks = rearrange(mask, "b (t p) 1 (h s) (w r) -> b t h w (p s r)", p=temporal_downsample,
                       s=spatial_downsample, r=spatial_downsample)
    return ~blocks.any(dim=-1)


def weighted_reconstruction_error(reconstruction: torch.Tensor, x: torch.Tensor,
                                  foreground_weight: float = 1.0) -> torch.Tensor:
    """Squared error with foreground pixels weighted ``foreground_weight`` times the background's.

    A weighted mean, ``sum(w e^2) / sum(w)`` over every element: plain MSE when the weight is 1.
    Why: on clips that are mostly plain background, plain MSE is small even when the object is a
    blob of the wrong colour, so the tokenizer spends its codes on the background; weighting the
    few object pixels up makes their colour and outline worth codes.
    """
    if not isinstance(reconstruction, torch.Tensor) or not isinstance(x, torch.Tensor) \
            or reconstruction.shape != x.shape:
        raise ValueError(f"reconstruction and x must be tensors of the same shape (b, t, c, h, w), got "
                         f"{getattr(reconstruction, 'shape', type(reconstruction).__name__)} and "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    if not isinstance(foreground_weight, (int, float)) or foreground_weight < 1:
        raise ValueError(f"foreground_weight must be a number >= 1, got {foreground_weight!r}")
    error = (reconstruction.float() - x.float()).pow(2)
    if foreground_weight == 1:
        return error.mean()
    weight = 1 + (foreground_weight - 1) * foreground_mask(x).float()  # (b, t, 1, h, w)
    weight = weight.expand_as(error)
    return (weight * error).sum() / weight.sum()


def vqvae_loss(model: nn.Module, batch,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 3 for the Trainer: ``(loss, {"recon", "commit", "perplexity", "usage", ...})``.

    ``loss = reconstruction error + codebook_loss + beta * commitment_loss``; the reconstruction
    error is the MSE, or with ``model.config.foreground_weight > 1`` the foreground-weighted error
    of :func:`weighted_reconstruction_error`. Logged: ``recon`` (the plain MSE), ``commit`` (the
    unweighted commitment loss), ``perplexity`` and ``usage`` of this batch's codes, ``restarted``
    (codes restarted this step).
    """
    x = video_from_batch(batch)
    recon, quantized = model(x, generator=generator)
    mse = F.mse_loss(recon.float(), x.float())
    weight = getattr(getattr(model, "config", None), "foreground_weight", 1.0)
    error = mse if weight == 1 else weighted_reconstruction_error(recon, x, weight)
    loss = error + quantized.loss
    return loss, {"recon": float(mse.detach()), "commit": float(quantized.commitment_loss.detach()),
                  "perplexity": float(quantized.perplexity), "usage": float(quantized.usage),
                  "restarted": float(quantized.restarted)}

