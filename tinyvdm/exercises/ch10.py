"""Checks for chapter 10, U-ViT (``exercises/10_uvit.py``)."""

from __future__ import annotations

import torch

from tinyvdm.exercises.compare import assert_close
from tinyvdm.exercises.registry import exercise
from tinyvdm.models.uvit import UViTBlock, UViTConfig
from tinyvdm.nn.transformer import MODEL_ATTENTIONS, join_frame_tokens
from tinyvdm.viz.token_layout import attention_pairs


@exercise("10.join_frame_tokens", "join_frame_tokens",
          "step and class tokens in front of every frame: (b, t, h, w, d), (b, k, d) -> (b, t, 1, k + h w, d)")
def check_join_frame_tokens(fn) -> str:
    gen = torch.Generator().manual_seed(10)
    # h != w everywhere, so a grid read column by column gives other values; k of 1, 2 and 3.
    cases = [((2, 3, 2, 3, 4), 2), ((1, 4, 3, 2, 5), 1), ((3, 2, 2, 4, 2), 3), ((1, 1, 1, 2, 3), 2)]
    for (b, t, h, w, d), k in cases:
        grid, extra = torch.randn(b, t, h, w, d, generator=gen), torch.randn(b, k, d, generator=gen)
        expected = join_frame_tokens(grid, extra)
        assert_close(fn(grid.clone(), extra.clone()), expected, what="the token rows",
                     case=f"grid (b, t, h, w, d) = {(b, t, h, w, d)} and k = {k} extra tokens")
    return "4 clips: every frame's row starts with its own copy of the extra tokens, then its patches row by row"


@exercise("10.long_skip_join", "long_skip_join",
          "U-ViT's long skip: linear(concat(x, skip)) with weight (d, 2 d) and bias (d,)")
def check_long_skip_join(fn) -> str:
    gen = torch.Generator().manual_seed(11)
    for shape in [(2, 3, 2, 2, 8), (1, 2, 1, 5, 6), (3, 1, 2, 3, 4)]:
        d = shape[-1]
        torch.manual_seed(len(shape) + d)
        block = UViTBlock(UViTConfig(dim=d, heads=2), skip=True)
        with torch.no_grad():  # a bias far from zero, so leaving it out shows
            block.skip_linear.bias.copy_(torch.randn(d, generator=gen))
        x, skip = torch.randn(shape, generator=gen), torch.randn(shape, generator=gen)
        with torch.no_grad():
            expected = block.join_skip(x, skip)
            got = fn(x.clone(), skip.clone(), block.skip_linear.weight.detach().clone(),
                     block.skip_linear.bias.detach().clone())
        assert_close(got, expected, what="the joined tokens",
                     case=f"x and skip of shape {shape}, weight ({d}, {2 * d})", atol=1e-5, rtol=1e-5)
    return "3 joins equal the library block's: concatenate on the width axis (x first), then one linear layer"


@exercise("10.attention_pairs", "attention_pairs",
          "(query, key) pairs one block's attention scores per head, for each pattern, t frames of m tokens")
def check_attention_pairs(fn) -> str:
    cases = [(attention, frames, m) for attention in MODEL_ATTENTIONS for frames, m in ((1, 5), (4, 3), (8, 66))]
    for attention, frames, m in cases:
        expected = attention_pairs(attention, frames, m)
        got = fn(attention, frames, m)
        assert_close(torch.tensor(float(got)), torch.tensor(float(expected)), what="the number of pairs",
                     case=f"attention={attention!r}, {frames} frames of {m} tokens", atol=0, rtol=0)
    return f"{len(cases)} counts right, for all of {', '.join(MODEL_ATTENTIONS)}"
