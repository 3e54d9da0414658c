"""Samplers, one per module; each turns any denoiser's outputs into samples."""

from tinyvdm.diffusion.samplers.base import Sampler, StepOutput, Trajectory
from tinyvdm.diffusion.samplers.ddim import TIMESTEP_SPACINGS, DDIMSampler, ddim_timesteps
from tinyvdm.diffusion.samplers.ddpm import DDPMSampler
from tinyvdm.diffusion.samplers.renoise import RenoiseSampler

__all__ = ["DDIMSampler", "DDPMSampler", "RenoiseSampler", "Sampler", "StepOutput", "TIMESTEP_SPACINGS", "Trajectory",
           "ddim_timesteps"]
