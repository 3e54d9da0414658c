# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 06 — Diffusion: forward and reverse
#
# **FAQ questions answered here**
#
# - **Q6.** In a few words, what is a diffusion model?
# - **Q19.** How do video diffusion models differ from the video generators that came before
#   them? (This chapter measures the part about *many steps versus one*; chapter 01 sets
#   diffusion beside GANs, VAEs and autoregressive models.)
# - **Q21.** Walk through the denoising process of a video diffusion model. (The FAQ answers
#   with seven points; each one is checked in code below, and two of them are corrected.)
#
# A diffusion model is two processes over the same chain of noise levels. The **forward**
# process is fixed and needs no learning: it adds a little Gaussian noise at each of `T` steps
# until nothing of the data is left. The **reverse** process is learned: a network that, shown a
# noisy sample and its step, says what noise is in it; a sampler uses that to walk the chain
# backwards from pure noise to a new sample. This chapter builds both on 2-D points first,
# where a scatter plot shows everything, then on real clips.

# %% [markdown]
# ## Set-up: the run profile
#
# Every size in this chapter comes from the run profile (`TINYVDM_PROFILE`): `smoke` proves the
# cells run (CI), `cpu` gives the results the text describes on a laptop in a few minutes, `gpu`
# is bigger. They are all set in the next cell and nowhere else.

# %%
import inspect
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from torch.utils.data import TensorDataset

from tinyvdm import get_profile, seed_everything
from tinyvdm.data import BouncingShapes, toy2d
from tinyvdm.diffusion import (
    SCHEDULE_NAMES,
    DDIMSampler,
    DDPMSampler,
    NoiseSchedule,
    diffusion_loss,
    p_mean_variance,
    predict_eps_from_v,
    predict_eps_from_x0,
    predict_x0_from_eps,
    predict_x0_from_v,
    prediction_target,
    prior_bpd,
    q_posterior,
    q_sample,
    to_x0_and_eps,
    v_target,
    vlb_terms,
)
from tinyvdm.models.mlp import MLPDenoiser
from tinyvdm.models.unet import UNet
from tinyvdm.train import Trainer, TrainConfig
from tinyvdm.viz import NoiseScheduleExplorer, frame_grid, output_dir, savefig

profile = get_profile()
seed_everything(0)
CHAPTER = "06_diffusion_forward_reverse"
TOY = "gaussians8"  # eight Gaussian blobs on a circle: known modes, so quality is a number
SIZES = dict(
    toy_num_steps=profile.pick(smoke=50, cpu=200, gpu=1000),  # T of the toy chains
    toy_points=profile.pick(smoke=2048, cpu=20000, gpu=50000),
    toy_train_steps=profile.pick(smoke=40, cpu=1200, gpu=4000),
    toy_batch=profile.pick(smoke=128, cpu=512, gpu=1024),
    toy_width=profile.pick(smoke=32, cpu=64, gpu=128),
    toy_samples=profile.pick(smoke=200, cpu=1000, gpu=4000),
    clip_frames=8,
    clip_size=profile.pick(smoke=16, cpu=16, gpu=32),
    video_num_steps=profile.pick(smoke=20, cpu=100, gpu=1000),  # T of the video model (VLB costs T calls)
    video_clips=profile.pick(smoke=32, cpu=512, gpu=4096),
    video_train_steps=profile.pick(smoke=4, cpu=150, gpu=3000),
    video_batch=profile.pick(smoke=4, cpu=8, gpu=32),
    vlb_clips=profile.pick(smoke=2, cpu=4, gpu=32),
)
print(profile, SIZES)
chapter_start = time.perf_counter()

# %% [markdown]
# ## Q6. What a diffusion model is
#
# The FAQ's answer: a generative model, inspired by non-equilibrium thermodynamics, that adds
# noise to data step by step and learns to undo it, so that it can build samples out of noise.
# That is right as far as it goes (the thermodynamics is Sohl-Dickstein et al. 2015, the recipe
# everyone uses is DDPM, Ho et al. 2020), and the rest of this chapter turns each half of the
# sentence into code and a measurement. Two things the short answer leaves out matter most:
#
# 1. **the noising needs no network and no loop**: any noise level is one formula away from the
#    data, which is what makes training cheap (pick a random level, noise, ask the network);
# 2. **"learning to undo it" means learning to guess the noise** (or the clean sample) from a
#    noisy one. The network is a denoiser, trained by plain regression; no adversary, no
#    likelihood of whole sequences.
#
# ## The forward process and its schedules
#
# One step of the forward process shrinks the sample a little and adds a little noise:
# $q(x_t \mid x_{t-1}) = \mathcal N(\sqrt{1-\beta_t}\,x_{t-1},\ \beta_t I)$. The `beta` values,
# one per step, are the **schedule**. Because Gaussians compose, `t` steps collapse into one
# (DDPM eq. 4), with $\bar\alpha_t = \prod_{s \le t} (1 - \beta_s)$:
#
# $$x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1-\bar\alpha_t}\, \epsilon, \qquad \epsilon \sim \mathcal N(0, I).$$
#
# `alpha_bar` is the share of the signal's variance left at step `t`; it falls from 1 to about 0.
# The signal-to-noise ratio `snr = alpha_bar / (1 - alpha_bar)` says the same on a log scale.
# In the library, a schedule computes every such table once, and `q_sample` is eq. 4:

# %%
print(inspect.getsource(q_sample))
schedules = {name: NoiseSchedule.from_name(name, 1000) for name in SCHEDULE_NAMES}
for name, schedule in schedules.items():
    print(f"{name:>8}: {schedule}")

# %% [markdown]
# First on the toy data: the eight blobs, noised to several steps with each schedule. Both end as
# a round Gaussian blob; they differ in *when* the structure goes.

# %%
toy_points = toy2d.sample(TOY, SIZES["toy_points"], seed=0)
x0_toy = toy_points[: SIZES["toy_samples"]]
gen = torch.Generator().manual_seed(0)
eps_toy = torch.randn(x0_toy.shape, generator=gen)
fractions = [0.0, 0.1, 0.25, 0.5, 0.75, 1.0]
fig, axes = plt.subplots(2, len(fractions), figsize=(2.1 * len(fractions), 4.4), sharex=True, sharey=True)
near_modes_forward = {}
for row, name in enumerate(["linear", "cosine"]):
    schedule = schedules[name]
    for col, fraction in enumerate(fractions):
        k = round(fraction * (schedule.num_steps - 1))
        xt = q_sample(schedule, x0_toy, torch.full((len(x0_toy),), k), eps_toy)
        near_modes_forward[name, fraction] = toy2d.fraction_near_modes(xt, TOY)
        ax = axes[row, col]
        ax.scatter(xt[:, 0], xt[:, 1], s=2, alpha=0.5, color="C0" if name == "linear" else "C1")
        ax.set_title(f"{name}, step {k}\nalpha_bar={schedule.alpha_bar[k]:.3f}", fontsize=8)
        ax.set(xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), aspect="equal")
fig.suptitle("the forward process dissolves eight blobs into one Gaussian", fontsize=10)
fig.tight_layout()
savefig(fig, CHAPTER, "toy_forward")
plt.show()

last = torch.full((len(x0_toy),), 999)
x_end = q_sample(schedules["cosine"], x0_toy, last, eps_toy)
end_mean, end_std = x_end.mean(0), x_end.std(0)
prior_kl = prior_bpd(schedules["cosine"], x0_toy).mean().item()
print("share of points within 3 std of a mode, by fraction of the chain:")
for name in ["linear", "cosine"]:
    print(f"  {name:>6}: " + "  ".join(f"{f:.2f}->{near_modes_forward[name, f]:.0%}" for f in fractions))
print(f"at the last step: mean {end_mean.numpy().round(3)}, std {end_std.numpy().round(3)}; "
      f"KL(q(x_T | x0) || N(0, I)) = {prior_kl:.2e} bits per dimension")
assert end_std.sub(1).abs().max() < 0.15 and prior_kl < 1e-3

# %% [markdown]
# Now a real clip. Bouncing shapes, 8 frames, the same noise `eps` at every step, so each column
# of a row shows the same noise at a different strength. Below the pictures, the number that
# says how much of the clip is left: the correlation of the noised clip with the clean one
# (1: untouched, 0: nothing left), measured on a batch of clips, at every step.

# %%
clips = BouncingShapes(n=SIZES["video_clips"], seed=0, frames=SIZES["clip_frames"], size=SIZES["clip_size"],
                       max_objects=2)
video_batch = clips.batch(range(min(32, len(clips))))["video"]  # (b, t, c, h, w)
clip = video_batch[:1]
eps_clip = torch.randn(clip.shape, generator=torch.Generator().manual_seed(1))
show_steps = [0, 100, 250, 400, 600, 800, 999]
rows, titles = [], []
for name in ["linear", "cosine"]:
    for k in show_steps:
        rows.append(q_sample(schedules[name], clip, torch.tensor([k]), eps_clip)[0])
        titles.append(f"{name}, step {k}")
fig = frame_grid(torch.stack(rows), titles=titles, max_frames=4, scale=0.9)
savefig(fig, CHAPTER, "clip_forward")
plt.show()


def correlation_with_clean(schedule, videos, seed=2):
    """Pearson correlation of noised and clean clips at every step ``(num_steps,)``, over a batch."""
    eps = torch.randn(videos.shape, generator=torch.Generator().manual_seed(seed))
    clean = videos.flatten(1) - videos.flatten(1).mean(1, keepdim=True)  # (b, t*c*h*w)
    out = []
    for k in range(schedule.num_steps):
        xt = q_sample(schedule, videos, torch.full((len(videos),), k), eps).flatten(1)
        xt = xt - xt.mean(1, keepdim=True)
        out.append(((xt * clean).sum(1) / (xt.norm(dim=1) * clean.norm(dim=1))).mean())
    return torch.stack(out)


RECOGNISABLE = 0.5  # correlation above which the clip still shows through the noise
correlations = {name: correlation_with_clean(schedule, video_batch) for name, schedule in schedules.items()}
recognisable = {name: (c >= RECOGNISABLE).float().mean().item() for name, c in correlations.items()}
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
for name, schedule in schedules.items():
    axes[0].plot(schedule.alpha_bar, label=name)
    axes[1].semilogy(schedule.snr, label=name)
    axes[2].plot(correlations[name], label=f"{name}: {recognisable[name]:.0%} of steps >= {RECOGNISABLE}")
axes[0].set(xlabel="timestep", title="alpha_bar")
axes[1].set(xlabel="timestep", title="SNR (log scale)")
axes[2].axhline(RECOGNISABLE, color="grey", ls=":")
axes[2].set(xlabel="timestep", title="correlation of noised clip with clean clip")
for ax in axes:
    ax.legend(fontsize=8)
fig.tight_layout()
savefig(fig, CHAPTER, "schedules_measured")
plt.show()
print("share of the T = 1000 steps at which the clip is still recognisable (correlation >= 0.5):",
      {name: f"{value:.0%}" for name, value in recognisable.items()})

# %% [markdown]
# ## The noise-schedule explorer
#
# Choose a schedule, the number of steps `T` and a step, and watch a clip drown. The curves
# below the frames are `alpha_bar` and the SNR (log scale) with the chosen step marked; the line
# above them gives the numbers, including the correlation with the clean clip. Things to try:
# put the linear and cosine schedules at the same step in the middle of the chain; change `T`
# with the slider in place (the explorer keeps your place along the chain, and the pictures
# hardly change: a schedule is a curve over the *fraction* of the chain). Where no live front
# end is attached, the cell shows a still picture instead.

# %%
NoiseScheduleExplorer(video_batch[:2], schedule="cosine", num_steps=1000, timestep=500, scale=4).show()

# %% [markdown]
# **Linear versus cosine.** The linear schedule (DDPM's) spends its steps badly: on these
# clips the correlation drops below one half early in the chain, and most later steps train the
# network on what is, to it, nearly pure noise. The cosine schedule (Nichol & Dhariwal 2021) keeps
# the clip recognisable for about twice as many steps (the measured shares are printed above);
# the sigmoid schedule of Chen 2023, with its default settings, is close to cosine. Whether that helps depends
# on the data (Chen's point is that bigger images need *more* noise, since neighbouring pixels
# repeat each other's information); the next experiment asks the toy data.
#
# ## A denoiser for toy points
#
# The network: a small MLP that takes a point and the step (a sinusoidal code of the step, as
# the video UNet uses) and returns a vector shaped like the point. It is trained with the
# course's one training loop; the loss is `diffusion_loss` (DDPM Algorithm 1): draw a step
# uniformly, noise the data with eq. 4, and regress the network's output on the target. The
# helper below trains one such network for a given schedule and prediction target.

# %%
print(inspect.getsource(diffusion_loss).split('"""')[0] + '"""...')
toy_data = TensorDataset(toy_points)


def train_toy(schedule, prediction="eps", step_weight=None, seed=0):
    """Train an MLPDenoiser on the toy points; ``step_weight`` (num_steps,) reweights the loss per step."""
    seed_everything(seed)
    model = MLPDenoiser(width=SIZES["toy_width"], depth=3)

    def loss_fn(model, batch, generator):
        (x0,) = batch
        if step_weight is None:
            return diffusion_loss(schedule, model, x0, prediction=prediction, generator=generator)
        timestep = torch.randint(0, schedule.num_steps, (len(x0),), generator=generator, device=generator.device)
        per_sample = diffusion_loss(schedule, model, x0, timestep=timestep.to(x0.device), prediction=prediction,
                                    generator=generator, reduction="none")
        return (step_weight.to(x0.device)[timestep.to(x0.device)] * per_sample).mean()

    config = TrainConfig(steps=SIZES["toy_train_steps"], batch_size=SIZES["toy_batch"], lr=3e-3,
                         lr_schedule="cosine", warmup_steps=min(50, SIZES["toy_train_steps"] // 4),
                         seed=seed, progress=False)
    trainer = Trainer(model, loss_fn, toy_data, config).fit()
    return model.eval(), trainer


def toy_quality(points):
    """(share of samples within 3 std of a mode, share of the 8 modes covered)."""
    return toy2d.fraction_near_modes(points, TOY), toy2d.mode_coverage(points, TOY)[0]


def sample_toy(model, schedule, prediction="eps", seed=1, sampler=None):
    # clip_x0=False: the toy points live in [-2, 2], not in the [-1, 1] of pixel values.
    sampler = sampler or DDPMSampler(schedule, clip_x0=False, prediction=prediction)
    return sampler.sample(model, (SIZES["toy_samples"], 2), generator=torch.Generator().manual_seed(seed))


toy_schedules = {name: NoiseSchedule.from_name(name, SIZES["toy_num_steps"]) for name in ["linear", "cosine"]}
toy_runs = {}
for name, schedule in toy_schedules.items():
    start = time.perf_counter()
    model, trainer = train_toy(schedule)
    samples = sample_toy(model, schedule)
    near, covered = toy_quality(samples)
    toy_runs[name] = dict(model=model, trainer=trainer, samples=samples, near=near, covered=covered,
                          seconds=time.perf_counter() - start)
    print(f"{name:>6} schedule, T = {schedule.num_steps}: {near:.0%} of samples on a mode, {covered:.0%} of modes "
          f"covered ({toy_runs[name]['seconds']:.0f} s, {model.num_parameters():,} parameters)")

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
axes[0].scatter(x0_toy[:, 0], x0_toy[:, 1], s=2, color="grey")
axes[0].set_title("data")
for ax, (name, run) in zip(axes[1:], toy_runs.items()):
    ax.scatter(run["samples"][:, 0], run["samples"][:, 1], s=2, color="C0" if name == "linear" else "C1")
    ax.set_title(f"{name}: {run['near']:.0%} on a mode, {run['covered']:.0%} covered", fontsize=9)
for ax in axes:
    ax.set(xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), aspect="equal")
fig.tight_layout()
savefig(fig, CHAPTER, "toy_samples_by_schedule")
plt.show()

# %% [markdown]
# With the same network and the same budget, the schedule alone makes a visible difference on
# the toy data too: the linear schedule's samples are smeared along the circle between the blobs
# (the coarse structure learned, the fine one not), while the cosine schedule's land on them.
# The SNR curves above say why: the linear schedule spends fewer of its `T` steps at the noise
# levels where neighbouring blobs are told apart, so fewer training examples and fewer sampling
# steps go there. From here on the toy experiments use the cosine schedule.
#
# ## What the network predicts: eps, x0 or v
#
# Eq. 4 ties three quantities together: knowing `xt` and any one of the noise `eps`, the clean
# sample `x0` or the "velocity" `v = sqrt(alpha_bar) eps - sqrt(1 - alpha_bar) x0` (Salimans & Ho
# 2022) gives the other two. So a network can be trained to output any of them and the sampler
# converts. The conversions agree to rounding:

# %%
schedule = toy_schedules["cosine"]
T_toy = schedule.num_steps
gen = torch.Generator().manual_seed(5)
x0_check = toy_points[:512]
eps_check = torch.randn(x0_check.shape, generator=gen)
steps_check = torch.randint(0, schedule.num_steps, (len(x0_check),), generator=gen)
xt_check = q_sample(schedule, x0_check, steps_check, eps_check)
v_check = v_target(schedule, x0_check, eps_check, steps_check)
conversion_error = max(
    (predict_x0_from_eps(schedule, xt_check, steps_check, eps_check) - x0_check)[steps_check < schedule.num_steps - 1].abs().max(),
    (predict_eps_from_x0(schedule, xt_check, steps_check, x0_check) - eps_check)[steps_check > 0].abs().max(),
    (predict_x0_from_v(schedule, xt_check, steps_check, v_check) - x0_check).abs().max(),
    (predict_eps_from_v(schedule, xt_check, steps_check, v_check) - eps_check).abs().max(),
).item()
for prediction in ["eps", "x0", "v"]:
    target = prediction_target(schedule, x0_check, eps_check, steps_check, prediction)
    x0_back, eps_back = to_x0_and_eps(schedule, target, xt_check, steps_check, prediction)
    print(f"{prediction:>3}: read back x0 within {(x0_back - x0_check)[steps_check < schedule.num_steps - 1].abs().max():.1e}, "
          f"eps within {(eps_back - eps_check)[steps_check > 0].abs().max():.1e}")
print(f"largest conversion error: {conversion_error:.1e}")
assert conversion_error < 1e-3

# %% [markdown]
# Two divisions are left out of that check, and they matter: `x0` from `eps` divides by
# `sqrt(alpha_bar)`, which is almost 0 at the last step, and `eps` from `x0` divides by
# `sqrt(1 - alpha_bar)`, almost 0 at the first. An eps-network's error at the last step reaches
# its guess of `x0` multiplied by:

# %%
eps_amplification = (schedule.sqrt_one_minus_alpha_bar[-1] / schedule.sqrt_alpha_bar[-1]).item()
print(f"cosine, T = {T_toy}: sqrt(1 - alpha_bar) / sqrt(alpha_bar) at the last step = {eps_amplification:,.0f}")

# %% [markdown]
# DDPM's own sampler does not mind (the posterior mean multiplies that guess by a coefficient
# just as small), but anything that *uses* the guess at high noise does, such as a sampler that
# jumps. `v` never divides, which is its whole case. The same data, schedule and budget, trained
# three ways, each sampled with DDPM:

# %%
prediction_runs = {"eps": toy_runs["cosine"]}
for prediction in ["x0", "v"]:
    start = time.perf_counter()
    model, trainer = train_toy(schedule, prediction=prediction)
    samples = sample_toy(model, schedule, prediction=prediction)
    near, covered = toy_quality(samples)
    prediction_runs[prediction] = dict(model=model, samples=samples, near=near, covered=covered,
                                       seconds=time.perf_counter() - start)
fig, axes = plt.subplots(1, 3, figsize=(10, 3.5))
for ax, (prediction, run) in zip(axes, prediction_runs.items()):
    ax.scatter(*run["samples"].T, s=2, color="C4")
    ax.set_title(f"predicts {prediction}: {run['near']:.0%} on a mode", fontsize=9)
    ax.set(xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), aspect="equal")
fig.tight_layout()
savefig(fig, CHAPTER, "toy_predictions")
plt.show()
for prediction, run in prediction_runs.items():
    print(f"{prediction:>3}: {run['near']:.1%} of samples on a mode, {run['covered']:.0%} of modes covered")

# %% [markdown]
# The three differ a lot, and not because one target is "right": they are the same model read
# three ways, and each plain squared error is a different *weighting* over the chain. An error
# in `x0` is an error in `eps` divided by the square root of the SNR, so at low noise (high SNR)
# an eps-network's loss is large for a small miss in `x0`, while an x0-network's loss barely
# notices it. Yet low noise is exactly where a point is moved from the gap between two blobs into
# one of them (blobs of radius 0.1, 1.1 apart). So with `L_simple` the x0-network learns the circle
# and never the blobs (its samples pass through the blobs, so the "on a mode" share flatters it);
# `v` sits between the two. The weighting, not the target, is the choice (`diffusion_loss` has
# `weighting="snr"` and `"min_snr"` to set it independently; chapter 11 returns to it). The rest
# of the toy experiments sample from the v-network, whose guess of `x0` stays finite at every
# step.
#
# ## The reverse Markov chain
#
# Given the clean sample, the step back is known exactly: $q(x_{t-1} \mid x_t, x_0)$ is Gaussian
# with mean $\tilde\mu_t = \frac{\beta_t\sqrt{\bar\alpha_{t-1}}}{1-\bar\alpha_t} x_0 +
# \frac{(1-\bar\alpha_{t-1})\sqrt{\alpha_t}}{1-\bar\alpha_t} x_t$ and variance
# $\tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t$ (DDPM eq. 7). A check by
# sampling: draw $x_t$ from $q(x_t \mid x_0)$, then $x_{t-1}$ from this posterior; the result
# must follow $q(x_{t-1} \mid x_0)$, the forward process one step earlier.

# %%
k = schedule.num_steps // 2
many = 200_000
x0_one = torch.tensor([[1.5, 0.0]]).expand(many, 2)
gen = torch.Generator().manual_seed(3)
xt = q_sample(schedule, x0_one, torch.full((many,), k), torch.randn(many, 2, generator=gen))
mean, variance, _ = q_posterior(schedule, x0_one, xt, torch.full((many,), k))
x_prev = mean + variance.sqrt() * torch.randn(many, 2, generator=gen)
expected_mean = schedule.alpha_bar_prev[k].sqrt() * 1.5
expected_var = 1 - schedule.alpha_bar_prev[k]
posterior_error = max(abs(x_prev[:, 0].mean() - expected_mean).item(), abs(x_prev[:, 0].var() - expected_var).item())
print(f"step {k}: x_(t-1) mean {x_prev[:, 0].mean():.4f} (expected {expected_mean:.4f}), "
      f"variance {x_prev[:, 0].var():.4f} (expected {expected_var:.4f})")
assert posterior_error < 0.01

# %% [markdown]
# Without the clean sample, the network stands in for it: its output gives a guess of the clean
# sample, the guess goes into the posterior mean, and fresh noise of variance $\tilde\beta_t$ is
# added, except at the last step (DDPM Algorithm 2). That is `DDPMSampler.step`:

# %%
print(inspect.getsource(DDPMSampler.step).split('"""')[2])

# %%
cosine_run, v_run = toy_runs["cosine"], prediction_runs["v"]
_, trajectory = DDPMSampler(schedule, clip_x0=False, prediction="v").sample(
    v_run["model"], (SIZES["toy_samples"], 2), generator=torch.Generator().manual_seed(1),
    return_trajectory=True)
marks = [0, T_toy // 2, 3 * T_toy // 4, 9 * T_toy // 10, T_toy - 1, T_toy]  # indices into samples
fig, axes = plt.subplots(2, len(marks), figsize=(2.1 * len(marks), 4.4), sharex=True, sharey=True)
for col, i in enumerate(marks):
    # samples[0] is x_T, samples[i] the sample after i steps; pred_original_samples[j] the guess at step j
    title = "x_T: noise" if i == 0 else ("sample" if i == T_toy else f"after step {trajectory.timesteps[i - 1]}")
    axes[0, col].scatter(*trajectory.samples[i].T, s=2, color="C1")
    axes[0, col].set_title(title, fontsize=8)
    j = min(i, T_toy - 1)
    axes[1, col].scatter(*trajectory.pred_original_samples[j].T, s=2, color="C2")
    axes[1, col].set_title(f"x0 guessed at step {trajectory.timesteps[j]}", fontsize=8)
for ax in axes.flat:
    ax.set(xlim=(-3, 3), ylim=(-3, 3), aspect="equal")
fig.suptitle("DDPM ancestral sampling: the chain (top) and its guess of the end (bottom)", fontsize=10)
fig.tight_layout()
savefig(fig, CHAPTER, "toy_reverse_chain")
plt.show()

# %% [markdown]
# Early on, the guess of the clean sample is the middle of the data (the best guess when the
# input says nothing); the guesses spread out and split into the eight blobs as the noise goes.
#
# ## One step or many (Q19)
#
# If the network can guess the clean sample, why not jump from pure noise to that guess in one
# step? Because the guess is an *average*: the best answer in squared error to "which clean point
# hides in this noise?" is the mean over every point that could have produced it. From pure
# noise that is the centre of the circle, where no data lives. Many small steps let each step
# commit a little, so the average is taken over fewer and fewer candidates. Measured, with the
# same trained network and the same starting noise: the deterministic DDIM sampler run with 1, 2,
# 5, ... steps (its one-step run is exactly the jump), and DDPM's full chain:

# %%
step_counts = [n for n in [1, 2, 5, 10, 25, 50] if n < T_toy] + [T_toy]
x_T = torch.randn(SIZES["toy_samples"], 2, generator=torch.Generator().manual_seed(4))
with torch.no_grad():
    one_step = predict_x0_from_v(schedule, x_T, torch.full((len(x_T),), T_toy - 1),
                                 v_run["model"](x_T, torch.full((len(x_T),), T_toy - 1)))
few_steps = {}
for n in step_counts:
    sampler = DDIMSampler(schedule, n, eta=0.0, timestep_spacing="trailing", clip_x0=False, prediction="v")
    few_steps[n] = sampler.sample(v_run["model"], x_T.shape, initial_noise=x_T)
ddim_one = few_steps[1]
assert torch.allclose(ddim_one, one_step, atol=1e-5)  # DDIM with one step is the one-step jump
quality_by_steps = {n: toy_quality(points) for n, points in few_steps.items()}
ddpm_quality = (v_run["near"], v_run["covered"])
one_step_spread = one_step.norm(dim=1).mean().item()

fig, axes = plt.subplots(1, len(step_counts) + 1, figsize=(2.1 * (len(step_counts) + 1), 2.6), sharey=True)
for ax, n in zip(axes, step_counts):
    ax.scatter(*few_steps[n].T, s=2, color="C2")
    ax.set_title(f"DDIM, {n} step{'s' if n > 1 else ''}\n{quality_by_steps[n][0]:.0%} on a mode", fontsize=8)
axes[-1].scatter(*v_run["samples"].T, s=2, color="C1")
axes[-1].set_title(f"DDPM, {T_toy} steps\n{ddpm_quality[0]:.0%} on a mode", fontsize=8)
for ax in axes:
    ax.set(xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), aspect="equal")
fig.tight_layout()
savefig(fig, CHAPTER, "toy_steps")
plt.show()
for n, (near, covered) in quality_by_steps.items():
    print(f"{n:>4} steps: {near:6.1%} of samples on a mode, {covered:.0%} of modes covered")
print(f"one-step jump: mean distance from the centre {one_step_spread:.2f} (the modes are at 1.5)")

# %% [markdown]
# ## L_simple versus the variational bound
#
# The model's log-likelihood has a lower bound (DDPM eq. 5), a sum over the chain:
# a **prior** term $L_T = \mathrm{KL}(q(x_T \mid x_0)\,\|\,\mathcal N(0, I))$ with nothing to learn,
# one **KL term** per step $L_{t-1} = \mathrm{KL}(q(x_{t-1} \mid x_t, x_0)\,\|\,p_\theta(x_{t-1} \mid x_t))$,
# and a **decoder** term $L_0 = -\log p_\theta(x_0 \mid x_1)$ that prices the last step on the 256
# levels of real pixels. Because the pixels are discrete, the bound is a number of **bits per
# dimension**, defined for data in `[-1, 1]` on 256 levels: real clips, not toy points.
#
# A tiny video UNet, trained briefly with `L_simple` on 8-frame clips:

# %%
video_schedule = NoiseSchedule.from_name("cosine", SIZES["video_num_steps"])
video_data = TensorDataset(clips.batch(range(len(clips)))["video"])
seed_everything(0)
unet = UNet.from_name("tiny")


def video_loss(model, batch, generator):
    return diffusion_loss(video_schedule, model, batch[0], generator=generator)


video_config = TrainConfig(steps=SIZES["video_train_steps"], batch_size=SIZES["video_batch"], lr=2e-3,
                           warmup_steps=min(20, SIZES["video_train_steps"]), progress=False)
start = time.perf_counter()
untrained_unet = UNet.from_name("tiny").eval()
video_trainer = Trainer(unet, video_loss, video_data, video_config).fit()
video_seconds = time.perf_counter() - start
unet.eval()
losses = [record["loss"] for record in video_trainer.history]
print(f"{unet.num_parameters():,} parameters, {len(losses)} steps in {video_seconds:.0f} s; "
      f"L_simple from {np.mean(losses[:5]):.3f} to {np.mean(losses[-20:]):.3f}")

# %%
vlb_x0 = clips.batch(range(SIZES["vlb_clips"]))["video"].to(video_trainer.device)
start = time.perf_counter()
vlb = vlb_terms(video_schedule, unet, vlb_x0, clip_x0=False, generator=torch.Generator().manual_seed(6))
vlb_untrained = vlb_terms(video_schedule, untrained_unet.to(vlb_x0.device), vlb_x0, clip_x0=False,
                          generator=torch.Generator().manual_seed(6))
vlb_seconds = time.perf_counter() - start
terms, eps_mse = vlb.terms.mean(0).cpu(), vlb.eps_mse.mean(0).cpu()  # (num_steps,) each
decoder_bits, prior_bits, total_bits = terms[0].item(), vlb.prior.mean().item(), vlb.total.mean().item()
untrained_total = vlb_untrained.total.mean().item()
assert torch.allclose(vlb.total, vlb.prior + vlb.terms.sum(1))  # the bound is the sum of its terms
print(f"bits per dimension: total {total_bits:.3f} (untrained network: {untrained_total:.3f}); "
      f"prior L_T {prior_bits:.1e}, decoder L_0 {decoder_bits:.3f}, "
      f"KL terms {terms[1:].sum().item():.3f} ({vlb_seconds:.0f} s for {2 * video_schedule.num_steps} network calls)")

# %% [markdown]
# Each KL term compares two Gaussians of the same variance, so it is a squared distance between
# means; written with eps, the mean of the network's step is a fixed multiple of its eps error.
# Term $t$ of the bound is therefore a **weight times the eps error**,
# $L_{t-1} = \lambda_t\, \lVert\epsilon - \epsilon_\theta\rVert^2$ with
# $\lambda_t = \frac{\beta_t^2}{2\tilde\beta_t\,\alpha_t\,(1-\bar\alpha_t)}$ (DDPM eq. 12, per dimension,
# in nats), and `L_simple` is the same sum with every $\lambda_t$ set to 1. The measured terms
# divided by the measured eps errors give back $\lambda_t$:

# %%
s = video_schedule
lam = (s.beta ** 2 / (2 * s.posterior_variance.clamp(min=1e-20) * s.alpha * (1 - s.alpha_bar)) / math.log(2))
ratio = terms[1:] / eps_mse[1:]
weight_match = ((ratio - lam[1:]).abs() / lam[1:]).max().item()
spread = (lam[1:].max() / lam[1:].min()).item()
print(f"measured term / eps error matches lambda_t within {weight_match:.1e} (relative), at every step")
print(f"lambda_t spans a factor {spread:,.0f}: from {lam[1]:.3g} at step 1 to {lam[-1]:.2g} bits at the last step")
tenth = max(1, s.num_steps // 10)
share_first_tenth = (terms[1: 1 + tenth].sum() / terms[1:].sum()).item()
share_last_tenth = (terms[-tenth:].sum() / terms[1:].sum()).item()
print(f"the first tenth of the chain holds {share_first_tenth:.0%} of the KL bits, the last tenth {share_last_tenth:.0%}")
assert weight_match < 1e-3

fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
steps = np.arange(s.num_steps)
axes[0].semilogy(steps[1:], terms[1:], label="KL term L_(t-1)")
axes[0].semilogy([0], [decoder_bits], "o", color="C3", label=f"decoder L_0 = {decoder_bits:.3f}")
axes[0].axhline(prior_bits, color="grey", ls=":", label=f"prior L_T = {prior_bits:.1e}")
axes[0].set(xlabel="timestep", ylabel="bits per dimension", title="terms of the bound")
axes[0].legend(fontsize=7)
axes[1].plot(steps, eps_mse, color="C2")
axes[1].set(xlabel="timestep", title="eps error (what L_simple averages)")
axes[2].semilogy(steps[1:], lam[1:], label="VLB weight lambda_t")
axes[2].semilogy(steps[1:], np.ones(s.num_steps - 1), label="L_simple weight (1)")
axes[2].set(xlabel="timestep", title="weight on the eps error")
axes[2].legend(fontsize=7)
fig.tight_layout()
savefig(fig, CHAPTER, "vlb_terms")
plt.show()

# %% [markdown]
# The bound does not weigh the steps evenly: its weights span orders of magnitude (printed
# above). Under the cosine schedule they are largest at **both ends** of the chain: near the
# clean end, where getting a tiny amount of noise exactly right is worth bits, and at the very
# last steps, where `beta` approaches 1 (the cosine schedule caps it at 0.999) and `alpha_t` in
# the denominator is nearly 0. So a few steps at the ends carry most of the bound, and the
# middle of the chain, where the *content* of the clip is decided, counts for little.
# `L_simple` spreads the effort evenly instead. DDPM found that the even weighting gives better
# samples and a worse likelihood. On the toy data, training with the bound's weights (normalised
# to average 1, the same budget) against `L_simple`:

# %%
toy_s = toy_schedules["cosine"]
toy_lam = toy_s.beta ** 2 / (2 * toy_s.posterior_variance.clamp(min=1e-20) * toy_s.alpha * (1 - toy_s.alpha_bar))
toy_lam[0] = toy_lam[1]  # step 0 is the decoder term, not a KL: give it its neighbour's weight
vlb_weight = toy_lam / toy_lam.mean()
start = time.perf_counter()
vlb_model, _ = train_toy(toy_s, step_weight=vlb_weight)
vlb_samples = sample_toy(vlb_model, toy_s)
vlb_quality = toy_quality(vlb_samples)
print(f"largest normalised VLB weight {vlb_weight.max():.0f} (at step {vlb_weight.argmax()}), median {vlb_weight.median():.2f}")
print(f"trained with the VLB weights: {vlb_quality[0]:.0%} on a mode, {vlb_quality[1]:.0%} of modes covered "
      f"({time.perf_counter() - start:.0f} s); with L_simple: {cosine_run['near']:.0%}, {cosine_run['covered']:.0%}")
fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
for ax, points, title in [(axes[0], cosine_run["samples"], f"L_simple: {cosine_run['near']:.0%} on a mode"),
                          (axes[1], vlb_samples, f"VLB weights: {vlb_quality[0]:.0%} on a mode")]:
    ax.scatter(*points.T, s=2, color="C5")
    ax.set(xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), aspect="equal", title=title)
fig.tight_layout()
savefig(fig, CHAPTER, "toy_lsimple_vs_vlb")
plt.show()

# %% [markdown]
# ## Q21. The denoising process, claim by claim
#
# The FAQ describes the denoising process in seven points. Each one, in our words, with the
# code that checks it.
#
# **1. It starts from Gaussian noise $x_T$.** Right, and the forward process is built so that
# this is consistent: $q(x_T \mid x_0)$ is within a hair of $\mathcal N(0, I)$ whatever the clip
# (the prior term of the bound, measured above, is a tiny fraction of a bit per dimension). For video, $x_T$ is noise for the
# *whole clip*, every frame at once, `(b, t, c, h, w)`: a video diffusion model denoises all
# frames together, not one frame after another as the FAQ's "noisy frame" suggests.
#
# **2. A reverse Markov chain: each step moves $x_t$ to a less noisy $x_{t-1}$.** Right: each step
# reads only the current sample and the step number (the sampler loop above keeps nothing
# else).
#
# **3. A network parameterises each step.** Right, but not the way the FAQ puts it: the network
# does not "output the conditional distribution". It outputs one tensor shaped like its input (a
# guess of the noise, or of the clean clip, or of v), and fixed formulas turn that guess into the
# mean of the step. One network with the step as an input serves every step of the chain:

# %%
probe = vlb_x0[:1]
probe_step = torch.tensor([s.num_steps // 2], device=probe.device)
with torch.no_grad():
    output = unet(probe, probe_step)
print(f"UNet in {tuple(probe.shape)} -> out {tuple(output.shape)}: one tensor like the input, not a distribution")
assert output.shape == probe.shape

# %% [markdown]
# **4. Each step is Gaussian, with mean and covariance set by the parameters $\theta$.** Half
# right. The mean depends on $\theta$; in DDPM the variance does **not**: it is fixed to
# $\tilde\beta_t$ (or $\beta_t$) by the schedule. (Improved DDPM, Nichol & Dhariwal 2021, does
# learn it.) Two very different network outputs give different means and the same variance:

# %%
xt_probe = q_sample(s, probe, probe_step, torch.randn_like(probe))
mean_a, logvar_a, _ = p_mean_variance(s, torch.zeros_like(probe), xt_probe, probe_step)
mean_b, logvar_b, _ = p_mean_variance(s, torch.randn_like(probe), xt_probe, probe_step)
print(f"means differ by up to {(mean_a - mean_b).abs().max():.3f}; "
      f"variances identical: {torch.equal(logvar_a, logvar_b)}")
assert torch.equal(logvar_a, logvar_b) and not torch.allclose(mean_a, mean_b)

# %% [markdown]
# The Gaussian shape of each step is an approximation that holds only because the steps are
# small. That is the one-step experiment again: the single jump, a Gaussian step with a mean
# predicted from pure noise, lands in the middle of the circle.
#
# **5. Applying the reverse steps one after another turns $x_T$ into a clean $x_0$.** Right, with a
# correction of meaning: the chain does not *recover* a particular clip hidden in the noise (the
# noise hides none); it produces a *new* sample from the learned distribution. From the same
# $x_T$, the stochastic DDPM chain ends on different samples when its step noise differs:

# %%
same_start = torch.randn(SIZES["toy_samples"], 2, generator=torch.Generator().manual_seed(7))
ends = [DDPMSampler(schedule, clip_x0=False).sample(cosine_run["model"], same_start.shape, initial_noise=same_start,
                                                    generator=torch.Generator().manual_seed(seed)) for seed in (8, 9)]
centres = toy2d.modes(TOY)
mode_a, mode_b = (torch.cdist(end, centres).argmin(1) for end in ends)
different_mode = (mode_a != mode_b).float().mean().item()
print(f"same x_T, different step noise: {different_mode:.0%} of the samples end on a different blob")

# %% [markdown]
# With a perfect denoiser that *knows* the clip, on the other hand, the chain does return that
# clip: the reverse process is the exact inverse of the forward one when the network is right.

# %%
target_clip = vlb_x0[:1]


def oracle(xt, timestep):
    """The eps that really separates xt from target_clip: a denoiser with nothing to learn."""
    return predict_eps_from_x0(s, xt, timestep, target_clip.expand_as(xt))


returned = DDPMSampler(s).sample(oracle, target_clip.shape, generator=torch.Generator().manual_seed(10),
                                 device=target_clip.device)
oracle_error = (returned - target_clip).abs().max().item()
print(f"perfect denoiser: the chain ends within {oracle_error:.1e} of the clip")
assert oracle_error < 1e-3

# %% [markdown]
# **6. Training minimises the negative log-likelihood through the VLB, a sum of KL divergences
# between forward and reverse steps.** Right about what the bound is, with two precisions: the
# KL terms compare the reverse step with the forward process's *posterior* $q(x_{t-1} \mid x_t,
# x_0)$ (not with the forward step $q(x_t \mid x_{t-1})$), and the bound has two more terms, the
# prior (nothing to learn) and the decoder on the 256 pixel levels. Measured above: prior,
# decoder and KL terms add up to the total.
#
# **7. Predicting the noise instead of the mean simplifies the loss and improves results.** This
# mixes two separate things. Predicting eps *instead of the mean* is only a change of variables:
# the eps form of each KL term is the same number (checked above: term = lambda_t x eps error,
# exactly). What simplifies the loss is **dropping the weights** lambda_t, which turns the bound
# into `L_simple`, and that is no longer a bound on the likelihood. It gives better samples (the
# toy run above) and a worse likelihood, as DDPM reports; improved DDPM gets both back by
# learning the variance with a small share of the VLB. And the FAQ's description is not what
# everyone trains today: many video models predict v or x0, with other weightings.
#
# ## Answer, with evidence
#
# The cell below writes the chapter's answer from the numbers this notebook just measured.

# %%
linear_run = toy_runs["linear"]
steps_line = ", ".join(f"{n} → {q[0]:.0%}" for n, q in quality_by_steps.items())
answer = f"""
**Q6 — What is a diffusion model?** A generative model made of two chains over `T` noise levels.
The forward chain is fixed: it mixes data with Gaussian noise by a schedule until nothing is
left (measured: the eight toy blobs, {near_modes_forward['cosine', 0.0]:.0%} of points on a
blob at the start, {near_modes_forward['cosine', 1.0]:.0%} at the end, where the cloud has mean
{end_mean.abs().max():.2f} and standard deviation {end_std.mean():.2f}, i.e. a standard
Gaussian, KL {prior_kl:.1e} bits per dimension). The reverse chain is learned: a network trained
by plain regression to guess the noise in a noisy sample, used by a sampler to walk from noise
back to data. After {SIZES['toy_train_steps']} training steps (a {SIZES['toy_width']}-wide MLP),
**{cosine_run['near']:.0%}** of the DDPM samples land on a blob and
{cosine_run['covered']:.0%} of the blobs are covered (cosine schedule; linear:
{linear_run['near']:.0%}, {linear_run['covered']:.0%}).

**Q19 — Diffusion versus earlier video generators (many steps versus one).** A GAN or a VAE
decoder maps noise to a sample in one network call; a diffusion model takes many small steps,
each a denoising. One step is not enough for a denoiser: its one-step answer is the *average*
of everything the noise could hide. Measured with the same trained network and the same starting
noise (a v-predicting MLP), share of samples on a blob by number of steps: {steps_line}; DDPM
with all {T_toy} steps: {ddpm_quality[0]:.0%}. The one-step samples sit {one_step_spread:.2f} from the centre on
average, while the data is on a circle of radius 1.5. The price is time: one network call per
step. (Chapter 01 sets diffusion beside GANs, VAEs and autoregressive models on the same data;
chapter 11 shows how far few-step samplers go.)

**Q21 — The denoising process.** Start from Gaussian noise for the whole clip; at each step the
network outputs a tensor shaped like the clip (noise, clean clip or v: the three conversions agree
to {conversion_error:.0e}), fixed formulas turn it into the mean of a Gaussian step whose variance
is set by the schedule, not learned, in DDPM (two different outputs, identical variances), and
fresh noise is added at every step but the last. The chain produces a *new* sample (from one
`x_T`, {different_mode:.0%} of the toy samples end on a different blob when the step noise
changes), and returns a given clip exactly only for a denoiser that knows it (error
{oracle_error:.0e}). The variational bound is a sum of a prior term ({prior_bits:.1e} bits per
dimension), one KL term per step against the forward *posterior*, and a decoder term
({decoder_bits:.2f}): {total_bits:.2f} bits per dimension for a tiny UNet after
{SIZES['video_train_steps']} steps of `L_simple` (untrained: {untrained_total:.2f}). Each KL term
is a weight times the eps error (matched to {weight_match:.0e}); the weights span a factor of
{spread:,.0f}, and the first and last tenths of the chain hold {share_first_tenth:.0%} and
{share_last_tenth:.0%} of the KL bits.
`L_simple` drops those weights: it is no longer the bound, and it is what gives good samples (toy
data: {cosine_run['near']:.0%} on a blob with `L_simple`, {vlb_quality[0]:.0%} with the bound's
weights, same budget). So the FAQ's points 1, 2 and 5 hold; point 3 (the network outputs a
distribution) and point 4 (theta sets the covariance) are wrong for DDPM; point 6 omits the prior
and decoder terms; point 7 credits the eps parametrisation with what dropping the weights does.
"""
display(Markdown(answer))
print(f"chapter ran in {time.perf_counter() - chapter_start:.0f} s ({profile.name} profile)")

# %%
# What the learner should have seen (the smoke profile only proves the cells run).
if not profile.is_smoke:
    assert cosine_run["near"] >= 0.75 and cosine_run["covered"] == 1.0, "the toy denoiser missed the blobs"
    assert linear_run["near"] >= 0.4 and cosine_run["near"] > linear_run["near"], "linear vs cosine on the toy data"
    assert quality_by_steps[1][0] < 0.2 < ddpm_quality[0] - 0.3, "one step should fail where many succeed"
    assert max(q[0] for q in quality_by_steps.values()) >= 0.5
    assert recognisable["cosine"] > recognisable["linear"] + 0.1
    assert total_bits < untrained_total, "training with L_simple should lower the bound too"
    assert spread > 10 and share_first_tenth + share_last_tenth > 0.5
    assert min(run["near"] for run in prediction_runs.values()) >= 0.35
    assert prediction_runs["v"]["near"] >= 0.55
    assert different_mode > 0.3
    assert vlb_quality[0] < cosine_run["near"], "L_simple should beat the VLB weights on samples"

# %% [markdown]
# ## Summary
#
# - The forward process jumps to any noise level in one formula (eq. 4); a schedule is the curve
#   of `alpha_bar` over the chain. The linear schedule wipes a clip out in the first part of the
#   chain; the cosine schedule keeps it for longer.
# - The reverse process is a chain of Gaussian steps whose mean comes from a network's guess of the
#   noise (or of `x0`, or of `v`; the three convert exactly); the variance is fixed in DDPM.
# - Many small steps, not one: a denoiser's one-step answer is an average, and averages of data
#   are not data.
# - `L_simple` is the variational bound with its per-step weights dropped; the bound's weights
#   pile onto a few steps at the ends of the chain, `L_simple` spreads the effort evenly, and
#   samples improve.
#
# ## Exercises
#
# `exercises/06_diffusion_forward_reverse.py`: write `q_sample`, the posterior mean and one DDPM
# step yourself, for batches of videos with a different step per clip.
