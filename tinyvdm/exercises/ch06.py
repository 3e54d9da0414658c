"""Checks for chapter 06, diffusion: forward and reverse (``exercises/06_diffusion_forward_reverse.py``).

Every check runs on videos ``(b, t, c, h, w)`` of several shapes, with a different diffusion
step for each sample of a batch, step 0 and the last step always among them, under three
schedules. The schedule tables are handed to the learner in float64, so that an exact formula
matches the library to ~1e-12 and any real mistake stands far above the tolerance.
"""

from __future__ import annotations

import torch

from tinyvdm.diffusion import DDPMSampler, NoiseSchedule, q_posterior, q_sample
from tinyvdm.exercises.compare import assert_close
from tinyvdm.exercises.registry import exercise

# No two axes of equal length within a shape (a swapped or wrongly broadcast axis then fails
# loudly), and one shape with b == t, where broadcasting the step over frames instead of the
# batch would not even raise.
_SHAPES = [(4, 3, 1, 5, 2), (5, 2, 3, 4, 6), (3, 3, 2, 1, 4)]
_SCHEDULES = [("linear", 50), ("cosine", 20), ("sigmoid", 30)]


def _schedules():
    for name, num_steps in _SCHEDULES:
        yield f"{name} schedule, T = {num_steps}", NoiseSchedule.from_name(name, num_steps, dtype=torch.float64)


def _timesteps(b: int, num_steps: int, gen: torch.Generator) -> torch.Tensor:
    """Mixed steps ``(b,)``: 0, 1 and the last one always present, the rest random."""
    timestep = torch.randint(0, num_steps, (b,), generator=gen)
    fixed = torch.tensor([0, num_steps - 1, 1])[:b]
    timestep[: len(fixed)] = fixed
    return timestep[torch.randperm(b, generator=gen)]


def _tables(schedule: NoiseSchedule) -> dict[str, torch.Tensor]:
    return {name: getattr(schedule, name).clone() for name in ("beta", "alpha", "alpha_bar")}


def _cases(seed: int):
    gen = torch.Generator().manual_seed(seed)
    for label, schedule in _schedules():
        for shape in _SHAPES:
            x0 = 2 * torch.rand(shape, generator=gen, dtype=torch.float64) - 1
            eps = torch.randn(shape, generator=gen, dtype=torch.float64)
            timestep = _timesteps(shape[0], schedule.num_steps, gen)
            case = f"{label}, x0 of shape {shape}, timestep {timestep.tolist()}"
            yield schedule, x0, eps, timestep, case


@exercise("06.q_sample", "q_sample", "jump to step t: xt = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) eps")
def check_q_sample(fn) -> str:
    count = 0
    for schedule, x0, eps, timestep, case in _cases(0):
        expected = q_sample(schedule, x0, timestep, eps)
        got = fn(x0.clone(), timestep.clone(), eps.clone(), schedule.alpha_bar.clone())
        assert_close(got, expected, what="xt", case=case)
        count += 1
    return f"{count} batches of videos noised correctly, a different step per sample (step 0 and the last included)"


@exercise("06.posterior_mean", "posterior_mean", "the mean of q(x_{t-1} | x_t, x_0) (DDPM eq. 7)")
def check_posterior_mean(fn) -> str:
    count = 0
    for schedule, x0, eps, timestep, case in _cases(1):
        xt = q_sample(schedule, x0, timestep, eps)
        expected, _, _ = q_posterior(schedule, x0, xt, timestep)
        got = fn(x0.clone(), xt.clone(), timestep.clone(), **_tables(schedule))
        assert_close(got, expected, what="the posterior mean", case=case)
        count += 1
    return f"{count} batches correct, step 0 (where alpha_bar_prev = 1) included"


@exercise("06.ddpm_step", "ddpm_step", "one DDPM ancestral step x_t -> x_{t-1} from the predicted eps")
def check_ddpm_step(fn) -> str:
    count = 0
    gen = torch.Generator().manual_seed(2)
    for schedule, x0, eps, timestep, case in _cases(2):
        xt = q_sample(schedule, x0, timestep, eps)
        # A predicted eps that is close to, not equal to, the true one, as a trained model's is.
        eps_pred = eps + 0.3 * torch.randn(eps.shape, generator=gen, dtype=eps.dtype)
        noise = torch.randn(eps.shape, generator=gen, dtype=eps.dtype)
        # The library's sampler takes one step for the whole batch: run it sample by sample.
        sampler = DDPMSampler(schedule, variance="fixed_small", clip_x0=False)
        expected = torch.cat([
            sampler.step(eps_pred[i:i + 1], int(timestep[i]), xt[i:i + 1], noise=noise[i:i + 1]).prev_sample
            for i in range(len(timestep))
        ])
        got = fn(xt.clone(), eps_pred.clone(), timestep.clone(), noise.clone(), **_tables(schedule))
        assert_close(got, expected, what="x_{t-1}", case=case)
        count += 1
    return f"{count} batches stepped correctly, no noise added at step 0"
