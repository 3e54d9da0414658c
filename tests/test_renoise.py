"""The re-noising sampler: each step is the forward process applied to the predicted clean sample."""

import pytest
import torch

from tinyvdm.diffusion import (
    DDIMSampler,
    NoiseSchedule,
    RenoiseSampler,
    predict_eps_from_x0,
    q_sample,
    to_x0_and_eps,
    v_target,
)


def output_for(schedule, xt, timestep, x0, prediction):
    """The model output that says "the clean sample is ``x0``" in the given parametrisation."""
    batch_timestep = torch.full((xt.shape[0],), timestep, dtype=torch.long)
    eps = predict_eps_from_x0(schedule, xt, batch_timestep, x0)
    return {"x0": x0, "eps": eps, "v": v_target(schedule, x0, eps, batch_timestep)}[prediction]


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
@pytest.mark.parametrize("clip_x0", [True, False])
def test_a_step_is_the_forward_process_applied_to_the_predicted_clean_sample(prediction, clip_x0):
    schedule = NoiseSchedule.from_name("linear", 1000)
    sampler = RenoiseSampler(schedule, 20, prediction=prediction, clip_x0=clip_x0)
    generator = torch.Generator().manual_seed(0)
    xt = torch.randn(3, 4, 3, 2, 2, generator=generator)
    model_output = 1.5 * torch.randn(3, 4, 3, 2, 2, generator=generator)  # x0 guesses reach outside [-1, 1]
    noise = torch.randn(xt.shape, generator=generator)
    timestep = int(sampler.timesteps[3])
    prev_timestep = int(sampler.timesteps[4])
    out = sampler.step(model_output, timestep, xt, noise=noise)
    x0, _ = to_x0_and_eps(schedule, model_output, xt, torch.full((3,), timestep), prediction)
    x0 = x0.clamp(-1, 1) if clip_x0 else x0
    torch.testing.assert_close(out.pred_original_sample, x0)
    # The reference is the forward process q(x_prev | x0) itself, with the same noise.
    torch.testing.assert_close(out.prev_sample, q_sample(schedule, x0, torch.full((3,), prev_timestep), noise))


def test_nothing_of_x_t_is_kept_but_what_the_network_read_from_it():
    # Two different x_t with the same predicted x0 lead to the same next sample; DDIM with DDPM's
    # noise level (eta = 1) keeps part of x_t's noise, so it tells them apart.
    schedule = NoiseSchedule.from_name("linear", 1000)
    generator = torch.Generator().manual_seed(1)
    x0 = torch.rand(2, 8, generator=generator) * 2 - 1
    first, second = torch.randn(2, 8, generator=generator), torch.randn(2, 8, generator=generator)
    noise = torch.randn(2, 8, generator=generator)
    renoise = RenoiseSampler(schedule, 50, prediction="x0")
    ddim = DDIMSampler(schedule, 50, eta=1.0, prediction="x0")
    timestep = int(renoise.timesteps[10])
    assert torch.equal(renoise.step(x0, timestep, first, noise=noise).prev_sample,
                       renoise.step(x0, timestep, second, noise=noise).prev_sample)
    assert not torch.allclose(ddim.step(x0, timestep, first, noise=noise).prev_sample,
                              ddim.step(x0, timestep, second, noise=noise).prev_sample)


def test_its_noise_is_the_widest_of_ddims_family():
    # With eta = 1 DDIM adds sigma^2 = (1 - a_prev) / (1 - a_t) (1 - a_t / a_prev) of fresh noise;
    # the re-noising step adds all of 1 - a_prev. Measured as the spread over many noise draws.
    schedule = NoiseSchedule.from_name("cosine", 1000)
    renoise, ddim = RenoiseSampler(schedule, 10, prediction="x0"), DDIMSampler(schedule, 10, eta=1.0, prediction="x0")
    timestep, prev = int(renoise.timesteps[5]), int(renoise.timesteps[6])
    xt, x0 = torch.zeros(20_000, 1), torch.full((20_000, 1), 0.3)
    a_t, a_prev = float(schedule.alpha_bar[timestep]), float(schedule.alpha_bar[prev])
    spread = renoise.step(x0, timestep, xt, generator=torch.Generator().manual_seed(2)).prev_sample.std().item()
    assert spread == pytest.approx((1 - a_prev) ** 0.5, rel=0.02)
    ddim_spread = ddim.step(x0, timestep, xt, generator=torch.Generator().manual_seed(2)).prev_sample.std().item()
    assert ddim_spread == pytest.approx(((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)) ** 0.5, rel=0.02)
    assert ddim_spread < 0.9 * spread


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_a_perfect_denoiser_returns_the_data(prediction):
    schedule = NoiseSchedule.from_name("cosine", 100)
    x_star = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(3)) * 1.6 - 0.8

    def model(xt, timestep, cond=None):
        return output_for(schedule, xt, int(timestep[0]), x_star.expand_as(xt), prediction)

    for sampler in [RenoiseSampler(schedule, 10, prediction=prediction),
                    RenoiseSampler(schedule, 25, timestep_spacing="trailing", prediction=prediction)]:
        result = sampler.sample(model, (5, 2, 3, 4, 4), generator=torch.Generator().manual_seed(4))
        torch.testing.assert_close(result, x_star.expand(5, 2, 3, 4, 4), rtol=0, atol=1e-4)


def test_the_last_step_returns_the_clean_guess_and_draws_no_noise():
    schedule = NoiseSchedule.from_name("linear", 100)
    sampler = RenoiseSampler(schedule, 10, prediction="x0")
    assert torch.equal(sampler.timesteps, DDIMSampler(schedule, 10).timesteps)
    generator = torch.Generator().manual_seed(5)
    state = generator.get_state()
    guess = torch.rand(3, 2) - 0.5
    out = sampler.step(guess, int(sampler.timesteps[-1]), torch.randn(3, 2), generator=generator)
    assert torch.equal(out.prev_sample, guess) and torch.equal(generator.get_state(), state)


def test_sampling_is_seeded():
    schedule = NoiseSchedule.from_name("linear", 100)
    sampler = RenoiseSampler(schedule, 10, prediction="x0")

    def model(x, timestep, cond=None):
        return 0.5 * x

    first = sampler.sample(model, (4, 3), generator=torch.Generator().manual_seed(6))
    again = sampler.sample(model, (4, 3), generator=torch.Generator().manual_seed(6))
    other = sampler.sample(model, (4, 3), generator=torch.Generator().manual_seed(7))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_renoise_sampler_rejects_bad_arguments():
    schedule = NoiseSchedule.from_name("linear", 100)
    with pytest.raises(ValueError, match=r"leading.*trailing.*linspace"):
        RenoiseSampler(schedule, 10, timestep_spacing="karras")
    with pytest.raises(ValueError, match=r"\[1, 100\]"):
        RenoiseSampler(schedule, 0)
    with pytest.raises(ValueError, match="prediction"):
        RenoiseSampler(schedule, 10, prediction="score")
    sampler = RenoiseSampler(schedule, 10)
    xt = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"noise must have the shape of xt \(2, 3\), got \(2, 4\)"):
        sampler.step(xt, 90, xt, noise=torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"prev_timestep must be an int in \[-1, 89\], got 90"):
        sampler.step(xt, 90, xt, prev_timestep=90)
    with pytest.raises(ValueError, match="one of this sampler's timesteps"):
        sampler.step(xt, 5, xt)
