"""The DDIM sampler: fewer, larger steps along a non-Markovian reverse process.

Taught in chapter 06. Equation numbers refer to Song, Meng & Ermon 2021, "Denoising Diffusion
Implicit Models".
"""

from __future__ import annotations

import math

import torch

from tinyvdm.diffusion.forward import predict_eps_from_x0, to_x0_and_eps
from tinyvdm.diffusion.samplers.base import Sampler, StepOutput
from tinyvdm.diffusion.schedules import NoiseSchedule

TIMESTEP_SPACINGS = ("leading", "trailing", "linspace")


def ddim_timesteps(num_steps: int, num_inference_steps: int, timestep_spacing: str = "leading") -> torch.Tensor:
    """The ``num_inference_steps`` diffusion steps a short sampler visits, descending ``(n,)`` int64.

    The three spacings of Lin et al. 2024 ("Common diffusion noise schedules and sample steps are
    flawed", Table 2), for ``T = num_steps`` and ``n = num_inference_steps``:

    * ``"leading"``: ``0, T//n, 2 T//n, ...`` -- DDIM's own choice; never visits the last step.
    * ``"trailing"``: ``round(T - i T/n) - 1`` -- always starts at the last step ``T - 1``.
    * ``"linspace"``: ``round(linspace(0, T - 1, n))`` -- both ends.
    """
    if timestep_spacing not in TIMESTEP_SPACINGS:
        raise ValueError(f"timestep_spacing must be one of {TIMESTEP_SPACINGS}, got {timestep_spacing!r}")
    if isinstance(num_inference_steps, bool) or not isinstance(num_inference_steps, int) \
            or not 1 <= num_inference_steps <= num_steps:
        raise ValueError(f"num_inference_steps must be an int in [1, {num_steps}], got {num_inference_steps!r}")
    if timestep_spacing == "leading":
        ascending = torch.arange(num_inference_steps, dtype=torch.float64) * (num_steps // num_inference_steps)
    elif timestep_spacing == "trailing":
        ratio = num_steps / num_inference_steps
        ascending = (num_steps - torch.arange(num_inference_steps, dtype=torch.float64) * ratio).round().flip(0) - 1
    else:
        ascending = torch.linspace(0, num_steps - 1, num_inference_steps, dtype=torch.float64).round()
    return ascending.flip(0).long()


class StridedSampler(Sampler):
    """Base of the samplers that visit ``num_inference_steps`` of the ``T`` steps (:func:`ddim_timesteps`)."""

    def __init__(self, schedule: NoiseSchedule, num_inference_steps: int, timestep_spacing: str = "leading",
                 clip_x0: bool = True, prediction: str = "eps"):
        super().__init__(schedule, clip_x0=clip_x0, prediction=prediction)
        self.num_inference_steps = num_inference_steps
        self.timestep_spacing = timestep_spacing
        self.timesteps = ddim_timesteps(schedule.num_steps, num_inference_steps, timestep_spacing)

    def _guess(self, model_output: torch.Tensor, timestep: int, xt: torch.Tensor):
        """The step's reading of the network: ``x0`` (clipped if ``clip_x0``), ``eps`` and the ``(b,)`` step."""
        batch_timestep = torch.full((xt.shape[0],), timestep, dtype=torch.long, device=xt.device)
        x0, eps = to_x0_and_eps(self.schedule, model_output, xt, batch_timestep, self.prediction)
        return self._clip(x0), eps, batch_timestep


class DDIMSampler(StridedSampler):
    """DDIM: ``num_inference_steps`` steps of eq. 12, with noise ``eta`` times DDPM's (eq. 16).

    ``eta = 0`` is the deterministic DDIM sampler (``x_T`` fixes the sample); ``eta = 1`` gives
    the variance of DDPM's posterior over the larger step. ``timestep_spacing`` picks the steps
    visited (:func:`ddim_timesteps`). ``clip_x0`` clips the predicted clean sample to ``[-1, 1]``;
    by default the predicted noise is *not* recomputed from the clipped sample (diffusers' default,
    ``use_clipped_model_output=False``); ``clipped_eps=True`` recomputes it, so that the step's
    clean sample and its "direction pointing to x_t" agree again, as they do in DDPM's posterior
    mean (with ``eta = 1`` and every step visited the sampler is then DDPM's).
    ``prediction``: ``"eps"``, ``"x0"`` or ``"v"``.
    """

    def __init__(self, schedule: NoiseSchedule, num_inference_steps: int, eta: float = 0.0,
                 timestep_spacing: str = "leading", clip_x0: bool = True, prediction: str = "eps",
                 clipped_eps: bool = False):
        super().__init__(schedule, num_inference_steps, timestep_spacing, clip_x0=clip_x0, prediction=prediction)
        if not 0.0 <= eta <= 1.0:
            raise ValueError(f"eta must be in [0, 1], got {eta!r}")
        if not isinstance(clipped_eps, bool):
            raise ValueError(f"clipped_eps must be a bool, got {clipped_eps!r}")
        self.eta = float(eta)
        self.clipped_eps = clipped_eps

    def step(self, model_output: torch.Tensor, timestep: int, xt: torch.Tensor,
             generator: torch.Generator | None = None, noise: torch.Tensor | None = None,
             prev_timestep: int | None = None) -> StepOutput:
        """One step from ``timestep`` to ``prev_timestep`` (by default the next one listed in ``timesteps``).

        With ``a_t = alpha_bar[timestep]`` and ``a_prev = alpha_bar[prev_timestep]`` (1 for
        ``prev_timestep = -1``, the clean sample):

        1. ``x0 = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t)``, "predicted x_0" of eq. 12 (for an x0 or
           v model, read off directly and eps derived from it), clipped if ``clip_x0``; with
           ``clipped_eps``, ``eps = (x_t - sqrt(a_t) x0) / sqrt(1 - a_t)`` from the clipped ``x0``.
        2. ``sigma = eta sqrt((1 - a_prev) / (1 - a_t)) sqrt(1 - a_t / a_prev)`` (eq. 16).
        3. ``x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - sigma^2) eps + sigma z`` (eq. 12): the
           predicted clean sample, the "direction pointing to x_t", and fresh noise.

        ``z`` is drawn from ``generator`` (only when ``eta > 0``) unless given as ``noise``.
        ``model_output``, ``xt`` ``(b, ...)``; ``timestep`` an int.
        """
        timestep = self._check_step(model_output, timestep, xt)
        prev_timestep = self._check_prev_timestep(timestep, prev_timestep)
        x0, eps, batch_timestep = self._guess(model_output, timestep, xt)
        if self.clipped_eps and self.clip_x0:
            eps = predict_eps_from_x0(self.schedule, xt, batch_timestep, x0)
        # Scalars in double precision: one step, one pair of alpha_bar values for the whole batch.
        alpha_bar = float(self.schedule.alpha_bar[timestep])
        alpha_bar_prev = float(self.schedule.alpha_bar[prev_timestep]) if prev_timestep >= 0 else 1.0
        sigma = self.eta * math.sqrt((1 - alpha_bar_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_prev))
        # Rounding can leave the square root's argument a hair below 0 when eta = 1 near the end.
        direction = math.sqrt(max(1 - alpha_bar_prev - sigma**2, 0.0))
        prev_sample = math.sqrt(alpha_bar_prev) * x0 + direction * eps
        if self.eta > 0:
            prev_sample = prev_sample + sigma * self._fresh_noise(xt, generator, noise)
        return StepOutput(prev_sample=prev_sample, pred_original_sample=x0)
