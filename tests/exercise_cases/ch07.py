"""Right and wrong answers to the exercises of chapter 07 (read by tests/test_exercises.py)."""

import math

import torch
import torch.nn.functional as F
from einops import rearrange


def timestep_embedding_right(timestep, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    angles = timestep.float()[:, None] * freqs[None]
    return F.pad(torch.cat([angles.cos(), angles.sin()], dim=1), (0, dim % 2))


def embedding_sin_first(timestep, dim):  # the halves in the other order
    code = timestep_embedding_right(timestep, dim)
    half = dim // 2
    return F.pad(torch.cat([code[:, half:2 * half], code[:, :half]], dim=1), (0, dim % 2))


def embedding_interleaved(timestep, dim):  # the Transformer paper's interleaving, not this library's
    code = timestep_embedding_right(timestep, dim)
    half = dim // 2
    mixed = rearrange(code[:, :2 * half], "b (two k) -> b (k two)", two=2)
    return F.pad(mixed, (0, dim % 2))


def embedding_over_dim(timestep, dim):  # frequencies spaced over dim instead of dim // 2
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / dim)
    angles = timestep.float()[:, None] * freqs[None]
    return F.pad(torch.cat([angles.cos(), angles.sin()], dim=1), (0, dim % 2))


def embedding_no_odd_pad(timestep, dim):  # forgets the zero column of an odd width
    return timestep_embedding_right(timestep, dim - dim % 2)


def embedding_bf16(timestep, dim):  # computed in bfloat16: neighbouring steps collide
    return timestep_embedding_right(timestep, dim).bfloat16().float()


def ddim_step_right(eps, xt, alpha_bar_t, alpha_bar_prev):
    x0 = (xt - math.sqrt(1 - alpha_bar_t) * eps) / math.sqrt(alpha_bar_t)
    return math.sqrt(alpha_bar_prev) * x0 + math.sqrt(1 - alpha_bar_prev) * eps, x0


def ddim_no_sqrt(eps, xt, alpha_bar_t, alpha_bar_prev):  # alpha_bar where sqrt(alpha_bar) belongs
    x0 = (xt - (1 - alpha_bar_t) * eps) / alpha_bar_t
    return alpha_bar_prev * x0 + (1 - alpha_bar_prev) * eps, x0


def ddim_fresh_noise_direction(eps, xt, alpha_bar_t, alpha_bar_prev):  # drops the eps direction
    x0 = (xt - math.sqrt(1 - alpha_bar_t) * eps) / math.sqrt(alpha_bar_t)
    return math.sqrt(alpha_bar_prev) * x0, x0


def ddim_clipped(eps, xt, alpha_bar_t, alpha_bar_prev):  # clips x0 although the check asks not to
    x0 = ((xt - math.sqrt(1 - alpha_bar_t) * eps) / math.sqrt(alpha_bar_t)).clamp(-1, 1)
    return math.sqrt(alpha_bar_prev) * x0 + math.sqrt(1 - alpha_bar_prev) * eps, x0


def ddim_swapped_outputs(eps, xt, alpha_bar_t, alpha_bar_prev):  # (x0, x_prev) instead of (x_prev, x0)
    x_prev, x0 = ddim_step_right(eps, xt, alpha_bar_t, alpha_bar_prev)
    return x0, x_prev


def ddim_scaled_xt(eps, xt, alpha_bar_t, alpha_bar_prev):  # rescales x_t, forgets the noise term
    x0 = xt / math.sqrt(alpha_bar_t)
    return math.sqrt(alpha_bar_prev) * x0 + math.sqrt(1 - alpha_bar_prev) * eps, x0


def clipped_ddim_right(eps, xt, alpha_bar_t, alpha_bar_prev):
    x0 = ((xt - math.sqrt(1 - alpha_bar_t) * eps) / math.sqrt(alpha_bar_t)).clamp(-1, 1)
    eps = (xt - math.sqrt(alpha_bar_t) * x0) / math.sqrt(1 - alpha_bar_t)
    return math.sqrt(alpha_bar_prev) * x0 + math.sqrt(1 - alpha_bar_prev) * eps, x0


def clipped_ddim_eps_from_unclipped(eps, xt, alpha_bar_t, alpha_bar_prev):  # recomputes eps before clipping
    x0 = (xt - math.sqrt(1 - alpha_bar_t) * eps) / math.sqrt(alpha_bar_t)
    eps = (xt - math.sqrt(alpha_bar_t) * x0) / math.sqrt(1 - alpha_bar_t)  # = eps again
    x0 = x0.clamp(-1, 1)
    return math.sqrt(alpha_bar_prev) * x0 + math.sqrt(1 - alpha_bar_prev) * eps, x0


def clipped_ddim_swapped_roots(eps, xt, alpha_bar_t, alpha_bar_prev):  # divides by sqrt(a_t), not sqrt(1 - a_t)
    x0 = ((xt - math.sqrt(1 - alpha_bar_t) * eps) / math.sqrt(alpha_bar_t)).clamp(-1, 1)
    eps = (xt - math.sqrt(alpha_bar_t) * x0) / math.sqrt(alpha_bar_t)
    return math.sqrt(alpha_bar_prev) * x0 + math.sqrt(1 - alpha_bar_prev) * eps, x0


def clipped_ddim_clamps_output(eps, xt, alpha_bar_t, alpha_bar_prev):  # clips x_prev instead of x0
    x_prev, x0 = ddim_step_right(eps, xt, alpha_bar_t, alpha_bar_prev)
    return x_prev.clamp(-1, 1), x0.clamp(-1, 1)


def clipped_ddim_returns_unclipped_x0(eps, xt, alpha_bar_t, alpha_bar_prev):  # the step is right, the x0 it reports is not
    x_prev, _ = clipped_ddim_right(eps, xt, alpha_bar_t, alpha_bar_prev)
    return x_prev, (xt - math.sqrt(1 - alpha_bar_t) * eps) / math.sqrt(alpha_bar_t)


def renoise_right(eps, xt, alpha_bar_t, alpha_bar_prev, noise):
    x0 = ((xt - math.sqrt(1 - alpha_bar_t) * eps) / math.sqrt(alpha_bar_t)).clamp(-1, 1)
    return math.sqrt(alpha_bar_prev) * x0 + math.sqrt(1 - alpha_bar_prev) * noise, x0


def renoise_keeps_eps(eps, xt, alpha_bar_t, alpha_bar_prev, noise):  # DDIM's eps direction, not fresh noise
    return clipped_ddim_right(eps, xt, alpha_bar_t, alpha_bar_prev)


def renoise_ddpm_level(eps, xt, alpha_bar_t, alpha_bar_prev, noise):  # DDIM at eta = 1: part of x_t's noise kept
    x_prev, x0 = clipped_ddim_right(eps, xt, alpha_bar_t, alpha_bar_prev)
    sigma = math.sqrt((1 - alpha_bar_prev) / (1 - alpha_bar_t) * (1 - alpha_bar_t / alpha_bar_prev))
    eps = (xt - math.sqrt(alpha_bar_t) * x0) / math.sqrt(1 - alpha_bar_t)
    direction = math.sqrt(max(1 - alpha_bar_prev - sigma**2, 0.0))
    return math.sqrt(alpha_bar_prev) * x0 + direction * eps + sigma * noise, x0


def renoise_unclipped(eps, xt, alpha_bar_t, alpha_bar_prev, noise):  # forgets to clip x0
    x0 = (xt - math.sqrt(1 - alpha_bar_t) * eps) / math.sqrt(alpha_bar_t)
    return math.sqrt(alpha_bar_prev) * x0 + math.sqrt(1 - alpha_bar_prev) * noise, x0


def renoise_variance_as_scale(eps, xt, alpha_bar_t, alpha_bar_prev, noise):  # 1 - a_prev where its root belongs
    x_prev, x0 = renoise_right(eps, xt, alpha_bar_t, alpha_bar_prev, noise)
    return math.sqrt(alpha_bar_prev) * x0 + (1 - alpha_bar_prev) * noise, x0


def renoise_unscaled_x0(eps, xt, alpha_bar_t, alpha_bar_prev, noise):  # adds noise without shrinking x0
    _, x0 = renoise_right(eps, xt, alpha_bar_t, alpha_bar_prev, noise)
    return x0 + math.sqrt(1 - alpha_bar_prev) * noise, x0


RIGHT = {
    "07.timestep_embedding": timestep_embedding_right,
    "07.ddim_step": ddim_step_right,
    "07.clipped_ddim_step": clipped_ddim_right,
    "07.renoise_step": renoise_right,
    "07.temporal_tokens": lambda x, t: rearrange(x, "(b t) c h w -> (b h w) t c", t=t),
}

WRONG = {
    "07.timestep_embedding": [embedding_sin_first, embedding_interleaved, embedding_over_dim,
                              embedding_no_odd_pad, embedding_bf16],
    "07.ddim_step": [ddim_no_sqrt, ddim_fresh_noise_direction, ddim_clipped, ddim_swapped_outputs,
                     ddim_scaled_xt],
    # Plain DDIM without clipping, and the diffusers default (clip x0, keep the network's eps).
    "07.clipped_ddim_step": [ddim_step_right, ddim_clipped, clipped_ddim_eps_from_unclipped,
                             clipped_ddim_swapped_roots, clipped_ddim_clamps_output,
                             clipped_ddim_returns_unclipped_x0],
    "07.renoise_step": [renoise_keeps_eps, renoise_ddpm_level, renoise_unclipped, renoise_variance_as_scale,
                        renoise_unscaled_x0],
    "07.temporal_tokens": [
        lambda x, t: rearrange(x, "(t b) c h w -> (b h w) t c", t=t),  # frames outermost
        lambda x, t: rearrange(x, "(b t) c h w -> (b w h) t c", t=t),  # pixels in column order
        lambda x, t: rearrange(x, "(b t) c h w -> (h w b) t c", t=t),  # clip index innermost
        lambda x, t: rearrange(x, "(b t) c h w -> (b h w) c t", t=t),  # channels and frames swapped
        lambda x, t: x.reshape(-1, t, x.shape[1]),  # a reshape is not a transpose
    ],
}
