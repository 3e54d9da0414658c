"""The forward (noising) process, the prediction targets, the training loss and the VLB.

Taught in chapter 06 (diffusion: forward and reverse). Equation numbers refer to Ho et al. 2020,
"Denoising Diffusion Probabilistic Models" (DDPM) unless another paper is named.

Every function works on any shape ``(b, ...)``: points ``(b, 2)``, images ``(b, c, h, w)``,
videos ``(b, t, c, h, w)`` or latents. ``timestep`` is ``(b,)`` integers in
``[0, schedule.num_steps)``; ``timestep = k`` is the paper's ``t = k + 1``.

A denoiser is any callable ``model(xt, timestep)`` or ``model(xt, timestep, cond)`` returning a
tensor shaped like ``xt``. What it predicts is named by ``prediction``:

* ``"eps"`` -- the noise that was added (DDPM),
* ``"x0"`` -- the clean sample,
* ``"v"`` -- the velocity ``sqrt(alpha_bar) eps - sqrt(1 - alpha_bar) x0`` (Salimans & Ho 2022).

:func:`to_x0_and_eps` turns any of the three into the other two, so samplers need not care.

Out of scope for now: the learned reverse variance of Nichol & Dhariwal 2021 (their ``L_hybrid``);
the variational bound here uses the fixed variances of DDPM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from tinyvdm.diffusion.guidance import denoise
from tinyvdm.diffusion.schedules import NoiseSchedule

PREDICTIONS = ("eps", "x0", "v")
WEIGHTINGS = ("simple", "snr", "min_snr")
VARIANCES = ("fixed_small", "fixed_large")


def check_prediction(prediction: str) -> None:
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")


def _check_same_shape(name: str, tensor: torch.Tensor, expected: torch.Tensor) -> None:
    if tensor.shape != expected.shape:
        raise ValueError(f"{name} must have the shape of the sample {tuple(expected.shape)}, got {tuple(tensor.shape)}")


def _check_batched(name: str, x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a tensor of shape (b, ...) with at least 2 dimensions, got {shape}")


def draw_noise(shape, generator: torch.Generator | None = None, device: torch.device | str | None = None,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Standard normal noise of ``shape`` on ``device``, drawn from ``generator`` if given.

    The draw happens on the generator's own device and is then moved, so a CPU generator gives
    the same numbers whether the sample lives on a CPU or a GPU (diffusers' ``randn_tensor`` does
    the same, which is what lets the tests replay its noise).
    """
    if generator is None:
        return torch.randn(shape, device=device, dtype=dtype)
    noise = torch.randn(shape, generator=generator, device=generator.device, dtype=dtype)
    return noise.to(device) if device is not None else noise


def q_sample(schedule: NoiseSchedule, x0: torch.Tensor, timestep: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Jump straight to step ``timestep``: ``xt = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) eps`` (eq. 4).

    ``x0``, ``eps`` ``(b, ...)``; ``timestep`` ``(b,)``. Returns ``xt`` ``(b, ...)``.
    """
    _check_batched("x0", x0)
    _check_same_shape("eps", eps, x0)
    return (schedule.gather("sqrt_alpha_bar", timestep, x0) * x0
            + schedule.gather("sqrt_one_minus_alpha_bar", timestep, x0) * eps)


def q_posterior(schedule: NoiseSchedule, x0: torch.Tensor, xt: torch.Tensor,
                timestep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The forward posterior ``q(x_{t-1} | x_t, x_0) = N(mu_tilde, beta_tilde)`` (eqs. 6-7).

    ``x0``, ``xt`` ``(b, ...)``; ``timestep`` ``(b,)``. Returns ``(mean, variance,
    log_variance_clipped)``, each ``(b, ...)`` (the last two are broadcast views).
    """
    _check_batched("xt", xt)
    _check_same_shape("x0", x0, xt)
    mean = (schedule.gather("posterior_mean_coef1", timestep, xt) * x0
            + schedule.gather("posterior_mean_coef2", timestep, xt) * xt)
    variance = schedule.gather("posterior_variance", timestep, xt).expand_as(xt)
    log_variance = schedule.gather("posterior_log_variance_clipped", timestep, xt).expand_as(xt)
    return mean, variance, log_variance


def predict_x0_from_eps(schedule: NoiseSchedule, xt: torch.Tensor, timestep: torch.Tensor,
                        eps: torch.Tensor) -> torch.Tensor:
    """Invert eq. 4 for ``x0``: ``(xt - sqrt(1 - alpha_bar) eps) / sqrt(alpha_bar)`` (as in eq. 15)."""
    _check_same_shape("eps", eps, xt)
    return ((xt - schedule.gather("sqrt_one_minus_alpha_bar", timestep, xt) * eps)
            / schedule.gather("sqrt_alpha_bar", timestep, xt))


def predict_eps_from_x0(schedule: NoiseSchedule, xt: torch.Tensor, timestep: torch.Tensor,
                        x0: torch.Tensor) -> torch.Tensor:
    """Invert eq. 4 for ``eps``: ``(xt - sqrt(alpha_bar) x0) / sqrt(1 - alpha_bar)``."""
    _check_same_shape("x0", x0, xt)
    return ((xt - schedule.gather("sqrt_alpha_bar", timestep, xt) * x0)
            / schedule.gather("sqrt_one_minus_alpha_bar", timestep, xt))


def v_target(schedule: NoiseSchedule, x0: torch.Tensor, eps: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
    """The velocity ``v = sqrt(alpha_bar) eps - sqrt(1 - alpha_bar) x0`` (Salimans & Ho 2022, section 4).

    Writing ``sqrt(alpha_bar) = cos(phi)``, ``xt`` and ``v`` are ``x0`` and ``eps`` rotated by
    ``phi``, which is why converting between them needs no division.
    """
    _check_same_shape("eps", eps, x0)
    return (schedule.gather("sqrt_alpha_bar", timestep, x0) * eps
            - schedule.gather("sqrt_one_minus_alpha_bar", timestep, x0) * x0)


def predict_x0_from_v(schedule: NoiseSchedule, xt: torch.Tensor, timestep: torch.Tensor,
                      v: torch.Tensor) -> torch.Tensor:
    """``x0 = sqrt(alpha_bar) xt - sqrt(1 - alpha_bar) v`` (the inverse rotation)."""
    _check_same_shape("v", v, xt)
    return (schedule.gather("sqrt_alpha_bar", timestep, xt) * xt
            - schedule.gather("sqrt_one_minus_alpha_bar", timestep, xt) * v)


def predict_eps_from_v(schedule: NoiseSchedule, xt: torch.Tensor, timestep: torch.Tensor,
                       v: torch.Tensor) -> torch.Tensor:
    """``eps = sqrt(1 - alpha_bar) xt + sqrt(alpha_bar) v`` (the inverse rotation)."""
    _check_same_shape("v", v, xt)
    return (schedule.gather("sqrt_one_minus_alpha_bar", timestep, xt) * xt
            + schedule.gather("sqrt_alpha_bar", timestep, xt) * v)


def to_x0_and_eps(schedule: NoiseSchedule, output: torch.Tensor, xt: torch.Tensor, timestep: torch.Tensor,
                  prediction: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Read a denoiser's ``output`` ``(b, ...)`` as ``prediction`` and return ``(x0, eps)``."""
    check_prediction(prediction)
    _check_batched("xt", xt)
    _check_same_shape("model output", output, xt)
    if prediction == "eps":
        return predict_x0_from_eps(schedule, xt, timestep, output), output
    if prediction == "x0":
        return output, predict_eps_from_x0(schedule, xt, timestep, output)
    return predict_x0_from_v(schedule, xt, timestep, output), predict_eps_from_v(schedule, xt, timestep, output)


@torch.no_grad()
def denoise_once(schedule: NoiseSchedule, model, x0: torch.Tensor, step: int, prediction: str = "x0",
                 seed: int = 1) -> torch.Tensor:
    """Noise clean clips ``x0`` to diffusion step ``step`` and return the model's one-call estimate of ``x0``.

    What a denoiser sees of a clip at one noise level, without running a sampler: chapters 08
    and 10 measure motion in these estimates against the dataset's true trajectories. The noise
    is drawn on the CPU from ``seed`` (the same for every model compared); the estimate comes back
    on the CPU, in float32, clipped to the data range ``[-1, 1]``.
    """
    _check_batched("x0", x0)
    if isinstance(step, bool) or not hasattr(step, "__index__") or not 0 <= int(step) < schedule.num_steps:
        raise ValueError(f"step must be an int in 0..{schedule.num_steps - 1}, got {step!r}")
    device = next(model.parameters()).device
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
    timestep = torch.full((len(x0),), int(step), dtype=torch.long)
    xt = q_sample(schedule, x0.cpu().float(), timestep, eps).to(device)
    output = model(xt, timestep.to(device)).float()
    estimate, _ = to_x0_and_eps(schedule, output, xt, timestep.to(device), prediction)
    return estimate.clamp(-1, 1).cpu()


def prediction_target(schedule: NoiseSchedule, x0: torch.Tensor, eps: torch.Tensor, timestep: torch.Tensor,
                      prediction: str) -> torch.Tensor:
    """What a denoiser trained with ``prediction`` should output for this ``(x0, eps, timestep)``."""
    check_prediction(prediction)
    if prediction == "eps":
        return eps
    if prediction == "x0":
        return x0
    return v_target(schedule, x0, eps, timestep)


def loss_weight(schedule: NoiseSchedule, timestep: torch.Tensor, prediction: str = "eps",
                weighting: str = "simple", min_snr_gamma: float = 5.0) -> torch.Tensor:
    """Per-sample weight ``(b,)`` that multiplies the mean squared error of ``prediction``.

    Every weighting is defined on the error of ``x0`` and converted to the prediction's own error,
    using ``|eps_hat - eps|^2 = snr |x0_hat - x0|^2`` and ``|v_hat - v|^2 = (snr + 1) |x0_hat - x0|^2``:

    * ``"simple"``: 1 -- the plain MSE of whatever is predicted (DDPM's ``L_simple`` for eps).
    * ``"snr"``: ``snr`` on the x0 error, i.e. the eps MSE whatever the parametrisation, so eps,
      x0 and v networks optimise the same objective.
    * ``"min_snr"``: ``min(snr, gamma)`` on the x0 error (Hang et al. 2023, Min-SNR-gamma): like
      ``"snr"`` but without letting the nearly clean steps dominate.

    Written so each weight stays finite even where ``snr`` is 0 or very large.
    """
    check_prediction(prediction)
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    if min_snr_gamma <= 0:
        raise ValueError(f"min_snr_gamma must be > 0, got {min_snr_gamma!r}")
    if isinstance(timestep, int) or not isinstance(timestep, torch.Tensor) or timestep.ndim != 1:
        raise ValueError(f"timestep must be an integer tensor of shape (b,), got {timestep!r}")
    snr = schedule.gather("snr", timestep, timestep.new_empty(timestep.shape, dtype=schedule.dtype))
    if weighting == "simple":
        return torch.ones_like(snr)
    if weighting == "snr":
        if prediction == "eps":
            return torch.ones_like(snr)
        return snr if prediction == "x0" else snr / (snr + 1.0)
    clipped = snr.clamp(max=min_snr_gamma)
    if prediction == "eps":
        # min(snr, gamma) / snr, written as min(1, gamma / snr) so that snr = 0 gives 1, not 0/0.
        return (min_snr_gamma / snr).clamp(max=1.0)
    return clipped if prediction == "x0" else clipped / (snr + 1.0)


def diffusion_loss(schedule: NoiseSchedule, model, x0: torch.Tensor, timestep: torch.Tensor | None = None,
                   prediction: str = "eps", weighting: str = "simple", cond=None,
                   generator: torch.Generator | None = None, min_snr_gamma: float = 5.0,
                   reduction: str = "mean", mask: torch.Tensor | None = None,
                   known_frames: int = 0) -> torch.Tensor:
    """The denoising loss (DDPM Algorithm 1; ``L_simple`` is eq. 14).

    Draws ``timestep`` uniformly (unless given: ``(b,)`` or one int for all) and ``eps`` from ``generator``, noises
    ``x0`` ``(b, ...)`` with eq. 4, asks ``model(xt, timestep[, cond])`` for ``prediction`` and
    returns the weighted mean squared error (see :func:`loss_weight`). ``reduction="none"``
    returns the per-sample losses ``(b,)`` instead of their mean, e.g. to plot loss against
    ``timestep``.

    ``mask`` (bool, broadcastable to ``x0``, e.g. ``(b, t, 1, h, w)`` object silhouettes) averages
    each sample's squared error over the masked elements only: on clips that are mostly empty
    background, the error on the objects is what tells two denoisers apart.

    ``known_frames`` = ``k`` trains a *continuation* model on clips ``(b, t, c, h, w)``: the first
    ``k`` frames go in clean (given, not noised) and the loss ignores them, so the network learns
    to denoise frames ``k ..`` with the clean start of the clip in view, if its layers let those
    frames see the start (chapter 08 compares attention patterns this way).
    """
    _check_batched("x0", x0)
    check_prediction(prediction)
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool tensor, got {getattr(mask, 'dtype', type(mask).__name__)}")
        try:
            mask = torch.broadcast_to(mask.to(x0.device), x0.shape)
        except RuntimeError:
            raise ValueError(f"mask must broadcast to x0's shape {tuple(x0.shape)}, got {tuple(mask.shape)}") from None
        if not mask.flatten(1).any(dim=1).all():
            raise ValueError("mask must select at least one element of every sample")
    if known_frames:
        if x0.ndim != 5 or isinstance(known_frames, bool) or not isinstance(known_frames, int) \
                or not 0 < known_frames < x0.shape[1]:
            raise ValueError(f"known_frames must be an int in [0, t) for clips (b, t, c, h, w), got "
                             f"known_frames={known_frames!r} for x0 of shape {tuple(x0.shape)}")
        unknown = torch.ones_like(x0, dtype=torch.bool)  # (b, t, c, h, w)
        unknown[:, :known_frames] = False
        mask = unknown if mask is None else mask & unknown
    b = x0.shape[0]
    if timestep is None:
        rng_device = generator.device if generator is not None else x0.device
        timestep = torch.randint(0, schedule.num_steps, (b,), generator=generator, device=rng_device).to(x0.device)
    elif isinstance(timestep, int) and not isinstance(timestep, bool):
        timestep = torch.full((b,), timestep, dtype=torch.long, device=x0.device)
    eps = draw_noise(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    xt = q_sample(schedule, x0, timestep, eps)
    if known_frames:
        xt = torch.cat([x0[:, :known_frames], xt[:, known_frames:]], dim=1)  # the start of the clip, clean
    output = denoise(model, xt, timestep, cond)
    target = prediction_target(schedule, x0, eps, timestep, prediction)
    squared = (output - target).pow(2)
    if mask is None:
        per_sample = squared.flatten(1).mean(dim=1)  # (b, ...) -> (b,)
    else:
        per_sample = (squared * mask).flatten(1).sum(dim=1) / mask.flatten(1).sum(dim=1)  # (b,)
    losses = loss_weight(schedule, timestep, prediction, weighting, min_snr_gamma).to(per_sample) * per_sample
    return losses.mean() if reduction == "mean" else losses


# ---------------------------------------------------------------------------------------------
# The variational bound (DDPM eq. 5), in bits per dimension.


def normal_kl(mean1: torch.Tensor, logvar1: torch.Tensor, mean2: torch.Tensor, logvar2: torch.Tensor) -> torch.Tensor:
    """``KL(N(mean1, exp(logvar1)) || N(mean2, exp(logvar2)))`` element-wise, in nats (broadcasts)."""
    return 0.5 * (logvar2 - logvar1 + torch.exp(logvar1 - logvar2)
                  + (mean1 - mean2) ** 2 * torch.exp(-logvar2) - 1.0)


def _standard_normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


def discretized_gaussian_log_likelihood(x0: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """``log p(x0)`` per element, in nats, for data on 256 levels in ``[-1, 1]`` (DDPM section 3.3, eq. 13).

    Each value owns the bin of width ``2 / 255`` around it; the probability of a bin is the mass
    a Gaussian ``N(mean, exp(log_scale)**2)`` puts on it. The first and last bins reach out to
    minus and plus infinity, so the 256 probabilities sum to 1.
    """
    if not (x0.shape == mean.shape == log_scale.shape):
        raise ValueError(f"x0, mean and log_scale must have one shape, got {tuple(x0.shape)}, "
                         f"{tuple(mean.shape)} and {tuple(log_scale.shape)}")
    if x0.numel() and (x0.min() < -1 - 1e-6 or x0.max() > 1 + 1e-6):
        raise ValueError(f"x0 must lie in [-1, 1], got values from {x0.min().item():g} to {x0.max().item():g}")
    centred = x0 - mean
    inv_scale = torch.exp(-log_scale)
    half_bin = 1.0 / 255.0
    cdf_plus = _standard_normal_cdf(inv_scale * (centred + half_bin))
    cdf_minus = _standard_normal_cdf(inv_scale * (centred - half_bin))
    # Floors keep the logs finite where the Gaussian puts (numerically) no mass on a bin.
    log_cdf_plus = torch.log(cdf_plus.clamp(min=1e-12))
    log_one_minus_cdf_minus = torch.log((1.0 - cdf_minus).clamp(min=1e-12))
    log_bin = torch.log((cdf_plus - cdf_minus).clamp(min=1e-12))
    return torch.where(x0 < -0.999, log_cdf_plus, torch.where(x0 > 0.999, log_one_minus_cdf_minus, log_bin))


def _mean_bits(nats: torch.Tensor) -> torch.Tensor:
    """Per-element nats ``(b, ...)`` -> bits per dimension ``(b,)``."""
    return nats.flatten(1).mean(dim=1) / math.log(2.0)


def p_mean_variance(schedule: NoiseSchedule, model_output: torch.Tensor, xt: torch.Tensor, timestep: torch.Tensor,
                    prediction: str = "eps", variance: str = "fixed_small",
                    clip_x0: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The reverse step ``p(x_{t-1} | x_t) = N(mean, exp(log_variance))`` from a model's output.

    The mean is the posterior mean (eq. 7) at the predicted ``x0``; the variance is fixed
    (section 3.2): ``"fixed_small"`` is ``beta_tilde``, ``"fixed_large"`` is ``beta`` (with the
    first step's ``beta_tilde`` borrowed from the second, as improved DDPM does, for a better
    decoder likelihood). Returns ``(mean, log_variance, x0)``, each ``(b, ...)``.
    """
    if variance not in VARIANCES:
        raise ValueError(f"variance must be one of {VARIANCES}, got {variance!r}")
    x0, _ = to_x0_and_eps(schedule, model_output, xt, timestep, prediction)
    if clip_x0:
        x0 = x0.clamp(-1.0, 1.0)
    mean, _, log_variance = q_posterior(schedule, x0, xt, timestep)
    if variance == "fixed_large":
        large = schedule.beta
        if schedule.num_steps > 1:
            large = torch.cat([schedule.posterior_variance[1:2], schedule.beta[1:]])
        log_variance = schedule.gather(torch.log(large), timestep, xt).expand_as(xt)
    return mean, log_variance, x0


@dataclass
class VLBTerms:
    """The terms of the variational bound (DDPM eq. 5), in bits per dimension, per sample.

    Attributes:
        terms: ``(b, num_steps)``; column ``k`` is the paper's ``L_k``: column 0 is the decoder
            term ``L_0 = -log p(x_0 | x_1)``, column ``k >= 1`` is
            ``L_k = KL(q(x_k | x_{k+1}, x_0) || p(x_k | x_{k+1}))`` (diffusion step ``timestep = k``).
        prior: ``(b,)``, ``L_T = KL(q(x_T | x_0) || N(0, I))``; no parameters, close to 0.
        total: ``(b,)``, the whole bound: ``prior + terms.sum(1)``.
        eps_mse: ``(b, num_steps)``, the squared error of the implied eps at each step, so that a
            chapter can set ``L_simple`` beside the bound.
    """

    terms: torch.Tensor
    prior: torch.Tensor
    total: torch.Tensor
    eps_mse: torch.Tensor


def prior_bpd(schedule: NoiseSchedule, x0: torch.Tensor) -> torch.Tensor:
    """``L_T`` in bits per dimension ``(b,)``: how far ``q(x_T | x_0)`` is from ``N(0, I)``."""
    _check_batched("x0", x0)
    last = torch.full((x0.shape[0],), schedule.num_steps - 1, dtype=torch.long, device=x0.device)
    mean = schedule.gather("sqrt_alpha_bar", last, x0) * x0
    log_variance = torch.log1p(-schedule.gather("alpha_bar", last, x0)).expand_as(x0)
    return _mean_bits(normal_kl(mean, log_variance, torch.zeros_like(mean), torch.zeros_like(mean)))


@torch.no_grad()
def vlb_terms(schedule: NoiseSchedule, model, x0: torch.Tensor, prediction: str = "eps",
              variance: str = "fixed_small", cond=None, clip_x0: bool = True,
              generator: torch.Generator | None = None) -> VLBTerms:
    """Every term of the variational bound for data ``x0`` ``(b, ...)`` in ``[-1, 1]`` (256 levels).

    Runs the model once per diffusion step (``num_steps`` calls), each at a fresh ``xt ~ q(xt | x0)``
    drawn from ``generator``: a one-sample estimate of each term, as improved DDPM's
    ``calc_bpd_loop`` does. See :class:`VLBTerms` for what comes back.
    """
    _check_batched("x0", x0)
    check_prediction(prediction)
    b = x0.shape[0]
    terms, eps_mse = [], []
    for k in range(schedule.num_steps):
        timestep = torch.full((b,), k, dtype=torch.long, device=x0.device)
        eps = draw_noise(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        xt = q_sample(schedule, x0, timestep, eps)
        output = denoise(model, xt, timestep, cond)
        mean, log_variance, _ = p_mean_variance(schedule, output, xt, timestep, prediction, variance, clip_x0)
        if k == 0:
            nats = -discretized_gaussian_log_likelihood(x0, mean, 0.5 * log_variance)
        else:
            true_mean, _, true_log_variance = q_posterior(schedule, x0, xt, timestep)
            nats = normal_kl(true_mean, true_log_variance, mean, log_variance)
        terms.append(_mean_bits(nats))
        _, eps_hat = to_x0_and_eps(schedule, output, xt, timestep, prediction)
        eps_mse.append((eps_hat - eps).pow(2).flatten(1).mean(dim=1))
    terms = torch.stack(terms, dim=1)  # num_steps x (b,) -> (b, num_steps)
    prior = prior_bpd(schedule, x0)
    return VLBTerms(terms=terms, prior=prior, total=prior + terms.sum(dim=1), eps_mse=torch.stack(eps_mse, dim=1))
