"""tinyvdm.diffusion.preconditioning: EDM's c_skip / c_out / c_in around any denoiser.

Checked against independent references: least squares fitted on samples (the skip is the best
linear denoiser and c_out its error), and the library's v-prediction conversion (with
sigma_data = 1 and mean 0 the module is v-prediction).
"""

import pytest
import torch
from torch import nn

from tinyvdm.diffusion import DDIMSampler, NoiseSchedule, predict_x0_from_v, q_sample
from tinyvdm.diffusion.preconditioning import Preconditioned, preconditioning_coefficients


class Fixed(nn.Module):
    """A stand-in network that returns a given tensor and records what it was called with."""

    def __init__(self, output: torch.Tensor | None = None):
        super().__init__()
        self.output = output
        self.weight = nn.Parameter(torch.zeros(()))
        self.calls = []

    def forward(self, x, timestep, cond=None):
        self.calls.append((x, timestep, cond))
        return torch.zeros_like(x) if self.output is None else self.output


@pytest.fixture
def schedule():
    return NoiseSchedule.from_name("cosine", 100)


@pytest.mark.parametrize("step", [5, 40, 80])
def test_skip_is_the_least_squares_linear_denoiser(schedule, step):
    # Data of mean mu and spread sigma_data; regress x0 on x_t by ordinary least squares.
    generator = torch.Generator().manual_seed(0)
    mu, sigma_data, n = -0.8, 0.3, 200_000
    x0 = (mu + sigma_data * torch.randn(n, 1, generator=generator, dtype=torch.float64))
    timestep = torch.full((n,), step)
    xt = q_sample(schedule.to(dtype=torch.float64), x0, timestep, torch.randn(n, 1, generator=generator,
                                                                                dtype=torch.float64))
    design = torch.cat([torch.ones_like(xt), xt], dim=1)
    coef = torch.linalg.lstsq(design, x0).solution  # x0 ~ a + b x_t
    module = Preconditioned(Fixed(), schedule.to(dtype=torch.float64), sigma_data=sigma_data, data_mean=mu)
    with torch.no_grad():
        guess = module(xt, timestep)
    fitted = design @ coef
    # Same estimate as least squares, and its error is c_out.
    assert torch.allclose(guess, fitted, atol=5e-3)
    _, c_skip, c_out = preconditioning_coefficients(schedule.to(dtype=torch.float64), timestep[:1], xt[:1], sigma_data)
    assert c_skip.item() == pytest.approx(coef[1].item(), abs=3e-3)
    assert (guess - x0).pow(2).mean().sqrt().item() == pytest.approx(c_out.item(), rel=2e-2)


def test_unit_sigma_zero_mean_is_v_prediction(schedule):
    generator = torch.Generator().manual_seed(1)
    xt = torch.randn(4, 3, 2, 5, 5, generator=generator)
    residual = torch.randn(xt.shape, generator=generator)
    timestep = torch.tensor([0, 10, 50, 99])
    module = Preconditioned(Fixed(residual), schedule, sigma_data=1.0, data_mean=0.0)
    expected = predict_x0_from_v(schedule, xt, timestep, -residual)
    assert torch.allclose(module(xt, timestep), expected, atol=1e-6)


def test_clean_end_passes_the_input_and_noisy_end_the_network():
    schedule = NoiseSchedule.from_name("cosine", 1000)
    generator = torch.Generator().manual_seed(2)
    xt = torch.randn(2, 8, 3, 4, 4, generator=generator)
    residual = torch.randn(xt.shape, generator=generator)
    module = Preconditioned(Fixed(residual), schedule, sigma_data=0.5, data_mean=-0.9)
    s0 = schedule.sqrt_alpha_bar[0]
    clean = module(xt, torch.zeros(2, dtype=torch.long))
    assert torch.allclose(clean, xt / s0, atol=3e-2)  # whatever the network says (residual ~ N(0, 1))
    last = torch.full((2,), schedule.num_steps - 1)
    noisy = module(xt, last)
    assert torch.allclose(noisy, -0.9 + 0.5 * residual, atol=1e-2)


def test_network_sees_unit_variance_input_and_the_condition(schedule):
    net = Fixed()
    module = Preconditioned(net, schedule, sigma_data=0.4, data_mean=0.5)
    generator = torch.Generator().manual_seed(3)
    x0 = 0.5 + 0.4 * torch.randn(64, 2, 3, 8, 8, generator=generator)
    timestep = torch.full((64,), 60)
    xt = q_sample(schedule, x0, timestep, torch.randn(x0.shape, generator=generator))
    cond = torch.arange(64)
    module(xt, timestep, cond)
    seen, seen_timestep, seen_cond = net.calls[-1]
    assert seen.std().item() == pytest.approx(1.0, rel=0.03)
    assert seen.mean().abs().item() < 0.03
    assert torch.equal(seen_timestep, timestep) and seen_cond is cond
    module(xt, timestep)
    assert net.calls[-1][2] is None


def test_state_dict_is_the_network_and_sampling_works(schedule):
    net = nn.Conv3d(3, 3, 1)
    wrapped_conv = _FrameConv(net)
    module = Preconditioned(wrapped_conv, schedule, sigma_data=0.5, data_mean=-0.5)
    assert set(module.state_dict()) == {f"net.{key}" for key in wrapped_conv.state_dict()}
    clips = DDIMSampler(schedule, 5, prediction="x0").sample(module, (2, 4, 3, 6, 6),
                                                             generator=torch.Generator().manual_seed(0))
    assert clips.shape == (2, 4, 3, 6, 6) and torch.isfinite(clips).all()


class _FrameConv(nn.Module):
    def __init__(self, conv):
        super().__init__()
        self.conv = conv

    def forward(self, x, timestep, cond=None):
        return self.conv(x.transpose(1, 2)).transpose(1, 2)


def test_from_data_measures_mean_and_spread(schedule):
    x0 = torch.tensor([[-1.0, -1.0, -1.0, 1.0]])
    module = Preconditioned.from_data(Fixed(), schedule, x0)
    assert module.data_mean == pytest.approx(-0.5)
    assert module.sigma_data == pytest.approx(x0.std().item())


@pytest.mark.parametrize("kwargs, message", [
    (dict(sigma_data=0.0), "sigma_data must be > 0"),
    (dict(sigma_data=float("nan")), "sigma_data must be a finite number"),
    (dict(data_mean=True), "data_mean must be a finite number"),
])
def test_bad_numbers_are_refused(schedule, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Preconditioned(Fixed(), schedule, **kwargs)


def test_bad_arguments_are_refused(schedule):
    with pytest.raises(TypeError, match="net must be a torch.nn.Module, got function"):
        Preconditioned(lambda x, t: x, schedule)
    with pytest.raises(TypeError, match="schedule must be a NoiseSchedule, got str"):
        Preconditioned(Fixed(), "cosine")
    with pytest.raises(ValueError, match="x0 must be a float tensor"):
        Preconditioned.from_data(Fixed(), schedule, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"x must be a batched tensor \(b, ...\), got torch.float32 \(3,\)"):
        Preconditioned(Fixed(), schedule)(torch.zeros(3), torch.zeros(3, dtype=torch.long))
