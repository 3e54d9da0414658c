"""Right and wrong answers to the exercises of chapter 03 (read by tests/test_exercises.py)."""

import torch
import torch.nn.functional as F


def discriminator_loss_right(real, fake, kind):
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def discriminator_loss_swapped(real, fake, kind):  # real and fake trade places: D learns the opposite
    return discriminator_loss_right(fake, real, kind)


def discriminator_loss_no_margin(real, fake, kind):  # hinge without the relu: the WGAN critic's loss
    if kind == "hinge":
        return (1 - real).mean() + (1 + fake).mean()
    return discriminator_loss_right(real, fake, kind)


def discriminator_loss_summed(real, fake, kind):  # sums: the loss grows with the batch
    if kind == "hinge":
        return F.relu(1 - real).sum() + F.relu(1 + fake).sum()
    return F.softplus(-real).sum() + F.softplus(fake).sum()


def discriminator_loss_log_sigmoid(real, fake, kind):  # log sigmoid without the minus: maximises the error
    if kind == "hinge":
        return discriminator_loss_right(real, fake, kind)
    return F.logsigmoid(real).mean() + F.logsigmoid(-fake).mean()


def discriminator_loss_one_margin(real, fake, kind):  # margin 0 instead of 1
    if kind == "hinge":
        return F.relu(-real).mean() + F.relu(fake).mean()
    return discriminator_loss_right(real, fake, kind)


def _input_gradient(discriminator, real, create_graph=True):
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(real).sum(), real, create_graph=create_graph)
    return grad


def r1_penalty_right(discriminator, real):
    grad = _input_gradient(discriminator, real)
    return grad.pow(2).flatten(1).sum(1).mean()


def r1_penalty_detached(discriminator, real):  # create_graph=False: right value, D never learns from it
    grad = _input_gradient(discriminator, real, create_graph=False)
    return grad.pow(2).flatten(1).sum(1).mean()


def r1_penalty_norm(discriminator, real):  # the norm, not its square
    grad = _input_gradient(discriminator, real)
    return grad.flatten(1).norm(dim=1).mean()


def r1_penalty_mean_logit(discriminator, real):  # gradient of the mean logit: every clip's gradient / b
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(real).mean(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def r1_penalty_summed(discriminator, real):  # a sum over the batch, not a mean
    grad = _input_gradient(discriminator, real)
    return grad.pow(2).sum()


def r1_penalty_with_gamma(discriminator, real):  # gamma / 2 with gamma = 10 belongs to the caller
    return 5.0 * r1_penalty_right(discriminator, real)


def spectral_norm_step_right(weight, v):
    matrix = weight.reshape(weight.shape[0], -1)
    u = F.normalize(matrix @ v, dim=0)
    v = F.normalize(matrix.T @ u, dim=0)
    return u, v, torch.dot(u, matrix @ v)


def spectral_norm_step_old_v(weight, v):  # sigma from the old v
    matrix = weight.reshape(weight.shape[0], -1)
    u = F.normalize(matrix @ v, dim=0)
    return u, F.normalize(matrix.T @ u, dim=0), torch.dot(u, matrix @ v)


def spectral_norm_step_unnormalised(weight, v):  # forgets to normalise u
    matrix = weight.reshape(weight.shape[0], -1)
    u = matrix @ v
    v = F.normalize(matrix.T @ u, dim=0)
    return u, v, torch.dot(u, matrix @ v)


def spectral_norm_step_frobenius(weight, v):  # the Frobenius norm is not the largest singular value
    matrix = weight.reshape(weight.shape[0], -1)
    u = F.normalize(matrix @ v, dim=0)
    v = F.normalize(matrix.T @ u, dim=0)
    return u, v, matrix.norm()


def spectral_norm_step_columns(weight, v):  # flattens the kernel with the output axis last
    matrix = weight.reshape(-1, weight.shape[0]).T
    u = F.normalize(matrix @ v, dim=0)
    v = F.normalize(matrix.T @ u, dim=0)
    return u, v, torch.dot(u, matrix @ v)


RIGHT = {
    "03.discriminator_loss": discriminator_loss_right,
    "03.r1_penalty": r1_penalty_right,
    "03.spectral_norm_step": spectral_norm_step_right,
}
WRONG = {
    "03.discriminator_loss": [discriminator_loss_swapped, discriminator_loss_no_margin, discriminator_loss_summed,
                              discriminator_loss_log_sigmoid, discriminator_loss_one_margin],
    "03.r1_penalty": [r1_penalty_detached, r1_penalty_norm, r1_penalty_mean_logit, r1_penalty_summed,
                      r1_penalty_with_gamma],
    "03.spectral_norm_step": [spectral_norm_step_old_v, spectral_norm_step_unnormalised, spectral_norm_step_frobenius,
                              spectral_norm_step_columns],
}
