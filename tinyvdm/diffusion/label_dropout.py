"""Label dropout: train one class-conditional denoiser that is also an unconditional one.

Taught in chapter 11 (DiT's class-conditional training); the guidance it enables is in
:mod:`tinyvdm.diffusion.guidance`. Classifier-free guidance (Ho & Salimans 2022) needs the
network's prediction both with the class and without it. Rather than train two networks, replace
each label by the *null class* with probability ``p`` during training (DiT uses ``p = 0.1``): the
same weights learn ``model(x_t, t, y)`` and ``model(x_t, t, null)``.
"""

from __future__ import annotations

import torch

from tinyvdm.diffusion.forward import diffusion_loss
from tinyvdm.diffusion.schedules import NoiseSchedule


def drop_labels(labels: torch.Tensor, null_label: int, p: float,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """``labels`` ``(b,)`` int64 with each entry replaced by ``null_label`` with probability ``p``."""
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or labels.dtype != torch.int64:
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels must be an int64 tensor of shape (b,), got {shape} "
                         f"{getattr(labels, 'dtype', '')}".rstrip())
    if isinstance(null_label, bool) or not isinstance(null_label, int) or null_label < 0:
        raise ValueError(f"null_label must be a non-negative int, got {null_label!r}")
    if not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    device = generator.device if generator is not None else labels.device
    dropped = torch.rand(labels.shape, generator=generator, device=device).to(labels.device) < p
    return torch.where(dropped, torch.full_like(labels, null_label), labels)


def class_conditional_loss(schedule: NoiseSchedule, model, x0: torch.Tensor, labels: torch.Tensor, null_label: int,
                           p: float = 0.1, prediction: str = "eps", generator: torch.Generator | None = None,
                           **loss_options) -> torch.Tensor:
    """:func:`~tinyvdm.diffusion.forward.diffusion_loss` with ``cond`` = the labels, a share ``p`` dropped to null."""
    cond = drop_labels(labels, null_label, p, generator)
    return diffusion_loss(schedule, model, x0, prediction=prediction, cond=cond, generator=generator, **loss_options)
