"""Right and wrong answers to the exercises of chapter 02 (read by tests/test_exercises.py)."""

import math

import torch


def reparameterise_right(mean, logvar, eps):
    return mean + torch.exp(0.5 * logvar) * eps


def reparameterise_variance(mean, logvar, eps):  # scales eps by the variance, not the std
    return mean + torch.exp(logvar) * eps


def reparameterise_logvar_as_std(mean, logvar, eps):  # treats logvar as if it were the std
    return mean + logvar * eps


def reparameterise_detached(mean, logvar, eps):  # right values, but no gradient reaches the encoder
    return (mean + torch.exp(0.5 * logvar) * eps).detach()


def reparameterise_sampled(mean, logvar, eps):  # torch.normal: a fresh draw, not differentiable
    return torch.normal(mean.detach(), torch.exp(0.5 * logvar.detach()))


def reparameterise_eps_ignored_in_grad(mean, logvar, eps):  # std computed from a detached logvar
    return mean + torch.exp(0.5 * logvar.detach()) * eps


def gaussian_kl_right(mean, logvar):
    return 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).flatten(1).sum(1)


def kl_no_half(mean, logvar):
    return (mean.pow(2) + logvar.exp() - 1 - logvar).flatten(1).sum(1)


def kl_std_for_var(mean, logvar):  # exp(logvar / 2) where the variance belongs
    return 0.5 * (mean.pow(2) + (0.5 * logvar).exp() - 1 - logvar).flatten(1).sum(1)


def kl_plus_logvar(mean, logvar):  # the sign of the log-variance term flipped
    return 0.5 * (mean.pow(2) + logvar.exp() - 1 + logvar).flatten(1).sum(1)


def kl_mean_over_units(mean, logvar):  # averages over the latent units instead of summing
    return 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).flatten(1).mean(1)


def kl_whole_batch(mean, logvar):  # one number for the batch, not one per sample
    return 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum()


def kl_forgets_one(mean, logvar):  # without the -1 the prior itself has a KL of 1/2 per unit
    return 0.5 * (mean.pow(2) + logvar.exp() - logvar).flatten(1).sum(1)


def negative_elbo_right(x, recon, mean, logvar, decoder_std, beta=1.0):
    dims = x[0].numel()
    nll = (x - recon).pow(2).flatten(1).sum(1) / (2 * decoder_std**2)
    nll = nll + dims * (math.log(decoder_std) + 0.5 * math.log(2 * math.pi))
    return nll + beta * gaussian_kl_right(mean, logvar)


def elbo_without_constant(x, recon, mean, logvar, decoder_std, beta=1.0):  # drops the normaliser
    nll = (x - recon).pow(2).flatten(1).sum(1) / (2 * decoder_std**2)
    return nll + beta * gaussian_kl_right(mean, logvar)


def elbo_ignores_beta(x, recon, mean, logvar, decoder_std, beta=1.0):
    return negative_elbo_right(x, recon, mean, logvar, decoder_std, 1.0)


def elbo_std_not_squared(x, recon, mean, logvar, decoder_std, beta=1.0):  # divides by 2 std, not 2 std^2
    dims = x[0].numel()
    nll = (x - recon).pow(2).flatten(1).sum(1) / (2 * decoder_std)
    nll = nll + dims * (math.log(decoder_std) + 0.5 * math.log(2 * math.pi))
    return nll + beta * gaussian_kl_right(mean, logvar)


def elbo_kl_subtracted(x, recon, mean, logvar, decoder_std, beta=1.0):  # the ELBO's sign mixed up
    return negative_elbo_right(x, recon, mean, logvar, decoder_std, 0.0) - beta * gaussian_kl_right(mean, logvar)


def elbo_mean_squared_error(x, recon, mean, logvar, decoder_std, beta=1.0):  # per-pixel mean, not the sum
    nll = (x - recon).pow(2).flatten(1).mean(1) / (2 * decoder_std**2)
    nll = nll + math.log(decoder_std) + 0.5 * math.log(2 * math.pi)
    return nll + beta * gaussian_kl_right(mean, logvar)


RIGHT = {
    "02.reparameterise": reparameterise_right,
    "02.gaussian_kl": gaussian_kl_right,
    "02.negative_elbo": negative_elbo_right,
}

WRONG = {
    "02.reparameterise": [reparameterise_variance, reparameterise_logvar_as_std, reparameterise_detached,
                          reparameterise_sampled, reparameterise_eps_ignored_in_grad],
    "02.gaussian_kl": [kl_no_half, kl_std_for_var, kl_plus_logvar, kl_mean_over_units, kl_whole_batch,
                       kl_forgets_one],
    "02.negative_elbo": [elbo_without_constant, elbo_ignores_beta, elbo_std_not_squared, elbo_kl_subtracted,
                         elbo_mean_squared_error],
}
