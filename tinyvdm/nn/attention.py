"""Self-attention over video tokens, with every space-time pattern in one module.

Taught in chapter 08 (space-time attention). A clip of tokens ``(b, t, h, w, d)`` holds
``n = t * h * w`` tokens, numbered in ``(t h w)`` order: token ``i`` is frame ``i // (h * w)``,
position ``i % (h * w)``. A *pattern* says which tokens a query token may read:

==================  =================================================  ===========================
pattern             token (frame f, position p) attends to             density of the (n, n) mask
==================  =================================================  ===========================
``spatial``         every position of frame f                          ``1 / t``
``temporal``        position p of every frame                          ``1 / (h w)``
``full``            every token                                        ``1``
``causal``          every position of frames 0 .. f                    ``(t + 1) / (2 t)``
``sparse-causal``   every position of frames 0, f - 1 and f            ``(3 t - 3) / t^2`` (t >= 2)
==================  =================================================  ===========================

Sparse-causal follows Tune-A-Video (Wu et al. 2023), whose query of frame ``f`` reads the keys of
the first frame and of the previous one, **plus, here, its own frame** (a deliberate choice):
Tune-A-Video inflates a *pretrained* image model, whose other layers already carry each frame's
content, whereas this course trains from scratch, and a layer that replaces spatial attention
must still let a token see its own frame. It also makes the pattern a subset of ``causal``, and
frame 0 (no previous frame) then reads only itself. So frame 0 sees {0}, frame 1 sees {0, 1} and
frame ``f >= 2`` sees {0, f - 1, f}: ``3 t - 3`` of the ``t^2`` frame pairs are allowed.

Two implementations compute the same thing (the tests prove them equal for every pattern):

- the fast path: ``spatial`` folds the frames into the batch, ``(b t) (h w) d``; ``temporal``
  folds the positions into the batch, ``(b h w) t d``; ``full`` attends over all ``n`` tokens;
  ``causal`` and ``sparse-causal`` attend over all ``n`` tokens through
  ``F.scaled_dot_product_attention`` with the boolean mask of :func:`attention_mask`
  (``True`` = may attend). Each sequence goes through SDPA or through plain matmul-softmax,
  picked by ``backend`` (see :func:`use_sdpa` for the measured rule behind ``"auto"``);
- the teaching path, :func:`masked_attention` over the full ``(n, n)`` mask of any pattern:
  ``softmax(q k^T / sqrt(d) masked with -inf) v``. It also returns the attention weights, for
  pictures (``VideoAttention(...)(x, return_weights=True)``).

:func:`attention_cost` counts what each pattern costs as ``t`` grows (FLOPs, attended pairs,
score memory), for the chapter's table.

The layer is attention only, like ``nn.MultiheadAttention``: no normalisation, no residual and no
position code (temporal attention cannot tell frame order apart without one; the caller adds it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

PATTERNS = ("spatial", "temporal", "full", "causal", "sparse-causal")
BACKENDS = ("auto", "sdpa", "plain")
# Patterns whose fast path passes a boolean mask to SDPA (full attends over all n tokens unmasked).
MASKED_PATTERNS = ("causal", "sparse-causal")

# "auto" picks plain matmul-softmax on the CPU for sequences of at most this many tokens, SDPA
# above it and on every other device. Measured for this module on the course CPU (torch 2.13,
# VideoAttention fwd+bwd, d = 64 in 4 heads, 8192 tokens per call, medians, machine shared):
#   sequence of L tokens      temporal L=8   temporal L=32   spatial L=64   spatial L=256   causal n=1024
#   plain / sdpa, 1 thread        0.72           1.05            0.95           1.85            2.40
# Plain wins the many tiny sequences of temporal attention over 8 frames (1.4x here; MACHINE.md
# measured 2-4x with 2 idle threads), the two tie from 32 to 64 tokens, and SDPA wins from a
# 16x16 frame (256 tokens) up and on masked full-clip attention, without an (n, n) score tensor.
# Caveat: on a heavily loaded machine (load ~5 on 2 cores) 2 threads made plain 1.1-1.5x slower
# even at L = 8, its many small parallel ops each waiting for a descheduled thread.
# 32 also keeps "auto" in step with the UNet's temporal attention (PLAIN_ATTENTION_MAX_FRAMES).
PLAIN_MAX_TOKENS = 32


def _check_pattern(pattern) -> None:
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {PATTERNS}, got {pattern!r}")


def _check_size(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def frame_mask(pattern: str, frames: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Which frames a query frame may read: ``(t, t)`` bool, row = query frame, column = key frame.

    ``spatial``: only its own (the identity); ``temporal`` and ``full``: all; ``causal``: its own
    and earlier ones (lower triangle); ``sparse-causal``: frame 0, the previous one and its own
    (see the module docstring for why its own).
    """
    _check_pattern(pattern)
    _check_size("frames", frames)
    if pattern == "spatial":
        return torch.eye(frames, dtype=torch.bool, device=device)
    if pattern in ("temporal", "full"):
        return torch.ones(frames, frames, dtype=torch.bool, device=device)
    causal = torch.ones(frames, frames, dtype=torch.bool, device=device).tril()
    if pattern == "causal":
        return causal
    # sparse-causal: the diagonal (own frame), the first sub-diagonal (previous) and column 0.
    own_or_previous = causal & ~causal.tril(diagonal=-2)
    first = torch.zeros_like(causal)
    first[:, 0] = True
    return own_or_previous | first


def position_mask(pattern: str, height: int, width: int,
                  device: torch.device | str | None = None) -> torch.Tensor:
    """Which positions of an allowed frame a query position may read: ``(h w, h w)`` bool.

    The identity for ``temporal`` (only the same position), all ones for every other pattern.
    """
    _check_pattern(pattern)
    _check_size("height", height)
    _check_size("width", width)
    positions = height * width
    if pattern == "temporal":
        return torch.eye(positions, dtype=torch.bool, device=device)
    return torch.ones(positions, positions, dtype=torch.bool, device=device)


def attention_mask(pattern: str, frames: int, height: int, width: int,
                   device: torch.device | str | None = None) -> torch.Tensor:
    """The full mask of a pattern: ``(n, n)`` bool, ``n = frames * height * width``, ``True`` = may attend.

    Tokens in ``(t h w)`` order; row = query token, column = key token. Every pattern is a frame
    rule times a position rule: token (f, p) may read token (g, q) when
    ``frame_mask[f, g] and position_mask[p, q]`` (a Kronecker product of the two masks). Every
    row has at least one ``True`` (each token sees itself), so no softmax row is empty.
    """
    frames_allowed = frame_mask(pattern, frames, device)  # (t, t)
    positions_allowed = position_mask(pattern, height, width, device)  # (h w, h w)
    allowed = frames_allowed[:, None, :, None] & positions_allowed[None, :, None, :]  # (t, hw, t, hw)
    return rearrange(allowed, "tq pq tk pk -> (tq pq) (tk pk)")  # (n, n)


def attended_pairs(pattern: str, frames: int, height: int, width: int) -> int:
    """How many (query, key) pairs a pattern allows, ``attention_mask(...).sum()``, without building the mask."""
    frames_allowed = int(frame_mask(pattern, frames).sum())
    _check_size("height", height)
    _check_size("width", width)
    positions = height * width
    # For each allowed frame pair, a query position reads one position (temporal) or all h w.
    return frames_allowed * positions * (1 if pattern == "temporal" else positions)


def masked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
                     dropout_p: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The teaching version: ``(out, weights)`` of ``softmax(q k^T / sqrt(d), masked) v``.

    ``q``, ``k``, ``v`` ``(..., n, d)``; ``mask`` ``(n, n)`` bool (``True`` = may attend) or
    ``None``. Returns ``out`` ``(..., n, d)`` and the softmax ``weights`` ``(..., n, n)`` (before
    dropout, which is applied to the weights only when ``dropout_p > 0``). Forbidden scores become
    ``-inf``, so their weight is exactly zero after the softmax. Equal to
    ``F.scaled_dot_product_attention(q, k, v, attn_mask=mask)`` (tested).
    """
    scores = torch.matmul(q, k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)  # (..., n, n)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)  # (..., n, n)
    dropped = F.dropout(weights, dropout_p) if dropout_p > 0 else weights
    return torch.matmul(dropped, v), weights  # (..., n, d), (..., n, n)


def use_sdpa(backend: str, device: torch.device, tokens: int) -> bool:
    """Whether a sequence of ``tokens`` tokens goes through SDPA (else plain matmul-softmax).

    ``"sdpa"`` and ``"plain"`` force a path. ``"auto"``: plain only on the CPU for sequences of at
    most ``PLAIN_MAX_TOKENS`` tokens, where measurement (see the constant) found it faster: two
    tiny matmuls and a softmax cost less per sequence than SDPA's kernel does. SDPA everywhere
    else: it is faster on long sequences, holds no ``(n, n)`` score tensor, and has fused kernels
    on GPUs.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return torch.device(device).type != "cpu" or tokens > PLAIN_MAX_TOKENS
    return backend == "sdpa"


class VideoAttention(nn.Module):
    """Multi-head self-attention over video tokens ``(b, t, h, w, d)`` with a space-time ``pattern``.

    ``dim`` = ``d``, split into ``heads`` heads of ``dim // heads``; one linear layer makes q, k
    and v, another projects the heads' concatenated outputs. ``pattern`` is one of ``PATTERNS``
    (module docstring), ``backend`` one of ``BACKENDS`` (:func:`use_sdpa`), ``dropout`` the
    dropout on the attention weights while training (off by default).

    ``forward(x)`` -> ``(b, t, h, w, d)`` through the fast path; ``forward(x, return_weights=True)``
    -> ``(out, weights)`` through the teaching path, ``weights`` ``(b, heads, n, n)`` over tokens in
    ``(t h w)`` order (zero wherever the pattern forbids), the same ``out`` up to rounding.
    """

    def __init__(self, dim: int, heads: int = 4, pattern: str = "spatial", backend: str = "auto",
                 dropout: float = 0.0, bias: bool = True):
        super().__init__()
        _check_size("dim", dim)
        _check_size("heads", heads)
        if dim % heads:
            raise ValueError(f"dim must be divisible by heads (head dim = dim / heads), got dim={dim}, heads={heads}")
        _check_pattern(pattern)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.dim, self.heads, self.pattern, self.backend, self.dropout = dim, heads, pattern, backend, dropout
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.heads}, pattern={self.pattern!r}, backend={self.backend!r}"

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` naming the expected shape ``(b, t, h, w, dim)`` when ``x`` does not fit."""
        if not isinstance(x, torch.Tensor) or x.ndim != 5 or x.shape[-1] != self.dim:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must have shape (b, t, h, w, d) with d = dim = {self.dim}, got {got}")

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attention over sequences ``(..., L, head_dim)`` -> same shape, by the chosen backend."""
        dropout_p = self.dropout if self.training else 0.0
        if use_sdpa(self.backend, q.device, q.shape[-2]):
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        return masked_attention(q, k, v, mask, dropout_p)[0]

    def forward(self, x: torch.Tensor, return_weights: bool = False):
        """``x`` ``(b, t, h, w, d)`` -> ``(b, t, h, w, d)``, or ``(out, weights (b, heads, n, n))``."""
        self.check_input(x)
        if return_weights:
            return self.reference_forward(x)
        b, t, h, w, _ = x.shape
        qkv = self.qkv(x)  # (b, t, h, w, 3 d)
        split = "b t h w (three heads d) -> three"
        if self.pattern == "spatial":
            # Frames folded into the batch: a sequence is one frame, so frames cannot mix.
            q, k, v = rearrange(qkv, f"{split} (b t) heads (h w) d", three=3, heads=self.heads)
            out = self.attend(q, k, v)  # ((b t), heads, (h w), d)
            out = rearrange(out, "(b t) heads (h w) d -> b t h w (heads d)", b=b, h=h)
        elif self.pattern == "temporal":
            # Positions folded into the batch: a sequence is one position across the frames.
            q, k, v = rearrange(qkv, f"{split} (b h w) heads t d", three=3, heads=self.heads)
            out = self.attend(q, k, v)  # ((b h w), heads, t, d)
            out = rearrange(out, "(b h w) heads t d -> b t h w (heads d)", b=b, h=h)
        else:
            q, k, v = rearrange(qkv, f"{split} b heads (t h w) d", three=3, heads=self.heads)
            # Full attention needs no mask; masking it with all-True would only cost memory.
            mask = attention_mask(self.pattern, t, h, w, x.device) if self.pattern in MASKED_PATTERNS else None
            out = self.attend(q, k, v, mask)  # (b, heads, (t h w), d)
            out = rearrange(out, "b heads (t h w) d -> b t h w (heads d)", t=t, h=h)
        return self.proj(out)  # (b, t, h, w, d)

    def reference_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The teaching path: every pattern as :func:`masked_attention` over all ``n`` tokens and its full mask.

        ``x`` ``(b, t, h, w, d)`` -> ``(out (b, t, h, w, d), weights (b, heads, n, n))``. Holds
        ``b * heads * n^2`` scores, so keep clips small.
        """
        self.check_input(x)
        b, t, h, w, _ = x.shape
        q, k, v = rearrange(self.qkv(x), "b t h w (three heads d) -> three b heads (t h w) d",
                            three=3, heads=self.heads)
        mask = attention_mask(self.pattern, t, h, w, x.device)  # (n, n)
        out, weights = masked_attention(q, k, v, mask, self.dropout if self.training else 0.0)
        out = rearrange(out, "b heads (t h w) d -> b t h w (heads d)", t=t, h=h)
        return self.proj(out), weights  # (b, t, h, w, d), (b, heads, n, n)


@dataclass(frozen=True)
class AttentionCost:
    """What one :class:`VideoAttention` layer costs; see :func:`attention_cost` for each field."""

    pattern: str
    frames: int
    tokens: int
    flops: int
    attention_flops: int
    useful_attention_flops: int
    attended_pairs: int
    mask_density: float
    score_bytes: int
    mask_bytes: int


def scored_pairs(pattern: str, frames: int, height: int, width: int) -> int:
    """(query, key) pairs the fast path computes a score for, per batch element and head.

    The factorised patterns score only what they attend: ``t (h w)^2`` for spatial, ``(h w) t^2``
    for temporal. The joint patterns score all ``n^2`` pairs, masked or not.
    """
    _check_pattern(pattern)
    for name, value in (("frames", frames), ("height", height), ("width", width)):
        _check_size(name, value)
    positions = height * width
    if pattern == "spatial":
        return frames * positions * positions
    if pattern == "temporal":
        return positions * frames * frames
    return (frames * positions) ** 2


def attention_cost(pattern: str, frames: int, height: int, width: int, dim: int, heads: int,
                   batch: int = 1) -> AttentionCost:
    """The cost of one ``VideoAttention(dim, heads, pattern)`` layer on ``(batch, frames, height, width, dim)``.

    Fields of the returned :class:`AttentionCost`:

    - ``tokens``: ``n = frames * height * width`` per clip;
    - ``flops``: FLOPs of one forward + backward of the whole layer (q/k/v and output projections
      plus attention, input gradient included), counted by ``FlopCounterMode`` on the meta device
      (no memory, no compute). Matmuls only: softmax, masking and bias adds are not counted;
    - ``attention_flops``: the part of ``flops`` spent in ``q k^T`` and ``weights @ v``. The
      counter counts SDPA as dense, so for ``causal`` and ``sparse-causal`` this is the work of
      all ``n^2`` pairs, masked ones included: what the kernel does, not what is useful;
    - ``useful_attention_flops``: ``attention_flops`` scaled to the attended pairs only, the
      work a kernel that skipped masked blocks would do (equal to ``attention_flops`` for
      ``spatial``, ``temporal`` and ``full``, whose fast paths compute no masked pair);
    - ``attended_pairs``: ``True`` entries of :func:`attention_mask`, per clip and head;
      ``mask_density`` = ``attended_pairs / n^2``;
    - ``score_bytes``: bytes of one float32 score tensor ``q k^T`` as the plain path materialises
      it, ``batch * heads * scored_pairs * 4`` (:func:`scored_pairs`). The backward pass keeps
      about as much again (the softmax weights); fused SDPA kernels tile it and keep far less;
    - ``mask_bytes``: bytes of the boolean ``(n, n)`` mask the masked patterns pass to SDPA
      (0 for the others, which need none).
    """
    _check_pattern(pattern)
    for name, value in (("frames", frames), ("height", height), ("width", width), ("dim", dim),
                        ("heads", heads), ("batch", batch)):
        _check_size(name, value)
    with torch.device("meta"):
        # backend="sdpa": on the meta device SDPA runs its math decomposition, which the counter
        # sees (on real CPU tensors it does not see inside SDPA's fused kernel).
        layer = VideoAttention(dim, heads, pattern, backend="sdpa")
        x = torch.empty(batch, frames, height, width, dim, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        layer(x).sum().backward()
    by_op = counter.get_flop_counts()["Global"]
    # Linear layers count as mm / addmm; the attention matmuls are batched (bmm).
    projection_flops = sum(count for op, count in by_op.items() if str(op) in ("aten.mm", "aten.addmm"))
    total = counter.get_total_flops()
    attention_flops = total - projection_flops
    tokens = frames * height * width
    pairs = attended_pairs(pattern, frames, height, width)
    scored = scored_pairs(pattern, frames, height, width)
    return AttentionCost(
        pattern=pattern, frames=frames, tokens=tokens, flops=total, attention_flops=attention_flops,
        useful_attention_flops=attention_flops * pairs // scored, attended_pairs=pairs,
        mask_density=pairs / tokens**2, score_bytes=batch * heads * scored * 4,
        mask_bytes=tokens**2 if pattern in MASKED_PATTERNS else 0,
    )


def attention_cost_table(frames: tuple[int, ...] = (4, 8, 16, 32), height: int = 8, width: int = 8,
                         dim: int = 64, heads: int = 4, batch: int = 1,
                         patterns: tuple[str, ...] = PATTERNS) -> list[AttentionCost]:
    """:func:`attention_cost` for every pattern and frame count: one row each, patterns outer."""
    return [attention_cost(pattern, t, height, width, dim, heads, batch) for pattern in patterns for t in frames]


def saved_activation_bytes(pattern: str, frames: int, height: int, width: int, dim: int, heads: int,
                           batch: int = 1, backend: str = "auto", device: torch.device | str = "cpu") -> int:
    """Bytes one ``VideoAttention`` layer keeps for its backward pass, measured, not estimated.

    Runs the layer's forward on real tensors of ``(batch, frames, height, width, dim)`` and adds
    up every tensor autograd saves for the backward pass (each storage once; the layer's weights,
    which exist anyway, and its input are not counted). This is the memory a training step must
    hold per attention layer until the backward pass reaches it, the part that grows with the
    number of frames: the plain path keeps its ``(n, n)`` softmax weights, a fused SDPA kernel
    only a few numbers per query. It runs the real layer, so keep clips moderate.
    """
    _check_pattern(pattern)
    for name, value in (("frames", frames), ("height", height), ("width", width), ("dim", dim),
                        ("heads", heads), ("batch", batch)):
        _check_size(name, value)
    layer = VideoAttention(dim, heads, pattern, backend=backend).to(device)
    x = torch.randn(batch, frames, height, width, dim, device=device, requires_grad=True)
    skip = {p.untyped_storage().data_ptr() for p in layer.parameters()} | {x.untyped_storage().data_ptr()}
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in skip:
            seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        layer(x)
    return sum(seen.values())
