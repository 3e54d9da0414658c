"""Checks for chapter 07, the UNet denoiser for video (``exercises/07_unet_video_denoiser.py``)."""

from __future__ import annotations

import torch
from einops import rearrange

from tinyvdm.diffusion.samplers.ddim import DDIMSampler, StridedSampler
from tinyvdm.diffusion.samplers.renoise import RenoiseSampler
from tinyvdm.diffusion.schedules import NoiseSchedule
from tinyvdm.exercises.compare import assert_close
from tinyvdm.exercises.registry import Mismatch, exercise
from tinyvdm.nn.embeddings import timestep_embedding


@exercise("07.timestep_embedding", "timestep_embedding",
          "the sinusoidal code of the diffusion step: (b,) -> (b, dim), cosines then sines")
def check_timestep_embedding(fn) -> str:
    gen = torch.Generator().manual_seed(7)
    # An odd width (the zero column), a width of 2 (one frequency) and steps 0 and 999 included.
    for b, dim in [(5, 16), (3, 7), (4, 2), (6, 64)]:
        timestep = torch.randint(0, 1000, (b,), generator=gen)
        timestep[0], timestep[-1] = 0, 999
        expected = timestep_embedding(timestep, dim)
        assert_close(fn(timestep.clone(), dim), expected, what="the embedding",
                     case=f"{b} steps {timestep.tolist()}, dim={dim}", atol=1e-4, rtol=1e-4)
    return "4 batches of steps embedded correctly, odd widths included"


def _compare_steps(fn, sampler: StridedSampler, cases, seed: int, what_x0: str, with_noise: bool = False) -> None:
    """Run ``fn(eps, x_t, alpha_bar_t, alpha_bar_prev[, noise])`` against ``sampler.step`` on random inputs."""
    gen = torch.Generator().manual_seed(seed)
    alpha_bar = sampler.schedule.alpha_bar
    for (timestep, prev), shape in zip(cases, [(2, 3, 1, 4, 5), (3, 2, 3, 5, 4), (1, 4, 3, 3, 6), (2, 5, 1, 6, 3)]):
        xt = torch.randn(shape, generator=gen)
        eps = torch.randn(shape, generator=gen)
        # The fresh noise, when the step takes one, is handed to both: the check compares arithmetic.
        noise = torch.randn(shape, generator=gen) if with_noise else None
        alpha_bar_t = float(alpha_bar[timestep])
        alpha_bar_prev = float(alpha_bar[prev]) if prev >= 0 else 1.0
        expected = sampler.step(eps, timestep, xt, prev_timestep=prev, noise=noise)
        got = fn(eps.clone(), xt.clone(), alpha_bar_t, alpha_bar_prev, *([noise.clone()] if with_noise else []))
        case = f"t={timestep} -> {prev} (alpha_bar {alpha_bar_t:.4g} -> {alpha_bar_prev:.4g}), shape {shape}"
        if not (isinstance(got, tuple) and len(got) == 2):
            raise Mismatch(f"{case}: expected a tuple (x_prev, x0), got {type(got).__name__}")
        assert_close(got[1], expected.pred_original_sample, what=what_x0, case=case, atol=1e-4, rtol=1e-4)
        assert_close(got[0], expected.prev_sample, what="x_prev", case=case, atol=1e-4, rtol=1e-4)


@exercise("07.ddim_step", "ddim_step",
          "one deterministic DDIM step (eta = 0): (x_prev, predicted x0) from eps and x_t")
def check_ddim_step(fn) -> str:
    sampler = DDIMSampler(NoiseSchedule.from_name("cosine", 1000), num_inference_steps=50, eta=0.0, clip_x0=False)
    # The last step (to prev = -1, where alpha_bar_prev is 1) is where most slips show.
    _compare_steps(fn, sampler, [(999, 979), (500, 480), (40, 20), (19, -1)], seed=8, what_x0="the predicted x0")
    return "4 DDIM steps match the library's sampler, the final step to a clean clip included"


@exercise("07.clipped_ddim_step", "clipped_ddim_step",
          "a DDIM step (eta = 0) that clips x0 to [-1, 1] and recomputes eps from the clipped x0")
def check_clipped_ddim_step(fn) -> str:
    sampler = DDIMSampler(NoiseSchedule.from_name("linear", 1000), num_inference_steps=50, eta=0.0, clip_x0=True,
                          clipped_eps=True)
    # Every case clips some pixels (x0 ~ x_t / sqrt(a_t) is large at high noise, and a third of
    # x_t's values lie outside [-1, 1] at low noise), so both slips, not clipping and not
    # recomputing, change the answer. The last step leads to the clean clip itself.
    _compare_steps(fn, sampler, [(999, 979), (500, 480), (100, 80), (19, -1)], seed=10, what_x0="the clipped x0")
    return "4 clipped DDIM steps match the library's sampler with clipped_eps=True"


@exercise("07.renoise_step", "renoise_step",
          "one step of the re-noising sampler: (x_prev, clipped x0) from eps, x_t and fresh noise")
def check_renoise_step(fn) -> str:
    sampler = RenoiseSampler(NoiseSchedule.from_name("linear", 1000), num_inference_steps=50, prediction="eps")
    # High noise (where x0 is clipped almost everywhere), the middle, low noise, and the last step.
    _compare_steps(fn, sampler, [(980, 960), (500, 480), (100, 80), (0, -1)], seed=11, what_x0="the clipped x0",
                   with_noise=True)
    return "4 re-noising steps match the library's RenoiseSampler, the final step to a clean clip included"


@exercise("07.temporal_tokens", "temporal_tokens",
          "fold frames for temporal attention: ((b t), c, h, w) -> ((b h w), t, c)")
def check_temporal_tokens(fn) -> str:
    gen = torch.Generator().manual_seed(9)
    # Distinct sizes on every axis, so a swapped axis changes the shape or the values.
    for b, t, c, h, w in [(2, 3, 5, 4, 7), (3, 4, 2, 5, 3), (1, 6, 4, 2, 5)]:
        x = torch.randn(b * t, c, h, w, generator=gen)
        expected = rearrange(x, "(b t) c h w -> (b h w) t c", t=t)
        assert_close(fn(x.clone(), t), expected, what="the tokens",
                     case=f"x of shape {(b * t, c, h, w)} holding b={b} clips of t={t} frames")
    return "3 batches folded correctly: each row is one pixel of one clip, across its frames"
