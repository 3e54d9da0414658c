"""The DDPM sampler: ancestral sampling through every step of the chain.

Taught in chapter 06. Equation and algorithm numbers refer to Ho et al. 2020, "Denoising
Diffusion Probabilistic Models".
"""

from __future__ import annotations

import torch

from tinyvdm.diffusion.forward import VARIANCES, p_mean_variance
from tinyvdm.diffusion.samplers.base import Sampler, StepOutput
from tinyvdm.diffusion.schedules import NoiseSchedule


class DDPMSampler(Sampler):
    """Ancestral sampling, one model call per diffusion step (DDPM Algorithm 2).

    ``variance`` is the fixed reverse variance of section 3.2: ``"fixed_small"`` is the posterior
    variance ``beta_tilde`` (eq. 7, best when the data is a single point), ``"fixed_large"`` is
    ``beta`` (best for data drawn from N(0, I)); the paper reports similar samples with both.
    ``clip_x0`` clips the predicted clean sample to ``[-1, 1]`` before it enters the posterior
    mean. ``prediction`` says what the model outputs: ``"eps"``, ``"x0"`` or ``"v"``.
    """

    def __init__(self, schedule: NoiseSchedule, variance: str = "fixed_small", clip_x0: bool = True,
                 prediction: str = "eps"):
        super().__init__(schedule, clip_x0=clip_x0, prediction=prediction)
        if variance not in VARIANCES:
            raise ValueError(f"variance must be one of {VARIANCES}, got {variance!r}")
        self.variance = variance
        self.timesteps = torch.arange(schedule.num_steps - 1, -1, -1)

    def step(self, model_output: torch.Tensor, timestep: int, xt: torch.Tensor,
             generator: torch.Generator | None = None, noise: torch.Tensor | None = None) -> StepOutput:
        """One step ``x_t -> x_{t-1}`` (Algorithm 2, line 4).

        1. Predicted clean sample: ``x0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)``
           (eq. 15; for an x0 or v model, read off directly), clipped to ``[-1, 1]`` if ``clip_x0``.
        2. Posterior mean ``mu_tilde(x_t, x0) = coef1 x0 + coef2 x_t`` (eq. 7).
        3. ``x_{t-1} = mu_tilde + sigma_t z`` with ``z ~ N(0, I)`` and ``sigma_t^2`` the fixed
           variance (eq. 6); no noise at the last step, ``timestep = 0`` (the paper's ``t = 1``).

        ``model_output``, ``xt`` ``(b, ...)``; ``timestep`` an int. ``z`` is drawn from
        ``generator`` with ``xt``'s shape and dtype, unless given as ``noise``.
        """
        timestep = self._check_step(model_output, timestep, xt)
        batch_timestep = torch.full((xt.shape[0],), timestep, dtype=torch.long, device=xt.device)
        mean, log_variance, x0 = p_mean_variance(self.schedule, model_output, xt, batch_timestep,
                                                 self.prediction, self.variance, self.clip_x0)
        if timestep == 0:
            return StepOutput(prev_sample=mean, pred_original_sample=x0)
        noise = self._fresh_noise(xt, generator, noise)
        return StepOutput(prev_sample=mean + torch.exp(0.5 * log_variance) * noise, pred_original_sample=x0)
