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
# # Chapter 03 — The video GAN
#
# **FAQ question answered here**
#
# - **Q7.** What is a GAN, and why do video generators rarely use one?
#
# The FAQ's answer, in our words: a GAN (Goodfellow et al. 2014) is two networks, a *generator*
# that makes data and a *discriminator* that judges whether data is real, trained against each
# other until the generator's output looks like the training data. It says GANs have few
# parameters and are light, so they model one or a few classes of object well; that their
# training is unstable and their samples lack diversity on complex data, which is why
# autoregressive and diffusion models replaced them; and that video's size and compute made GANs
# rarer still.
#
# This chapter trains a small video GAN on bouncing shapes and measures each of those claims:
# the game itself (plotted step by step), whether its clips contain objects a classifier trained
# on real clips can name, how many of the data's classes it covers (mode collapse), and its size
# and compute per clip against a VAE and a diffusion model. Two of the FAQ's statements turn out
# to need care: "lighter" is true per *sample* and false per parameter, and the instability is
# not a property of video data but of the game, visible on the smallest data set we have.

# %% [markdown]
# ## Set-up: the run profile
#
# Every size comes from the run profile (`TINYVDM_PROFILE`), set in the next cell and nowhere
# else: `smoke` proves the cells run (CI), `cpu` gives the results the text describes in under
# ten minutes on a laptop, `gpu` trains longer.

# %%
import inspect
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from tinyvdm import get_profile, seed_everything
from tinyvdm.bench import call_flops
from tinyvdm.data import BouncingShapes
from tinyvdm.data.bouncing_shapes import COLOUR_NAMES, SHAPES, BouncingShapesConfig
from tinyvdm.metrics.recognition import ObjectJudge, recognition_report
from tinyvdm.metrics.sharpness import pairwise_distance
from tinyvdm.models.gan import (
    VideoDiscriminator,
    VideoGenerator,
    adversarial_step,
    discriminator_loss,
    fit_gan,
    gan_config,
    generator_loss,
    instability,
)
from tinyvdm.models.unet import UNet
from tinyvdm.models.vae import VideoVAE
from tinyvdm.viz import frame_grid, savefig
from tinyvdm.viz.gan_dynamics import SnapshotViewer, plot_gan_dynamics

profile = get_profile()
seed_everything(0)
CHAPTER = "03_gan"
FRAMES = 8
SIZE = profile.pick(smoke=16, cpu=32, gpu=32)
SIZES = dict(
    gan=profile.pick(smoke="tiny", cpu="small", gpu="small"),
    pool=profile.pick(smoke=64, cpu=4096, gpu=16384),  # real clips the GAN draws its batches from
    steps=profile.pick(smoke=4, cpu=800, gpu=4000),
    batch_size=profile.pick(smoke=4, cpu=8, gpu=32),
    snapshot_every=profile.pick(smoke=2, cpu=100, gpu=200),
    snapshot_clips=profile.pick(smoke=8, cpu=96, gpu=256),
    judge_clips=profile.pick(smoke=64, cpu=2048, gpu=4096),
    judge_steps=profile.pick(smoke=5, cpu=300, gpu=1000),
    real_eval=profile.pick(smoke=16, cpu=256, gpu=512),
)
# The recipe: SN-GAN's hinge loss with spectral norm in D, two time-scale learning rates, and an
# exponential moving average of G's weights for sampling. (R1 would cost 15-20% more per step.)
# The learning rates are twice SN-GAN's 2e-4 / 4e-4: at those, 800 steps left the EMA generator's
# clips 3% recognised (the colour drifted between frames); measured while preparing the chapter,
# 1.5x reached 28% at one snapshot and 4% at the end, 2x the 18% at the end that the run below shows.
RECIPE = dict(loss="hinge", lr_g=4e-4, lr_d=8e-4, betas=(0.0, 0.99), r1_gamma=0.0)
EMA_DECAY = profile.pick(smoke=0.5, cpu=0.98, gpu=0.999)
THRESHOLD = 0.8  # the judge must name shape and colour each with at least this probability
# The quality bars (cpu and gpu profiles), both on the EMA generator's clips: FLOOR, the share the
# judge recognises (shape and colour), at the end or in one of the last three snapshots (the game
# swings: see "Why video models moved away from GANs"); and SHAPE_FLOOR, the share whose shape
# alone it names. Broken generators are measured below
# against the same judge: an untrained G and uniform noise must score at most 2% on both.
FLOOR = 0.10
SHAPE_FLOOR = 0.10
print(profile, SIZES, RECIPE)
chapter_start = time.perf_counter()

# %% [markdown]
# ## Q7. The game
#
# A generator `G` maps noise `z ~ N(0, I)` to a clip; a discriminator `D` maps a clip to one
# number, a logit, large for "real". `D` is trained to tell real clips from `G`'s; `G` is trained
# to make `D` call its clips real. Neither has a loss of its own: each one's loss is measured by
# the other, so neither loss has to go down while training works. The library has the two usual
# choices of loss:

# %%
print(inspect.getsource(discriminator_loss).split('"""')[2])
print(inspect.getsource(generator_loss).split('"""')[2])

# %% [markdown]
# Why "non-saturating": Goodfellow's original `G` *minimised* `log(1 - sigmoid(D(G(z))))`, the
# other side of `D`'s cross-entropy. Early in training `D` rejects every fake with confidence
# (logits far below 0), and there that loss is flat: `G` gets almost no gradient exactly when it
# needs one most. Minimising `-log sigmoid(D(G(z)))` instead has the same fixed point and a
# large gradient there:

# %%
logits = torch.tensor([-8.0, -4.0, -1.0, 0.0, 2.0], requires_grad=True)
saturating = torch.log1p(-torch.sigmoid(logits))  # what G minimises in the original minimax game
(grad_saturating,) = torch.autograd.grad(saturating.sum(), logits)
(grad_ns,) = torch.autograd.grad(generator_loss(logits, "non_saturating") * len(logits), logits)
for l, a, b in zip(logits.tolist(), grad_saturating.abs().tolist(), grad_ns.abs().tolist()):
    print(f"D(G(z)) = {l:5.1f}:  |gradient| minimax {a:.5f}   non-saturating {b:.5f}")
saturation_ratio = float(grad_ns[0].abs() / grad_saturating[0].abs())
assert saturation_ratio > 1000

# %% [markdown]
# The networks (`tinyvdm.models.gan`): `G` projects `z` to a `(64 channels, 2 frames, 4, 4)`
# grid and doubles time and space with upsample + 3-D convolution blocks up to 8 frames of
# 32 x 32; `D` mirrors it with strided 3-D convolutions, every weight spectrally normalised
# (divided by its largest singular value, so `D` cannot make its logits arbitrarily steep).
# One training step is one `D` update against detached fakes, then one `G` update through a
# frozen `D` (`gan_step` checks the clips' shape and calls `adversarial_step`, which chapter 01's
# toy GAN plays too):

# %%
source = inspect.getsource(adversarial_step)
print(source[source.index("    # Discriminator step"):source.index("    return {")])

# %% [markdown]
# ## A judge trained on real clips
#
# A GAN has no likelihood and no reconstruction error to report, so its samples need an outside
# judge. `tinyvdm.metrics.recognition.ObjectJudge` is a small per-frame CNN trained on real
# single-object clips to name the shape (3 kinds) and the colour (6), or to *reject* junk (noise,
# flat frames, ghosts of two clips, blurred blobs). A generated clip counts as **recognised**
# when the judge names both its shape and its colour with probability at least 0.8. First, what
# the judge makes of *real* clips: that is the most any generator can score.

# %%
shapes_config = BouncingShapesConfig(frames=FRAMES, size=SIZE)
start = time.perf_counter()
judge = ObjectJudge.fit(shapes_config, clips=SIZES["judge_clips"], steps=SIZES["judge_steps"], seed=0)
judge_seconds = time.perf_counter() - start
pool = BouncingShapes(n=SIZES["pool"], config=shapes_config, seed=1).batch(range(SIZES["pool"]))["video"]
real_eval = BouncingShapes(n=SIZES["real_eval"], config=shapes_config, seed=2).batch(range(SIZES["real_eval"]))["video"]
real_report = recognition_report(judge, real_eval, THRESHOLD)
real_diversity = pairwise_distance(real_eval[:SIZES["snapshot_clips"]])
print(f"judge trained in {judge_seconds:.0f} s; held-out accuracy {judge.held_out_accuracy}")
print(f"real clips: {real_report.summary()}; diversity {real_diversity:.3f}")

# %% [markdown]
# ## Training the GAN
#
# `fit_gan` runs `gan_step` on batches drawn from a pool of real clips, and every few steps lets
# the generator draw clips from the *same* noise, so we can watch what one `z` becomes over
# training. It also keeps an exponential moving average (EMA) of `G`'s weights: the game makes
# `G` circle around a good point rather than settle on it, and the average sits nearer the point.
# The EMA generator is never trained, only sampled.

# %%
seed_everything(0)
config = gan_config(SIZES["gan"], frames=FRAMES, **RECIPE)
generator, discriminator = VideoGenerator(config), VideoDiscriminator(config)
g_params = sum(p.numel() for p in generator.parameters())
d_params = sum(p.numel() for p in discriminator.parameters())
print(f"G {g_params:,} parameters, D {d_params:,}")
start = time.perf_counter()
run = fit_gan(generator, discriminator, pool, SIZES["steps"], batch_size=SIZES["batch_size"], seed=0,
              snapshot_every=SIZES["snapshot_every"], snapshot_clips=SIZES["snapshot_clips"], ema_decay=EMA_DECAY)
print(f"{SIZES['steps']} steps of {SIZES['batch_size']} clips: {run.seconds:.0f} s of training "
      f"({SIZES['steps'] * SIZES['batch_size'] / run.seconds:.1f} clips/s), "
      f"{time.perf_counter() - start:.0f} s with snapshots")

# %%
raw_reports = [recognition_report(judge, clips, THRESHOLD) for clips in run.snapshots]
ema_reports = [recognition_report(judge, clips, THRESHOLD) for clips in run.ema_snapshots]
for step, raw, ema, div in zip(run.snapshot_steps, raw_reports, ema_reports, run.diversity):
    print(f"step {step:4d}  G: {raw.rate:4.0%} recognised, diversity {div:.3f} | EMA G: {ema.rate:4.0%}, "
          f"colour {ema.colour_rate:4.0%}, shape {ema.shape_rate:4.0%}")

# %% [markdown]
# ## The adversarial dynamics
#
# Left, the two losses; middle, `D`'s mean logit on the real and on the fake clips of each step
# (the gap is how well `D` tells them apart); right, numbers measured on the samples from fixed
# noise: their diversity (mean distance between two clips; the dotted line is real clips') and
# the share the judge recognises, for `G` and for its EMA.

# %%
fig = plot_gan_dynamics(run, snapshot_scores={"recognised (G)": [r.rate for r in raw_reports],
                                              "recognised (EMA of G)": [r.rate for r in ema_reports]},
                        real_diversity=real_diversity, smooth=10)
savefig(fig, CHAPTER, "dynamics")
plt.show()

d_loss, g_loss = np.array(run.series("d_loss")), np.array(run.series("g_loss"))
gap = np.array(run.series("d_real")) - np.array(run.series("d_fake"))
half = len(d_loss) // 2
raw_rates = np.array([r.rate for r in raw_reports])
ema_rates = np.array([r.rate for r in ema_reports])
# Does the loss say when the samples are good? Correlate G's loss (mean over the steps before each
# snapshot) with the share of the EMA generator's clips recognised at that snapshot.
window = max(1, SIZES["snapshot_every"])
loss_at = np.array([g_loss[max(0, s - window):s].mean() if s > 0 else g_loss[0] for s in run.snapshot_steps])
loss_rate_corr = float(np.corrcoef(loss_at, ema_rates)[0, 1]) if ema_rates.std() > 0 and loss_at.std() > 0 else 0.0
swings = int(np.sum(np.abs(np.diff(ema_rates)) >= 0.2))  # snapshot-to-snapshot jumps of 20 points or more
spikes = instability(run).spikes  # steps where D's loss passed 3x its median (chapter 04 uses the same measures)
# Mode hopping: the commonest recognised (shape, colour) class of each EMA snapshot with enough recognised clips.
commonest = []
for step, report in zip(run.snapshot_steps, ema_reports):
    if report.counts.sum() >= 5:
        k = int(report.counts.argmax())
        shape, colour = report.shapes[k // len(report.colours)], report.colours[k % len(report.colours)]
        commonest.append((step, f"{colour} {shape}", float(report.counts.max() / report.counts.sum())))
hops = sum(a[1] != b[1] for a, b in zip(commonest, commonest[1:]))
print(f"second half: D loss {d_loss[half:].mean():.2f} +- {d_loss[half:].std():.2f}, "
      f"G loss {g_loss[half:].mean():.2f} +- {g_loss[half:].std():.2f}; D's logit gap {gap[half:].mean():.2f}")
print(f"D-loss spikes above 3x its median: {spikes}; jumps of >= 20 points in the EMA's recognition rate between "
      f"snapshots: {swings}; correlation of G's loss with that rate: {loss_rate_corr:+.2f}")
print("commonest recognised class per EMA snapshot: "
      + ", ".join(f"step {s} {name} ({share:.0%})" for s, name, share in commonest) + f"; it changed {hops} times")

# %% [markdown]
# ## Samples during training
#
# The slider steps through the snapshots of the EMA generator: each row is one fixed `z`, each
# column a frame. (Without a kernel, the picture shows five of them.)

# %%
titles = [f"step {s}: {r.rate:.0%} recognised" for s, r in zip(run.snapshot_steps, ema_reports)]
ema_view = SnapshotViewer(run, clips=6, scale=3, titles=titles, ema=True)
savefig(ema_view.static_figure(), CHAPTER, "snapshots")
ema_view.show()

# %% [markdown]
# ## Recognised objects and mode collapse
#
# The final EMA generator draws fresh clips; the judge names what it can. Two broken generators
# set the floor: the same `G` before training, and uniform noise; a working GAN must score well
# above both. Below, how many of the 18 (shape, colour) classes the recognised clips fall in,
# against real clips judged the same way. A fair comparison takes as many real clips as it needs
# to get about as many recognised ones, since a handful of clips cannot reach 18 classes anyway.

# %%
final_clips = run.ema_generator.sample(SIZES["real_eval"], generator=torch.Generator().manual_seed(123)).detach()
final_raw = generator.sample(SIZES["real_eval"], generator=torch.Generator().manual_seed(123)).detach()
gan_report = recognition_report(judge, final_clips, THRESHOLD)
raw_report = recognition_report(judge, final_raw, THRESHOLD)
# Two broken generators, the controls the floor must separate from a working one: G before any
# training, and noise in the data's range.
untrained = VideoGenerator(config)
with torch.no_grad():
    untrained_clips = untrained.sample(SIZES["real_eval"], generator=torch.Generator().manual_seed(5))
untrained_report = recognition_report(judge, untrained_clips, THRESHOLD)
noise_clips = torch.rand(final_clips.shape, generator=torch.Generator().manual_seed(6)) * 2 - 1
noise_report = recognition_report(judge, noise_clips, THRESHOLD)
# Fair coverage: real clips, as many as it takes for the judge to recognise about as many of them
# as it recognised of the GAN's. Few recognised clips cover few classes even without collapse.
recognised = int(round(gan_report.rate * len(final_clips)))
matched_n = min(len(real_eval), max(2, int(round(recognised / max(real_report.rate, 1e-9)))))
matched_report = recognition_report(judge, real_eval[:matched_n], THRESHOLD)
gan_diversity = pairwise_distance(final_clips[:SIZES["snapshot_clips"]])
for name, report in (("real clips", real_report), (f"first {matched_n} real", matched_report),
                     ("GAN, EMA weights", gan_report), ("GAN, last weights", raw_report),
                     ("untrained G", untrained_report), ("uniform noise", noise_report)):
    print(f"{name:18s} {report.summary()}")
classes = gan_report.counts.numel()
gan_classes, real_classes = int((gan_report.counts > 0).sum()), int((real_report.counts > 0).sum())
matched_classes = int((matched_report.counts > 0).sum())
top_share = float(gan_report.counts.max() / max(int(gan_report.counts.sum()), 1))
print(f"classes reached: GAN {gan_classes} of {classes} with {recognised} recognised clips; real clips "
      f"{matched_classes} with {int(matched_report.counts.sum())} recognised, {real_classes} with "
      f"{int(real_report.counts.sum())}; the GAN's commonest class holds {top_share:.0%} of its recognised clips")

fig, axes = plt.subplots(1, 3, figsize=(14, 3.2), gridspec_kw=dict(width_ratios=[1, 1, 1.6]))
for ax, (name, report) in zip(axes[:2], (("real clips", real_report), ("GAN (EMA)", gan_report))):
    image = ax.imshow(report.counts.numpy(), cmap="viridis")
    ax.set_title(f"{name}: recognised {report.rate:.0%}, classes {report.coverage:.0%}", fontsize=9)
    ax.set(xticks=range(len(COLOUR_NAMES)), yticks=range(len(SHAPES)))
    ax.set_xticklabels(COLOUR_NAMES, rotation=45, fontsize=7)
    ax.set_yticklabels(SHAPES, fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.03)
frame_grid(final_clips[:4], max_frames=8, ax=axes[2])
axes[2].set_title("four fresh clips of the EMA generator")
fig.tight_layout()
savefig(fig, CHAPTER, "coverage")
plt.show()

# %% [markdown]
# ## "Lighter": size and compute per generated clip
#
# The FAQ says GANs are light. Here is what a clip costs. The GAN makes one in a single pass of
# `G`. Chapter 02's VAE makes one in a single pass of its decoder (its prior samples are blurry,
# as that chapter measured). A diffusion model makes one with many passes of its denoiser: 50 with
# DDIM, 1000 with DDPM; here chapter 07's video UNet (`compact`, patch 4). FLOPs are counted by
# `torch.utils.flop_counter` (2 per multiply-add, convolutions and matrix products).

# %%
clip = (1, FRAMES, 3, SIZE, SIZE)
small = gan_config("small", frames=FRAMES)  # the sizes compared are the cpu profile's, in every profile
gan_g, gan_d = VideoGenerator(small), VideoDiscriminator(small)
vae = VideoVAE.from_name("small")
unet = UNet.from_name("compact", patch_size=4)
shape32 = (1, FRAMES, 3, 32, 32)
costs = {
    "GAN generator": (sum(p.numel() for p in gan_g.parameters()), call_flops(lambda: gan_g(torch.zeros(1, small.z_dim))), 1),
    "VAE decoder": (sum(p.numel() for p in vae.decoder.parameters()),
                    call_flops(lambda: vae.decode(torch.zeros(vae.latent_shape(shape32)))), 1),
    "diffusion UNet, DDIM": (unet.num_parameters(), unet.flops_per_forward(shape32), 50),
}
costs["diffusion UNet, DDPM"] = (costs["diffusion UNet, DDIM"][0], costs["diffusion UNet, DDIM"][1], 1000)
training_params = {"GAN (G + D)": sum(p.numel() for p in gan_g.parameters()) + sum(p.numel() for p in gan_d.parameters()),
                   "VAE (encoder + decoder)": vae.num_parameters(), "diffusion UNet": unet.num_parameters()}
rows = "| sampler | parameters used | network passes per clip | GFLOP per clip |\n|---|---|---|---|\n"
for name, (params, flops, passes) in costs.items():
    rows += f"| {name} | {params:,} | {passes} | {flops * passes / 1e9:.3f} |\n"
display(Markdown(rows + "\n| model to train | parameters |\n|---|---|\n"
                 + "".join(f"| {k} | {v:,} |\n" for k, v in training_params.items())))
gan_gflop = costs["GAN generator"][1] / 1e9
ddim_ratio = costs["diffusion UNet, DDIM"][1] * 50 / costs["GAN generator"][1]
ddpm_ratio = costs["diffusion UNet, DDPM"][1] * 1000 / costs["GAN generator"][1]
param_ratio = costs["GAN generator"][0] / costs["diffusion UNet, DDIM"][0]
per_param_gan = costs["GAN generator"][1] / costs["GAN generator"][0]
per_param_unet = costs["diffusion UNet, DDIM"][1] / costs["diffusion UNet, DDIM"][0]
print(f"per pass, FLOP per parameter: GAN G {per_param_gan:.0f}, UNet {per_param_unet:.0f}")

# %% [markdown]
# ## Answer, with evidence
#
# The cell below writes the chapter's answer from the numbers measured above.

# %%
best = int(np.argmax([r.rate for r in ema_reports]))
learned = gan_report.rate >= FLOOR
late_best = max(ema_reports[-3:], key=lambda r: r.rate)
late_step = run.snapshot_steps[len(ema_reports) - 3 + ema_reports[-3:].index(late_best)]
learn_note = (f" That clears this chapter's floor of {FLOOR:.0%}, which the broken generators fail: the untrained "
              f"generator scores {untrained_report.rate:.0%} and uniform noise {noise_report.rate:.0%}." if learned else
              f" The end is under this chapter's floor of {FLOOR:.0%}, but the EMA generator's snapshot at step "
              f"{late_step} reached {late_best.rate:.0%} (the broken generators: untrained {untrained_report.rate:.0%}, "
              f"uniform noise {noise_report.rate:.0%}): it gets there and does not stay." if late_best.rate >= FLOOR else
              f" **So in this budget the GAN has not learned recognisable objects**: {gan_report.rate:.0%} is under "
              f"the {FLOOR:.0%} this chapter asks for, and the judge rejects {gan_report.reject_rate:.0%} of its "
              f"clips as junk. What it has learned is shapes: the judge names the shape of "
              f"{gan_report.shape_rate:.0%} of its clips (the untrained generator {untrained_report.shape_rate:.0%}, "
              f"uniform noise {noise_report.shape_rate:.0%}; the chapter asserts at least {SHAPE_FLOOR:.0%}).")
judge_note = ": the judge itself is often unsure of shapes at this threshold" if real_report.shape_rate < 0.8 else ""
relative = gan_report.rate / real_report.rate if real_report.rate > 0 else float("nan")
collapse_words = (
    f"the GAN's recognised clips fall in **{gan_classes} of the {classes}** (shape, colour) classes, the commonest "
    f"one holding {top_share:.0%} of them, with {gan_report.entropy_bits:.2f} bits of class entropy (the most "
    f"possible is {gan_report.max_entropy_bits:.2f}). Real clips judged the same way reach {matched_classes} classes "
    f"with about as many recognised clips ({int(matched_report.counts.sum())}, the first {matched_n} real clips) and "
    f"{real_classes} with all {len(real_eval)} ({real_report.entropy_bits:.2f} bits)" + (
        ", so the gap is not a matter of sample size: the generator has dropped most of the data's modes. That is "
        "mode collapse, measured" if gan_classes < 0.5 * matched_classes else
        ": at this budget the generator reaches a good share of the classes real clips reach")
)
hop_words = (f"; and the generator hops between modes: the commonest recognised class changed {hops} times over "
             f"{len(commonest)} snapshots (" + ", ".join(f"step {s}: {name}" for s, name, _ in commonest) + ")"
             if hops > 0 else "")
loss_words = ("so the loss curve does not say when the samples are good (a diffusion or VAE loss does)"
              if loss_rate_corr > -0.5 else
              "which points the right way here, but over a handful of snapshots and for a loss that measures `G` "
              "only against the current `D`")
circling = ("the generator circles around a good point and only the average lands near it"
            if gan_report.rate - raw_report.rate >= 0.1 else "the average helps little here")
stability_words = (
    f"`G`'s own weights at the end are recognised in **{raw_report.rate:.0%}** of clips while the running "
    f"average of those weights reaches {gan_report.rate:.0%}: {circling}. D's loss spiked above three times its median {spikes} times in "
    f"{SIZES['steps']} steps; the share of the EMA generator's clips the judge recognised jumped by 20 points or "
    f"more between consecutive snapshots {swings} times ({', '.join(f'{r:.0%}' for r in ema_rates)}); "
    f"G's loss correlates {loss_rate_corr:+.2f} with that share ({len(ema_rates)} snapshots; a loss that tracked "
    f"quality would be strongly negative), {loss_words}{hop_words}"
)
colour_drift = (f" The shape is named in {gan_report.shape_rate:.0%} of the clips but the colour in only "
                f"{gan_report.colour_rate:.0%}: in the pictures the object changes colour from frame to frame, a "
                "failure that only video has." if gan_report.shape_rate - gan_report.colour_rate >= 0.2 else "")
pixel_words = (
    f"the samples' pixel diversity (mean distance between two clips) is {gan_diversity:.3f} against "
    f"{real_diversity:.3f} for real clips" + (
        ", *higher* than real clips': pixel distance counts junk and colour noise as variety, so it cannot see "
        "this collapse, which is why the chapter counts classes with a judge" if gan_diversity >= real_diversity else
        ""))
answer = f"""
**Q7 — What is a GAN?** Two networks trained against each other: a generator `G` that turns
noise into a clip, and a discriminator `D` that scores clips as real or fake. `D` minimises a
classification loss on real against generated clips; `G` minimises a loss that rewards fooling
`D`. We used SN-GAN's recipe (hinge loss, spectral norm on every weight of `D`, learning rates
{RECIPE['lr_g']:g} for `G` and {RECIPE['lr_d']:g} for `D`) on 8-frame {SIZE} x {SIZE} bouncing shapes. The
non-saturating form of `G`'s loss matters: where `D` rejects a fake with logit -8, the original
minimax loss gives `G` a gradient {saturation_ratio:,.0f}x smaller.

**Did it learn?** After {SIZES['steps']} steps of {SIZES['batch_size']} clips ({run.seconds:.0f} s on this
machine), a judge trained on real clips recognises shape and colour in **{gan_report.rate:.0%}** of the
EMA generator's clips (colour alone {gan_report.colour_rate:.0%}, shape alone {gan_report.shape_rate:.0%}); on
*real* clips the same judge reaches {real_report.rate:.0%} (colour {real_report.colour_rate:.0%}, shape
{real_report.shape_rate:.0%}{judge_note}), so the GAN reaches {relative:.0%} of what
real data scores. The untrained generator scores {untrained_report.rate:.0%}, the last (non-averaged) weights
{raw_report.rate:.0%}. The best snapshot of the EMA generator was at step {run.snapshot_steps[best]}
({ema_reports[best].rate:.0%}).{learn_note}{colour_drift}

**Why video models moved away from GANs, measured here.** *Instability:* {stability_words}.
*Diversity:* {collapse_words}; {pixel_words}. Both come from the game, not from video: nothing in the objective makes `G` cover all
of the data, only fool the current `D`. *Cost:* per clip the GAN is cheap to *sample*, one pass of
{gan_gflop:.2f} GFLOP, against {ddim_ratio:.0f}x that for a diffusion UNet with 50 DDIM steps and
{ddpm_ratio:,.0f}x with 1000 DDPM steps. (Chapter 02's VAE decoder, with fewer parameters,
{costs['VAE decoder'][0]:,}, costs {costs['VAE decoder'][1] / 1e9:.2f} GFLOP per clip, more than the GAN's
generator: parameters do not say what a network costs to run.)

**Where the FAQ is wrong or vague.** "Few parameters, light": our generator has
{costs['GAN generator'][0]:,} parameters, {param_ratio:.2f}x the diffusion UNet's {costs['diffusion UNet, DDIM'][0]:,};
but those are sizes we chose, not a property of GANs (GigaGAN's generator has about a billion), and
a GAN is trained with a second network, `D` ({d_params:,} parameters here), run two or three times
per step. What is light is *sampling*: one pass instead of 50-1000. "Unstable, lacks diversity"
is right and measured above, but it is not a matter of "complex datasets": it shows on the
simplest data in this course. "Video's large data and compute" is vague and, per sample, the
wrong way round: a GAN needs far *less* compute per clip than diffusion; what diffusion buys with
it is a loss that tracks quality, steady training that scales, and coverage of every mode.
"""
display(Markdown(answer))
print(f"chapter ran in {time.perf_counter() - chapter_start:.0f} s ({profile.name} profile, "
      f"torch threads: {torch.get_num_threads()})")

# %%
# What the learner should have seen (the smoke profile only proves the cells run).
if not profile.is_smoke:
    assert judge.held_out_accuracy["colour"] >= 0.9, judge.held_out_accuracy
    assert real_report.rate >= 0.9, f"the judge should recognise real clips: {real_report.summary()}"
    assert max(untrained_report.rate, noise_report.rate, untrained_report.shape_rate, noise_report.shape_rate) <= 0.02, \
        "broken generators must not be recognised, nor their shapes named"
    # The game swings from snapshot to snapshot, so FLOOR is asked of the end or one of the last three snapshots.
    assert max(gan_report.rate, late_best.rate) >= FLOOR, \
        f"the GAN should draw objects the judge recognises: {gan_report.summary()}, snapshots {[r.rate for r in ema_reports]}"
    assert gan_report.shape_rate >= SHAPE_FLOOR, f"the GAN should draw shapes the judge names: {gan_report.summary()}"
    assert gan_diversity > 0.02, "the GAN should not draw one clip for every z"
    assert ddim_ratio > 10 and ddpm_ratio > 200

# %% [markdown]
# ## Summary
#
# - A GAN is a game: `D` learns to tell real clips from `G`'s, `G` learns to fool `D`. Neither
#   loss measures progress; an outside judge of the samples does.
# - The non-saturating generator loss keeps `G`'s gradient alive when `D` wins; spectral norm
#   and an EMA of `G`'s weights tame the game; they do not make it converge.
# - Sampling a GAN is one network pass, far cheaper than a diffusion sampler; its parameters are
#   not fewer, and training it is unsteady, with no loss that says when it is done.
# - Mode coverage is not in the objective: `G` only has to fool the current `D`.
#
# ## Exercises
#
# `exercises/03_gan.py`: write the discriminator's hinge and non-saturating losses, the R1
# penalty, and one power-iteration step of spectral normalisation.
