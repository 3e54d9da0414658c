"""Transformer blocks over video tokens, and the parts the transformer denoisers share.

Taught in chapters 08-11: chapter 08 builds the attention patterns
(:mod:`tinyvdm.nn.attention`) and the pre-norm block around them; chapter 09's ViT stacks these
blocks; chapter 10's U-ViT adds long skips between them; chapter 11's DiT swaps their LayerNorms
for adaptive ones (its block lives in :mod:`tinyvdm.models.dit`).

A block reads and writes tokens ``(b, t, h, w, d)``, as :class:`~tinyvdm.nn.attention.VideoAttention`
does. Its ``attention`` is one of the patterns of ``VideoAttention`` (``spatial``, ``temporal``,
``full``, ``causal``, ``sparse-causal``) or ``factorised``: spatial attention, then temporal
attention, each with its own norm and residual, in one block (TimeSformer's "divided space-time
attention", Bertasius et al. 2021; Latte's spatial then temporal layers).

Extra tokens that belong to no pixel (a ViT's class token, U-ViT's timestep token, DiT's
in-context condition tokens) ride along *per frame*: :func:`join_frame_tokens` puts a copy of them
in front of every frame's ``h w`` tokens, giving ``(b, t, 1, k + h w, d)``, a grid whose frames are
``k + h w`` tokens long. Every pattern then keeps its meaning: spatial attention still never mixes
frames (each frame talks to its own copy), causal attention still never reads a later frame
(frame ``f``'s copy sees frames ``0 .. f``), and full attention lets every token read every
copy. (A ``temporal``-only model would leave each copy talking only to its other copies, never
to a pixel, so the models here do not offer it.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from tinyvdm.checks import describe
from tinyvdm.nn.attention import BACKENDS, PATTERNS, VideoAttention, use_sdpa
from tinyvdm.nn.patch import POSITION_KINDS, check_patchable

ATTENTIONS = PATTERNS + ("factorised",)
# What the ViT / U-ViT / DiT offer: every pattern that lets extra tokens reach the pixels.
MODEL_ATTENTIONS = ("spatial", "full", "causal", "sparse-causal", "factorised")


def attention_patterns(attention: str) -> tuple[str, ...]:
    """The ``VideoAttention`` patterns one block runs, in order: ``("spatial", "temporal")`` for ``factorised``."""
    if attention not in ATTENTIONS:
        raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
    return ("spatial", "temporal") if attention == "factorised" else (attention,)


def check_model_attention(attention: str) -> None:
    """Raise ``ValueError`` unless ``attention`` is one of ``MODEL_ATTENTIONS`` (see the module docstring)."""
    if attention not in MODEL_ATTENTIONS:
        raise ValueError(f"attention must be one of {MODEL_ATTENTIONS}, got {attention!r}")


def check_local_kernel(frames, factorised, frames_name: str = "frames", factorised_name: str = "factorised") -> None:
    """The local MLP kernel's extent in time (an odd positive int) and its ``factorised`` switch (a
    bool), for :class:`LocalMLP` and the configs that build it; ``ValueError`` naming the field."""
    if not isinstance(factorised, bool):
        raise ValueError(f"{factorised_name} must be a bool, got {factorised!r}")
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1 or frames % 2 == 0:
        raise ValueError(f"{frames_name} (the local MLP kernel's extent in time) must be an odd positive int, "
                         f"got {frames!r}")


def check_local_mlp(config) -> None:
    """The checks of a config's ``local_mlp``, ``local_frames`` and ``local_factorised`` fields
    (DiT and U-ViT): ``ValueError`` naming the field and its value."""
    if not isinstance(config.local_mlp, bool):
        raise ValueError(f"local_mlp must be a bool, got {config.local_mlp!r}")
    frames = config.local_frames
    check_local_kernel(frames, config.local_factorised, "local_frames", "local_factorised")
    if config.local_factorised and not (config.local_mlp and frames > 1):
        raise ValueError(f"local_factorised splits the local MLP's kernel across frames: it needs local_mlp=True and "
                         f"local_frames > 1, got local_mlp={config.local_mlp}, local_frames={frames}")


def check_transformer_config(config, positive: tuple[str, ...], divisible: bool = True) -> None:
    """The checks the ViT, U-ViT and DiT configs share; ``ValueError`` naming the field and its value.

    ``positive``: the fields that must be positive ints. ``divisible``: ``image_size`` and
    ``frames`` must be whole multiples of ``patch_size`` and ``tubelet`` (a learned position table
    needs a whole token grid). Where the config has them, ``out_channels`` must be ``None`` or a
    positive int and ``num_classes`` ``None`` or an int >= 0. Always: ``dim`` divisible by
    ``heads``, ``attention`` one of ``MODEL_ATTENTIONS``, ``position`` one of ``POSITION_KINDS``,
    ``dropout`` in ``[0, 1)``.
    """
    for name in positive:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    out_channels = getattr(config, "out_channels", None)
    if out_channels is not None and (isinstance(out_channels, bool) or not isinstance(out_channels, int)
                                     or out_channels < 1):
        raise ValueError(f"out_channels must be None or a positive int, got {out_channels!r}")
    if divisible:
        if config.image_size % config.patch_size:
            raise ValueError(f"image_size={config.image_size} must be divisible by patch_size={config.patch_size}")
        if config.frames % config.tubelet:
            raise ValueError(f"frames={config.frames} must be divisible by tubelet={config.tubelet}")
    if config.dim % config.heads:
        raise ValueError(f"dim must be divisible by heads, got dim={config.dim}, heads={config.heads}")
    check_model_attention(config.attention)
    if config.position not in POSITION_KINDS:
        raise ValueError(f"position must be one of {POSITION_KINDS}, got {config.position!r}")
    num_classes = getattr(config, "num_classes", None)
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                    or num_classes < 0):
        raise ValueError(f"num_classes must be None or an int >= 0, got {num_classes!r}")
    if not 0 <= config.dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {config.dropout!r}")


def token_grid(config) -> tuple[int, int, int]:
    """The token grid ``(t', h', w')`` of a config's largest clip: ``frames / pt`` by ``image_size / p`` squared."""
    side = config.image_size // config.patch_size
    return config.frames // config.tubelet, side, side


class MLP(nn.Module):
    """``Linear(d, hidden)``, GELU, dropout, ``Linear(hidden, d)``, dropout: ``(..., d)`` -> ``(..., d)``."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.fc = nn.Linear(dim, hidden)
        self.out = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.out(self.dropout(F.gelu(self.fc(x)))))


class LocalMLP(MLP):
    """:class:`MLP` with a depthwise 3x3 convolution over each frame's token grid after the first
    linear map (the feed-forward of LocalViT and PVTv2): ``(b, t, h, w, d)`` -> same shape.

    Attention sees every token of a frame at once and has no notion of "next to": it must learn
    from data that neighbouring patches belong together. The convolution builds that in, at a
    cost of 9 multiply-adds per hidden unit, which the two linear maps dwarf. ``frames=3`` (any odd
    number) extends the kernel in time, to the same 3x3 tokens of the previous and next frame.

    ``factorised=True`` (with ``frames > 1``) splits that 3-D kernel in two, as (2+1)-D
    convolutions do: each hidden channel first mixes ``frames`` neighbouring frames with its own
    ``frames`` weights (initialised to the identity: the block starts as the per-frame one), then
    the per-frame 3x3 kernel runs. It reaches the same tokens as the 3-D kernel with a kernel of
    rank one (``frames + 9`` weights per channel instead of ``9 frames``), and on a CPU it is far
    cheaper: PyTorch's depthwise 3-D convolution is several times slower than the 2-D one.

    ``layout=(k, h)`` takes the rows of :func:`join_frame_tokens` instead, ``(b, t, 1, k + h w, d)``
    (U-ViT's layout): the ``k`` extra tokens of each frame skip the convolution, the ``h x w`` grid
    after them is convolved.
    """

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0, frames: int = 1, factorised: bool = False):
        super().__init__(dim, hidden, dropout)
        check_local_kernel(frames, factorised)
        if factorised and frames == 1:
            raise ValueError("factorised splits a kernel that spans several frames; it needs frames > 1, got frames=1")
        self.frames = frames
        if frames == 1 or factorised:
            self.local = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        else:
            self.local = nn.Conv3d(hidden, hidden, (frames, 3, 3), padding=(frames // 2, 1, 1), groups=hidden)
        if factorised:
            # (e, frames): channel e of frame i reads frame i + j - frames // 2 with weight [e, j].
            taps = torch.zeros(hidden, frames)
            taps[:, frames // 2] = 1.0
            self.time_taps = nn.Parameter(taps)
        else:
            self.time_taps = None

    @property
    def factorised(self) -> bool:
        """Whether the kernel is split into temporal weights and a 3x3 kernel (it has ``time_taps``)."""
        return self.time_taps is not None

    def mix_frames(self, grid: torch.Tensor) -> torch.Tensor:
        """The factorised kernel's temporal part: ``(b, t, h, w, e)`` -> same shape, each channel a
        weighted sum of itself in the ``frames`` frames around (zeros beyond the clip's ends)."""
        t, reach = grid.shape[1], self.frames // 2
        padded = F.pad(grid, (0, 0, 0, 0, 0, 0, reach, reach))  # pads t, the fourth axis from the end
        return sum(padded[:, j:j + t] * self.time_taps[:, j] for j in range(self.frames))

    def convolve(self, grid: torch.Tensor) -> torch.Tensor:
        """The depthwise convolution, frame by frame (or over ``frames`` frames): ``(b, t, h, w, e)`` -> same shape."""
        if self.frames > 1 and not self.factorised:
            return rearrange(self.local(rearrange(grid, "b t h w e -> b e t h w")), "b e t h w -> b t h w e")
        if self.factorised:
            grid = self.mix_frames(grid)
        frames = rearrange(grid, "b t h w e -> (b t) e h w")
        return rearrange(self.local(frames), "(b t) e h w -> b t h w e", t=grid.shape[1])

    def forward(self, x: torch.Tensor, layout: tuple[int, int] | None = None) -> torch.Tensor:
        if layout is None:
            if x.ndim != 5:
                raise ValueError(f"LocalMLP needs a token grid of shape (b, t, h, w, d), got {tuple(x.shape)}")
            hidden = self.convolve(self.fc(x))
        else:
            extra, grid = split_frame_tokens(self.fc(x), *layout)  # (b, t, k, e), (b, t, h, w, e)
            grid = rearrange(self.convolve(grid), "b t h w e -> b t (h w) e")
            hidden = torch.cat([extra, grid], dim=2)[:, :, None]  # (b, t, 1, k + h w, e)
        return self.dropout(self.out(self.dropout(F.gelu(hidden))))


def feed_forward(dim: int, hidden: int, dropout: float = 0.0, local: bool = False, frames: int = 1,
                 factorised: bool = False) -> MLP:
    """A block's MLP: :class:`LocalMLP` (over ``frames`` frames, ``factorised`` or not) when ``local``,
    else the plain :class:`MLP`."""
    return LocalMLP(dim, hidden, dropout, frames, factorised) if local else MLP(dim, hidden, dropout)


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + attention(norm(x))`` for each pattern of ``attention``, then ``x + mlp(norm(x))``.

    ``x`` ``(b, t, h, w, d)`` -> same shape. ``attention="factorised"`` runs spatial then temporal
    attention (two norms, two residuals). ``forward(x, return_weights=True)`` also returns the
    attention weights, a list with one ``(b, heads, n, n)`` tensor per attention layer
    (``n = t h w``), from ``VideoAttention``'s teaching path. ``local_mlp=True`` uses a
    :class:`LocalMLP` (``local_frames``, ``local_factorised``: its arguments); ``forward(x, layout=(k, h))`` tells it where the grid is in U-ViT's rows.
    """

    def __init__(self, dim: int, heads: int, attention: str = "full", mlp_ratio: float = 4.0,
                 dropout: float = 0.0, backend: str = "auto", local_mlp: bool = False, local_frames: int = 1,
                 local_factorised: bool = False):
        super().__init__()
        self.patterns = attention_patterns(attention)
        if not mlp_ratio > 0:
            raise ValueError(f"mlp_ratio must be positive, got {mlp_ratio!r}")
        self.attention = attention
        self.attention_norms = nn.ModuleList(nn.LayerNorm(dim) for _ in self.patterns)
        self.attentions = nn.ModuleList(VideoAttention(dim, heads, pattern, backend) for pattern in self.patterns)
        self.mlp_norm = nn.LayerNorm(dim)
        self.mlp = feed_forward(dim, int(mlp_ratio * dim), dropout, local_mlp, local_frames, local_factorised)

    def forward(self, x: torch.Tensor, return_weights: bool = False, layout: tuple[int, int] | None = None):
        weights = []
        for norm, attention in zip(self.attention_norms, self.attentions):
            if return_weights:
                out, layer_weights = attention(norm(x), return_weights=True)  # (b, t, h, w, d), (b, heads, n, n)
                weights.append(layer_weights)
            else:
                out = attention(norm(x))  # (b, t, h, w, d)
            x = x + out
        hidden = self.mlp_norm(x)
        x = x + (self.mlp(hidden) if layout is None else self.mlp(hidden, layout))
        return (x, weights) if return_weights else x


class CrossAttention(nn.Module):
    """Multi-head attention from video tokens ``(b, t, h, w, d)`` to condition tokens ``(b, k, d_context)``.

    Queries come from the video tokens, keys and values from the condition: every token reads
    the condition, and no token reads another (so it never mixes frames). Returns ``(b, t, h, w, d)``.
    """

    def __init__(self, dim: int, heads: int, context_dim: int | None = None, backend: str = "auto"):
        super().__init__()
        for name, value in (("dim", dim), ("heads", heads), ("context_dim", context_dim or dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if dim % heads:
            raise ValueError(f"dim must be divisible by heads, got dim={dim}, heads={heads}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.heads, self.backend = heads, backend
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(context_dim or dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 5:
            raise ValueError(f"x must have shape (b, t, h, w, d), got {describe(x, dtype=False)}")
        if not isinstance(context, torch.Tensor) or context.ndim != 3 or context.shape[0] != x.shape[0]:
            raise ValueError(f"context must have shape (b, k, d) with b = {x.shape[0]}, got {describe(context, dtype=False)}")
        _, t, h, _, _ = x.shape
        q = rearrange(self.q(x), "b t h w (heads d) -> b heads (t h w) d", heads=self.heads)
        k, v = rearrange(self.kv(context), "b k (two heads d) -> two b heads k d", two=2, heads=self.heads)
        if use_sdpa(self.backend, x.device, k.shape[-2]):
            out = F.scaled_dot_product_attention(q, k, v)  # (b, heads, (t h w), d)
        else:
            scores = torch.matmul(q, k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)  # (b, heads, n, k)
            out = torch.matmul(scores.softmax(dim=-1), v)  # (b, heads, (t h w), d)
        return self.proj(rearrange(out, "b heads (t h w) d -> b t h w (heads d)", t=t, h=h))


def join_frame_tokens(grid: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
    """Put a copy of ``extra`` ``(b, k, d)`` in front of every frame of ``grid`` ``(b, t, h, w, d)``.

    Returns ``(b, t, 1, k + h w, d)``: each frame is one row of ``k + h w`` tokens, the ``k`` extra
    ones first. :func:`split_frame_tokens` undoes it.
    """
    if not isinstance(grid, torch.Tensor) or grid.ndim != 5:
        raise ValueError(f"grid must have shape (b, t, h, w, d), got {describe(grid, dtype=False)}")
    b, t, _, _, d = grid.shape
    if not isinstance(extra, torch.Tensor) or extra.ndim != 3 or extra.shape[0] != b or extra.shape[2] != d:
        raise ValueError(f"extra must have shape (b, k, d) = ({b}, k, {d}), got {describe(extra, dtype=False)}")
    copies = repeat(extra, "b k d -> b t k d", t=t)  # (b, t, k, d)
    pixels = rearrange(grid, "b t h w d -> b t (h w) d")  # (b, t, h w, d)
    return torch.cat([copies, pixels], dim=2)[:, :, None]  # (b, t, 1, k + h w, d)


def split_frame_tokens(tokens: torch.Tensor, k: int, height: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Undo :func:`join_frame_tokens`: ``(b, t, 1, k + h w, d)`` -> ``(extra (b, t, k, d), grid (b, t, h, w, d))``.

    The extra tokens come back per frame, since each frame's copy has been updated separately.
    """
    if (not isinstance(tokens, torch.Tensor) or tokens.ndim != 5 or tokens.shape[2] != 1
            or tokens.shape[3] <= k or (tokens.shape[3] - k) % height):
        raise ValueError(f"tokens must have shape (b, t, 1, k + h w, d) with k = {k} and h = {height}, "
                         f"got {describe(tokens, dtype=False)}")
    rows = tokens[:, :, 0]  # (b, t, k + h w, d)
    grid = rearrange(rows[:, :, k:], "b t (h w) d -> b t h w d", h=height)
    return rows[:, :, :k], grid


class LabelEmbedder(nn.Module):
    """Class labels ``(b,)`` in ``[0, num_classes]`` -> ``(b, d)``; label ``num_classes`` is the null class.

    ``cond=None`` means the null class for the whole batch (the project's denoiser interface, as
    in :class:`~tinyvdm.models.unet.UNet`): training with labels dropped to ``num_classes`` now and
    then teaches the same network its unconditional prediction, for classifier-free guidance.
    """

    def __init__(self, num_classes: int, dim: int):
        super().__init__()
        for name, value in (("num_classes", num_classes), ("dim", dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.num_classes = num_classes
        self.table = nn.Embedding(num_classes + 1, dim)  # + 1: the null class

    def forward(self, cond: torch.Tensor | None, b: int, device: torch.device) -> torch.Tensor:
        if cond is None:
            cond = torch.full((b,), self.num_classes, dtype=torch.long, device=device)
        return self.table(cond)  # (b, d)


def check_denoiser_inputs(name: str, x: torch.Tensor, timestep: torch.Tensor, cond: torch.Tensor | None,
                          in_channels: int, patch_size: int, tubelet: int, num_classes: int | None) -> None:
    """Raise ``ValueError`` naming the expected shape when an input of a ``model(x, timestep, cond)`` does not fit.

    ``x`` ``(b, t, in_channels, h, w)`` with ``t`` divisible by ``tubelet`` and ``h, w`` by
    ``patch_size``; ``timestep`` ``(b,)``; ``cond`` ``None`` or int64 ``(b,)``, and only when the
    model has classes. ``name`` is the model's, for the messages.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 5 or x.shape[2] != in_channels:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must have shape (b, t, {in_channels}, h, w), got {got}")
    check_patchable(x, patch_size, tubelet)
    b = x.shape[0]
    if not isinstance(timestep, torch.Tensor) or timestep.shape != (b,):
        got = tuple(timestep.shape) if isinstance(timestep, torch.Tensor) else type(timestep).__name__
        raise ValueError(f"timestep must have shape (b,) = ({b},), got {got}")
    if cond is None:
        return
    if not num_classes:
        raise ValueError(f"cond was given but the {name} was built with num_classes={num_classes}")
    if not isinstance(cond, torch.Tensor) or cond.shape != (b,) or cond.dtype != torch.long:
        got = f"{cond.dtype} {tuple(cond.shape)}" if isinstance(cond, torch.Tensor) else type(cond).__name__
        raise ValueError(f"cond must be int64 class labels of shape (b,) = ({b},), got {got}")


def forward_flops(model: nn.Module, x_shape: tuple[int, ...], denoiser: bool = True) -> int:
    """FLOPs of one forward pass of ``model`` on an input of ``x_shape``, counted by ``FlopCounterMode``.

    Counted on a copy built from ``model.config`` on the meta device (no memory, no compute), where
    attention runs through SDPA and the counter sees every matmul. ``denoiser=True`` calls
    ``copy(x, timestep)`` (unconditional), else ``copy(x)``. FLOPs count 2 per multiply-add; only
    matmuls, convolutions and attention are counted (norms and elementwise ops are not). The DiT
    paper's "Gflops" count multiply-adds: half of these.
    """
    x_shape = tuple(x_shape)
    if not x_shape or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in x_shape):
        raise ValueError(f"x_shape must be a tuple of positive ints, got {x_shape!r}")
    with torch.device("meta"):
        copy = type(model)(model.config)
        x = torch.empty(*x_shape)
        timestep = torch.zeros(x_shape[0], dtype=torch.long)
    with FlopCounterMode(display=False) as counter:
        if denoiser:
            copy(x, timestep)
        else:
            copy(x)
    return counter.get_total_flops()
