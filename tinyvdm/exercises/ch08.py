"""Checks for chapter 08, space-time attention (``exercises/08_space_time_attention.py``)."""

from __future__ import annotations

import torch

from tinyvdm.exercises.compare import assert_close
from tinyvdm.exercises.registry import Mismatch, exercise
from tinyvdm.nn.attention import PATTERNS, attention_mask, masked_attention


@exercise("08.frame_mask", "frame_mask",
          "which frames a query frame reads, (t, t) bool, for each of the five patterns")
def check_frame_mask(fn) -> str:
    from tinyvdm.nn.attention import frame_mask

    # t = 1 and 2 are where sparse-causal's "first" and "previous" frames coincide with the own frame.
    for pattern in PATTERNS:
        for frames in (1, 2, 3, 6):
            got = fn(pattern, frames)
            expected = frame_mask(pattern, frames)
            case = f"pattern={pattern!r}, frames={frames}"
            if not isinstance(got, torch.Tensor) or got.dtype != torch.bool:
                raise Mismatch(f"{case}: expected a bool tensor, got "
                               f"{getattr(got, 'dtype', type(got).__name__)}")
            assert_close(got, expected, what="the frame mask", case=case)
    return "5 patterns x 4 clip lengths: every frame rule right, short clips included"


@exercise("08.masked_attention", "masked_attention",
          "softmax(q k^T / sqrt(d)) v with a bool mask: forbidden keys get exactly zero weight")
def check_masked_attention(fn) -> str:
    gen = torch.Generator().manual_seed(8)
    for pattern, (frames, height, width), heads, d in [("causal", (3, 2, 2), 2, 4), ("sparse-causal", (4, 1, 3), 1, 8),
                                                       ("temporal", (3, 2, 3), 3, 5), ("spatial", (2, 2, 2), 2, 6)]:
        n = frames * height * width
        q, k, v = (torch.randn(2, heads, n, d, generator=gen) for _ in range(3))
        mask = attention_mask(pattern, frames, height, width)  # (n, n)
        expected, _ = masked_attention(q, k, v, mask)
        got = fn(q.clone(), k.clone(), v.clone(), mask.clone())
        assert_close(got, expected, what="the attention output",
                     case=f"{pattern} mask on {frames} frames of {height}x{width} tokens, head dim {d}",
                     atol=1e-5, rtol=1e-4)
    return "4 masked attentions match the library's, head dims 4 to 8"
