"""Noise schedules: how much noise the forward process adds at each diffusion step.

Taught in chapter 06 (diffusion: forward and reverse). A schedule is a list of ``beta`` values,
one per diffusion step; everything else a sampler or a loss needs (``alpha_bar``, the signal to
noise ratio, the coefficients of the posterior ``q(x_{t-1} | x_t, x_0)``) follows from it, and
:class:`NoiseSchedule` computes all of it once, in float64, then stores it as float32.

Three named schedules:

* ``"linear"`` -- Ho et al. 2020 (DDPM): ``beta`` evenly spaced from 1e-4 to 0.02 over 1000
  steps, rescaled for other step counts the way Nichol & Dhariwal 2021 (improved DDPM) do.
* ``"cosine"`` -- Nichol & Dhariwal 2021, eq. 17: ``alpha_bar`` follows a squared cosine, which
  destroys information more slowly at the start than the linear schedule does.
* ``"sigmoid"`` -- Chen 2023, "On the importance of noise scheduling for diffusion models",
  Algorithm 1: ``alpha_bar`` follows a rescaled sigmoid; its ``start``, ``end`` and ``tau``
  shift where on the step axis most of the noise is added.

Indices: the diffusion step is ``timestep`` in ``0 .. num_steps - 1``; ``timestep = k`` is the
paper's ``t = k + 1`` (DDPM counts from 1). Frames are ``t``, never the diffusion step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

SCHEDULE_NAMES = ("linear", "cosine", "sigmoid")


def _check_num_steps(num_steps) -> None:
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps must be an int >= 1, got {num_steps!r}")


def _betas_from_alpha_bar(alpha_bar_fn: Callable[[torch.Tensor], torch.Tensor], num_steps: int,
                          max_beta: float) -> torch.Tensor:
    """Discretise a continuous ``alpha_bar(s)``, ``s`` in [0, 1], into ``num_steps`` betas (float64).

    ``beta_k = 1 - alpha_bar((k + 1) / T) / alpha_bar(k / T)`` (Nichol & Dhariwal 2021, section
    3.2), capped at ``max_beta``: near the end ``alpha_bar`` reaches zero and an uncapped ``beta``
    of 1 would make the last step divide by zero.
    """
    if not 0.0 < max_beta <= 1.0:
        raise ValueError(f"max_beta must be in (0, 1], got {max_beta!r}")
    s = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps
    alpha_bar = alpha_bar_fn(s)
    beta = 1.0 - alpha_bar[1:] / alpha_bar[:-1]
    return beta.clamp(max=max_beta)


def linear_beta_schedule(num_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """DDPM's linear betas ``(num_steps,)`` float64 (Ho et al. 2020, section 4).

    ``beta_start`` and ``beta_end`` are the values for 1000 steps. For another step count both
    are multiplied by ``1000 / num_steps`` (improved DDPM's ``get_named_beta_schedule``), so that
    the chain ends about as noisy as DDPM's does. Below 21 steps that pushes ``beta_end`` to 1 or
    more, which is not a variance: use the cosine schedule there.
    """
    _check_num_steps(num_steps)
    if not 0.0 < beta_start <= beta_end:
        raise ValueError(f"need 0 < beta_start <= beta_end, got beta_start={beta_start!r}, beta_end={beta_end!r}")
    scale = 1000.0 / num_steps
    start, end = scale * beta_start, scale * beta_end
    if end >= 1.0:
        raise ValueError(
            f"linear schedule with num_steps={num_steps} scales beta_end to {end:g} (>= 1); "
            f"use num_steps >= {math.floor(1000 * beta_end) + 1} or the cosine schedule"
        )
    return torch.linspace(start, end, num_steps, dtype=torch.float64)


def cosine_beta_schedule(num_steps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Nichol & Dhariwal's cosine betas ``(num_steps,)`` float64 (improved DDPM, eq. 17).

    ``alpha_bar(u) = f(u) / f(0)`` with ``f(u) = cos((u + s) / (1 + s) * pi / 2) ** 2``. The small
    offset ``s`` keeps ``beta`` from being too small near ``u = 0``; ``max_beta`` caps the last
    steps, where ``alpha_bar`` reaches zero.
    """
    _check_num_steps(num_steps)
    if s < 0:
        raise ValueError(f"s must be >= 0, got {s!r}")

    def alpha_bar(u: torch.Tensor) -> torch.Tensor:
        return torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2

    return _betas_from_alpha_bar(alpha_bar, num_steps, max_beta)


def sigmoid_beta_schedule(num_steps: int, start: float = -3.0, end: float = 3.0, tau: float = 1.0,
                          clip_min: float = 1e-9, max_beta: float = 0.999) -> torch.Tensor:
    """Chen's sigmoid betas ``(num_steps,)`` float64 (Chen 2023, Algorithm 1).

    ``alpha_bar(u) = (sigmoid(end / tau) - sigmoid((u (end - start) + start) / tau))
    / (sigmoid(end / tau) - sigmoid(start / tau))``, clipped below at ``clip_min``: it falls from
    1 at ``u = 0`` to 0 at ``u = 1`` along the part ``[start, end]`` of a sigmoid, stretched by the
    temperature ``tau``. The defaults are the paper's ``(-3, 3, 1)``. (This is not the GeoDiff
    "sigmoid" schedule, which shapes ``beta`` rather than ``alpha_bar``.)
    """
    _check_num_steps(num_steps)
    if not start < end:
        raise ValueError(f"need start < end, got start={start!r}, end={end!r}")
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau!r}")
    v_start = torch.sigmoid(torch.tensor(start / tau, dtype=torch.float64))
    v_end = torch.sigmoid(torch.tensor(end / tau, dtype=torch.float64))

    def alpha_bar(u: torch.Tensor) -> torch.Tensor:
        value = (v_end - torch.sigmoid((u * (end - start) + start) / tau)) / (v_end - v_start)
        return value.clamp(min=clip_min, max=1.0)

    return _betas_from_alpha_bar(alpha_bar, num_steps, max_beta)


_BETA_SCHEDULES = {
    "linear": linear_beta_schedule,
    "cosine": cosine_beta_schedule,
    "sigmoid": sigmoid_beta_schedule,
}


def gather(values: torch.Tensor, timestep: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Pick ``values[timestep]`` per sample, shaped to broadcast against ``like``.

    ``values`` ``(num_steps,)``, ``timestep`` ``(b,)`` integers (a Python int or a 0-d tensor is
    used for the whole batch), ``like`` ``(b, ...)`` of any rank. Returns ``(b, 1, ..., 1)`` with
    ``like.ndim`` dimensions, on ``like``'s device and in its dtype, so the same code serves
    points ``(b, 2)``, images ``(b, c, h, w)`` and videos ``(b, t, c, h, w)``.
    """
    if values.ndim != 1:
        raise ValueError(f"values must have shape (num_steps,), got {tuple(values.shape)}")
    if like.ndim < 1:
        raise ValueError("like must have a batch dimension (b, ...), got a 0-d tensor")
    b = like.shape[0]
    if isinstance(timestep, bool):
        raise ValueError(f"timestep must be an int or an integer tensor, got {timestep!r}")
    if isinstance(timestep, int):
        timestep = torch.full((b,), timestep, dtype=torch.long)
    if not isinstance(timestep, torch.Tensor) or timestep.dtype.is_floating_point or timestep.dtype == torch.bool:
        raise ValueError(f"timestep must be an integer tensor of shape (b,), got {timestep!r}")
    if timestep.ndim == 0:
        timestep = timestep.expand(b)
    if timestep.shape != (b,):
        raise ValueError(f"timestep must have shape (b,) = ({b},), got {tuple(timestep.shape)}")
    num_steps = values.shape[0]
    if b > 0 and (int(timestep.min()) < 0 or int(timestep.max()) >= num_steps):
        raise ValueError(
            f"timestep must be in [0, {num_steps - 1}], got values from {int(timestep.min())} to {int(timestep.max())}"
        )
    # Index where the table lives (a CPU schedule serves a GPU batch), then move the b numbers.
    picked = values[timestep.to(values.device)].to(device=like.device, dtype=like.dtype)
    return picked.reshape(b, *([1] * (like.ndim - 1)))  # (b,) -> (b, 1, ..., 1)


def _tensor_field():
    # Tensors compare element-wise, so the generated __eq__ and __repr__ would be useless.
    return field(repr=False, compare=False)


@dataclass(frozen=True, eq=False)
class NoiseSchedule:
    """Every per-step quantity of the forward process, as ``(num_steps,)`` tensors.

    Build one with :meth:`from_name` or :meth:`from_betas`. All quantities are computed in
    float64 from ``beta`` and then cast to ``dtype`` (float32 by default), so that a schedule of
    1000 steps does not accumulate float32 rounding in its cumulative product.

    Attributes (index ``k`` is the paper's step ``t = k + 1``):
        beta: variance added at each step, ``q(x_t | x_{t-1}) = N(sqrt(1 - beta) x_{t-1}, beta)``.
        alpha: ``1 - beta``.
        alpha_bar: ``prod_{s <= t} alpha_s``, so ``q(x_t | x_0) = N(sqrt(alpha_bar) x_0, 1 - alpha_bar)``
            (DDPM eq. 4).
        alpha_bar_prev: ``alpha_bar`` one step earlier, 1 before the first step.
        sqrt_alpha_bar, sqrt_one_minus_alpha_bar: the two coefficients of eq. 4.
        snr: signal-to-noise ratio ``alpha_bar / (1 - alpha_bar)``.
        posterior_variance: ``beta_tilde = beta (1 - alpha_bar_prev) / (1 - alpha_bar)`` (eq. 7);
            0 at the first step, where ``x_0`` is known given ``x_1``.
        posterior_log_variance_clipped: its log, with the first step's 0 replaced by the second
            step's value so that the log stays finite (as improved DDPM does).
        posterior_mean_coef1, posterior_mean_coef2: ``mu_tilde = coef1 * x0 + coef2 * xt`` (eq. 7).
    """

    beta: torch.Tensor = _tensor_field()
    alpha: torch.Tensor = _tensor_field()
    alpha_bar: torch.Tensor = _tensor_field()
    alpha_bar_prev: torch.Tensor = _tensor_field()
    sqrt_alpha_bar: torch.Tensor = _tensor_field()
    sqrt_one_minus_alpha_bar: torch.Tensor = _tensor_field()
    snr: torch.Tensor = _tensor_field()
    posterior_variance: torch.Tensor = _tensor_field()
    posterior_log_variance_clipped: torch.Tensor = _tensor_field()
    posterior_mean_coef1: torch.Tensor = _tensor_field()
    posterior_mean_coef2: torch.Tensor = _tensor_field()

    @classmethod
    def from_betas(cls, beta: torch.Tensor, dtype: torch.dtype = torch.float32,
                   device: torch.device | str | None = None) -> NoiseSchedule:
        """The schedule for the given ``beta`` ``(num_steps,)``, each value in (0, 1]."""
        beta = torch.as_tensor(beta)
        if beta.ndim != 1 or beta.shape[0] < 1:
            raise ValueError(f"beta must have shape (num_steps,) with num_steps >= 1, got {tuple(beta.shape)}")
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating point dtype, got {dtype}")
        beta = beta.detach().to(device="cpu", dtype=torch.float64)
        if not bool(((beta > 0) & (beta <= 1)).all()):
            raise ValueError(f"every beta must be in (0, 1], got values from {beta.min().item():g} "
                             f"to {beta.max().item():g}")
        alpha = 1.0 - beta
        alpha_bar = torch.cumprod(alpha, dim=0)
        alpha_bar_prev = torch.cat([alpha_bar.new_ones(1), alpha_bar[:-1]])
        posterior_variance = beta * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar)
        # The first posterior variance is 0 (x_0 is determined by x_1 and the prediction); borrow
        # the next one so log-variances stay finite, as improved DDPM does. With a single step
        # there is no next one, and beta_0 stands in.
        first = posterior_variance[1:2] if len(beta) > 1 else beta[:1]
        posterior_log_variance_clipped = torch.log(torch.cat([first, posterior_variance[1:]]))
        values = {
            "beta": beta,
            "alpha": alpha,
            "alpha_bar": alpha_bar,
            "alpha_bar_prev": alpha_bar_prev,
            "sqrt_alpha_bar": alpha_bar.sqrt(),
            "sqrt_one_minus_alpha_bar": (1.0 - alpha_bar).sqrt(),
            "snr": alpha_bar / (1.0 - alpha_bar),
            "posterior_variance": posterior_variance,
            "posterior_log_variance_clipped": posterior_log_variance_clipped,
            "posterior_mean_coef1": beta * alpha_bar_prev.sqrt() / (1.0 - alpha_bar),
            "posterior_mean_coef2": (1.0 - alpha_bar_prev) * alpha.sqrt() / (1.0 - alpha_bar),
        }
        return cls(**{name: value.to(device=device, dtype=dtype) for name, value in values.items()})

    @classmethod
    def from_name(cls, name: str, num_steps: int, dtype: torch.dtype = torch.float32,
                  device: torch.device | str | None = None, **kwargs) -> NoiseSchedule:
        """A named schedule: ``"linear"``, ``"cosine"`` or ``"sigmoid"``.

        ``kwargs`` go to the beta function (``linear_beta_schedule``, ``cosine_beta_schedule``,
        ``sigmoid_beta_schedule``), e.g. ``from_name("sigmoid", 1000, start=0, end=3, tau=0.7)``.
        """
        if name not in _BETA_SCHEDULES:
            raise ValueError(f"schedule name must be one of {SCHEDULE_NAMES}, got {name!r}")
        return cls.from_betas(_BETA_SCHEDULES[name](num_steps, **kwargs), dtype=dtype, device=device)

    @property
    def num_steps(self) -> int:
        return self.beta.shape[0]

    @property
    def device(self) -> torch.device:
        return self.beta.device

    @property
    def dtype(self) -> torch.dtype:
        return self.beta.dtype

    def __len__(self) -> int:
        return self.num_steps

    def __repr__(self) -> str:
        return (f"NoiseSchedule(num_steps={self.num_steps}, alpha_bar from {self.alpha_bar[0].item():.4g} "
                f"to {self.alpha_bar[-1].item():.4g}, {self.dtype}, {self.device})")

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> NoiseSchedule:
        """A copy on ``device`` and/or in ``dtype``.

        A new dtype is recomputed from ``beta`` rather than cast, so that a float64 copy satisfies
        identities such as ``sqrt_alpha_bar**2 + sqrt_one_minus_alpha_bar**2 == 1`` to float64
        precision.
        """
        device = self.device if device is None else device
        if dtype is not None and dtype != self.dtype:
            return NoiseSchedule.from_betas(self.beta, dtype=dtype, device=device)
        return NoiseSchedule(**{name: getattr(self, name).to(device) for name in self.__dataclass_fields__})

    def gather(self, values: torch.Tensor | str, timestep: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor:
        """:func:`gather` of ``values`` (a tensor, or the name of one of this schedule's attributes)."""
        if isinstance(values, str):
            if values not in self.__dataclass_fields__:
                raise ValueError(f"values must be one of {tuple(self.__dataclass_fields__)}, got {values!r}")
            values = getattr(self, values)
        return gather(values, timestep, like)
