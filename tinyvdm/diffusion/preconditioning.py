"""Preconditioning: let the network predict only what a linear denoiser cannot.

A network asked for the clean sample ``x0`` directly must, at the nearly clean steps, copy its
input through every layer, and a small network copies badly: its outputs come out blurred even
where the input was sharp. Karras et al. (2022, "Elucidating the design space", EDM) write the
denoiser instead as

    x0_hat = mu + c_skip * (x_t - s * mu) + c_out * F(c_in * (x_t - s * mu), t)

with ``s = sqrt(alpha_bar_t)`` and ``n = sqrt(1 - alpha_bar_t)`` (``x_t = s x0 + n eps``), the data
mean ``mu`` and standard deviation ``sigma_data``. The three coefficients come from the best
*linear* guess of ``x0``: for data of that mean and spread, ``mu + c_skip (x_t - s mu)`` with

    c_skip = s sigma_data^2 / (s^2 sigma_data^2 + n^2)

is the linear estimate of least squared error, and its error has standard deviation

    c_out = sigma_data n / sqrt(s^2 sigma_data^2 + n^2).

So ``F`` only predicts the remaining error, scaled to unit size; ``c_in`` scales its input to unit
variance. At the clean end (``n -> 0``) ``c_skip -> 1/s`` and ``c_out -> 0``: the module passes
its input through whatever ``F`` does. At the noisy end (``s -> 0``) the skip fades and the module
outputs ``mu + sigma_data F``. With ``sigma_data = 1`` and ``mu = 0`` this is exactly
v-prediction (``F = -v``); EDM takes ``sigma_data = 0.5``.

The module is a denoiser like any other: ``model(x_t, timestep, cond=None)`` returns ``x0_hat``,
so it trains with ``diffusion_loss(..., prediction="x0")`` and samples with any sampler told
``prediction="x0"``. A network whose last layer starts at zero (the UNet, DiT, U-ViT of this
library) makes the module start as the linear denoiser.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tinyvdm.checks import describe
from tinyvdm.diffusion.schedules import NoiseSchedule


def preconditioning_coefficients(schedule: NoiseSchedule, timestep: torch.Tensor, like: torch.Tensor,
                                 sigma_data: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(c_in, c_skip, c_out)`` for each sample, shaped ``(b, 1, ..., 1)`` to broadcast over ``like``."""
    s = schedule.gather("sqrt_alpha_bar", timestep, like)
    n = schedule.gather("sqrt_one_minus_alpha_bar", timestep, like)
    return _coefficients(s, n, sigma_data)


def _coefficients(s: torch.Tensor, n: torch.Tensor, sigma_data: float):
    variance = s**2 * sigma_data**2 + n**2  # variance of x_t - s mu for data of spread sigma_data
    c_in = variance.rsqrt()
    return c_in, s * sigma_data**2 / variance, sigma_data * n * c_in


class Preconditioned(nn.Module):
    """``x0_hat = mu + c_skip (x_t - s mu) + c_out F(c_in (x_t - s mu), t)`` around a network ``F``.

    Args:
        net: the network ``F``, called as ``net(x, timestep)`` or ``net(x, timestep, cond)``,
            returning a tensor of its input's shape.
        schedule: the noise schedule the model is trained and sampled with.
        sigma_data: the standard deviation of the data (> 0).
        data_mean: the mean of the data (one number): clips that are mostly dark background have
            a mean near -1, not 0, and removing it is what lets the noisy end output background.
    """

    def __init__(self, net: nn.Module, schedule: NoiseSchedule, sigma_data: float = 0.5, data_mean: float = 0.0):
        super().__init__()
        if not isinstance(net, nn.Module):
            raise TypeError(f"net must be a torch.nn.Module, got {describe(net)}")
        if not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"schedule must be a NoiseSchedule, got {describe(schedule)}")
        for name, value in (("sigma_data", sigma_data), ("data_mean", data_mean)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if sigma_data <= 0:
            raise ValueError(f"sigma_data must be > 0, got {sigma_data!r}")
        self.net = net
        self.schedule = schedule
        self.sigma_data = float(sigma_data)
        self.data_mean = float(data_mean)

    @classmethod
    def from_data(cls, net: nn.Module, schedule: NoiseSchedule, x0: torch.Tensor) -> Preconditioned:
        """Wrap ``net`` with the mean and standard deviation measured on the sample batch ``x0``."""
        if not isinstance(x0, torch.Tensor) or not x0.is_floating_point() or x0.numel() < 2:
            raise ValueError(f"x0 must be a float tensor of at least 2 values, got {describe(x0)}")
        return cls(net, schedule, sigma_data=x0.float().std().item(), data_mean=x0.float().mean().item())

    def forward(self, x: torch.Tensor, timestep: torch.Tensor, cond=None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim < 2:
            raise ValueError(f"x must be a batched tensor (b, ...), got {describe(x)}")
        s = self.schedule.gather("sqrt_alpha_bar", timestep, x)
        n = self.schedule.gather("sqrt_one_minus_alpha_bar", timestep, x)
        c_in, c_skip, c_out = _coefficients(s, n, self.sigma_data)
        centred = x - s * self.data_mean  # x_t - s mu = s (x0 - mu) + n eps
        inputs = c_in * centred
        residual = self.net(inputs, timestep) if cond is None else self.net(inputs, timestep, cond)
        return self.data_mean + c_skip * centred + c_out * residual.to(x.dtype)

    def extra_repr(self) -> str:
        return f"sigma_data={self.sigma_data:.4g}, data_mean={self.data_mean:.4g}"
