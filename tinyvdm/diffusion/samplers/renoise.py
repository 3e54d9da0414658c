"""The re-noising sampler: predict the clean sample, then draw the next noisy one afresh.

Taught in chapter 07. Each step asks the network for the clean sample ``x0`` and jumps to the
next, less noisy step by noising that guess again with new noise, ``x_prev ~ q(x_prev | x0)``;
nothing of ``x_t`` is kept but what the network read from it. It is the far end of DDIM's family
(Song, Meng & Ermon 2021, eq. 12, whose reverse steps all keep the marginals ``q(x_t | x0)`` for
any ``sigma_t^2 <= 1 - alpha_bar_prev``): with ``sigma_t^2 = 1 - alpha_bar_prev`` the "direction
pointing to x_t" vanishes, where DDPM's noise level (``eta = 1``) still keeps part of ``x_t``'s
noise. The same loop is the multistep sampler of consistency models (Song et al. 2023,
Algorithm 1), there for networks that jump to ``x0`` in one call.
"""

from __future__ import annotations

import math

import torch

from tinyvdm.diffusion.samplers.base import StepOutput
from tinyvdm.diffusion.samplers.ddim import StridedSampler


class RenoiseSampler(StridedSampler):
    """``num_inference_steps`` steps of "predict ``x0``, re-noise it to the next step".

    ``x_prev = sqrt(alpha_bar_prev) x0 + sqrt(1 - alpha_bar_prev) z`` with fresh ``z ~ N(0, I)``;
    the last step returns ``x0``. The steps visited are DDIM's (``num_inference_steps``,
    ``timestep_spacing``: :class:`StridedSampler`); ``clip_x0`` clips the predicted clean sample to ``[-1, 1]``;
    ``prediction``: ``"eps"``, ``"x0"`` or ``"v"``.
    """

    def step(self, model_output: torch.Tensor, timestep: int, xt: torch.Tensor,
             generator: torch.Generator | None = None, noise: torch.Tensor | None = None,
             prev_timestep: int | None = None) -> StepOutput:
        """One step from ``timestep`` to ``prev_timestep`` (by default the next one listed in ``timesteps``).

        ``model_output``, ``xt`` ``(b, ...)``; ``timestep`` an int; ``z`` is drawn from ``generator``
        unless given as ``noise``.
        """
        timestep = self._check_step(model_output, timestep, xt)
        prev_timestep = self._check_prev_timestep(timestep, prev_timestep)
        x0, _, _ = self._guess(model_output, timestep, xt)
        if prev_timestep < 0:
            return StepOutput(prev_sample=x0, pred_original_sample=x0)
        alpha_bar_prev = float(self.schedule.alpha_bar[prev_timestep])
        noise = self._fresh_noise(xt, generator, noise)
        prev_sample = math.sqrt(alpha_bar_prev) * x0 + math.sqrt(1 - alpha_bar_prev) * noise
        return StepOutput(prev_sample=prev_sample, pred_original_sample=x0)
