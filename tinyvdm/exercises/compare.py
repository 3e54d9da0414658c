"""Comparisons that explain themselves: what was expected, what came back, on which input."""

from __future__ import annotations

import torch

from tinyvdm.exercises.registry import Mismatch


def describe(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"tensor of shape {tuple(x.shape)}, dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}"[:200]


def assert_close(got, expected: torch.Tensor, *, what: str, case: str, atol: float = 1e-5, rtol: float = 1e-5) -> None:
    """Raise Mismatch unless ``got`` is a tensor equal to ``expected`` (shape, dtype kind, values)."""
    if not isinstance(got, torch.Tensor):
        raise Mismatch(f"{case}: expected {what} to be a {describe(expected)}, got {describe(got)}")
    if got.shape != expected.shape:
        raise Mismatch(f"{case}: expected {what} of shape {tuple(expected.shape)}, got shape {tuple(got.shape)}")
    if got.dtype.is_floating_point != expected.dtype.is_floating_point:
        raise Mismatch(f"{case}: expected {what} with dtype {expected.dtype}, got {got.dtype}")
    got_f, exp_f = got.detach().double().cpu(), expected.detach().double().cpu()
    if not torch.allclose(got_f, exp_f, atol=atol, rtol=rtol):
        diff = (got_f - exp_f).abs()
        index = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
        raise Mismatch(
            f"{case}: {what} differs; largest difference {diff.max().item():.4g} at index {index}: "
            f"expected {exp_f[index].item():.5g}, got {got_f[index].item():.5g}"
        )
