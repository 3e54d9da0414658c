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
# # Chapter 01 — The generative landscape: GAN, VAE, autoregressive and diffusion side by side
#
# **FAQ questions answered here**
#
# - **Q3.** How did video generation get where it is: which technical routes has it taken?
# - **Q19.** How do video diffusion models differ from the video generators that came before them?
#
# The FAQ's answers, in short: Q3 names four routes (GAN, autoregressive, diffusion and DiT),
# says the last two are today's mainstream, and points at a picture. Q19 says diffusion generates
# in many steps while the older models (GANs, autoregressive transformers) generate "in one step"
# from a latent, and that the older models may be weaker in diversity and control.
#
# Both answers are claims about models, and a claim about a model can be measured. This chapter
# trains the four kinds of generator on the same 2-D toy data, where a scatter plot shows
# everything and the data's modes are known, and measures four things for each:
#
# 1. **mode coverage**: how many of the data's modes the samples reach (a model that drops modes
#    lacks diversity, the FAQ's word);
# 2. **fraction near modes**: how much of the model's mass lands on a mode rather than between
#    them (sharpness);
# 3. **training time** for the same number of optimizer steps;
# 4. **sampling cost**: network calls and wall time per 1000 samples.
#
# Two things we will find the FAQ gets wrong or leaves vague: an autoregressive model does *not*
# generate in one step (it takes one network call per token, in sequence), and diversity is not
# what sets diffusion apart from *every* older route (the autoregressive model covers the modes
# as well). What does set it apart shows up in the cost column.

# %% [markdown]
# ## Set-up: the run profile
#
# Every size in this chapter comes from the run profile (`TINYVDM_PROFILE`): `smoke` proves the
# cells run (CI), `cpu` gives the results the text describes on a laptop in a few minutes, `gpu`
# is bigger. They are all set in the next cell and nowhere else.

# %%
import inspect
import statistics
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from tinyvdm import get_profile, seed_everything
from tinyvdm.data import toy2d
from tinyvdm.diffusion import DDIMSampler, DDPMSampler, NoiseSchedule, diffusion_loss
from tinyvdm.models.mlp import MLPDenoiser
from tinyvdm.models.toy2d import (
    ToyAutoregressive,
    ToyDiscriminator,
    ToyGANConfig,
    ToyGenerator,
    ToyVAE,
    count_calls,
    from_tokens,
    points_dataset,
    sample_token,
    to_tokens,
    toy_ar_loss,
    toy_vae_loss,
    train_toy_gan,
)
from tinyvdm.train import Trainer, TrainConfig
from tinyvdm.viz import savefig
from tinyvdm.viz.timeline import MILESTONES, milestones_by_route, timeline_figure
from tinyvdm.viz.widgets import display_with_fallback, figure_png

profile = get_profile()
seed_everything(0)
CHAPTER = "01_generative_landscape"
DATASETS = ("gaussians8", "gaussians25")  # mixtures with known modes: coverage is a number
MODELS = ("GAN", "VAE", "autoregressive", "diffusion")
SIZES = dict(
    train_points=profile.pick(smoke=2048, cpu=20000, gpu=50000),
    train_steps=profile.pick(smoke=30, cpu=1500, gpu=6000),  # the same optimizer steps for every model
    batch_size=profile.pick(smoke=64, cpu=256, gpu=512),
    width=profile.pick(smoke=16, cpu=64, gpu=128),  # hidden width of every MLP
    samples=profile.pick(smoke=200, cpu=1000, gpu=1000),  # samples drawn (and timed) per model
    num_steps=profile.pick(smoke=100, cpu=1000, gpu=1000),  # T of the diffusion chain (DDPM samples with all T)
    ddim_steps=(50, 10),
    sweep_steps=profile.pick(smoke=(1, 5, 20), cpu=(1, 2, 5, 10, 20, 50, 100, 200),
                             gpu=(1, 2, 5, 10, 20, 50, 100, 200)),
    seeds=profile.pick(smoke=(0,), cpu=(0, 1, 2), gpu=(0, 1, 2)),  # GAN, VAE, AR: cheap, trained once per seed
    diffusion_seeds=profile.pick(smoke=(0,), cpu=(0,), gpu=(0, 1, 2)),  # the diffusion model trains longest
    longer=profile.pick(smoke=2, cpu=4, gpu=4),  # one more diffusion run on the 25-blob grid, this many times longer
)
print(profile, SIZES)
chapter_start = time.perf_counter()

# %% [markdown]
# ## Q3. The routes, drawn from a table
#
# The FAQ answers Q3 with a picture of four routes. Here the picture is drawn in code from a table
# of milestones (`tinyvdm.viz.timeline`), each with the year of its first paper, so that it can be
# checked and extended. Two changes to the FAQ's four lanes:
#
# - **the VAE gets a lane.** It was a route of its own for video prediction (SV2P, SVG, 2017-18),
#   and it is inside almost every video model today: latent diffusion runs in the latent space of
#   a VAE (chapters 02 and 12). A list of routes without it misses the part that every modern
#   model still contains.
# - **DiT is drawn as a lane, but bracketed with diffusion.** DiT is not a fifth way to generate:
#   it is a diffusion model whose denoiser is a transformer instead of a UNet (chapter 11). It
#   trains with the same loss and samples with the same samplers. Counting it as a route beside
#   diffusion mixes up *how a model generates* with *which network it uses*.

# %%
fig = timeline_figure()
savefig(fig, CHAPTER, "timeline")
plt.show()
for route, items in milestones_by_route().items():
    videos = [m for m in items if m.kind == "video"]
    print(f"{route:>14}: method {int(min(m.year for m in items if m.kind == 'method'))}, "
          f"first video model {int(videos[0].year)} ({videos[0].name}), latest listed {int(videos[-1].year)}")

# %% [markdown]
# The table puts a date on "mainstream": the video models of the last two years in it are
# diffusion models, most with a transformer backbone (and several of the newest train with flow
# matching, a close cousin of the diffusion loss). It also shows the FAQ's picture is not a
# succession in which each route replaced the one before: autoregressive video models were still
# appearing in 2023 (VideoPoet). What the picture cannot show is *why* diffusion won. The rest of
# the chapter measures the trade-off on data small enough to see.

# %% [markdown]
# ## The data and the two numbers that judge a generator
#
# Two mixtures of Gaussians from `tinyvdm.data.toy2d`: 8 blobs on a circle and a 5 x 5 grid of 25
# blobs, each blob far narrower than the gaps between them. Because the modes are known, two
# numbers judge any set of samples:
#
# - **mode coverage**: the share of modes that receive at least a tenth of their fair share of the
#   samples (within 3 standard deviations of the mode). A model that drops modes scores below 1;
# - **fraction near modes**: the share of samples within 3 standard deviations of some mode. A
#   model that smears its mass between modes scores low, even if it covers them all.

# %%
print(inspect.getsource(toy2d.mode_coverage))
data = {name: toy2d.sample(name, SIZES["train_points"], seed=0) for name in DATASETS}
held_out = {name: toy2d.sample(name, SIZES["samples"], seed=1) for name in DATASETS}
for name in DATASETS:
    print(f"{name}: {len(toy2d.modes(name))} modes; held-out data itself: coverage "
          f"{toy2d.mode_coverage(held_out[name], name)[0]:.0%}, near modes {toy2d.fraction_near_modes(held_out[name], name):.1%}")

# %% [markdown]
# ## Four generators, four ways to turn noise into a point
#
# All four are small MLPs of the same width, trained for the same number of optimizer steps with
# the same batch size (the sizes are in the profile cell). What differs is what the network
# learns and how a sample is drawn:
#
# | model | the network learns | one sample costs |
# |---|---|---|
# | GAN | a generator `G(z)`, trained against a discriminator that tells its points from the data's | 1 call of `G` |
# | VAE | an encoder `q(z | x)` and a decoder, trained on the evidence lower bound (ELBO) | 1 call of the decoder |
# | autoregressive | `p(x)` and `p(y | x)` over binned coordinates, trained by cross-entropy | 2 calls, one after the other |
# | diffusion | a denoiser `eps(x_t, t)`, trained by regression on noised data | one call per sampling step: 1000 for DDPM here |
#
# The autoregressive model works on **tokens**: each coordinate is cut into bins, and a point
# becomes two tokens. Sampling is *ancestral*: draw `x`, then draw `y` from the model's
# distribution given that `x`. The two pieces:

# %%
print(inspect.getsource(to_tokens))
print(inspect.getsource(ToyAutoregressive.sample_tokens))

# %%
grid = ToyAutoregressive().grid
point = torch.tensor([[1.5, 0.0]])
tokens = to_tokens(point, grid)
print(f"point {point.tolist()[0]} -> tokens {tokens.tolist()[0]} ({grid.bins} bins of width {grid.bin_width:.3f} "
      f"over [{grid.low}, {grid.high})) -> bin centre {from_tokens(tokens, grid).tolist()[0]}")
logits = torch.tensor([[0.0, 2.0, 1.0, -1.0]])
for u in (0.05, 0.3, 0.8, 0.99):
    print(f"  logits {logits.tolist()[0]}, uniform u = {u}: token {sample_token(logits, torch.tensor([u])).item()}")

# %% [markdown]
# ## Training all four on both data sets
#
# GAN, VAE and autoregressive model train in seconds, so each is trained with several seeds (the
# GAN especially varies from run to run); the diffusion model takes longer per step and gets one
# seed in the `cpu` profile. The VAE's decoder is told the true width of the blobs (its fixed
# standard deviation is the mixture's), which is a favour no real data set grants.

# %%
def train_config(lr, seed, steps=None):
    steps = steps or SIZES["train_steps"]
    return TrainConfig(steps=steps, batch_size=SIZES["batch_size"], lr=lr, lr_schedule="cosine",
                       warmup_steps=min(50, steps // 4), seed=seed, progress=False)


schedule = NoiseSchedule.from_name("cosine", SIZES["num_steps"])


def train_model(kind, name, seed, steps=None):
    """Train one model of ``kind`` on data set ``name``: (model, wall seconds). Every loop is the library's.

    ``steps`` (default: the profile's ``train_steps``) is used by the diffusion model only.
    """
    seed_everything(seed)
    width, points = SIZES["width"], data[name]
    start = time.perf_counter()
    if kind == "GAN":
        model, critic = ToyGenerator(width=width), ToyDiscriminator(width=width)
        train_toy_gan(model, critic, points, ToyGANConfig(steps=SIZES["train_steps"], batch_size=SIZES["batch_size"],
                                                          seed=seed), device=profile.device)
    elif kind == "VAE":
        model = ToyVAE(width=width, decoder_std=toy2d.MIXTURE_STD[name])
        Trainer(model, toy_vae_loss, points_dataset(points), train_config(1e-3, seed)).fit()
    elif kind == "autoregressive":
        model = ToyAutoregressive(width=width)
        Trainer(model, toy_ar_loss, points_dataset(points), train_config(1e-3, seed)).fit()
    else:
        model = MLPDenoiser(width=width, depth=3)

        def loss_fn(m, batch, generator):
            return diffusion_loss(schedule, m, batch[0], generator=generator)

        Trainer(model, loss_fn, points_dataset(points), train_config(3e-3, seed, steps)).fit()
    if profile.device.type == "cuda":
        torch.cuda.synchronize()
    return model.eval(), time.perf_counter() - start


def draw(name, kind, model, seed, sampler=None):
    """SIZES['samples'] points from a trained model, with the network calls and the wall time it took."""
    n, generator = SIZES["samples"], torch.Generator().manual_seed(1000 + seed)
    watched = model.decoder if kind == "VAE" else model  # a VAE samples with its decoder alone
    with count_calls(watched) as count:
        if kind == "diffusion":
            points = sampler.sample(model, (n, 2), generator=generator)
        else:
            points = model.sample(n, generator)
    points = points.float().cpu()
    return dict(points=points, calls=count.calls, seconds=count.seconds,
                covered=toy2d.mode_coverage(points, name)[0], near=toy2d.fraction_near_modes(points, name))


def diffusion_samplers():
    # DDIM's own "leading" spacing (0, T/n, 2T/n, ...). "Trailing" would start at the last step,
    # where the cosine schedule leaves alpha_bar near 0 and turning an eps guess into x0 divides by
    # almost nothing: tried, it put almost no samples on a mode. The price of "leading" is that
    # with 1 step the only step is t = 0, so the noise comes out nearly untouched.
    samplers = {f"DDPM {SIZES['num_steps']}": DDPMSampler(schedule, clip_x0=False)}  # toy points live outside [-1, 1]
    for steps in SIZES["ddim_steps"]:
        samplers[f"DDIM {steps}"] = DDIMSampler(schedule, steps, clip_x0=False)
    return samplers


runs = []  # one row per (data set, model, sampler, seed)
trained = {}  # (data set, model, seed) -> trained network, for the widget
for name in DATASETS:
    for kind in MODELS:
        for seed in SIZES["diffusion_seeds"] if kind == "diffusion" else SIZES["seeds"]:
            model, seconds = train_model(kind, name, seed)
            trained[name, kind, seed] = model
            samplers = diffusion_samplers() if kind == "diffusion" else {"": None}
            for label, sampler in samplers.items():
                result = draw(name, kind, model, seed, sampler)
                runs.append(dict(data=name, model=kind, sampler=label, seed=seed, train_s=seconds, **result))
                row = runs[-1]
                print(f"{name:>11} {kind:>14} {label:>9} seed {seed}: coverage {row['covered']:4.0%}, near modes "
                      f"{row['near']:4.0%}, trained in {seconds:5.1f} s, {row['calls']:4d} calls "
                      f"{row['seconds'] * 1000:7.1f} ms per {SIZES['samples']} samples", flush=True)

# %% [markdown]
# The diffusion model's samples on the 25-blob grid are the blurriest of its results (see the
# table and the clouds below). Is that the route or the budget? One more run answers it: the same
# denoiser trained for several times as many steps, sampled with DDIM 50.

# %%
LONG = f"DDIM 50, {SIZES['longer']}x training"
long_steps = SIZES["longer"] * SIZES["train_steps"]
model, seconds = train_model("diffusion", "gaussians25", 0, steps=long_steps)
trained["gaussians25", "diffusion long", 0] = model
result = draw("gaussians25", "diffusion", model, 0, DDIMSampler(schedule, 50, clip_x0=False))
runs.append(dict(data="gaussians25", model="diffusion", sampler=LONG, seed=0, train_s=seconds, **result))
print(f"gaussians25 diffusion trained {long_steps} steps ({seconds:.0f} s): coverage {result['covered']:.0%}, "
      f"near modes {result['near']:.0%}")

# %% [markdown]
# ## The table: coverage, sharpness, training time, sampling cost
#
# Medians over seeds, and the worst seed's coverage beside the median (one good run does not make
# a reliable model).

# %%
def summarise(rows):
    return dict(covered=statistics.median(r["covered"] for r in rows), worst=min(r["covered"] for r in rows),
                near=statistics.median(r["near"] for r in rows), train_s=statistics.median(r["train_s"] for r in rows),
                calls=rows[0]["calls"], sample_ms=statistics.median(r["seconds"] for r in rows) * 1000,
                seeds=len(rows))


ROWS = [("GAN", ""), ("VAE", ""), ("autoregressive", "")] + [("diffusion", label) for label in diffusion_samplers()]
summary = {}
for name in DATASETS:
    for kind, label in ROWS + [("diffusion", LONG)]:
        rows = [r for r in runs if (r["data"], r["model"], r["sampler"]) == (name, kind, label)]
        if rows:  # the longer run exists for one data set only
            summary[name, kind, label] = summarise(rows)

lines = ["| data | model | mode coverage (median, worst seed) | near modes | train (s) | network calls per sample "
         f"| sampling time per {SIZES['samples']} (ms) |", "|---|---|---|---|---|---|---|"]
for (name, kind, label), s in summary.items():
    lines.append(f"| {name} | {kind} {label} | **{s['covered']:.0%}** ({s['worst']:.0%}, {s['seeds']} seeds) "
                 f"| {s['near']:.0%} | {s['train_s']:.1f} | {s['calls']} | {s['sample_ms']:.1f} |")
display(Markdown("\n".join(lines)))

# %% [markdown]
# ## Sample clouds
#
# The same story in pictures: the data, then each model's samples (seed 0; the diffusion model
# with all its steps and with 10).

# %%
panels = [("GAN", ""), ("VAE", ""), ("autoregressive", ""), ("diffusion", f"DDPM {SIZES['num_steps']}"),
          ("diffusion", f"DDIM {SIZES['ddim_steps'][-1]}")]
fig, axes = plt.subplots(len(DATASETS), 1 + len(panels), figsize=(2.6 * (1 + len(panels)), 2.8 * len(DATASETS)),
                         sharex=True, sharey=True)
for row, name in enumerate(DATASETS):
    centres = toy2d.modes(name)
    axes[row, 0].scatter(*held_out[name].T, s=1, color="grey")
    axes[row, 0].set_title(f"{name}: data", fontsize=9)
    for col, (kind, label) in enumerate(panels, start=1):
        result = next(r for r in runs if (r["data"], r["model"], r["sampler"]) == (name, kind, label))
        ax = axes[row, col]
        ax.scatter(*result["points"].T, s=1, color=f"C{col}")
        ax.scatter(*centres.T, s=12, facecolors="none", edgecolors="black", lw=0.5)
        ax.set_title(f"{kind} {label}\ncoverage {result['covered']:.0%}, near {result['near']:.0%}", fontsize=8)
for ax in axes.flat:
    ax.set(xlim=(-2.3, 2.3), ylim=(-2.3, 2.3), aspect="equal", xticks=[], yticks=[])
fig.tight_layout()
savefig(fig, CHAPTER, "sample_clouds")
plt.show()

# %% [markdown]
# ## Quality against sampling cost
#
# The diffusion model is the only one of the four whose cost can be *chosen* after training: the
# same network, sampled with fewer DDIM steps, costs less and gives less. Sweeping the number of
# steps traces a curve; the other three are single points.

# %%
sweep = {}
for name in DATASETS:
    denoiser = trained[name, "diffusion", SIZES["diffusion_seeds"][0]]
    for steps in SIZES["sweep_steps"]:
        result = draw(name, "diffusion", denoiser, 0, DDIMSampler(schedule, steps, clip_x0=False))
        sweep[name, steps] = result
    print(f"{name}: DDIM steps -> near modes / coverage: " + ", ".join(
        f"{steps}: {sweep[name, steps]['near']:.0%}/{sweep[name, steps]['covered']:.0%}" for steps in SIZES["sweep_steps"]))

fig, axes = plt.subplots(1, len(DATASETS), figsize=(12, 4))
for ax, name in zip(axes, DATASETS):
    steps = list(SIZES["sweep_steps"])
    ax.plot([sweep[name, s]["calls"] for s in steps], [sweep[name, s]["near"] for s in steps], "o-", color="C4",
            label="diffusion, DDIM: near modes")
    ax.plot([sweep[name, s]["calls"] for s in steps], [sweep[name, s]["covered"] for s in steps], "s--", color="C4",
            alpha=0.5, label="diffusion, DDIM: coverage")
    ddpm = summary[name, "diffusion", f"DDPM {SIZES['num_steps']}"]
    ax.plot([ddpm["calls"]], [ddpm["near"]], "*", ms=12, color="C4", label=f"diffusion, DDPM {SIZES['num_steps']}")
    if (name, "diffusion", LONG) in summary:
        long_run = summary[name, "diffusion", LONG]
        ax.plot([long_run["calls"]], [long_run["near"]], "D", ms=8, color="C4", mfc="none",
                label=f"diffusion, {SIZES['longer']}x training, DDIM 50")
    for colour, kind in zip(("C1", "C2", "C3"), ("GAN", "VAE", "autoregressive")):
        s = summary[name, kind, ""]
        ax.plot([s["calls"]], [s["near"]], "o", ms=9, color=colour, label=f"{kind}: near modes")
        ax.plot([s["calls"]], [s["covered"]], "s", ms=9, color=colour, alpha=0.5, mfc="none",
                label=f"{kind}: coverage")
    ax.set(xscale="log", xlabel="network calls per sample (log)", ylim=(-0.02, 1.05), title=name)
axes[0].legend(fontsize=6, loc="lower right")
handles, labels = axes[-1].get_legend_handles_labels()
longer_only = [(h, l) for h, l in zip(handles, labels) if "training" in l]
if longer_only:
    axes[-1].legend(*zip(*longer_only), fontsize=6, loc="lower right")
fig.suptitle("what a sample costs and what it gets (seed-median for GAN, VAE, AR)", fontsize=10)
fig.tight_layout()
savefig(fig, CHAPTER, "quality_vs_cost")
plt.show()

# %% [markdown]
# ## Explore the samples
#
# Choose a data set, a model and, for the diffusion model, the number of DDIM steps; the picture
# shows that model's samples with its two numbers. Things to try: the diffusion model at 1 and 2
# steps (as few calls as the GAN or the autoregressive model: the samples are still mostly noise),
# then 5, 10, 50; the GAN on the 25 blobs, and which blobs it leaves empty.
# Where no live front end is attached, the cell shows a still picture of the diffusion model
# across step counts instead.

# %%
def cloud_png(name, kind, steps):
    """A PNG of one set of samples (seed 0), as the explorer shows it."""
    if kind == "diffusion":
        result = sweep[name, steps]
        title = f"diffusion, DDIM {steps} steps"
    else:
        result = next(r for r in runs if (r["data"], r["model"], r["seed"]) == (name, kind, 0))
        title = kind
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(*result["points"].T, s=2, color="C0")
    ax.scatter(*toy2d.modes(name).T, s=14, facecolors="none", edgecolors="black", lw=0.5)
    ax.set(xlim=(-2.3, 2.3), ylim=(-2.3, 2.3), aspect="equal", xticks=[], yticks=[])
    ax.set_title(f"{name}, {title}\ncoverage {result['covered']:.0%}, near modes {result['near']:.0%}, "
                 f"{result['calls']} calls per sample", fontsize=8)
    png = figure_png(fig)
    plt.close(fig)
    return png


data_choice = widgets.Dropdown(options=DATASETS, value=DATASETS[0], description="data")
model_choice = widgets.Dropdown(options=MODELS, value="diffusion", description="model")
step_choice = widgets.SelectionSlider(options=list(SIZES["sweep_steps"]), value=SIZES["sweep_steps"][-1],
                                      description="DDIM steps")
picture = widgets.Image(format="png")


def refresh(change=None):
    step_choice.disabled = model_choice.value != "diffusion"
    picture.value = cloud_png(data_choice.value, model_choice.value, step_choice.value)


for control in (data_choice, model_choice, step_choice):
    control.observe(refresh, names="value")
refresh()
explorer = widgets.VBox([widgets.HBox([data_choice, model_choice]), step_choice, picture])

still_steps = [s for s in SIZES["sweep_steps"] if s in (1, 2, 5, 10, 50, 200)] or list(SIZES["sweep_steps"])
still, axes = plt.subplots(len(DATASETS), len(still_steps), figsize=(2.3 * len(still_steps), 2.5 * len(DATASETS)),
                           squeeze=False)
for row, name in enumerate(DATASETS):
    for col, steps in enumerate(still_steps):
        result = sweep[name, steps]
        axes[row, col].scatter(*result["points"].T, s=1, color="C4")
        axes[row, col].set(xlim=(-2.3, 2.3), ylim=(-2.3, 2.3), aspect="equal", xticks=[], yticks=[])
        axes[row, col].set_title(f"{name}, DDIM {steps}\nnear {result['near']:.0%}", fontsize=8)
still.suptitle("one network, different numbers of sampling steps", fontsize=10)
still.tight_layout()
savefig(still, CHAPTER, "ddim_steps")
display_with_fallback(explorer, still)

# %% [markdown]
# ## Answer, with evidence
#
# The cell below writes the chapter's answer from the numbers this notebook just measured.

# %%
def cell(name, kind, label=""):
    return summary[name, kind, label]


g8, g25 = DATASETS
ddpm_label = f"DDPM {SIZES['num_steps']}"
short_label = f"DDIM {SIZES['ddim_steps'][-1]}"
one_step = {name: sweep[name, min(SIZES["sweep_steps"])] for name in DATASETS}
full_cover = [f"{kind} {label}".strip() for kind, label in ROWS
              if all(cell(name, kind, label)["worst"] == 1.0 for name in DATASETS)]
gan_ms, ddpm_ms = cell(g25, "GAN")["sample_ms"], cell(g25, "diffusion", ddpm_label)["sample_ms"]
long_run = cell(g25, "diffusion", LONG)
clip_tokens = 16 * 32 * 32  # e.g. 16 latent frames of 32 x 32 tokens: one sequential call each for an AR model
cost_ratio = ddpm_ms / max(gan_ms, 1e-3)


def coverage_text(kind, label=""):
    return " / ".join(f"{cell(name, kind, label)['covered']:.0%}" for name in DATASETS)


def near_text(kind, label=""):
    return " / ".join(f"{cell(name, kind, label)['near']:.0%}" for name in DATASETS)


answer = f"""
**Q3 — The routes.** Four ways to turn noise into a sample have carried video generation: the
**GAN** (2014; video GANs 2016-2021), the **VAE** (2013; video prediction 2017-18, and inside every
latent video model since 2021), **autoregressive** models over tokens (pixel-level from 2016,
VQ-token video from 2021, VideoPoet in 2023) and **diffusion** (2015, practical with DDPM in 2020;
video from 2022). **DiT** (2022) is not a fifth route: it is diffusion with a transformer as the
denoiser, and the newest models in the timeline (Sora, CogVideoX, HunyuanVideo, Wan) are all of
that kind. The FAQ's list leaves out the VAE, which every latent video model still contains, and
counts DiT as a route beside diffusion, mixing up how a model generates with which network it uses.

**Q19 — How video diffusion models differ from the generators before them.** Measured on 2-D toy
data ({g8} / {g25}; same width, {SIZES['train_steps']} optimizer steps each; medians over
{len(SIZES['seeds'])} seeds for GAN, VAE and AR, {len(SIZES['diffusion_seeds'])} for diffusion):

- **Mode coverage** (share of modes reached): GAN {coverage_text('GAN')} (worst seed on {g25}:
  {cell(g25, 'GAN')['worst']:.0%}), VAE {coverage_text('VAE')}, autoregressive
  {coverage_text('autoregressive')}, diffusion {coverage_text('diffusion', ddpm_label)} with
  {SIZES['num_steps']} DDPM steps and {coverage_text('diffusion', short_label)} with {SIZES['ddim_steps'][-1]} DDIM
  steps. Models that covered every mode in every run on both data sets: {', '.join(full_cover) or 'none'}
  (the diffusion model was trained with {len(SIZES['diffusion_seeds'])} seed).
- **Sharpness** (share of samples on a mode): GAN {near_text('GAN')}, VAE {near_text('VAE')},
  autoregressive {near_text('autoregressive')}, diffusion {near_text('diffusion', ddpm_label)}
  (DDPM) and {near_text('diffusion', short_label)} ({short_label}).
- **Cost per sample**: GAN and VAE **1** network call, autoregressive **2** (one per token, the
  second waiting for the first), diffusion **{cell(g8, 'diffusion', ddpm_label)['calls']}** (DDPM),
  {', '.join(str(cell(g8, 'diffusion', f'DDIM {s}')['calls']) for s in SIZES['ddim_steps'])} (DDIM).
  Wall time per {SIZES['samples']} samples on {g25}: GAN {gan_ms:.1f} ms, VAE {cell(g25, 'VAE')['sample_ms']:.1f} ms,
  AR {cell(g25, 'autoregressive')['sample_ms']:.1f} ms, diffusion {ddpm_ms:.0f} ms with DDPM
  ({cost_ratio:,.0f} times the GAN) and {cell(g25, 'diffusion', short_label)['sample_ms']:.1f} ms with
  {short_label}. Training time for the same steps ({g25}): GAN {cell(g25, 'GAN')['train_s']:.1f} s, VAE
  {cell(g25, 'VAE')['train_s']:.1f} s, AR {cell(g25, 'autoregressive')['train_s']:.1f} s, diffusion
  {cell(g25, 'diffusion', ddpm_label)['train_s']:.1f} s.

So the difference is this: a GAN or a VAE pays **one** network call per sample and, trained as
plainly as the others, pays for it (the GAN drops modes; the VAE smears its mass between them, with
{cell(g8, 'VAE')['near']:.0%} and {cell(g25, 'VAE')['near']:.0%} of its samples on a mode, and on the
25-blob grid reaches only {cell(g25, 'VAE')['covered']:.0%} of the modes). Diffusion reaches the modes by spending
**many** calls at sampling time, and the spend can be chosen after training: the same network puts
{one_step[g8]['near']:.0%} of its samples on a mode of {g8} with 1 DDIM step, {sweep[g8, 10]['near'] if (g8, 10) in sweep else float('nan'):.0%}
with 10 and {sweep[g8, max(SIZES['sweep_steps'])]['near']:.0%} with {max(SIZES['sweep_steps'])} (a single step cannot
turn noise into data; chapter 06 shows why: a denoiser's one-step answer is an average). Its sharpness on the 25-blob grid is a matter of training budget,
not of the route: trained {SIZES['longer']} times longer ({long_run['train_s']:.0f} s), the share of its
samples on a mode rises from {cell(g25, 'diffusion', 'DDIM 50')['near']:.0%} to **{long_run['near']:.0%}**
(DDIM 50, coverage {long_run['covered']:.0%}). The honest finding of the toy, though, is that the
best model of the four *here* is the autoregressive one ({cell(g25, 'autoregressive')['near']:.0%} on a
mode, every mode, 2 calls). Its weakness is invisible in 2-D: its calls are sequential, one per
token, and a point has two tokens while a clip of, say, 16 latent frames of 32 x 32 tokens has
{clip_tokens:,}; a diffusion sampler denoises all of them at once in each of its 10 to 50 calls.

Where the FAQ is wrong or vague: (1) it calls the older models "single-step", autoregressive
transformers included. An autoregressive model takes one network call per token, in sequence
(2 here; {clip_tokens:,} for the clip above), so it is a many-step generator too, and on this data
it covered the modes as well as diffusion did. (2) "Weaker in diversity" holds for the GAN
(mode dropping, measured above) and not for the autoregressive route. The trade-offs that moved
video to diffusion are ones this toy cannot show: a denoiser regresses in parallel over all
pixels of all frames, trains with a plain regression loss (no adversarial game, no token
vocabulary to learn first), and conditions easily. (3) "Application scenarios" is not a
difference between model kinds: every route can be conditioned on text, images or video.
"""
display(Markdown(answer))
print(f"chapter ran in {time.perf_counter() - chapter_start:.0f} s ({profile.name} profile)")

# %%
# What the learner should have seen (the smoke profile only proves the cells run).
for name in DATASETS:
    assert cell(name, "GAN")["calls"] == 1 and cell(name, "VAE")["calls"] == 1
    assert cell(name, "autoregressive")["calls"] == 2
    assert cell(name, "diffusion", ddpm_label)["calls"] == SIZES["num_steps"]
    assert all(cell(name, "diffusion", f"DDIM {s}")["calls"] == s for s in SIZES["ddim_steps"])
if not profile.is_smoke:
    for name in DATASETS:
        assert cell(name, "autoregressive")["worst"] == 1.0 and cell(name, "autoregressive")["near"] > 0.9, \
            "the autoregressive model should reach every mode, sharply"
        assert cell(name, "diffusion", "DDIM 50")["covered"] >= 0.96, "the diffusion model should reach the modes"
        assert sweep[name, 1]["near"] < cell(name, "diffusion", "DDIM 50")["near"] - 0.2, "one step should be far worse"
    assert long_run["near"] > cell(g25, "diffusion", "DDIM 50")["near"] + 0.15, "longer training should sharpen diffusion"
    assert cell(g8, "diffusion", ddpm_label)["near"] > 0.8
    assert cell(g25, "GAN")["covered"] < 1.0, "the plain GAN should drop modes of the 25-blob grid"
    assert cell(g25, "VAE")["near"] < cell(g25, "autoregressive")["near"] - 0.3, "the VAE should smear its mass"
    assert cost_ratio > 20, "a DDPM sample should cost far more wall time than a GAN sample"

# %% [markdown]
# ## Summary
#
# - Four routes turn noise into samples: the GAN and the VAE in one network call, the
#   autoregressive model in one call per token, diffusion in one call per denoising step. DiT is
#   diffusion with a transformer denoiser, not a fifth route.
# - On 2-D mixtures, mode coverage is one number that tells the routes apart: the plain GAN drops
#   modes, the VAE smears its mass between them (and on the 25-blob grid misses many), the
#   autoregressive model reached every mode in every run, the diffusion model every mode or nearly
#   every one; its sharpness grows with training.
# - The FAQ's "older models generate in one step" is wrong for the autoregressive route: it takes
#   one sequential call per token, which for a clip is thousands.
# - Diffusion buys its quality with sampling cost, and the cost is a dial: fewer DDIM steps are
#   cheaper and worse, and one step gives the average of the data.
#
# ## Exercises
#
# `exercises/01_generative_landscape.py`: count mode coverage yourself, cut a point into the
# autoregressive model's tokens, and write one ancestral sampling step (the inverse-CDF draw of a
# token from the model's logits).
