"""Right and wrong answers to the exercises of chapter 06 (read by tests/test_exercises.py).

The wrong ones are the mistakes people make when they first write DDPM: a forgotten square
root, ``alpha`` and ``alpha_bar`` confused, the step index off by one, noise added at the last
step, the wrong variance, the step's coefficient broadcast over frames instead of samples.
"""

import torch


def _at(values, timestep):
    """values[timestep] shaped (b, 1, 1, 1, 1) to broadcast over (b, t, c, h, w)."""
    return values[timestep].view(-1, 1, 1, 1, 1)


def _alpha_bar_prev(alpha_bar):
    return torch.cat([alpha_bar.new_ones(1), alpha_bar[:-1]])


# ---- q_sample --------------------------------------------------------------------------------


def q_sample_right(x0, timestep, eps, alpha_bar):
    a = _at(alpha_bar, timestep)
    return a.sqrt() * x0 + (1 - a).sqrt() * eps


def q_sample_no_sqrt(x0, timestep, eps, alpha_bar):  # variances used as standard deviations
    a = _at(alpha_bar, timestep)
    return a * x0 + (1 - a) * eps


def q_sample_noise_no_sqrt(x0, timestep, eps, alpha_bar):  # sqrt on the signal only
    a = _at(alpha_bar, timestep)
    return a.sqrt() * x0 + (1 - a) * eps


def q_sample_swapped(x0, timestep, eps, alpha_bar):  # coefficients exchanged
    a = _at(alpha_bar, timestep)
    return (1 - a).sqrt() * x0 + a.sqrt() * eps


def q_sample_off_by_one(x0, timestep, eps, alpha_bar):  # counts steps from 1, as the paper does
    a = _at(alpha_bar, timestep - 1)
    return a.sqrt() * x0 + (1 - a).sqrt() * eps


def q_sample_frames_axis(x0, timestep, eps, alpha_bar):  # step broadcast over frames, not samples
    a = alpha_bar[timestep].view(1, -1, 1, 1, 1)
    return a.sqrt() * x0 + (1 - a).sqrt() * eps


def q_sample_one_step_for_all(x0, timestep, eps, alpha_bar):  # the first sample's step for the batch
    a = alpha_bar[timestep[0]]
    return a.sqrt() * x0 + (1 - a).sqrt() * eps


# ---- posterior_mean --------------------------------------------------------------------------


def posterior_mean_right(x0, xt, timestep, beta, alpha, alpha_bar):
    prev = _at(_alpha_bar_prev(alpha_bar), timestep)
    a_bar, b, a = _at(alpha_bar, timestep), _at(beta, timestep), _at(alpha, timestep)
    return (b * prev.sqrt() / (1 - a_bar)) * x0 + ((1 - prev) * a.sqrt() / (1 - a_bar)) * xt


def posterior_mean_wraps_at_zero(x0, xt, timestep, beta, alpha, alpha_bar):
    # alpha_bar[timestep - 1] is alpha_bar_prev everywhere except step 0, where index -1 is the
    # LAST step instead of 1.
    prev = _at(alpha_bar, timestep - 1)
    a_bar, b, a = _at(alpha_bar, timestep), _at(beta, timestep), _at(alpha, timestep)
    return (b * prev.sqrt() / (1 - a_bar)) * x0 + ((1 - prev) * a.sqrt() / (1 - a_bar)) * xt


def posterior_mean_alpha_bar_for_alpha(x0, xt, timestep, beta, alpha, alpha_bar):
    prev = _at(_alpha_bar_prev(alpha_bar), timestep)
    a_bar, b = _at(alpha_bar, timestep), _at(beta, timestep)
    return (b * prev.sqrt() / (1 - a_bar)) * x0 + ((1 - prev) * a_bar.sqrt() / (1 - a_bar)) * xt


def posterior_mean_no_sqrt(x0, xt, timestep, beta, alpha, alpha_bar):
    prev = _at(_alpha_bar_prev(alpha_bar), timestep)
    a_bar, b, a = _at(alpha_bar, timestep), _at(beta, timestep), _at(alpha, timestep)
    return (b * prev / (1 - a_bar)) * x0 + ((1 - prev) * a / (1 - a_bar)) * xt


def posterior_mean_alpha_bar_not_prev(x0, xt, timestep, beta, alpha, alpha_bar):  # prev forgotten
    a_bar, b, a = _at(alpha_bar, timestep), _at(beta, timestep), _at(alpha, timestep)
    return (b * a_bar.sqrt() / (1 - a_bar)) * x0 + ((1 - a_bar) * a.sqrt() / (1 - a_bar)) * xt


def posterior_mean_frames_axis(x0, xt, timestep, beta, alpha, alpha_bar):
    def at(values):
        return values[timestep].view(1, -1, 1, 1, 1)

    prev, a_bar, b, a = at(_alpha_bar_prev(alpha_bar)), at(alpha_bar), at(beta), at(alpha)
    return (b * prev.sqrt() / (1 - a_bar)) * x0 + ((1 - prev) * a.sqrt() / (1 - a_bar)) * xt


# ---- ddpm_step -------------------------------------------------------------------------------


def _posterior_variance(timestep, beta, alpha_bar):
    prev = _at(_alpha_bar_prev(alpha_bar), timestep)
    return _at(beta, timestep) * (1 - prev) / (1 - _at(alpha_bar, timestep))


def ddpm_step_right(xt, eps_pred, timestep, noise, beta, alpha, alpha_bar):
    # eq. 11: the posterior mean at the x0 implied by eps_pred, written directly in eps
    mean = (xt - _at(beta, timestep) / (1 - _at(alpha_bar, timestep)).sqrt() * eps_pred) / _at(alpha, timestep).sqrt()
    keep_noise = (timestep > 0).to(xt.dtype).view(-1, 1, 1, 1, 1)
    return mean + keep_noise * _posterior_variance(timestep, beta, alpha_bar).sqrt() * noise


def ddpm_step_via_x0(xt, eps_pred, timestep, noise, beta, alpha, alpha_bar):  # also right
    a_bar = _at(alpha_bar, timestep)
    x0 = (xt - (1 - a_bar).sqrt() * eps_pred) / a_bar.sqrt()
    mean = posterior_mean_right(x0, xt, timestep, beta, alpha, alpha_bar)
    sigma = torch.where(_at(timestep, torch.arange(len(timestep))) > 0,
                        _posterior_variance(timestep, beta, alpha_bar).sqrt(), torch.zeros_like(a_bar))
    return mean + sigma * noise


def ddpm_step_noise_at_zero(xt, eps_pred, timestep, noise, beta, alpha, alpha_bar):
    mean = (xt - _at(beta, timestep) / (1 - _at(alpha_bar, timestep)).sqrt() * eps_pred) / _at(alpha, timestep).sqrt()
    sigma = _posterior_variance(timestep, beta, alpha_bar).sqrt()
    # posterior variance is exactly 0 at step 0, so use beta there as many first attempts do
    sigma = torch.where(sigma > 0, sigma, _at(beta, timestep).sqrt())
    return mean + sigma * noise


def ddpm_step_beta_variance(xt, eps_pred, timestep, noise, beta, alpha, alpha_bar):
    # sigma^2 = beta: DDPM's other fixed choice, but this exercise asks for the posterior variance
    mean = (xt - _at(beta, timestep) / (1 - _at(alpha_bar, timestep)).sqrt() * eps_pred) / _at(alpha, timestep).sqrt()
    keep_noise = (timestep > 0).to(xt.dtype).view(-1, 1, 1, 1, 1)
    return mean + keep_noise * _at(beta, timestep).sqrt() * noise


def ddpm_step_variance_as_std(xt, eps_pred, timestep, noise, beta, alpha, alpha_bar):
    mean = (xt - _at(beta, timestep) / (1 - _at(alpha_bar, timestep)).sqrt() * eps_pred) / _at(alpha, timestep).sqrt()
    keep_noise = (timestep > 0).to(xt.dtype).view(-1, 1, 1, 1, 1)
    return mean + keep_noise * _posterior_variance(timestep, beta, alpha_bar) * noise


def ddpm_step_alpha_bar_for_alpha(xt, eps_pred, timestep, noise, beta, alpha, alpha_bar):
    a_bar = _at(alpha_bar, timestep)
    mean = (xt - _at(beta, timestep) / (1 - a_bar).sqrt() * eps_pred) / a_bar.sqrt()
    keep_noise = (timestep > 0).to(xt.dtype).view(-1, 1, 1, 1, 1)
    return mean + keep_noise * _posterior_variance(timestep, beta, alpha_bar).sqrt() * noise


def ddpm_step_no_noise_ever(xt, eps_pred, timestep, noise, beta, alpha, alpha_bar):  # the mean alone
    return (xt - _at(beta, timestep) / (1 - _at(alpha_bar, timestep)).sqrt() * eps_pred) / _at(alpha, timestep).sqrt()


def ddpm_step_off_by_one(xt, eps_pred, timestep, noise, beta, alpha, alpha_bar):  # paper's t = k + 1 misread
    return ddpm_step_right(xt, eps_pred, (timestep - 1).clamp(min=0), noise, beta, alpha, alpha_bar)


RIGHT = {
    "06.q_sample": q_sample_right,
    "06.posterior_mean": posterior_mean_right,
    "06.ddpm_step": ddpm_step_right,
}

WRONG = {
    "06.q_sample": [q_sample_no_sqrt, q_sample_noise_no_sqrt, q_sample_swapped, q_sample_off_by_one,
                    q_sample_frames_axis, q_sample_one_step_for_all],
    "06.posterior_mean": [posterior_mean_wraps_at_zero, posterior_mean_alpha_bar_for_alpha, posterior_mean_no_sqrt,
                          posterior_mean_alpha_bar_not_prev, posterior_mean_frames_axis],
    "06.ddpm_step": [ddpm_step_noise_at_zero, ddpm_step_beta_variance, ddpm_step_variance_as_std,
                     ddpm_step_alpha_bar_for_alpha, ddpm_step_no_noise_ever, ddpm_step_off_by_one],
}
