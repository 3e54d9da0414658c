"""What every sampler shares: the step's output and the sampling loop.

Taught in chapter 06. A sampler knows the noise schedule and how to go from ``x_t`` to an earlier
sample given a denoiser's output (:meth:`Sampler.step`); it knows nothing about the network, so
any ``model(x, timestep[, cond])`` on any shape ``(b, ...)`` plugs into any sampler.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from tinyvdm.diffusion.forward import check_prediction, draw_noise
from tinyvdm.diffusion.guidance import denoise
from tinyvdm.diffusion.schedules import NoiseSchedule


@dataclass
class StepOutput:
    """One reverse step: the earlier sample and the clean sample predicted on the way, both ``(b, ...)``."""

    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor


@dataclass
class Trajectory:
    """A sampling run, kept on the CPU: ``samples[0]`` is ``x_T``, ``samples[i + 1]`` follows step ``i``.

    ``pred_original_samples[i]`` is the clean sample predicted at ``timesteps[i]``.
    """

    timesteps: list[int] = field(default_factory=list)
    samples: list[torch.Tensor] = field(default_factory=list)
    pred_original_samples: list[torch.Tensor] = field(default_factory=list)


def _model_device(model) -> torch.device:
    parameter = next(model.parameters(), None) if isinstance(model, torch.nn.Module) else None
    return parameter.device if parameter is not None else torch.device("cpu")


class Sampler(ABC):
    """Base class: subclasses set ``self.timesteps`` (descending ints) and implement :meth:`step`."""

    timesteps: torch.Tensor

    def __init__(self, schedule: NoiseSchedule, clip_x0: bool = True, prediction: str = "eps"):
        if not isinstance(schedule, NoiseSchedule):
            raise ValueError(f"schedule must be a NoiseSchedule, got {type(schedule).__name__}")
        check_prediction(prediction)
        self.schedule = schedule
        self.clip_x0 = bool(clip_x0)
        self.prediction = prediction

    @abstractmethod
    def step(self, model_output: torch.Tensor, timestep: int, xt: torch.Tensor,
             generator: torch.Generator | None = None) -> StepOutput:
        """One reverse step from ``xt`` at ``timestep``, given the model's output there."""

    def _check_step(self, model_output: torch.Tensor, timestep, xt: torch.Tensor) -> int:
        """Validate a step's arguments; return ``timestep`` as a Python int."""
        if not isinstance(xt, torch.Tensor) or xt.ndim < 2:
            raise ValueError(f"xt must be a tensor of shape (b, ...) with at least 2 dimensions, got {xt!r}")
        if not isinstance(model_output, torch.Tensor) or model_output.shape != xt.shape:
            shape = tuple(model_output.shape) if isinstance(model_output, torch.Tensor) else type(model_output).__name__
            raise ValueError(f"model_output must have the shape of xt {tuple(xt.shape)}, got {shape}")
        if isinstance(timestep, torch.Tensor) and timestep.numel() == 1 and not timestep.dtype.is_floating_point:
            timestep = int(timestep)
        if isinstance(timestep, bool) or not isinstance(timestep, int):
            raise ValueError(f"timestep must be an int, got {timestep!r}")
        if not 0 <= timestep < self.schedule.num_steps:
            raise ValueError(f"timestep must be in [0, {self.schedule.num_steps - 1}], got {timestep}")
        return timestep

    def previous_timestep(self, timestep: int) -> int:
        """The step after ``timestep`` in ``self.timesteps``; -1 after the last (meaning ``x_0``)."""
        listed = self.timesteps.tolist()
        if timestep not in listed:
            raise ValueError(f"timestep must be one of this sampler's timesteps {listed}, got {timestep}")
        index = listed.index(timestep)
        return listed[index + 1] if index + 1 < len(listed) else -1

    def _check_prev_timestep(self, timestep: int, prev_timestep: int | None) -> int:
        """``prev_timestep``, by default the step after ``timestep``; an int in ``[-1, timestep)``."""
        if prev_timestep is None:
            return self.previous_timestep(timestep)
        if isinstance(prev_timestep, bool) or not isinstance(prev_timestep, int) or not -1 <= prev_timestep < timestep:
            raise ValueError(f"prev_timestep must be an int in [-1, {timestep - 1}], got {prev_timestep!r}")
        return prev_timestep

    @staticmethod
    def _fresh_noise(xt: torch.Tensor, generator: torch.Generator | None, noise: torch.Tensor | None) -> torch.Tensor:
        """``noise`` if given (checked to be shaped like ``xt``), else a draw from ``generator`` like ``xt``."""
        if noise is None:
            return draw_noise(xt.shape, generator=generator, device=xt.device, dtype=xt.dtype)
        if not isinstance(noise, torch.Tensor) or noise.shape != xt.shape:
            shape = tuple(noise.shape) if isinstance(noise, torch.Tensor) else type(noise).__name__
            raise ValueError(f"noise must have the shape of xt {tuple(xt.shape)}, got {shape}")
        return noise

    def _clip(self, x0: torch.Tensor) -> torch.Tensor:
        # Data lives in [-1, 1]; clipping the predicted x0 keeps early, poor predictions from
        # pushing the chain outside it (DDPM's sampler does this, see their released code).
        return x0.clamp(-1.0, 1.0) if self.clip_x0 else x0

    @torch.no_grad()
    def sample(self, model, shape, cond=None, generator: torch.Generator | None = None,
               guidance_scale: float | None = None, null_cond: torch.Tensor | None = None,
               progress: bool = False, return_trajectory: bool = False,
               device: torch.device | str | None = None, initial_noise: torch.Tensor | None = None,
               dtype: torch.dtype = torch.float32):
        """Draw ``x_T ~ N(0, I)`` of ``shape`` ``(b, ...)`` and run every step in ``self.timesteps``.

        ``cond`` ``(b, ...)`` is passed to the model; with ``guidance_scale`` the model output is
        classifier-free guided (see :mod:`tinyvdm.diffusion.guidance`, ``null_cond`` there).
        ``initial_noise`` replaces the draw of ``x_T``. All randomness comes from ``generator``,
        so a seeded generator gives the same samples on every run. ``device`` defaults to the
        model's. Returns the sample ``(b, ...)``, or ``(sample, Trajectory)`` with
        ``return_trajectory``.
        """
        shape = tuple(shape)
        if len(shape) < 2 or not all(isinstance(n, int) and n >= 1 for n in shape):
            raise ValueError(f"shape must be (b, ...) with at least 2 positive ints, got {shape}")
        if device is None:
            device = initial_noise.device if initial_noise is not None else _model_device(model)
        if initial_noise is None:
            xt = draw_noise(shape, generator=generator, device=device, dtype=dtype)
        else:
            if initial_noise.shape != shape:
                raise ValueError(f"initial_noise must have shape {shape}, got {tuple(initial_noise.shape)}")
            xt = initial_noise.to(device=device, dtype=dtype)
        trajectory = Trajectory(samples=[xt.cpu()]) if return_trajectory else None
        for timestep in tqdm(self.timesteps.tolist(), disable=not progress, desc=type(self).__name__):
            batch_timestep = torch.full((shape[0],), timestep, dtype=torch.long, device=device)
            output = denoise(model, xt, batch_timestep, cond, guidance_scale, null_cond)
            result = self.step(output, timestep, xt, generator=generator)
            xt = result.prev_sample
            if trajectory is not None:
                trajectory.timesteps.append(timestep)
                trajectory.samples.append(xt.cpu())
                trajectory.pred_original_samples.append(result.pred_original_sample.cpu())
        return (xt, trajectory) if return_trajectory else xt
