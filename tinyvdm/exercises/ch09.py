"""Checks for chapter 09, the Vision Transformer (``exercises/09_vit.py``)."""

from __future__ import annotations

import torch

from tinyvdm.exercises.compare import assert_close
from tinyvdm.exercises.registry import exercise
from tinyvdm.models.vit import ViT, ViTConfig, class_token_rows
from tinyvdm.nn.patch import patchify


@exercise("09.patchify", "patchify",
          "cut a clip into flattened boxes: (b, t, c, h, w) -> (b, t / pt, h / p, w / p, pt p p c)")
def check_patchify(fn) -> str:
    gen = torch.Generator().manual_seed(9)
    # Distinct sizes on every axis (and h != w), so that a swapped axis changes the shape or the
    # values; tubelets of 2 and 3 frames, and one channel as well as three.
    cases = [((2, 4, 3, 8, 8), 4, 1), ((1, 4, 3, 8, 12), 4, 2), ((2, 2, 1, 6, 9), 3, 1), ((1, 6, 2, 4, 8), 2, 3)]
    for shape, patch_size, tubelet in cases:
        x = torch.randn(shape, generator=gen)
        expected = patchify(x, patch_size, tubelet)
        assert_close(fn(x.clone(), patch_size, tubelet), expected, what="the tokens",
                     case=f"x of shape (b, t, c, h, w) = {shape}, patch_size={patch_size}, tubelet={tubelet}")
    return "4 clips cut into patches and tubelets exactly as the ViT's PatchEmbed does"


def _random_rows(b: int, heads: int, n: int, gen: torch.Generator) -> torch.Tensor:
    """Weights that look like attention: positive, each row summing to 1, no two alike."""
    return torch.rand(b, heads, n, n, generator=gen).pow(3).softmax(dim=-1)


@exercise("09.class_token_map", "class_token_map",
          "what the class tokens read: (b, heads, n, n) attention -> (b, t, h, w) weight per patch")
def check_class_token_map(fn) -> str:
    gen = torch.Generator().manual_seed(10)
    cases = []
    for b, heads, frames, height, width in [(2, 3, 4, 2, 3), (1, 2, 1, 3, 3), (3, 1, 3, 4, 2)]:
        cases.append((_random_rows(b, heads, frames * (1 + height * width), gen), frames, height, width))
    # And the weights of a real (untrained, seeded) ViT with full attention: 2 frames of 2 x 2 patches.
    torch.manual_seed(0)
    model = ViT(ViTConfig(image_size=8, frames=2, patch_size=4, dim=16, depth=1, heads=2, attention="full")).eval()
    cases.append((model.attention_maps(torch.randn(2, 2, 3, 8, 8, generator=gen))[0], 2, 2, 2))
    for weights, frames, height, width in cases:
        rows = class_token_rows(weights, frames)  # (b, heads, t, t, 1 + h w)
        expected = rows.mean(dim=(1, 2))[..., 1:].reshape(weights.shape[0], frames, height, width)
        assert_close(fn(weights.clone(), frames, height, width), expected, what="the map",
                     case=f"weights of shape {tuple(weights.shape)} for {frames} frames of {height} x {width} patches",
                     atol=1e-6, rtol=1e-5)
    return "4 attention maps read right: every frame's class token, the patches only, heads averaged"
