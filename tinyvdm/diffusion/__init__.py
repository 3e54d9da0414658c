"""Diffusion: noise schedules, the forward process and its losses, samplers, guidance.

Taught in chapter 06 (forward and reverse) and chapter 15 (guidance). Networks live in
``tinyvdm.models``; anything callable as ``model(x, timestep)`` or ``model(x, timestep, cond)``
on ``(b, ...)`` tensors works with every function and sampler here.
"""

from tinyvdm.diffusion.forward import (
    PREDICTIONS,
    VARIANCES,
    WEIGHTINGS,
    VLBTerms,
    denoise_once,
    diffusion_loss,
    discretized_gaussian_log_likelihood,
    draw_noise,
    loss_weight,
    normal_kl,
    p_mean_variance,
    predict_eps_from_v,
    predict_eps_from_x0,
    predict_x0_from_eps,
    predict_x0_from_v,
    prediction_target,
    prior_bpd,
    q_posterior,
    q_sample,
    to_x0_and_eps,
    v_target,
    vlb_terms,
)
from tinyvdm.diffusion.guidance import denoise, guided_output
from tinyvdm.diffusion.preconditioning import Preconditioned, preconditioning_coefficients
from tinyvdm.diffusion.samplers import (
    TIMESTEP_SPACINGS,
    DDIMSampler,
    DDPMSampler,
    RenoiseSampler,
    Sampler,
    StepOutput,
    Trajectory,
    ddim_timesteps,
)
from tinyvdm.diffusion.schedules import (
    SCHEDULE_NAMES,
    NoiseSchedule,
    cosine_beta_schedule,
    gather,
    linear_beta_schedule,
    sigmoid_beta_schedule,
)

__all__ = [
    "DDIMSampler",
    "DDPMSampler",
    "RenoiseSampler",
    "NoiseSchedule",
    "PREDICTIONS",
    "Preconditioned",
    "SCHEDULE_NAMES",
    "Sampler",
    "StepOutput",
    "TIMESTEP_SPACINGS",
    "Trajectory",
    "VARIANCES",
    "VLBTerms",
    "WEIGHTINGS",
    "cosine_beta_schedule",
    "ddim_timesteps",
    "denoise",
    "denoise_once",
    "diffusion_loss",
    "discretized_gaussian_log_likelihood",
    "draw_noise",
    "gather",
    "guided_output",
    "linear_beta_schedule",
    "loss_weight",
    "normal_kl",
    "p_mean_variance",
    "predict_eps_from_v",
    "predict_eps_from_x0",
    "predict_x0_from_eps",
    "preconditioning_coefficients",
    "predict_x0_from_v",
    "prediction_target",
    "prior_bpd",
    "q_posterior",
    "q_sample",
    "sigmoid_beta_schedule",
    "to_x0_and_eps",
    "v_target",
    "vlb_terms",
]
