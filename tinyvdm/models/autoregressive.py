"""An autoregressive video transformer over VQ-VAE tokens, with a KV cache for sampling.

Taught in chapter 05 (autoregressive video): the VQ-VAE of :mod:`tinyvdm.models.vqvae` turns each
clip into a token grid ``(b, t, h, w)`` (:meth:`~tinyvdm.models.vqvae.VQVAE.encode_to_indices`);
this decoder-only transformer learns ``p(x) = prod_i p(x_i | x_<i)`` over the grid read in
``(t h w)`` order (frame by frame, each frame in raster order), and its samples are decoded with
:meth:`~tinyvdm.models.vqvae.VQVAE.decode_indices` (as in VideoGPT, Yan et al. 2021).

The sequence: a grid of ``n = t h w`` tokens in ``[0, vocab_size)`` is flattened, a
beginning-of-sequence token ``BOS = vocab_size`` is put in front and the last token dropped, so
input position ``i`` holds ``x_{i-1}`` (or BOS) and its output predicts ``x_i``. The loss is the
next-token cross-entropy, reported also in bits per token (nats / ln 2).

Positions: one learned embedding per sequence position (GPT-2), ``max_tokens`` of them. They
know nothing of the grid, so a model is trained and sampled on one grid shape; factorised
``t``/``h``/``w`` embeddings would let shapes vary, at the cost of a longer explanation.

The network (GPT-2, Radford et al. 2019): token + position embedding, ``layers`` pre-LayerNorm
blocks ``x + attention(norm(x))``, ``x + mlp(norm(x))``, a final LayerNorm and a linear head to
``vocab_size`` logits (BOS is never predicted). Attention is causal: position ``i`` sees ``j <= i``.

The previous frame, handed over (``previous_frame=True``, off by default): input position ``i``
predicts grid token ``x_i``; the token at the same place one frame earlier, ``x_{i-F}`` (``F = h w``
tokens per frame), is already known there, so a second embedding of it is added to position
``i`` (a learned "no previous frame" vector in the first frame). Attention could find that token
too, but must first learn where to look; added to the input, "repeat what was here" is one
lookup, and the model's capacity goes to what changes: the moving object. Causal: ``x_{i-F}`` is
input ``i - F + 1 <= i``. ``previous_frame_window=3`` adds the 3 x 3 tokens around that place
(one table per offset), so an object that moved by up to a token is in view of its new place;
``previous_frames=2`` takes the window from the frame before that too, which says which way
the object moves.

Codes that look alike (``code_dim``, off by default): to the network, token ids are unrelated
symbols, even when two codes are pieces of objects of the same colour. With the tokenizer's code
vectors ``e_k`` (:meth:`ARTransformer.set_code_vectors`), each input token gains a learned
projection of ``e_k``, and the logits gain ``(W h) . e_k``, so similar codes rise and fall
together from the first step instead of being learned one by one.

Sampling with a kept token (``keep_token``, off by default): temperature and top-k reshape every
token's probability but one's, which stays the model's own. With a background code, a plain cold
draw also makes "background here" more likely wherever it leads, and objects fade out; keeping
the background code's probability cools only the choice among the object's codes.

Sampling draws one token at a time. Without a cache every step reruns the whole prefix, so a
grid of ``n`` tokens costs ``n (n + 1) / 2`` token passes; with the KV cache each step runs only
the new token and reads the keys and values of the earlier ones from :class:`KVCache`: ``n``
token passes (:func:`sampling_flops`, :func:`time_generation`). Both give identical tokens.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from tinyvdm.checks import describe


@dataclass
class ARConfig:
    """Sizes of :class:`ARTransformer`; toy-sized defaults (see ``AR_CONFIGS``).

    ``vocab_size``: the tokens of the grid (the VQ-VAE's ``codebook_size``); the embedding has one
    more row, for BOS. ``max_tokens``: the longest grid ``t h w`` (the position table's length).
    ``dim`` ``d``, ``heads``, ``layers``, ``mlp_ratio`` (MLP width ``mlp_ratio * d``), ``dropout``.
    ``grid_shape`` ``(t, h, w)`` (``None``: off) adds *axial* position embeddings, one learned
    vector per frame, per row and per column, summed (as in VideoGPT): every position of the same
    row shares one, so "the token at this place one frame earlier" is the same pattern everywhere
    and is learned from every position at once, not 512 times over.
    ``previous_frame`` (needs ``grid_shape``) adds to each position an embedding of the token at the
    same place one frame earlier (see the module docstring); ``previous_frame_window`` (odd, 1:
    that token only) widens it to the ``window x window`` tokens around that place, one embedding
    table per offset, summed, so an object that moved by a token is still in view.
    ``previous_frames`` (1: the last frame only) takes that window from each of that many earlier
    frames: with two, where the object was and where it was before say which way it moves.
    ``code_dim`` (``None``: off) gives the model the tokenizer's code vectors ``(vocab_size,
    code_dim)``, set with :meth:`ARTransformer.set_code_vectors`: each token's input embedding gains
    a learned projection of its code vector, and the logits gain ``W h . e_k``, so codes that
    look alike (the same colour, say) are pushed up or down together from the first step.
    """

    vocab_size: int = 32
    max_tokens: int = 128
    dim: int = 64
    heads: int = 4
    layers: int = 2
    mlp_ratio: int = 4
    dropout: float = 0.0
    grid_shape: tuple[int, int, int] | None = None
    previous_frame: bool = False
    previous_frame_window: int = 1
    previous_frames: int = 1
    code_dim: int | None = None

    def __post_init__(self):
        for name in ("vocab_size", "max_tokens", "dim", "heads", "layers", "mlp_ratio"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.dim % self.heads:
            raise ValueError(f"dim must be divisible by heads, got dim={self.dim}, heads={self.heads}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.grid_shape is not None:
            shape = tuple(self.grid_shape)
            if len(shape) != 3 or not all(isinstance(s, int) and s >= 1 for s in shape) \
                    or math.prod(shape) != self.max_tokens:
                raise ValueError(f"grid_shape must be None or three positive ints (t, h, w) with t h w = "
                                 f"max_tokens = {self.max_tokens}, got {self.grid_shape!r}")
            self.grid_shape = shape
        if not isinstance(self.previous_frame, bool):
            raise ValueError(f"previous_frame must be a bool, got {self.previous_frame!r}")
        if self.previous_frame and self.grid_shape is None:
            raise ValueError("previous_frame=True needs grid_shape (t, h, w), to know how many tokens a frame has")
        if self.code_dim is not None and (not isinstance(self.code_dim, int) or self.code_dim < 1):
            raise ValueError(f"code_dim must be None or a positive int, got {self.code_dim!r}")
        window = self.previous_frame_window
        if not isinstance(window, int) or window < 1 or window % 2 == 0:
            raise ValueError(f"previous_frame_window must be a positive odd int, got {window!r}")
        back = self.previous_frames
        if not isinstance(back, int) or back < 1 or (back > 1 and (not self.previous_frame or back >= self.grid_shape[0])):
            raise ValueError(f"previous_frames must be a positive int, and above 1 only with previous_frame=True and "
                             f"fewer than the grid's frames, got {back!r} with grid_shape={self.grid_shape!r}")
        if window > 1 and (not self.previous_frame or window // 2 >= min(self.grid_shape[1:])):
            raise ValueError(f"previous_frame_window={window} needs previous_frame=True and window // 2 below the "
                             f"frame's height and width (it stays inside the previous frame), got grid_shape={self.grid_shape!r}")

    @property
    def frame_tokens(self) -> int | None:
        """``F = h w``, the tokens of one frame (``None`` without ``grid_shape``)."""
        return None if self.grid_shape is None else self.grid_shape[1] * self.grid_shape[2]

    @property
    def bos(self) -> int:
        """The index of the beginning-of-sequence token: ``vocab_size``."""
        return self.vocab_size


def _tiny() -> ARConfig:
    # The tiny VQ-VAE's tokens: 32 codes, 8 frames of 4 x 4 tokens.
    return ARConfig(vocab_size=32, max_tokens=128, dim=32, heads=2, layers=2)


def _small() -> ARConfig:
    # The small VQ-VAE's tokens: 512 codes, 8 frames of 8 x 8 tokens (32 x 32 pixels).
    return ARConfig(vocab_size=512, max_tokens=512, dim=128, heads=4, layers=4)


# Named sizes: tiny 32k parameters (tests, smoke profile), small 0.99M (the CPU chapters).
AR_CONFIGS = {"tiny": _tiny, "small": _small}


class KVCache:
    """The keys and values of every earlier position, per layer: ``(b, heads, max_tokens, d / heads)`` each.

    Preallocated, so a step writes one slot instead of concatenating (and copying) the whole
    past. ``length`` is the number of positions stored. ``tokens`` ``(b, max_tokens)`` keeps the
    input tokens seen so far (the ``previous_frame`` embedding reads the token one frame back).
    """

    def __init__(self, config: ARConfig, batch: int, device: torch.device | str | None = None,
                 dtype: torch.dtype = torch.float32):
        shape = (batch, config.heads, config.max_tokens, config.dim // config.heads)
        self.keys = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.layers)]
        self.values = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.layers)]
        self.tokens = torch.zeros(batch, config.max_tokens, dtype=torch.long, device=device)
        self.batch, self.capacity, self.length = batch, config.max_tokens, 0

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``k``, ``v`` ``(b, heads, n_new, d_head)`` after the ``length`` stored; return all keys and values."""
        start, end = self.length, self.length + k.shape[2]
        self.keys[layer][:, :, start:end] = k
        self.values[layer][:, :, start:end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention, through ``F.scaled_dot_product_attention``.

    Without a cache: one pass over the sequence with ``is_causal=True``. With a cache the
    ``n_new`` queries are positions ``length .. length + n_new - 1`` and attend to every stored
    key plus the new ones up to themselves.
    """

    def __init__(self, config: ARConfig):
        super().__init__()
        self.heads = config.heads
        self.qkv = nn.Linear(config.dim, 3 * config.dim)
        self.out = nn.Linear(config.dim, config.dim)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        """``x`` ``(b, n, d)`` -> ``(b, n, d)``."""
        q, k, v = rearrange(self.qkv(x), "b n (three heads e) -> three b heads n e", three=3, heads=self.heads)
        dropout = self.dropout if self.training else 0.0
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout)
        else:
            past = cache.length
            k, v = cache.append(layer, k, v)  # (b, heads, past + n, e)
            n = q.shape[2]
            mask = None
            if n > 1:  # query i (position past + i) sees keys 0 .. past + i
                rows = torch.arange(n, device=x.device)[:, None] + past
                mask = torch.arange(past + n, device=x.device)[None, :] <= rows  # (n, past + n)
            # One new query may see every key: no mask needed (is_causal would align it to key 0).
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        return self.out(rearrange(y, "b heads n e -> b n (heads e)"))


class MLP(nn.Module):
    """``Linear(d, r d)``, GELU, ``Linear(r d, d)``."""

    def __init__(self, config: ARConfig):
        super().__init__()
        self.fc = nn.Linear(config.dim, config.mlp_ratio * config.dim)
        self.out = nn.Linear(config.mlp_ratio * config.dim, config.dim)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.out(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: ``x + attention(norm(x))``, then ``x + mlp(norm(x))``."""

    def __init__(self, config: ARConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(config.dim)
        self.attention = CausalSelfAttention(config)
        self.norm2 = nn.LayerNorm(config.dim)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attention(self.norm1(x), cache, layer)
        return x + self.mlp(self.norm2(x))


def sample_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                  generator: torch.Generator | None = None, keep_token: int | None = None) -> torch.Tensor:
    """Draw one token per row from ``logits`` ``(b, vocab)``: ``(b,)`` int64.

    ``softmax(logits / temperature)`` restricted to the ``top_k`` largest logits (``None``: all).
    ``temperature=0`` takes the argmax; a small positive temperature approaches it. With
    ``keep_token`` (needs ``temperature > 0``) that token keeps the model's own probability and the
    temperature and ``top_k`` reshape only the others' (see :func:`sampling_distribution`).
    """
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or not logits.is_floating_point():
        raise ValueError(f"logits must be floating of shape (b, vocab), got {describe(logits)}")
    if not isinstance(temperature, (int, float)) or temperature < 0:
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
    vocab = logits.shape[1]
    if top_k is not None and (not isinstance(top_k, int) or not 1 <= top_k <= vocab):
        raise ValueError(f"top_k must be None or an int in [1, {vocab}], got {top_k!r}")
    if temperature == 0 and keep_token is None:
        return logits.argmax(dim=1)
    probs = sampling_distribution(logits, temperature, top_k, keep_token=keep_token)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def sampling_distribution(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                          keep_token: int | None = None) -> torch.Tensor:
    """The distribution :func:`sample_logits` draws from: ``(b, vocab)`` rows summing to 1.

    ``softmax(logits / temperature)`` over the ``top_k`` largest logits of each row, 0 elsewhere.
    Ties with the k-th largest logit are all kept. ``temperature`` must be positive here (0 is the
    argmax, a point mass, handled by :func:`sample_logits`).

    ``keep_token`` (``None``: off) is a token whose probability stays the model's own,
    ``p_keep = softmax(logits)[keep_token]``; temperature and ``top_k`` then act on the other
    tokens only, which share ``1 - p_keep``. Why: with a background code (chapter 05) a temperature
    below 1 on the whole distribution also decides *whether* an object is drawn, and it shrinks
    every small "an object starts here" probability until frames come out empty or objects
    vanish; keeping the background's probability cools only *which* object code is drawn.
    """
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or not logits.is_floating_point():
        raise ValueError(f"logits must be floating of shape (b, vocab), got {describe(logits)}")
    if not isinstance(temperature, (int, float)) or temperature <= 0:
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    vocab = logits.shape[1]
    if top_k is not None and (not isinstance(top_k, int) or not 1 <= top_k <= vocab):
        raise ValueError(f"top_k must be None or an int in [1, {vocab}], got {top_k!r}")
    if keep_token is not None:
        if not isinstance(keep_token, int) or not 0 <= keep_token < vocab:
            raise ValueError(f"keep_token must be None or an int in [0, {vocab}), got {keep_token!r}")
        if top_k is not None and top_k > vocab - 1:
            raise ValueError(f"top_k must be at most {vocab - 1} with keep_token (it picks among the other "
                             f"tokens), got {top_k!r}")
        keep = torch.softmax(logits.float(), dim=1)[:, keep_token:keep_token + 1]  # (b, 1), at temperature 1
        others = logits.clone()
        others[:, keep_token] = float("-inf")  # the others' distribution gives the kept token 0
        probs = (1 - keep) * sampling_distribution(others, temperature, top_k)
        probs[:, keep_token] = keep[:, 0]
        return probs
    # Divide before the softmax: a temperature below 1 sharpens, above 1 flattens.
    logits = logits.float() / temperature
    if top_k is not None:
        kth = torch.topk(logits, top_k, dim=1).values[:, -1:]  # (b, 1) the k-th largest
        # -inf before the softmax, so the kept k renormalise among themselves.
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.softmax(logits, dim=1)



def previous_frame_sources(config: ARConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the ``previous_frame`` neighbours of every position are: ``(source, inside)``, each
    ``(max_tokens, k window^2)`` for ``k = previous_frames``, the last frame's window first.

    Position ``i`` predicts ``x_i`` at ``(f, y, x)``; its neighbour ``(f - 1, y + dy, x + dx)`` is
    grid token ``j = i - F + dy w + dx``, at input position ``source = j + 1`` (input ``k`` holds
    ``x_{k-1}``), with ``dy, dx`` in ``-r .. r`` for a window of ``2 r + 1`` (raster order; ``r = 0``:
    the same place only); ``k`` frames back, ``i - k F + ...``. ``j < i`` always (``r < h``), so
    this is causal. ``inside`` is False where the neighbour is outside the grid or before the
    first frame.
    """
    if not config.previous_frame:
        raise ValueError("previous_frame_sources needs a config with previous_frame=True")
    _, h, w = config.grid_shape
    r = config.previous_frame_window // 2
    place = torch.arange(config.max_tokens)  # (n,) positions
    y, x = (place // w) % h, place % w
    offsets = torch.arange(-r, r + 1)
    dy, dx = torch.meshgrid(offsets, offsets, indexing="ij")
    dy, dx = dy.flatten(), dx.flatten()  # (window^2,)
    back = torch.arange(1, config.previous_frames + 1).repeat_interleave(len(dy))
    dy, dx = dy.repeat(config.previous_frames), dx.repeat(config.previous_frames)  # (frames back x window^2,)
    source = place[:, None] - back * config.frame_tokens + dy * w + dx + 1  # (n, k window^2)
    inside = (place[:, None] >= back * config.frame_tokens) & (y[:, None] + dy >= 0) & (y[:, None] + dy < h) \
        & (x[:, None] + dx >= 0) & (x[:, None] + dx < w)
    return source, inside


class ARTransformer(nn.Module):
    """A decoder-only causal transformer over flattened token grids. Build a size with :meth:`from_name`.

    ``forward(tokens)``: tokens ``(b, n)`` in ``[0, vocab_size]`` (BOS included) -> logits
    ``(b, n, vocab_size)``, position ``i`` predicting the token after it. ``loss(grids)``: the
    next-token cross-entropy of grids ``(b, t, h, w)``. ``generate(...)``: sample grids.
    """

    def __init__(self, config: ARConfig | None = None):
        super().__init__()
        self.config = config = config or ARConfig()
        self.token_embedding = nn.Embedding(config.vocab_size + 1, config.dim)  # + 1: BOS
        self.position_embedding = nn.Parameter(torch.zeros(config.max_tokens, config.dim))
        if config.grid_shape is not None:
            t, h, w = config.grid_shape
            self.time_embedding = nn.Parameter(torch.zeros(t, config.dim))
            self.row_embedding = nn.Parameter(torch.zeros(h, config.dim))
            self.column_embedding = nn.Parameter(torch.zeros(w, config.dim))
        if config.previous_frame:
            # Per window offset, vocab_size + 1 rows; row vocab_size: "none" (no previous frame, or
            # a neighbour outside the grid).
            tables = config.previous_frames * config.previous_frame_window ** 2
            self.previous_frame_embedding = nn.Embedding(tables * (config.vocab_size + 1), config.dim)
            # Where each position's neighbours are: fixed by the grid, so built once, not per call
            # (sampling calls forward once per token). Not saved: derived from the config.
            source, inside = previous_frame_sources(config)
            self.register_buffer("previous_source", source, persistent=False)
            self.register_buffer("previous_inside", inside, persistent=False)
            # One table per (frame back, window offset) o, stacked: o's row for token k is o (vocab + 1) + k.
            self.register_buffer("previous_table_offset", torch.arange(tables) * (config.vocab_size + 1),
                                 persistent=False)
        if config.code_dim is not None:
            # The code vectors (and a zero row for BOS); set_code_vectors fills them in.
            self.register_buffer("code_vectors", torch.zeros(config.vocab_size + 1, config.code_dim))
            self.code_in = nn.Linear(config.code_dim, config.dim, bias=False)
            self.code_out = nn.Linear(config.dim, config.code_dim, bias=False)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.dim)
        self.head = nn.Linear(config.dim, config.vocab_size)
        self.initialize_weights()

    def initialize_weights(self):
        """GPT-2's initialisation: N(0, 0.02) weights, zero biases, LayerNorm as the identity.

        The projections that write into the residual stream (attention ``out``, MLP ``out``) get
        ``0.02 / sqrt(2 layers)``: ``2 layers`` of them add up, and this keeps the stream's variance
        independent of depth at initialisation.
        """
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.position_embedding, std=0.02)
        if self.config.grid_shape is not None:
            for table in (self.time_embedding, self.row_embedding, self.column_embedding):
                nn.init.normal_(table, std=0.02)
        residual_std = 0.02 / math.sqrt(2 * self.config.layers)
        for block in self.blocks:
            nn.init.normal_(block.attention.out.weight, std=residual_std)
            nn.init.normal_(block.mlp.out.weight, std=residual_std)

    @torch.no_grad()
    def set_code_vectors(self, codebook: torch.Tensor) -> None:
        """Copy the tokenizer's codes ``(vocab_size, code_dim)`` in (needs ``code_dim``), scaled to unit RMS.

        Only their shape matters, not their scale: dividing by the root-mean-square keeps the
        projections' inputs near 1 whatever the tokenizer's range.
        """
        c = self.config
        if c.code_dim is None:
            raise ValueError("set_code_vectors needs a model built with code_dim")
        if not isinstance(codebook, torch.Tensor) or codebook.shape != (c.vocab_size, c.code_dim) \
                or not codebook.is_floating_point():
            raise ValueError(f"codebook must be floating of shape ({c.vocab_size}, {c.code_dim}), got "
                             f"{describe(codebook)}")
        rms = codebook.float().pow(2).mean().sqrt().clamp_min(1e-8)
        self.code_vectors[:c.vocab_size] = (codebook.float() / rms).to(self.code_vectors)

    @classmethod
    def from_name(cls, name: str, **overrides) -> ARTransformer:
        """A named size from ``AR_CONFIGS`` (``"tiny"``, ``"small"``), fields overridden."""
        if name not in AR_CONFIGS:
            raise ValueError(f"unknown AR transformer size {name!r}; choose one of {sorted(AR_CONFIGS)}")
        return cls(replace(AR_CONFIGS[name](), **overrides))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _check_tokens(self, tokens: torch.Tensor, start: int) -> None:
        c = self.config
        if not isinstance(tokens, torch.Tensor) or tokens.ndim != 2 or tokens.dtype != torch.long:
            raise ValueError(f"tokens must be int64 of shape (b, n), got {describe(tokens)}")
        if tokens.numel() and (tokens.min() < 0 or tokens.max() > c.bos):
            raise ValueError(f"tokens must be in [0, {c.vocab_size}] ({c.bos} is BOS), got values in "
                             f"[{int(tokens.min())}, {int(tokens.max())}]")
        if start + tokens.shape[1] > c.max_tokens:
            raise ValueError(f"sequence of {start + tokens.shape[1]} positions exceeds max_tokens={c.max_tokens}")

    def positions(self, start: int, n: int) -> torch.Tensor:
        """The position embeddings of sequence positions ``start .. start + n - 1``: ``(n, d)``.

        Position ``i`` is the place of grid token ``i`` (the one it predicts), ``(t, h, w)`` in
        ``(t h w)`` order; with ``grid_shape`` set its frame, row and column vectors are added.
        """
        table = self.position_embedding[start:start + n]  # (n, d)
        if self.config.grid_shape is None:
            return table
        _, h, w = self.config.grid_shape
        index = torch.arange(start, start + n, device=table.device)
        return (table + self.time_embedding[index // (h * w)] + self.row_embedding[(index // w) % h]
                + self.column_embedding[index % w])

    def previous_frame_tokens(self, history: torch.Tensor, start: int) -> torch.Tensor:
        """For positions ``start .. n - 1`` of ``history`` ``(b, n)`` (input tokens from position 0), the
        grid tokens of the previous frame(s) around the place each predicts: ``(b, n - start, k window^2)``
        for ``k = previous_frames``, the last frame's window first; ``vocab_size`` ("none") outside
        the grid or before the first frame (the places: :func:`previous_frame_sources`).
        """
        n = history.shape[1]
        source = self.previous_source[start:n]  # (n - start, k window^2) input positions
        inside = self.previous_inside[start:n]
        earlier = history[:, source.clamp(0, max(n - 1, 0)).flatten()].reshape(history.shape[0], *source.shape)
        return torch.where(inside, earlier, torch.full_like(earlier, self.config.vocab_size))

    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """``tokens`` ``(b, n)`` -> logits ``(b, n, vocab_size)``.

        With a ``cache`` holding ``length`` earlier positions, ``tokens`` are the *new* positions
        ``length .. length + n - 1`` only; their keys and values are added to the cache.
        """
        start = 0 if cache is None else cache.length
        self._check_tokens(tokens, start)
        if cache is not None and cache.batch != tokens.shape[0]:
            raise ValueError(f"cache holds a batch of {cache.batch}, tokens have {tokens.shape[0]}")
        n = tokens.shape[1]
        x = self.token_embedding(tokens) + self.positions(start, n)  # (b, n, d)
        if self.config.code_dim is not None:
            x = x + self.code_in(self.code_vectors[tokens])
        if self.config.previous_frame:
            if cache is None:
                history = tokens
            else:  # the cache keeps the earlier tokens, the new ones join them here
                cache.tokens[:, start:start + n] = tokens
                history = cache.tokens[:, :start + n]
            neighbours = self.previous_frame_tokens(history, start)  # (b, n, frames back x window^2)
            x = x + self.previous_frame_embedding(neighbours + self.previous_table_offset).sum(dim=2)
        x = self.dropout(x)
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        if cache is not None:
            cache.length += n  # after every layer has stored its keys and values
        x = self.norm(x)
        logits = self.head(x)  # (b, n, vocab)
        if self.config.code_dim is not None:  # + (W h) . e_k for every code k
            logits = logits + self.code_out(x) @ self.code_vectors[:self.config.vocab_size].t()
        return logits

    def check_grids(self, grids: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``grids`` is int64 ``(b, t, h, w)`` in ``[0, vocab_size)``.

        The grid may hold at most ``max_tokens`` tokens (``t h w``).
        """
        c = self.config
        if not isinstance(grids, torch.Tensor) or grids.ndim != 4 or grids.dtype != torch.long:
            raise ValueError(f"grids must be int64 of shape (b, t, h, w), got {describe(grids)}")
        if grids.numel() and (grids.min() < 0 or grids.max() >= c.vocab_size):
            raise ValueError(f"grid tokens must be in [0, {c.vocab_size}), got values in "
                             f"[{int(grids.min())}, {int(grids.max())}]")
        _check_grid_length(tuple(grids.shape[1:]), c.max_tokens)

    def inputs_and_targets(self, grids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(BOS, x_0 .. x_{n-2})`` and ``(x_0 .. x_{n-1})``, both ``(b, n)``, from grids ``(b, t, h, w)``."""
        self.check_grids(grids)
        targets = rearrange(grids, "b t h w -> b (t h w)")
        bos = torch.full_like(targets[:, :1], self.config.bos)
        return torch.cat([bos, targets[:, :-1]], dim=1), targets

    def loss(self, grids: torch.Tensor) -> torch.Tensor:
        """Next-token cross-entropy of grids ``(b, t, h, w)``, nats per token (divide by ln 2 for bits)."""
        inputs, targets = self.inputs_and_targets(grids)
        logits = self(inputs)  # (b, n, vocab)
        return F.cross_entropy(rearrange(logits, "b n v -> (b n) v").float(), targets.flatten())

    @torch.no_grad()
    def generate(self, b: int, grid_shape: tuple[int, int, int], temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None,
                 use_cache: bool = True, later_temperature: float | None = None,
                 keep_token: int | None = None) -> torch.Tensor:
        """Sample ``b`` grids ``(b, t, h, w)`` token by token, in ``(t h w)`` order.

        ``use_cache=True`` runs one new token per step through the network, reading earlier keys
        and values from a :class:`KVCache`; ``False`` reruns the whole prefix every step. Both
        draw the same tokens from the same ``generator``. See :func:`sample_logits` for
        ``temperature`` and ``top_k``. ``later_temperature`` (``None``: ``temperature``) is used for
        every frame after the first: the first frame decides what the clip shows, the later ones
        mostly carry it on, and a cooler draw there strays less from it. ``keep_token`` (``None``:
        off; chapter 05 passes the background code 0) keeps that token's probability the model's
        own at every step, so temperatures and ``top_k`` choose only among the other tokens (see
        :func:`sampling_distribution`); the temperatures must then be positive.
        """
        if not isinstance(b, int) or b < 1:
            raise ValueError(f"b must be a positive int, got {b!r}")
        grid_shape = tuple(grid_shape)
        _check_grid_length(grid_shape, self.config.max_tokens)
        if later_temperature is not None and (not isinstance(later_temperature, (int, float)) or later_temperature < 0):
            raise ValueError(f"later_temperature must be None or a number >= 0, got {later_temperature!r}")
        if keep_token is not None:
            # keep_token's range is checked by sampling_distribution; temperatures are checked here,
            # before any token is drawn.
            if not (isinstance(temperature, (int, float)) and temperature > 0) or later_temperature == 0:
                raise ValueError(f"keep_token needs temperatures > 0, got temperature={temperature!r}, "
                                 f"later_temperature={later_temperature!r}")
        n = math.prod(grid_shape)
        frame = grid_shape[1] * grid_shape[2]
        device = self.position_embedding.device
        was_training = self.training
        self.eval()
        tokens = torch.full((b, n + 1), self.config.bos, dtype=torch.long, device=device)  # BOS, then samples
        cache = KVCache(self.config, b, device, self.position_embedding.dtype) if use_cache else None
        for i in range(n):
            if use_cache:
                logits = self(tokens[:, i:i + 1], cache)[:, -1]  # only the newest token
            else:
                logits = self(tokens[:, :i + 1])[:, -1]  # the whole prefix again
            draw_temperature = temperature if i < frame or later_temperature is None else later_temperature
            tokens[:, i + 1] = sample_logits(logits, draw_temperature, top_k, generator, keep_token)
        self.train(was_training)
        t, h, w = grid_shape
        return rearrange(tokens[:, 1:], "b (t h w) -> b t h w", t=t, h=h, w=w)


def _check_grid_length(grid_shape: tuple, max_tokens: int) -> None:
    if len(grid_shape) != 3 or not all(isinstance(s, int) and s >= 1 for s in grid_shape):
        raise ValueError(f"grid_shape must be three positive ints (t, h, w), got {grid_shape!r}")
    n = math.prod(grid_shape)
    if n > max_tokens:
        raise ValueError(f"a grid of {grid_shape} has t h w = {n} tokens, more than max_tokens={max_tokens}")


def bits_per_token(loss_nats: torch.Tensor | float) -> float:
    """A cross-entropy in nats per token as bits per token."""
    return float(loss_nats) / math.log(2)


def ar_loss(model: ARTransformer, batch, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
    """The next-token loss for the Trainer: ``(loss, {"bits_per_token"})``.

    ``batch`` is a grid tensor ``(b, t, h, w)``, a dict with ``"tokens"``, or a list/tuple whose
    first item is the grids. ``generator`` is unused (the loss draws no noise).
    """
    if isinstance(batch, dict) and "tokens" in batch:
        grids = batch["tokens"]
    elif isinstance(batch, (list, tuple)) and batch:
        grids = batch[0]
    else:
        grids = batch
    loss = model.loss(grids)
    return loss, {"bits_per_token": bits_per_token(loss.detach())}


def frame_repeat_rate(grids: torch.Tensor) -> float:
    """The share of tokens equal to the token at the same place one frame earlier, grids ``(b, t, h, w)``.

    A cheap test of temporal coherence in token space: real clips of a few moving objects on a
    still background repeat most tokens from frame to frame; tokens drawn without context repeat
    only by chance (``sum_k p_k^2`` for code frequencies ``p_k``).
    """
    if not isinstance(grids, torch.Tensor) or grids.ndim != 4 or grids.dtype != torch.long or grids.shape[1] < 2:
        raise ValueError(f"grids must be int64 of shape (b, t, h, w) with t >= 2, got {describe(grids)}")
    return (grids[:, 1:] == grids[:, :-1]).float().mean().item()


def sampling_flops(config: ARConfig, num_tokens: int, use_cache: bool = True, attention: bool = True) -> int:
    """Multiply-add FLOPs (2 per multiply-add) to sample ``num_tokens`` tokens, one at a time.

    One token through one layer costs ``2 (4 d^2 + 2 r d^2)`` in weights (q, k, v and output
    projections ``4 d^2`` multiply-adds, MLP ``2 r d^2`` with ``r = mlp_ratio``; ``24 d^2`` for
    ``r = 4``) plus ``4 d m`` to score and mix ``m`` keys; the head costs
    ``2 d vocab``. With the cache step ``i`` (1-based) runs one token against ``i`` keys; without
    it, step ``i`` reruns ``i`` tokens, token ``j`` against ``j`` keys. Embeddings and norms are
    left out (they are ``O(d)`` per token); ``attention=False`` leaves out the score-and-mix
    terms too, leaving the weight matmuls alone. With ``code_dim`` ``e`` each token also costs
    ``2 e (2 d + vocab)``: the code vector's projection in, ``W h`` out, and its dot with every code.
    The ``previous_frame`` tables are lookups and a sum (no multiply-adds).
    """
    if not isinstance(num_tokens, int) or num_tokens < 1:
        raise ValueError(f"num_tokens must be a positive int, got {num_tokens!r}")
    d, layers, vocab = config.dim, config.layers, config.vocab_size
    weights = layers * 2 * (4 + 2 * config.mlp_ratio) * d * d
    mix = layers * 4 * d if attention else 0  # per (query, key) pair
    head = 2 * d * vocab + (0 if config.code_dim is None else 2 * config.code_dim * (2 * d + vocab))
    total = 0
    for i in range(1, num_tokens + 1):
        if use_cache:
            total += weights + mix * i + head
        else:
            total += i * (weights + head) + mix * i * (i + 1) // 2
    return total


def counted_sampling_flops(model: ARTransformer, num_tokens: int, use_cache: bool = True) -> int:
    """FLOPs that ``torch.utils.flop_counter`` counts while ``model`` samples ``num_tokens`` tokens (batch 1).

    An independent check of :func:`sampling_flops`: it counts the matmuls the sampler actually
    runs. On the CPU the counter does not see inside ``scaled_dot_product_attention`` (the fused
    kernel it picks is not registered), so there the count equals
    ``sampling_flops(..., attention=False)`` exactly; on other backends it may include attention.
    """
    from torch.utils.flop_counter import FlopCounterMode

    if not isinstance(model, ARTransformer):
        raise ValueError(f"model must be an ARTransformer, got {type(model).__name__}")
    if not isinstance(num_tokens, int) or not 1 <= num_tokens <= model.config.max_tokens:
        raise ValueError(f"num_tokens must be an int in [1, {model.config.max_tokens}], got {num_tokens!r}")
    with FlopCounterMode(display=False) as counter:
        model.generate(1, (1, 1, num_tokens), temperature=0, use_cache=use_cache)
    return int(counter.get_total_flops())


def time_generation(model: ARTransformer, grid_shapes: list[tuple[int, int, int]], batch: int = 1,
                    seed: int = 0) -> list[dict[str, float]]:
    """Wall-clock seconds to sample each grid shape with and without the KV cache.

    Returns one dict per shape: ``tokens``, ``cached_s``, ``uncached_s``, ``speedup``, and
    ``same_tokens`` (whether both paths drew the same grid, as they should).
    """
    rows = []
    for shape in grid_shapes:
        seconds, samples = {}, {}
        for use_cache in (True, False):
            generator = torch.Generator(device=model.position_embedding.device).manual_seed(seed)
            begin = time.perf_counter()
            samples[use_cache] = model.generate(batch, shape, generator=generator, use_cache=use_cache)
            if model.position_embedding.is_cuda:
                torch.cuda.synchronize()
            seconds[use_cache] = time.perf_counter() - begin
        rows.append({"tokens": math.prod(shape), "cached_s": seconds[True], "uncached_s": seconds[False],
                     "speedup": seconds[False] / seconds[True],
                     "same_tokens": bool(torch.equal(samples[True], samples[False]))})
    return rows
