"""Calling a denoiser, with or without classifier-free guidance.

Taught in chapter 15 (conditioning); chapter 06 uses :func:`denoise` without guidance.

Classifier-free guidance (Ho & Salimans 2022, eq. 6) trains one network both with its condition
and, some of the time, with a *null condition* in its place; at sampling time it extrapolates
from the unconditional output towards the conditional one:

    guided = uncond + guidance_scale * (cond - uncond)

``guidance_scale = 1`` is the conditional model, ``0`` the unconditional one, and values above 1
trade diversity for fidelity to the condition. The formula is linear, so it applies to an eps,
x0 or v output alike.

What "null condition" means here:

* ``null_cond`` a tensor -- the model receives it in place of ``cond`` (a learned "no class"
  index, the embedding of the empty prompt, zeros). Either one per sample, shaped like
  ``cond`` ``(b, ...)``, or one for the whole batch, shaped like ``cond[0]``. The conditional and
  unconditional passes then run as **one** call on a doubled batch ``(2b, ...)``.
* ``null_cond=None`` -- the model receives ``cond=None`` (it is called as ``model(x, timestep)``)
  for the unconditional pass. A batch cannot mix ``None`` with tensors, so this costs two calls.
"""

from __future__ import annotations

import torch


def _call(model, x: torch.Tensor, timestep: torch.Tensor, cond) -> torch.Tensor:
    # A model without conditioning need not accept a third argument at all.
    output = model(x, timestep) if cond is None else model(x, timestep, cond)
    if not isinstance(output, torch.Tensor) or output.shape != x.shape:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ValueError(f"the model must return a tensor shaped like its input {tuple(x.shape)}, got {shape}")
    return output


def _check_cond(cond, b: int) -> None:
    if cond is not None and (not isinstance(cond, torch.Tensor) or cond.ndim < 1 or cond.shape[0] != b):
        shape = tuple(cond.shape) if isinstance(cond, torch.Tensor) else type(cond).__name__
        raise ValueError(f"cond must be None or a tensor of shape (b, ...) with b = {b}, got {shape}")


def _as_timestep(timestep, b: int, device: torch.device) -> torch.Tensor:
    if isinstance(timestep, int) and not isinstance(timestep, bool):
        return torch.full((b,), timestep, dtype=torch.long, device=device)
    if (not isinstance(timestep, torch.Tensor) or timestep.dtype.is_floating_point
            or timestep.shape not in ((b,), ())):
        raise ValueError(f"timestep must be an int or an integer tensor of shape (b,) = ({b},), got {timestep!r}")
    return timestep.expand(b) if timestep.ndim == 0 else timestep


def guided_output(model, x: torch.Tensor, timestep: torch.Tensor, cond: torch.Tensor, guidance_scale: float,
                  null_cond: torch.Tensor | None = None) -> torch.Tensor:
    """Classifier-free guided output ``uncond + guidance_scale * (cond - uncond)``, shaped like ``x``.

    ``x`` ``(b, ...)``, ``timestep`` ``(b,)``, ``cond`` ``(b, ...)``; ``null_cond`` as in the module
    docstring. With a ``null_cond`` tensor the model is called once on ``(2b, ...)``: the first
    ``b`` rows conditional, the last ``b`` unconditional.
    """
    if not isinstance(x, torch.Tensor) or x.ndim < 1:
        raise ValueError(f"x must be a tensor of shape (b, ...), got {x!r}")
    b = x.shape[0]
    if cond is None:
        raise ValueError("classifier-free guidance needs a condition: cond is None")
    _check_cond(cond, b)
    timestep = _as_timestep(timestep, b, x.device)
    if null_cond is None:
        conditional = _call(model, x, timestep, cond)
        unconditional = _call(model, x, timestep, None)
    else:
        if not isinstance(null_cond, torch.Tensor):
            raise ValueError(f"null_cond must be None or a tensor, got {type(null_cond).__name__}")
        if null_cond.shape == cond.shape[1:]:
            null_cond = null_cond.expand_as(cond)
        if null_cond.shape != cond.shape:
            raise ValueError(f"null_cond must have the shape of cond {tuple(cond.shape)} or of one of its rows "
                             f"{tuple(cond.shape[1:])}, got {tuple(null_cond.shape)}")
        both = _call(model, torch.cat([x, x]), torch.cat([timestep, timestep]),
                     torch.cat([cond, null_cond.to(cond)]))  # (2b, ...)
        conditional, unconditional = both.chunk(2)
    return unconditional + guidance_scale * (conditional - unconditional)


def denoise(model, x: torch.Tensor, timestep: torch.Tensor, cond=None, guidance_scale: float | None = None,
            null_cond: torch.Tensor | None = None) -> torch.Tensor:
    """The model's output for ``x`` ``(b, ...)`` at ``timestep`` ``(b,)``: the one call every sampler makes.

    Without ``guidance_scale`` this is ``model(x, timestep)`` (no condition) or
    ``model(x, timestep, cond)``; with it, :func:`guided_output`. A scale of exactly 1 is the
    conditional model itself, so it makes the one conditional call and skips the unconditional pass.
    """
    if not isinstance(x, torch.Tensor) or x.ndim < 1:
        raise ValueError(f"x must be a tensor of shape (b, ...), got {x!r}")
    _check_cond(cond, x.shape[0])
    if guidance_scale is not None:
        if cond is None:
            raise ValueError("classifier-free guidance needs a condition: cond is None")
        if guidance_scale != 1:
            return guided_output(model, x, timestep, cond, guidance_scale, null_cond)
    return _call(model, x, _as_timestep(timestep, x.shape[0], x.device), cond)
