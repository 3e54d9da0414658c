"""Checks for chapter 11, the diffusion transformer (``exercises/11_dit.py``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tinyvdm.exercises.compare import assert_close
from tinyvdm.exercises.registry import exercise
from tinyvdm.models.dit import modulate, per_sample
from tinyvdm.nn.patch import unpatchify


def _reference_sublayer(x, layer, shift, scale, gate):
    # DiTBlock.sublayer for adaLN-Zero: a LayerNorm without weights (eps 1e-6), modulated, gated.
    hidden = modulate(F.layer_norm(x, x.shape[-1:], eps=1e-6), shift, scale)
    out = layer(hidden)
    return x + out * per_sample(gate, out)


@exercise("11.adaln_zero", "adaln_zero_sublayer",
          "x + gate * layer(LayerNorm(x) * (1 + scale) + shift), per-sample (b, d) shift/scale/gate over x (b, ..., d)")
def check_adaln_zero(fn) -> str:
    gen = torch.Generator().manual_seed(11)
    # Token grids of several ranks ((b, n, d) and the video block's (b, t, h, w, d)), and a layer
    # that is not linear, so that modulating before or after it differs.
    weight = torch.randn(8, 8, generator=gen) / 3
    cases = [((2, 5, 8), "mlp"), ((3, 2, 3, 4, 8), "mlp"), ((1, 4, 8), "tanh")]
    for shape, kind in cases:
        x = torch.randn(shape, generator=gen) * 2 + 0.5  # not already normalised
        b, d = shape[0], shape[-1]
        shift, scale, gate = (torch.randn(b, d, generator=gen) for _ in range(3))
        layer = (lambda h: torch.relu(h @ weight)) if kind == "mlp" else torch.tanh
        expected = _reference_sublayer(x, layer, shift, scale, gate)
        assert_close(fn(x.clone(), layer, shift.clone(), scale.clone(), gate.clone()), expected,
                     what="the sublayer's output", case=f"x of shape {shape}, layer {kind}", atol=1e-4, rtol=1e-4)
    # At initialisation the gate is 0: the sublayer must be the identity.
    x = torch.randn(2, 3, 8, generator=gen)
    zeros = torch.zeros(2, 8)
    assert_close(fn(x.clone(), torch.tanh, zeros, zeros, zeros), x, what="the output with every modulation 0",
                 case="shift = scale = gate = 0 (adaLN-Zero at initialisation)")
    return "3 token grids modulated and gated as a DiT block does, and the identity at initialisation"


@exercise("11.unpatchify", "unpatchify",
          "put flattened boxes back: (b, t', h', w', pt p p c) -> (b, t' pt, c, h' p, w' p)")
def check_unpatchify(fn) -> str:
    gen = torch.Generator().manual_seed(12)
    # (b, t', h', w'), patch, tubelet, channels: distinct sizes everywhere, h' != w'.
    cases = [((2, 4, 2, 2), 4, 1, 3), ((1, 2, 2, 3), 2, 2, 3), ((2, 3, 3, 2), 3, 1, 1), ((1, 2, 1, 2), 2, 3, 2)]
    for grid, patch_size, tubelet, channels in cases:
        tokens = torch.randn(*grid, tubelet * patch_size**2 * channels, generator=gen)
        expected = unpatchify(tokens, patch_size, tubelet)
        assert_close(fn(tokens.clone(), patch_size, tubelet), expected, what="the clip",
                     case=f"tokens of shape {tuple(tokens.shape)}, patch_size={patch_size}, tubelet={tubelet}")
    return "4 token grids put back into clips exactly as the DiT's final layer does"
