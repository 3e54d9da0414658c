"""Checks for chapter 05, autoregressive video (``exercises/05_autoregressive.py``)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tinyvdm.exercises.compare import assert_close
from tinyvdm.exercises.registry import Mismatch, exercise
from tinyvdm.models.autoregressive import sampling_distribution
from tinyvdm.models.vqvae import VectorQuantizer


def _quantizer(codebook: torch.Tensor) -> VectorQuantizer:
    """The library's quantizer holding ``codebook`` (k, d), in eval mode (no codebook update)."""
    vq = VectorQuantizer(len(codebook), codebook.shape[1], restart_after=None)
    with torch.no_grad():
        vq.embedding.copy_(codebook)
        vq.initialized.fill_(True)
    return vq.eval()


@exercise("05.quantize", "quantize",
          "nearest code with the straight-through gradient: z (n, d), codebook (k, d) -> (quantized, indices)")
def check_quantize(fn) -> str:
    gen = torch.Generator().manual_seed(5)
    # Codes of unequal lengths, so that "the largest dot product" picks other codes than "the
    # nearest"; and one case with far more vectors than codes.
    cases = [(20, 7, 3), (50, 16, 4), (300, 5, 2), (9, 12, 8)]
    for n, k, d in cases:
        codebook = torch.randn(k, d, generator=gen) * torch.rand(k, 1, generator=gen).mul(3).add(0.2)
        z = torch.randn(n, d, generator=gen)
        out = _quantizer(codebook)(z)
        case = f"z of shape ({n}, {d}), codebook of shape ({k}, {d})"
        z_in = z.clone().requires_grad_(True)
        result = fn(z_in, codebook.clone())
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise Mismatch(f"{case}: expected a pair (quantized, indices), got {type(result).__name__}")
        quantized, indices = result
        assert_close(indices, out.indices, what="the indices", case=case, atol=0, rtol=0)
        if indices.dtype != torch.long:
            raise Mismatch(f"{case}: expected int64 indices, got {indices.dtype}")
        assert_close(quantized, out.quantized, what="the quantized vectors", case=case)
        # Straight-through: the gradient reaching z is the gradient at quantized, unchanged.
        weights = torch.randn(n, d, generator=gen)
        if not quantized.requires_grad:
            raise Mismatch(f"{case}: no gradient reaches z through quantized: the straight-through estimator "
                           "should pass the gradient at quantized on to z unchanged")
        (grad,) = torch.autograd.grad((quantized * weights).sum(), z_in, allow_unused=True)
        if grad is None:
            raise Mismatch(f"{case}: no gradient reaches z through quantized")
        assert_close(grad, weights, what="the gradient that reaches z (straight-through: an exact copy)", case=case)
    return "4 batches quantised to their nearest codes, with the gradient copied straight through to z"


@exercise("05.sampling_distribution", "sampling_distribution",
          "softmax(logits / temperature) over the top_k largest logits: (b, vocab) -> (b, vocab)")
def check_sampling_distribution(fn) -> str:
    gen = torch.Generator().manual_seed(6)
    cases = [((4, 10), 1.0, None), ((3, 12), 0.5, 3), ((2, 8), 2.0, 1), ((5, 20), 0.7, 20), ((3, 9), 1.5, 4)]
    for shape, temperature, top_k in cases:
        logits = torch.randn(shape, generator=gen) * 2
        expected = sampling_distribution(logits, temperature, top_k)
        got = fn(logits.clone(), temperature, top_k)
        assert_close(got, expected, what="the probabilities",
                     case=f"logits of shape {shape}, temperature={temperature}, top_k={top_k}", atol=1e-6)
    return "5 rows of logits turned into the distribution the sampler draws from"


def _reference_step(q, past_k, past_v, k, v):
    keys, values = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
    return F.scaled_dot_product_attention(q, keys, values)


@exercise("05.cached_attention", "cached_attention",
          "one sampling step: q, k, v (b, heads, 1, e) and the cache's keys/values (b, heads, m, e) -> (b, heads, 1, e)")
def check_cached_attention(fn) -> str:
    gen = torch.Generator().manual_seed(7)
    cases = [(2, 3, 5, 4), (1, 2, 1, 8), (3, 1, 12, 6), (2, 4, 0, 4)]
    for b, heads, m, e in cases:
        q, k, v = (torch.randn(b, heads, 1, e, generator=gen) * 2 for _ in range(3))
        past_k, past_v = (torch.randn(b, heads, m, e, generator=gen) * 2 for _ in range(2))
        expected = _reference_step(q, past_k, past_v, k, v)
        got = fn(q.clone(), past_k.clone(), past_v.clone(), k.clone(), v.clone())
        assert_close(got, expected, what="the attention output",
                     case=f"b={b}, heads={heads}, {m} cached positions, head width {e}", atol=1e-5)
    return f"4 cached steps (0 to 12 earlier positions) equal attention over the whole prefix (scale 1/sqrt(e) = {1 / math.sqrt(4):.2f} for e = 4)"
