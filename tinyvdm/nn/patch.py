"""Video to tokens and back: patches, tubelets, the patch embedding and space-time position codes.

Taught in chapters 08-11: chapter 09's ViT cuts frames into patches first, then clips into
tubelets; chapters 10 (U-ViT) and 11 (DiT) cut a noisy clip the same way and put the denoised
tokens back together with :func:`unpatchify`.

A clip ``(b, t, c, h, w)`` is cut into non-overlapping boxes of ``pt`` frames by ``p x p`` pixels
(``p`` = ``patch_size``, ``pt`` = ``tubelet``; ``pt = 1`` gives one patch per frame, as an image
ViT does, ``pt = 2`` gives ViViT's tubelets). Each box is flattened into one vector of
``pt * p * p * c`` numbers, ordered ``(pt p p c)``: frame within the tubelet, row, column, channel.
The boxes keep their place on a grid of ``t / pt`` by ``h / p`` by ``w / p`` tokens, so a clip
becomes ``(b, t / pt, h / p, w / p, pt p p c)``: the ``(b, t, h, w, d)`` layout that
:class:`~tinyvdm.nn.attention.VideoAttention` reads. :func:`unpatchify` is the exact inverse.

Attention does not know where a token sits; :class:`SpaceTimePositionEmbedding` adds a code of its
(frame, row, column), factorised into a temporal part and a spatial part so that a model trained
on short clips can be run on shorter ones, and so that the code's size grows with ``t + h w``
rather than ``t h w``.
"""

from __future__ import annotations

import torch
from einops import rearrange, repeat
from torch import nn

from tinyvdm.checks import describe
from tinyvdm.nn.embeddings import timestep_embedding

POSITION_KINDS = ("learned", "sincos")


def _check_positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_patchable(x: torch.Tensor, patch_size: int, tubelet: int = 1) -> None:
    """Raise ``ValueError`` unless ``x`` is ``(b, t, c, h, w)``, ``t`` divisible by ``tubelet``, ``h, w`` by ``p``.

    The message names the constraint that failed, e.g. ``h=30 must be divisible by patch_size=4``.
    """
    _check_positive("patch_size", patch_size)
    _check_positive("tubelet", tubelet)
    if not isinstance(x, torch.Tensor) or x.ndim != 5:
        raise ValueError(f"x must have shape (b, t, c, h, w), got {describe(x, dtype=False)}")
    _, t, _, h, w = x.shape
    if t % tubelet:
        raise ValueError(f"t={t} frames must be divisible by tubelet={tubelet} (x of shape (b, t, c, h, w) = "
                         f"{tuple(x.shape)})")
    for name, size in (("h", h), ("w", w)):
        if size % patch_size:
            raise ValueError(f"{name}={size} must be divisible by patch_size={patch_size} (x of shape "
                             f"(b, t, c, h, w) = {tuple(x.shape)})")


def patchify(x: torch.Tensor, patch_size: int, tubelet: int = 1) -> torch.Tensor:
    """Cut ``x`` ``(b, t, c, h, w)`` into a grid of flattened boxes ``(b, t / pt, h / p, w / p, pt p p c)``.

    ``p`` = ``patch_size``, ``pt`` = ``tubelet``. Each box's vector is ordered ``(pt p p c)``.
    :func:`unpatchify` undoes it exactly (a permutation of the numbers: no arithmetic).
    """
    check_patchable(x, patch_size, tubelet)
    return rearrange(x, "b (t pt) c (h p1) (w p2) -> b t h w (pt p1 p2 c)",
                     pt=tubelet, p1=patch_size, p2=patch_size)  # (b, t / pt, h / p, w / p, pt p p c)


def unpatchify(tokens: torch.Tensor, patch_size: int, tubelet: int = 1) -> torch.Tensor:
    """Put a grid of flattened boxes ``(b, t', h', w', pt p p c)`` back together as ``(b, t' pt, c, h' p, w' p)``.

    The inverse of :func:`patchify`; ``c`` is read off the last axis, which must be divisible by
    ``pt * p * p``.
    """
    _check_positive("patch_size", patch_size)
    _check_positive("tubelet", tubelet)
    if not isinstance(tokens, torch.Tensor) or tokens.ndim != 5:
        raise ValueError(f"tokens must have shape (b, t, h, w, pt p p c), got {describe(tokens, dtype=False)}")
    box = tubelet * patch_size**2
    if tokens.shape[-1] % box:
        raise ValueError(f"the last axis of tokens (b, t, h, w, pt p p c) must be divisible by "
                         f"tubelet * patch_size**2 = {box}, got {tuple(tokens.shape)}")
    return rearrange(tokens, "b t h w (pt p1 p2 c) -> b (t pt) c (h p1) (w p2)",
                     pt=tubelet, p1=patch_size, p2=patch_size)  # (b, t, c, h, w)


class PatchEmbed(nn.Module):
    """A linear map of each flattened box to a token: ``(b, t, c, h, w)`` -> ``(b, t / pt, h / p, w / p, d)``.

    The same as a ``Conv3d`` with kernel = stride = ``(pt, p, p)`` (tested), written as
    :func:`patchify` then ``nn.Linear`` so that the box is visible as a vector.
    """

    def __init__(self, in_channels: int, dim: int, patch_size: int, tubelet: int = 1, bias: bool = True):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("dim", dim), ("patch_size", patch_size),
                            ("tubelet", tubelet)):
            _check_positive(name, value)
        self.in_channels, self.patch_size, self.tubelet = in_channels, patch_size, tubelet
        self.proj = nn.Linear(tubelet * patch_size**2 * in_channels, dim, bias=bias)

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, patch_size={self.patch_size}, tubelet={self.tubelet}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(x, torch.Tensor) and x.ndim == 5 and x.shape[2] != self.in_channels:
            raise ValueError(f"x must have shape (b, t, {self.in_channels}, h, w), got {tuple(x.shape)}")
        return self.proj(patchify(x, self.patch_size, self.tubelet))  # (b, t / pt, h / p, w / p, d)


def sincos_position_embedding(frames: int, height: int, width: int, dim: int,
                              device: torch.device | str | None = None) -> torch.Tensor:
    """A fixed code of each token's (frame, row, column): ``(t, h, w, d)`` float32.

    The three coordinates are coded separately with the sines and cosines of
    :func:`~tinyvdm.nn.embeddings.timestep_embedding` and the codes concatenated: a quarter of
    ``d`` for the frame (a toy clip has fewer frames than rows or columns), the rest split evenly
    between row and column (the 2-D scheme of MAE and DiT, plus time). Concatenated rather than
    summed, so that frame 2 and row 2 do not share a code.
    """
    for name, value in (("frames", frames), ("height", height), ("width", width)):
        _check_positive(name, value)
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 4:
        raise ValueError(f"dim must be an int >= 4 (a share for each of frame, row and column), got {dim!r}")
    dim_t = dim // 4
    dim_h = (dim - dim_t) // 2
    dim_w = dim - dim_t - dim_h

    def axis_code(n: int, d: int) -> torch.Tensor:
        return timestep_embedding(torch.arange(n, device=device), d)  # (n, d)

    return torch.cat([
        repeat(axis_code(frames, dim_t), "t d -> t h w d", h=height, w=width),
        repeat(axis_code(height, dim_h), "h d -> t h w d", t=frames, w=width),
        repeat(axis_code(width, dim_w), "w d -> t h w d", t=frames, h=height),
    ], dim=-1)  # (t, h, w, d)


class SpaceTimePositionEmbedding(nn.Module):
    """Adds a position code to a token grid: ``(b, t, h, w, d)`` -> same shape.

    ``kind="sincos"``: the fixed code of :func:`sincos_position_embedding`, for any grid size.
    ``kind="learned"``: factorised tables, a temporal one ``(t_max, d)`` and a spatial one
    ``(h_max, w_max, d)``, summed (TimeSformer's separate space and time embeddings): ``t + h w``
    vectors instead of ``t h w``. ``max_grid`` = ``(t_max, h_max, w_max)`` in tokens; a smaller
    grid reads the first rows of each table.
    """

    def __init__(self, dim: int, kind: str = "sincos", max_grid: tuple[int, int, int] | None = None):
        super().__init__()
        _check_positive("dim", dim)
        if kind not in POSITION_KINDS:
            raise ValueError(f"kind must be one of {POSITION_KINDS}, got {kind!r}")
        self.dim, self.kind = dim, kind
        self.max_grid = None if max_grid is None else tuple(max_grid)
        if kind == "learned":
            if self.max_grid is None or len(self.max_grid) != 3:
                raise ValueError(f"kind='learned' needs max_grid = (t, h, w) in tokens, got {max_grid!r}")
            for name, value in zip(("t", "h", "w"), self.max_grid):
                _check_positive(f"max_grid's {name}", value)
            t, h, w = self.max_grid
            self.temporal = nn.Parameter(torch.empty(t, dim))
            self.spatial = nn.Parameter(torch.empty(h, w, dim))
        else:
            self.temporal = self.spatial = None
        self.initialize_weights()

    def initialize_weights(self):
        # Small random tables (ViT's std 0.02): large enough to tell positions apart from the
        # first step, small next to the unit-scale patch embeddings they are added to.
        if self.kind == "learned":
            nn.init.trunc_normal_(self.temporal, std=0.02)
            nn.init.trunc_normal_(self.spatial, std=0.02)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, kind={self.kind!r}, max_grid={self.max_grid}"

    def code(self, frames: int, height: int, width: int, device: torch.device | str | None = None) -> torch.Tensor:
        """The code of a ``frames x height x width`` token grid: ``(t, h, w, d)``."""
        if self.kind == "sincos":
            return sincos_position_embedding(frames, height, width, self.dim, device)
        t_max, h_max, w_max = self.max_grid
        if frames > t_max or height > h_max or width > w_max:
            raise ValueError(f"a token grid (t, h, w) = ({frames}, {height}, {width}) does not fit the learned "
                             f"position tables of max_grid = {self.max_grid} tokens (a model's frames / tubelet, "
                             f"image_size / patch_size)")
        return self.temporal[:frames, None, None] + self.spatial[None, :height, :width]  # (t, h, w, d)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if not isinstance(tokens, torch.Tensor) or tokens.ndim != 5 or tokens.shape[-1] != self.dim:
            raise ValueError(f"tokens must have shape (b, t, h, w, d) with d = {self.dim}, got {describe(tokens, dtype=False)}")
        _, t, h, w, _ = tokens.shape
        return tokens + self.code(t, h, w, tokens.device).to(tokens.dtype)  # (b, t, h, w, d)
