"""tinyvdm.diffusion: schedules, forward process, losses, VLB, samplers, guidance.

Numbers are checked three ways: properties (monotone schedules, round trips, a perfect denoiser
returns the data), direct float64 computations written out here, and diffusers' DDPM and DDIM
schedulers (a test-only reference, imported inside the tests that use it).
"""

import math

import pytest
import torch

from tinyvdm.diffusion import (
    SCHEDULE_NAMES,
    DDIMSampler,
    DDPMSampler,
    NoiseSchedule,
    cosine_beta_schedule,
    ddim_timesteps,
    denoise,
    diffusion_loss,
    discretized_gaussian_log_likelihood,
    gather,
    guided_output,
    linear_beta_schedule,
    loss_weight,
    normal_kl,
    predict_eps_from_v,
    predict_eps_from_x0,
    predict_x0_from_eps,
    predict_x0_from_v,
    q_posterior,
    q_sample,
    sigmoid_beta_schedule,
    to_x0_and_eps,
    v_target,
    vlb_terms,
)

DIFFUSERS_PREDICTION = {"eps": "epsilon", "x0": "sample", "v": "v_prediction"}
DIFFUSERS_SCHEDULE = {"linear": "linear", "cosine": "squaredcos_cap_v2"}


def dummy_model(x, timestep, cond=None):
    """A deterministic stand-in for a network: 0.1 x cos(timestep), per sample."""
    scale = torch.cos(timestep.to(x.dtype)).reshape(-1, *([1] * (x.ndim - 1)))  # (b,) -> (b, 1, ...)
    return 0.1 * x * scale


def perfect_model(schedule, x_star, prediction="eps"):
    """The exact denoiser for data that is the single point ``x_star`` (shape of one sample)."""

    def model(xt, timestep, cond=None):
        x0 = x_star.expand_as(xt).to(xt)
        eps = predict_eps_from_x0(schedule, xt, timestep, x0)
        if prediction == "eps":
            return eps
        return x0 if prediction == "x0" else v_target(schedule, x0, eps, timestep)

    return model


# ---------------------------------------------------------------------------------------------
# Schedules


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
@pytest.mark.parametrize("num_steps", [50, 1000])
def test_schedule_properties(name, num_steps):
    schedule = NoiseSchedule.from_name(name, num_steps)
    assert schedule.num_steps == num_steps and schedule.dtype == torch.float32
    alpha_bar = schedule.alpha_bar.double()
    assert ((alpha_bar > 0) & (alpha_bar < 1)).all()
    assert (alpha_bar[1:] < alpha_bar[:-1]).all()
    assert (schedule.snr[1:] < schedule.snr[:-1]).all()
    assert (schedule.beta <= 0.999).all() and (schedule.beta > 0).all()
    assert schedule.alpha_bar_prev[0] == 1 and torch.equal(schedule.alpha_bar_prev[1:], schedule.alpha_bar[:-1])
    for values in (schedule.posterior_log_variance_clipped, schedule.posterior_mean_coef1, schedule.snr):
        assert torch.isfinite(values).all()


def test_linear_and_cosine_betas():
    assert torch.equal(linear_beta_schedule(1000), torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64))
    # improved DDPM's rescaling: 1000 / num_steps times the 1000-step values.
    assert torch.allclose(linear_beta_schedule(250), torch.linspace(4e-4, 0.08, 250, dtype=torch.float64))
    beta = cosine_beta_schedule(1000)
    assert beta.max() == 0.999 and (beta <= 0.999).all()
    f = torch.cos((torch.arange(1001, dtype=torch.float64) / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2
    alpha_bar = torch.cumprod(1 - beta, 0)
    # Away from the capped last step, alpha_bar is the squared cosine itself (Nichol & Dhariwal eq. 17).
    assert torch.allclose(alpha_bar[:-1], (f / f[0])[1:-1], rtol=1e-10)


def test_sigmoid_schedule_follows_chen_algorithm_1():
    start, end, tau = -3.0, 3.0, 1.0
    beta = sigmoid_beta_schedule(1000, start=start, end=end, tau=tau)
    u = torch.arange(1, 1001, dtype=torch.float64) / 1000

    def sig(z):
        return 1 / (1 + math.exp(-z))

    top, bottom = sig(end / tau), sig(start / tau)
    gamma = torch.tensor([(top - sig((s * (end - start) + start) / tau)) / (top - bottom) for s in u.tolist()],
                         dtype=torch.float64)
    alpha_bar = torch.cumprod(1 - beta, 0)
    assert torch.allclose(alpha_bar[:-1], gamma[:-1], rtol=1e-9, atol=1e-15)
    steeper = NoiseSchedule.from_name("sigmoid", 1000, start=0.0, end=3.0, tau=0.5)
    assert (steeper.alpha_bar[1:] < steeper.alpha_bar[:-1]).all()


def test_posterior_quantities_against_direct_float64():
    for name in SCHEDULE_NAMES:
        schedule = NoiseSchedule.from_name(name, 200)
        functions = {"linear": linear_beta_schedule, "cosine": cosine_beta_schedule, "sigmoid": sigmoid_beta_schedule}
        beta = functions[name](200)
        variance, coef1, coef2 = [], [], []
        alpha_bar_prev = 1.0
        for k in range(200):
            alpha_bar = alpha_bar_prev * (1 - beta[k].item())
            variance.append(beta[k].item() * (1 - alpha_bar_prev) / (1 - alpha_bar))
            coef1.append(math.sqrt(alpha_bar_prev) * beta[k].item() / (1 - alpha_bar))
            coef2.append(math.sqrt(1 - beta[k].item()) * (1 - alpha_bar_prev) / (1 - alpha_bar))
            alpha_bar_prev = alpha_bar
        for ours, direct in [(schedule.posterior_variance, variance), (schedule.posterior_mean_coef1, coef1),
                             (schedule.posterior_mean_coef2, coef2)]:
            torch.testing.assert_close(ours, torch.tensor(direct, dtype=torch.float32), rtol=2e-6, atol=1e-12)
        assert schedule.posterior_variance[0] == 0
        assert schedule.posterior_log_variance_clipped[0] == schedule.posterior_log_variance_clipped[1]


def test_schedule_rejects_bad_input():
    with pytest.raises(ValueError, match=r"linear.*cosine.*sigmoid"):
        NoiseSchedule.from_name("quadratic", 100)
    with pytest.raises(ValueError, match="num_steps must be an int >= 1"):
        NoiseSchedule.from_name("cosine", 0)
    with pytest.raises(ValueError, match="num_steps >= 21"):
        NoiseSchedule.from_name("linear", 10)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        NoiseSchedule.from_betas(torch.tensor([0.1, 1.5]))
    schedule = NoiseSchedule.from_name("cosine", 10)
    like = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"\[0, 9\].*10"):
        gather(schedule.beta, torch.tensor([0, 10]), like)
    with pytest.raises(ValueError, match=r"\(b,\) = \(2,\)"):
        gather(schedule.beta, torch.tensor([0, 1, 2]), like)
    with pytest.raises(ValueError, match="integer tensor"):
        gather(schedule.beta, torch.tensor([0.0, 1.0]), like)


def test_gather_broadcasts_against_any_rank_and_moves_dtype():
    schedule = NoiseSchedule.from_name("cosine", 10)
    timestep = torch.tensor([1, 7])
    for like in (torch.zeros(2, 2), torch.zeros(2, 3, 4, 4), torch.zeros(2, 5, 3, 4, 4, dtype=torch.float64)):
        picked = schedule.gather("alpha_bar", timestep, like)
        assert picked.shape == (2,) + (1,) * (like.ndim - 1) and picked.dtype == like.dtype
        assert picked.flatten().tolist() == pytest.approx(schedule.alpha_bar[timestep].tolist())
    assert schedule.gather("snr", 3, torch.zeros(4, 2)).shape == (4, 1)
    as64 = schedule.to(dtype=torch.float64)
    assert as64.dtype == torch.float64 and as64.to("cpu").device.type == "cpu"
    torch.testing.assert_close(as64.sqrt_alpha_bar**2 + as64.sqrt_one_minus_alpha_bar**2,
                               torch.ones(10, dtype=torch.float64), rtol=0, atol=1e-15)


def test_schedules_match_diffusers():
    diffusers = pytest.importorskip("diffusers")
    for name, theirs_name in DIFFUSERS_SCHEDULE.items():
        ours = NoiseSchedule.from_name(name, 1000)
        theirs = diffusers.DDPMScheduler(beta_schedule=theirs_name)
        torch.testing.assert_close(ours.beta, theirs.betas, rtol=1e-6, atol=1e-9)
        # diffusers takes its cumulative product in float32; ours is float64 then rounded, so
        # the tiny tail of the cosine alpha_bar (~1e-9) differs in the 5th digit.
        torch.testing.assert_close(ours.alpha_bar, theirs.alphas_cumprod, rtol=5e-5, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# Forward process and conversions


def test_q_sample_statistics():
    schedule = NoiseSchedule.from_name("linear", 1000)
    generator = torch.Generator().manual_seed(0)
    x0 = torch.tensor([[0.8, -0.5, 0.0, 1.0]])
    n = 40_000
    for k in (0, 100, 500, 999):
        timestep = torch.full((n,), k)
        eps = torch.randn(n, 4, generator=generator)
        xt = q_sample(schedule, x0.expand(n, 4), timestep, eps)
        alpha_bar = schedule.alpha_bar[k].item()
        torch.testing.assert_close(xt.mean(0), math.sqrt(alpha_bar) * x0[0], rtol=0, atol=0.02)
        torch.testing.assert_close(xt.std(0), torch.full((4,), math.sqrt(1 - alpha_bar)), rtol=0.03, atol=1e-3)


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
def test_conversions_round_trip_at_every_timestep(name):
    schedule = NoiseSchedule.from_name(name, 1000, dtype=torch.float64)
    generator = torch.Generator().manual_seed(1)
    timestep = torch.arange(1000)
    x0 = torch.randn(1000, 2, 3, generator=generator, dtype=torch.float64)
    eps = torch.randn(1000, 2, 3, generator=generator, dtype=torch.float64)
    xt = q_sample(schedule, x0, timestep, eps)
    v = v_target(schedule, x0, eps, timestep)
    close = {"rtol": 1e-9, "atol": 1e-9}
    torch.testing.assert_close(predict_x0_from_eps(schedule, xt, timestep, eps), x0, **close)
    torch.testing.assert_close(predict_eps_from_x0(schedule, xt, timestep, x0), eps, **close)
    torch.testing.assert_close(predict_x0_from_v(schedule, xt, timestep, v), x0, **close)
    torch.testing.assert_close(predict_eps_from_v(schedule, xt, timestep, v), eps, **close)
    for prediction, output in (("eps", eps), ("x0", x0), ("v", v)):
        x0_back, eps_back = to_x0_and_eps(schedule, output, xt, timestep, prediction)
        torch.testing.assert_close(x0_back, x0, **close)
        torch.testing.assert_close(eps_back, eps, **close)
    with pytest.raises(ValueError, match=r"eps.*x0.*v"):
        to_x0_and_eps(schedule, eps, xt, timestep, "score")
    with pytest.raises(ValueError, match=r"shape of the sample \(1000, 2, 3\)"):
        q_sample(schedule, x0, timestep, eps[:, :1])


def test_q_posterior_against_brute_force_gaussian_product():
    schedule = NoiseSchedule.from_name("cosine", 100, dtype=torch.float64)
    x0, xt = torch.tensor([[0.7]], dtype=torch.float64), torch.tensor([[-0.4]], dtype=torch.float64)
    grid = torch.linspace(-6, 6, 600_001, dtype=torch.float64)
    for k in (1, 10, 60, 99):
        beta, alpha_bar_prev = schedule.beta[k], schedule.alpha_bar[k - 1]
        # q(x_{t-1} | x_t, x_0) is proportional to q(x_t | x_{t-1}) q(x_{t-1} | x_0): multiply the two
        # densities on a fine grid and read off the mean and variance numerically.
        log_density = (-(xt[0, 0] - (1 - beta).sqrt() * grid) ** 2 / (2 * beta)
                       - (grid - alpha_bar_prev.sqrt() * x0[0, 0]) ** 2 / (2 * (1 - alpha_bar_prev)))
        weight = torch.exp(log_density - log_density.max())
        weight = weight / weight.sum()
        mean = (weight * grid).sum()
        variance = (weight * (grid - mean) ** 2).sum()
        ours_mean, ours_variance, ours_log_variance = q_posterior(schedule, x0, xt, torch.tensor([k]))
        torch.testing.assert_close(ours_mean[0, 0], mean, rtol=1e-6, atol=1e-8)
        torch.testing.assert_close(ours_variance[0, 0], variance, rtol=1e-4, atol=1e-10)
        torch.testing.assert_close(ours_log_variance[0, 0], variance.log(), rtol=1e-4, atol=1e-4)


def test_normal_kl_matches_torch_distributions():
    generator = torch.Generator().manual_seed(2)
    mean1, mean2, logvar1, logvar2 = torch.randn(4, 50, generator=generator, dtype=torch.float64)
    expected = torch.distributions.kl_divergence(torch.distributions.Normal(mean1, (0.5 * logvar1).exp()),
                                                 torch.distributions.Normal(mean2, (0.5 * logvar2).exp()))
    torch.testing.assert_close(normal_kl(mean1, logvar1, mean2, logvar2), expected)
    assert normal_kl(mean1, logvar1, mean1, logvar1).abs().max() < 1e-12


@pytest.mark.parametrize("mean, scale", [(0.3, 0.2), (-0.97, 0.01), (0.0, 3.0)])
def test_discretized_likelihood_sums_to_one_over_256_bins(mean, scale):
    x0 = torch.linspace(-1, 1, 256, dtype=torch.float64)  # the 256 bin centres
    log_p = discretized_gaussian_log_likelihood(x0, torch.full_like(x0, mean), torch.full_like(x0, math.log(scale)))
    assert log_p.exp().sum().item() == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        discretized_gaussian_log_likelihood(x0 * 2, x0, x0)


# ---------------------------------------------------------------------------------------------
# Losses and the variational bound


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
@pytest.mark.parametrize("weighting", ["simple", "snr", "min_snr"])
def test_diffusion_loss_of_a_perfect_model_is_zero(prediction, weighting):
    schedule = NoiseSchedule.from_name("cosine", 1000)
    x_star = torch.tensor([0.5, -0.25])
    x0 = x_star.expand(256, 2)
    generator = torch.Generator().manual_seed(3)
    loss = diffusion_loss(schedule, perfect_model(schedule, x_star, prediction), x0, prediction=prediction,
                          weighting=weighting, generator=generator)
    assert loss.item() < 1e-6
    wrong = diffusion_loss(schedule, dummy_model, x0, prediction=prediction, weighting=weighting,
                           generator=torch.Generator().manual_seed(3))
    assert wrong.item() > 1e-2


def test_loss_weights_are_finite_and_consistent():
    for name in SCHEDULE_NAMES:
        schedule = NoiseSchedule.from_name(name, 1000)
        timestep = torch.arange(1000)
        snr = schedule.snr.double()
        for prediction in ("eps", "x0", "v"):
            for weighting in ("simple", "snr", "min_snr"):
                weight = loss_weight(schedule, timestep, prediction, weighting)
                assert weight.shape == (1000,) and torch.isfinite(weight).all() and (weight >= 0).all()
        # "snr" makes every parametrisation optimise the eps error: w * factor is 1, with
        # |eps error|^2 = snr |x0 error|^2 and |v error|^2 = (snr + 1) |x0 error|^2.
        torch.testing.assert_close(loss_weight(schedule, timestep, "x0", "snr").double(), snr, rtol=1e-5, atol=0)
        torch.testing.assert_close(loss_weight(schedule, timestep, "v", "snr").double() * (snr + 1) / snr,
                                   torch.ones(1000, dtype=torch.float64), rtol=1e-5, atol=0)
        min_snr = loss_weight(schedule, timestep, "eps", "min_snr").double()
        torch.testing.assert_close(min_snr, snr.clamp(max=5.0) / snr, rtol=1e-5, atol=0)
    # A zero terminal SNR (beta = 1 at the end) keeps every weight finite.
    zero_snr = NoiseSchedule.from_betas(torch.cat([torch.full((9,), 0.1), torch.ones(1)]))
    for prediction in ("eps", "x0", "v"):
        assert torch.isfinite(loss_weight(zero_snr, torch.arange(10), prediction, "min_snr")).all()
    with pytest.raises(ValueError, match=r"simple.*snr.*min_snr"):
        loss_weight(schedule, timestep, "eps", "p2")


def test_diffusion_loss_is_seeded_and_takes_given_timesteps():
    schedule = NoiseSchedule.from_name("linear", 100)
    x0 = torch.randn(8, 3, 2, 4, 4, generator=torch.Generator().manual_seed(4))
    first = diffusion_loss(schedule, dummy_model, x0, generator=torch.Generator().manual_seed(5))
    again = diffusion_loss(schedule, dummy_model, x0, generator=torch.Generator().manual_seed(5))
    assert first.ndim == 0 and torch.equal(first, again)
    per_sample = diffusion_loss(schedule, dummy_model, x0, timestep=torch.full((8,), 99), reduction="none",
                                generator=torch.Generator().manual_seed(5))
    assert per_sample.shape == (8,)
    same = diffusion_loss(schedule, dummy_model, x0, timestep=99, reduction="none",
                          generator=torch.Generator().manual_seed(5))
    assert torch.equal(per_sample, same)
    with pytest.raises(ValueError, match=r"\(b, \.\.\.\)"):
        diffusion_loss(schedule, dummy_model, torch.zeros(5))


def test_diffusion_loss_mask_averages_only_the_masked_elements():
    schedule = NoiseSchedule.from_name("cosine", 100)
    x0 = torch.randn(4, 3, 2, 4, 4, generator=torch.Generator().manual_seed(7))
    everything = torch.ones(1, 1, 1, 4, 4, dtype=torch.bool)
    kwargs = dict(timestep=50, reduction="none")
    plain = diffusion_loss(schedule, dummy_model, x0, generator=torch.Generator().manual_seed(8), **kwargs)
    masked = diffusion_loss(schedule, dummy_model, x0, generator=torch.Generator().manual_seed(8),
                            mask=everything, **kwargs)
    torch.testing.assert_close(masked, plain)
    # Independent reference: redo the noising by hand and average over the left half only.
    mask = torch.zeros(4, 3, 1, 4, 4, dtype=torch.bool)
    mask[..., :2] = True
    half = diffusion_loss(schedule, dummy_model, x0, generator=torch.Generator().manual_seed(8), mask=mask, **kwargs)
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(8))
    alpha_bar = schedule.alpha_bar[50]
    xt = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps
    expected = (dummy_model(xt, torch.full((4,), 50)) - eps)[..., :2].pow(2).flatten(1).mean(dim=1)
    torch.testing.assert_close(half, expected)
    assert not torch.allclose(half, plain)
    with pytest.raises(ValueError, match="bool"):
        diffusion_loss(schedule, dummy_model, x0, mask=mask.float())
    with pytest.raises(ValueError, match="broadcast"):
        diffusion_loss(schedule, dummy_model, x0, mask=torch.ones(5, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least one"):
        diffusion_loss(schedule, dummy_model, x0, mask=torch.zeros(4, 1, 1, 1, 1, dtype=torch.bool))


def test_diffusion_loss_known_frames_go_in_clean_and_are_not_scored():
    schedule = NoiseSchedule.from_name("cosine", 100)
    x0 = torch.randn(3, 4, 2, 4, 4, generator=torch.Generator().manual_seed(9))
    seen = {}

    def recording_model(xt, timestep, cond=None):
        seen["xt"] = xt.clone()
        return 0.5 * xt

    loss = diffusion_loss(schedule, recording_model, x0, timestep=60, prediction="x0", known_frames=2,
                          reduction="none", generator=torch.Generator().manual_seed(10))
    assert torch.equal(seen["xt"][:, :2], x0[:, :2])  # given frames are clean
    assert not torch.allclose(seen["xt"][:, 2:], x0[:, 2:])  # the rest is noised
    expected = (0.5 * seen["xt"] - x0)[:, 2:].pow(2).flatten(1).mean(dim=1)
    torch.testing.assert_close(loss, expected)
    for bad in (4, -1, 1.5):
        with pytest.raises(ValueError, match="known_frames"):
            diffusion_loss(schedule, recording_model, x0, known_frames=bad)


def test_vlb_terms_small_for_a_perfect_model():
    schedule = NoiseSchedule.from_name("cosine", 40)
    generator = torch.Generator().manual_seed(6)
    # One clip (t, c, h, w) whose values lie on the 256-level grid of [-1, 1].
    x_star = torch.randint(0, 256, (1, 3, 4, 4), generator=generator).float() / 127.5 - 1.0
    x0 = x_star.expand(3, 1, 3, 4, 4)  # (b, t, c, h, w)
    perfect = vlb_terms(schedule, perfect_model(schedule, x_star), x0, generator=generator)
    random = vlb_terms(schedule, lambda xt, timestep: torch.randn(xt.shape, generator=generator), x0,
                       generator=generator)
    for result in (perfect, random):
        assert result.terms.shape == (3, 40) and result.prior.shape == (3,) and result.eps_mse.shape == (3, 40)
        assert torch.isfinite(result.terms).all() and torch.isfinite(result.total).all()
        torch.testing.assert_close(result.total, result.prior + result.terms.sum(1))
    assert perfect.terms[:, 1:].abs().max() < 1e-3  # every KL term vanishes
    assert perfect.prior.max() < 1e-3
    assert perfect.eps_mse.max() < 1e-6
    # What remains is the decoder L_0: the mass N(x*, sigma^2) puts on x*'s bin of width 2/255,
    # sigma^2 the first posterior variance borrowed from the second step (improved DDPM).
    sigma = schedule.posterior_variance[1].double().sqrt().item()
    inner = -math.log2(math.erf(1 / 255 / (sigma * math.sqrt(2))))
    edge = -math.log2(0.5 + 0.5 * math.erf(1 / 255 / (sigma * math.sqrt(2))))
    expected = torch.where(x_star.abs() > 0.999, edge, inner).mean().item()
    assert perfect.terms[:, 0].tolist() == pytest.approx([expected] * 3, rel=1e-4)
    assert (perfect.total < 0.3 * random.total).all()


# ---------------------------------------------------------------------------------------------
# Samplers against diffusers. In float64 both are fed the same schedule (diffusers' betas, its
# cumulative product recomputed in float64), so any formula difference would show. In float32
# each uses its own schedule; diffusers computes beta_t as 1 - alpha_bar_t / alpha_bar_prev in
# float32, which loses ~3 of the 7 digits where beta ~ 1e-4, hence the looser float32 tolerance.

STEP_TIMESTEPS = [999, 998, 700, 500, 100, 10, 1, 0]
FLOAT32_TOLERANCE = {"rtol": 1e-3, "atol": 1e-3}
FLOAT64_TOLERANCE = {"rtol": 1e-10, "atol": 1e-10}


def _float64_reference(scheduler):
    scheduler.alphas_cumprod = torch.cumprod(1 - scheduler.betas.double(), 0)
    scheduler.one = torch.tensor(1.0, dtype=torch.float64)
    scheduler.final_alpha_cumprod = torch.tensor(1.0, dtype=torch.float64)
    return scheduler


def _step_inputs(seed, dtype, shape=(2, 3, 2, 4, 4)):
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=generator, dtype=torch.float64).to(dtype),
            torch.randn(shape, generator=generator, dtype=torch.float64).to(dtype))


@pytest.mark.parametrize("name", ["linear", "cosine"])
@pytest.mark.parametrize("variance", ["fixed_small", "fixed_large"])
@pytest.mark.parametrize("clip_x0", [True, False])
@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_ddpm_step_matches_diffusers(name, variance, clip_x0, prediction):
    diffusers = pytest.importorskip("diffusers")
    config = {"beta_schedule": DIFFUSERS_SCHEDULE[name], "variance_type": variance, "clip_sample": clip_x0,
              "prediction_type": DIFFUSERS_PREDICTION[prediction]}
    theirs32 = diffusers.DDPMScheduler(**config)
    theirs64 = _float64_reference(diffusers.DDPMScheduler(**config))
    ours32 = DDPMSampler(NoiseSchedule.from_name(name, 1000), variance, clip_x0, prediction)
    ours64 = DDPMSampler(NoiseSchedule.from_betas(theirs32.betas, dtype=torch.float64), variance, clip_x0, prediction)
    for ours, theirs, dtype, tolerance in ((ours64, theirs64, torch.float64, FLOAT64_TOLERANCE),
                                           (ours32, theirs32, torch.float32, FLOAT32_TOLERANCE)):
        for timestep in STEP_TIMESTEPS:
            xt, output = _step_inputs(timestep, dtype)
            # The same seed on both sides: diffusers draws its noise exactly as draw_noise does.
            mine = ours.step(output, timestep, xt, generator=torch.Generator().manual_seed(7))
            ref = theirs.step(output, timestep, xt, generator=torch.Generator().manual_seed(7))
            torch.testing.assert_close(mine.pred_original_sample, ref.pred_original_sample, **tolerance)
            torch.testing.assert_close(mine.prev_sample, ref.prev_sample, **tolerance)


def _diffusers_loop(scheduler, shape, generator, step_kwargs=None, dtype=torch.float32):
    sample = torch.randn(shape, generator=generator, dtype=dtype)
    for timestep in scheduler.timesteps:
        output = dummy_model(sample, torch.full((shape[0],), int(timestep)))
        sample = scheduler.step(output, timestep, sample, generator=generator, **(step_kwargs or {})).prev_sample
    return sample


@pytest.mark.parametrize("name, num_steps", [("cosine", 20), ("linear", 1000)])
@pytest.mark.parametrize("variance", ["fixed_small", "fixed_large"])
def test_ddpm_sampling_loop_matches_diffusers(name, num_steps, variance):
    diffusers = pytest.importorskip("diffusers")
    config = {"num_train_timesteps": num_steps, "beta_schedule": DIFFUSERS_SCHEDULE[name], "variance_type": variance}
    shape = (2, 3, 2, 4, 4)  # (b, t, c, h, w)
    for dtype in (torch.float64, torch.float32):
        theirs = diffusers.DDPMScheduler(**config)
        if dtype == torch.float64:
            _float64_reference(theirs)
        schedule = NoiseSchedule.from_betas(theirs.betas, dtype=torch.float64) if dtype == torch.float64 \
            else NoiseSchedule.from_name(name, num_steps)
        expected = _diffusers_loop(theirs, shape, torch.Generator().manual_seed(8), dtype=dtype)
        ours = DDPMSampler(schedule, variance).sample(dummy_model, shape, generator=torch.Generator().manual_seed(8),
                                                      dtype=dtype)
        tolerance = FLOAT64_TOLERANCE if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-4}
        torch.testing.assert_close(ours, expected, **tolerance)


@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
@pytest.mark.parametrize("num_inference_steps", [1, 3, 10, 50, 999])
def test_ddim_timesteps_match_diffusers(spacing, num_inference_steps):
    diffusers = pytest.importorskip("diffusers")
    theirs = diffusers.DDIMScheduler(timestep_spacing=spacing)
    theirs.set_timesteps(num_inference_steps)
    ours = DDIMSampler(NoiseSchedule.from_name("linear", 1000), num_inference_steps, timestep_spacing=spacing)
    assert torch.equal(ours.timesteps, theirs.timesteps)
    assert torch.equal(ddim_timesteps(1000, num_inference_steps, spacing), theirs.timesteps)
    assert ours.timesteps.dtype == torch.long and len(ours.timesteps) == num_inference_steps


@pytest.mark.parametrize("name", ["linear", "cosine"])
@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
@pytest.mark.parametrize("eta", [0.0, 1.0])
@pytest.mark.parametrize("prediction, clip_x0", [("eps", True), ("eps", False), ("x0", True), ("v", False)])
def test_ddim_step_matches_diffusers(name, spacing, eta, prediction, clip_x0):
    diffusers = pytest.importorskip("diffusers")
    config = {"beta_schedule": DIFFUSERS_SCHEDULE[name], "timestep_spacing": spacing, "clip_sample": clip_x0,
              "prediction_type": DIFFUSERS_PREDICTION[prediction]}
    for num_inference_steps in (10, 50):
        theirs32 = diffusers.DDIMScheduler(**config)
        theirs64 = _float64_reference(diffusers.DDIMScheduler(**config))
        samplers = []
        for theirs, schedule in ((theirs64, NoiseSchedule.from_betas(theirs32.betas, dtype=torch.float64)),
                                 (theirs32, NoiseSchedule.from_name(name, 1000))):
            theirs.set_timesteps(num_inference_steps)
            samplers.append((theirs, DDIMSampler(schedule, num_inference_steps, eta, spacing, clip_x0, prediction)))
        for (theirs, ours), dtype, tolerance in zip(samplers, (torch.float64, torch.float32),
                                                    (FLOAT64_TOLERANCE, FLOAT32_TOLERANCE)):
            for timestep in ours.timesteps.tolist()[::7] + [ours.timesteps[-1].item()]:
                xt, output = _step_inputs(timestep, dtype)
                noise = torch.randn(xt.shape, generator=torch.Generator().manual_seed(9), dtype=dtype)
                # diffusers always steps to timestep - 1000 // n; with "linspace" (and "trailing"
                # for n not dividing 1000) that is not the next listed timestep, which our sampler
                # steps to by default. Give it diffusers' target to compare the step itself.
                previous = timestep - 1000 // num_inference_steps
                mine = ours.step(output, timestep, xt, noise=noise, prev_timestep=max(previous, -1))
                ref = theirs.step(output, timestep, xt, eta=eta, variance_noise=noise if eta > 0 else None)
                torch.testing.assert_close(mine.pred_original_sample, ref.pred_original_sample, **tolerance)
                torch.testing.assert_close(mine.prev_sample, ref.prev_sample, **tolerance)


@pytest.mark.parametrize("eta", [0.0, 1.0])
@pytest.mark.parametrize("prediction", ["eps", "x0"])
def test_ddim_clipped_eps_matches_diffusers_use_clipped_model_output(eta, prediction):
    diffusers = pytest.importorskip("diffusers")
    theirs = _float64_reference(diffusers.DDIMScheduler(clip_sample=True, prediction_type=DIFFUSERS_PREDICTION[prediction]))
    theirs.set_timesteps(20)
    ours = DDIMSampler(NoiseSchedule.from_betas(theirs.betas, dtype=torch.float64), 20, eta, prediction=prediction,
                       clipped_eps=True)
    plain = DDIMSampler(ours.schedule, 20, eta, prediction=prediction)
    clipped_somewhere = False
    for timestep in ours.timesteps.tolist()[::4]:
        xt, output = _step_inputs(timestep, torch.float64)
        output = 3 * output  # large predictions, so that the clean sample is clipped
        noise = torch.randn(xt.shape, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
        mine = ours.step(output, timestep, xt, noise=noise)
        ref = theirs.step(output, timestep, xt, eta=eta, use_clipped_model_output=True,
                          variance_noise=noise if eta > 0 else None)
        torch.testing.assert_close(mine.prev_sample, ref.prev_sample, **FLOAT64_TOLERANCE)
        # Where clipping changed the clean sample, the recomputed noise changes the step.
        clipped_somewhere |= not torch.allclose(plain.step(output, timestep, xt, noise=noise).prev_sample,
                                                mine.prev_sample)
    assert clipped_somewhere


@pytest.mark.parametrize("prediction", ["eps", "x0"])
def test_ddim_with_clipped_eps_eta_one_and_every_step_is_ddpm(prediction):
    # DDPM's posterior mean combines the clipped clean sample with x_t; DDIM's step combines it
    # with a noise estimate. They agree when that estimate is recomputed from the clipped sample.
    schedule = NoiseSchedule.from_name("linear", 1000, dtype=torch.float64)
    ddpm = DDPMSampler(schedule, "fixed_small", prediction=prediction)
    ddim = DDIMSampler(schedule, 1000, eta=1.0, prediction=prediction, clipped_eps=True)
    plain = DDIMSampler(schedule, 1000, eta=1.0, prediction=prediction)
    differs = False
    for timestep in (999, 700, 300, 50, 1):
        xt, output = _step_inputs(timestep, torch.float64)
        output = 3 * output
        noise = torch.randn(xt.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
        expected = ddpm.step(output, timestep, xt, noise=noise).prev_sample
        torch.testing.assert_close(ddim.step(output, timestep, xt, noise=noise).prev_sample, expected,
                                   rtol=1e-5, atol=1e-5)
        differs |= not torch.allclose(plain.step(output, timestep, xt, noise=noise).prev_sample, expected,
                                      rtol=1e-5, atol=1e-5)
    assert differs, "without clipped_eps a clipped step should not be DDPM's"


def test_ddim_rejects_a_non_bool_clipped_eps():
    with pytest.raises(ValueError, match="clipped_eps must be a bool"):
        DDIMSampler(NoiseSchedule.from_name("linear", 100), 10, clipped_eps=1)


@pytest.mark.parametrize("spacing", ["leading", "trailing"])
@pytest.mark.parametrize("eta", [0.0, 1.0])
@pytest.mark.parametrize("num_inference_steps", [10, 20])
def test_ddim_sampling_loop_matches_diffusers(spacing, eta, num_inference_steps):
    diffusers = pytest.importorskip("diffusers")
    shape = (3, 2, 1, 4, 4)  # (b, t, c, h, w)
    for dtype in (torch.float64, torch.float32):
        theirs = diffusers.DDIMScheduler(timestep_spacing=spacing)
        schedule = NoiseSchedule.from_name("linear", 1000)
        if dtype == torch.float64:
            _float64_reference(theirs)
            schedule = NoiseSchedule.from_betas(theirs.betas, dtype=torch.float64)
        theirs.set_timesteps(num_inference_steps)
        expected = _diffusers_loop(theirs, shape, torch.Generator().manual_seed(10), {"eta": eta}, dtype=dtype)
        ours = DDIMSampler(schedule, num_inference_steps, eta, spacing)
        # For these spacings (n divides 1000) the next listed timestep is diffusers' target too.
        assert all(ours.previous_timestep(k) == max(k - 1000 // num_inference_steps, -1)
                   for k in ours.timesteps.tolist())
        result = ours.sample(dummy_model, shape, generator=torch.Generator().manual_seed(10), dtype=dtype)
        tolerance = FLOAT64_TOLERANCE if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-4}
        torch.testing.assert_close(result, expected, **tolerance)


# ---------------------------------------------------------------------------------------------
# Sampler properties


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
@pytest.mark.parametrize("shape", [(64, 2), (2, 3, 1, 4, 4)], ids=["points", "video"])
def test_a_perfect_denoiser_returns_the_data(prediction, shape):
    schedule = NoiseSchedule.from_name("cosine", 100)
    x_star = torch.rand(shape[1:], generator=torch.Generator().manual_seed(11)) * 1.6 - 0.8
    model = perfect_model(schedule, x_star, prediction)
    samplers = [DDPMSampler(schedule, "fixed_small", prediction=prediction),
                DDPMSampler(schedule, "fixed_large", prediction=prediction, clip_x0=False),
                DDIMSampler(schedule, 10, eta=0.0, prediction=prediction),
                DDIMSampler(schedule, 25, eta=1.0, timestep_spacing="trailing", prediction=prediction)]
    for sampler in samplers:
        result = sampler.sample(model, shape, generator=torch.Generator().manual_seed(12))
        assert result.shape == shape
        torch.testing.assert_close(result, x_star.expand(shape), rtol=0, atol=1e-4)


def test_ddim_with_eta_zero_is_a_function_of_x_T():
    schedule = NoiseSchedule.from_name("linear", 1000)
    shape = (2, 4, 1, 4, 4)
    x_T = torch.randn(shape, generator=torch.Generator().manual_seed(13))
    sampler = DDIMSampler(schedule, 20, eta=0.0)
    first = sampler.sample(dummy_model, shape, initial_noise=x_T, generator=torch.Generator().manual_seed(1))
    second = sampler.sample(dummy_model, shape, initial_noise=x_T, generator=torch.Generator().manual_seed(2))
    assert torch.equal(first, second)
    stochastic = DDIMSampler(schedule, 20, eta=1.0)
    third = stochastic.sample(dummy_model, shape, initial_noise=x_T, generator=torch.Generator().manual_seed(1))
    fourth = stochastic.sample(dummy_model, shape, initial_noise=x_T, generator=torch.Generator().manual_seed(2))
    assert not torch.equal(third, fourth)


def test_sampling_is_seeded_and_records_a_trajectory():
    schedule = NoiseSchedule.from_name("cosine", 30)
    sampler = DDPMSampler(schedule)
    first, trajectory = sampler.sample(dummy_model, (5, 2), generator=torch.Generator().manual_seed(14),
                                       return_trajectory=True)
    second = sampler.sample(dummy_model, (5, 2), generator=torch.Generator().manual_seed(14))
    other = sampler.sample(dummy_model, (5, 2), generator=torch.Generator().manual_seed(15))
    assert torch.equal(first, second) and not torch.equal(first, other)
    assert trajectory.timesteps == list(range(29, -1, -1))
    assert len(trajectory.samples) == 31 and len(trajectory.pred_original_samples) == 30
    assert torch.equal(trajectory.samples[-1], first)


def test_sampler_rejects_bad_arguments():
    schedule = NoiseSchedule.from_name("cosine", 100)
    with pytest.raises(ValueError, match=r"fixed_small.*fixed_large"):
        DDPMSampler(schedule, variance="learned")
    with pytest.raises(ValueError, match=r"leading.*trailing.*linspace"):
        DDIMSampler(schedule, 10, timestep_spacing="karras")
    with pytest.raises(ValueError, match=r"\[1, 100\]"):
        DDIMSampler(schedule, 101)
    with pytest.raises(ValueError, match=r"eta must be in \[0, 1\]"):
        DDIMSampler(schedule, 10, eta=2.0)
    sampler = DDPMSampler(schedule)
    xt = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"\[0, 99\], got 100"):
        sampler.step(xt, 100, xt)
    with pytest.raises(ValueError, match=r"shape of xt \(2, 3\)"):
        sampler.step(torch.zeros(2, 4), 5, xt)
    with pytest.raises(ValueError, match="one of this sampler's timesteps"):
        DDIMSampler(schedule, 10).step(xt, 5, xt)
    with pytest.raises(ValueError, match=r"shaped like its input \(4, 2\)"):
        sampler.sample(lambda x, timestep: x[:, :1], (4, 2))


# ---------------------------------------------------------------------------------------------
# Classifier-free guidance


class CountingModel(torch.nn.Module):
    """Output depends on the condition; records the batch size of every call."""

    def __init__(self):
        super().__init__()
        self.batch_sizes = []

    def forward(self, x, timestep, cond=None):
        self.batch_sizes.append(x.shape[0])
        shift = torch.zeros_like(x) if cond is None else cond.reshape(-1, *([1] * (x.ndim - 1))).to(x)
        return 0.1 * x + shift


def test_guidance_scale_one_and_zero():
    model = CountingModel()
    x = torch.randn(4, 2, 1, 3, 3, generator=torch.Generator().manual_seed(16))
    timestep = torch.full((4,), 10)
    cond, null_cond = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor(-1.0)
    conditional, unconditional = model(x, timestep, cond), model(x, timestep, null_cond.expand(4))
    torch.testing.assert_close(guided_output(model, x, timestep, cond, 1.0, null_cond), conditional)
    torch.testing.assert_close(guided_output(model, x, timestep, cond, 0.0, null_cond), unconditional)
    torch.testing.assert_close(guided_output(model, x, timestep, cond, 3.0, null_cond),
                               unconditional + 3.0 * (conditional - unconditional))
    # Without a null_cond tensor the unconditional pass is model(x, timestep): cond=None.
    torch.testing.assert_close(guided_output(model, x, timestep, cond, 0.0), model(x, timestep))
    with pytest.raises(ValueError, match="needs a condition"):
        guided_output(model, x, timestep, None, 2.0)
    with pytest.raises(ValueError, match=r"null_cond must have the shape of cond \(4,\)"):
        guided_output(model, x, timestep, cond, 2.0, torch.zeros(3))


def test_guided_sampling_calls_the_model_once_per_step_on_a_doubled_batch():
    schedule = NoiseSchedule.from_name("cosine", 50)
    model = CountingModel()
    cond = torch.tensor([0.5, -0.5, 0.0])
    sampler = DDIMSampler(schedule, 8)
    sampler.sample(model, (3, 2), cond=cond, guidance_scale=4.0, null_cond=torch.tensor(0.0),
                   generator=torch.Generator().manual_seed(17))
    assert model.batch_sizes == [6] * 8
    # guidance_scale=1 gives the conditional sampler's samples.
    guided = sampler.sample(model, (3, 2), cond=cond, guidance_scale=1.0, null_cond=torch.tensor(0.0),
                            generator=torch.Generator().manual_seed(18))
    plain = sampler.sample(model, (3, 2), cond=cond, generator=torch.Generator().manual_seed(18))
    torch.testing.assert_close(guided, plain)


def test_guidance_scale_one_makes_only_the_conditional_call():
    model = CountingModel()
    x, timestep, cond = torch.randn(3, 2), torch.full((3,), 5), torch.tensor([0.5, -0.5, 0.0])
    out = denoise(model, x, timestep, cond, guidance_scale=1.0, null_cond=torch.tensor(0.0))
    assert model.batch_sizes == [3]  # one call on the batch itself, no unconditional half
    torch.testing.assert_close(out, model(x, timestep, cond))
    with pytest.raises(ValueError, match="needs a condition"):
        denoise(model, x, timestep, None, guidance_scale=1.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_samplers_and_loss_run_on_cuda_with_a_cpu_schedule_and_generator():
    schedule = NoiseSchedule.from_name("cosine", 50)  # stays on the CPU: gather moves what it picks
    shape = (3, 2, 1, 4, 4)
    for sampler in (DDPMSampler(schedule), DDIMSampler(schedule, 10, eta=1.0)):
        on_cpu = sampler.sample(dummy_model, shape, generator=torch.Generator().manual_seed(19))
        on_cuda = sampler.sample(dummy_model, shape, generator=torch.Generator().manual_seed(19), device="cuda")
        assert on_cuda.device.type == "cuda"
        torch.testing.assert_close(on_cuda.cpu(), on_cpu, rtol=1e-5, atol=1e-5)
    x0 = torch.rand(shape, generator=torch.Generator().manual_seed(20)) * 2 - 1
    on_cpu = diffusion_loss(schedule, dummy_model, x0, generator=torch.Generator().manual_seed(21))
    on_cuda = diffusion_loss(schedule.to("cuda"), dummy_model, x0.cuda(), generator=torch.Generator().manual_seed(21))
    torch.testing.assert_close(on_cuda.cpu(), on_cpu, rtol=1e-5, atol=1e-6)


def test_denoise_once_reads_every_prediction_back_to_x0():
    """An oracle that knows the clean clip gives it back, whatever it is asked to predict."""
    from tinyvdm.diffusion import denoise_once, predict_eps_from_x0, v_target

    schedule = NoiseSchedule.from_name("cosine", 50)
    x0 = torch.rand(2, 3, 3, 4, 4, generator=torch.Generator().manual_seed(0)) * 1.6 - 0.8

    class Oracle(torch.nn.Module):
        def __init__(self, prediction):
            super().__init__()
            self.prediction, self.anchor = prediction, torch.nn.Parameter(torch.zeros(()))

        def forward(self, xt, timestep):
            if self.prediction == "x0":
                return x0
            eps = predict_eps_from_x0(schedule, xt, timestep, x0)
            return eps if self.prediction == "eps" else v_target(schedule, x0, eps, timestep)

    for prediction in ("x0", "eps", "v"):
        torch.testing.assert_close(denoise_once(schedule, Oracle(prediction), x0, 30, prediction=prediction), x0,
                                   atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="step must be an int in 0..49"):
        denoise_once(schedule, Oracle("x0"), x0, 50)
