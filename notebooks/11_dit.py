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
# # Chapter 11 — DiT: the diffusion transformer
#
# **FAQ question answered here**
#
# - **Q5.** What is a DiT? (5.什么DiT模型？)
#
# The FAQ's answer, in our words: a DiT is "a new kind of diffusion model" that combines DDPM with
# a transformer, whose core idea is to use a transformer instead of a UNet as the backbone, working
# on the latent representation of an image. Three things in that answer need sharpening, and this
# chapter measures each:
#
# 1. A DiT is **not a new kind of diffusion model**. The noising process, the loss and the samplers
#    are exactly those of chapters 06-07; only the network that predicts the clean clip changes.
#    Below, the same `diffusion_loss` and `DDIMSampler` drive a DiT that chapter 07 used for a UNet.
# 2. "On the latent representation" is where Peebles & Xie ran it (Stable Diffusion's VAE latents),
#    not what makes it a DiT: the network sees a grid of patches, pixels or latents alike. Here it
#    runs on pixels; chapter 12 moves diffusion into a latent space.
# 3. The answer leaves out the two findings the DiT paper is known for: **how the condition enters
#    the network matters** (of four designs, *adaLN-Zero* was best at every stage of training), and
#    **sample quality tracks the network's GFLOPs** (more tokens from smaller patches, or a larger
#    network), not its parameter count. We test both on video, at the scale a CPU allows.

# %% [markdown]
# ## Set-up: the run profile
#
# Every size in this chapter comes from the run profile (`TINYVDM_PROFILE`): `smoke` proves the
# cells run (CI), `cpu` gives the results the text describes on a laptop in under ten minutes,
# `gpu` is bigger. They are all set in the next cell and nowhere else.

# %%
import inspect
import io
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from PIL import Image
from scipy.stats import binomtest

from tinyvdm import get_profile, seed_everything
from tinyvdm.bench import benchmark_training, build_model, measure_ceiling
from tinyvdm.data import BouncingShapes
from tinyvdm.data.bouncing_shapes import COLOUR_NAMES
from tinyvdm.diffusion import NoiseSchedule
from tinyvdm.diffusion.label_dropout import class_conditional_loss
from tinyvdm.diffusion.samplers.ddim import DDIMSampler
from tinyvdm.metrics.class_fidelity import class_fidelity
from tinyvdm.metrics.sample_quality import denoising_error
from tinyvdm.metrics.scene import check_batch
from tinyvdm.models.dit import CONDITIONINGS, DiT, DiTBlock, modulate
from tinyvdm.nn.patch import patchify, unpatchify
from tinyvdm.train import Trainer, TrainConfig
from tinyvdm.viz import frame_grid, savefig
from tinyvdm.viz.frames import grid_image
from tinyvdm.viz.widgets import display_with_fallback

profile = get_profile()
seed_everything(0)
CHAPTER = "11_dit"
FRAMES, SIZE = 8, 32
NUM_CLASSES = len(COLOUR_NAMES)  # the class of a clip is its object's colour; label 6 is the null class
PREDICTION = "x0"  # chapter 07: on a CPU budget, asking for the clean clip learns by far the fastest
SIZES = dict(
    model="tiny/4",  # the ablation's DiT: width 64, 4 blocks, 4 x 4-pixel patches (8 x 8 tokens a frame)
    curve=profile.pick(smoke=("mini/8", "tiny/4"), cpu=("mini/8", "mini/4", "tiny/8", "tiny/4"),
                       gpu=("mini/4", "tiny/8", "tiny/4", "S/4", "tiny/2")),  # the GFLOPs curve (adaLN-Zero)
    train_steps=profile.pick(smoke=3, cpu=100, gpu=3000),
    batch_size=profile.pick(smoke=2, cpu=16, gpu=64),
    lr=profile.pick(smoke=1e-3, cpu=3e-3, gpu=1e-3),
    label_dropout=0.1,  # DiT's share of null labels, for classifier-free guidance
    eval_clips=profile.pick(smoke=4, cpu=64, gpu=256),
    eval_steps=profile.pick(smoke=(300,), cpu=(100, 300, 500, 700), gpu=(100, 300, 500, 700)),
    sample_clips=profile.pick(smoke=6, cpu=24, gpu=192),  # sampled per model, the same number per colour
    ddim_steps=profile.pick(smoke=2, cpu=20, gpu=50),
    guidance=profile.pick(smoke=2.0, cpu=3.0, gpu=3.0),
    bench_steps=profile.pick(smoke=1, cpu=3, gpu=10),
)
print(profile, SIZES)
chapter_start = time.perf_counter()

# %% [markdown]
# ## The data, and a class to condition on
#
# Chapter 07's clips: eight 32 x 32 frames, one shape bouncing in a box. DiT was built as a
# *class-conditional* model (the 1000 ImageNet classes), and a conditioning ablation means nothing
# unless the condition matters, so each clip gets a class: **its object's colour**, one of six.
# A model that ignores its class draws the right colour one time in six. The scene checker of
# chapter 07 detects each object's colour and shape, so every sample can be checked against the
# class it was asked for.

# %%
data = BouncingShapes(n=10**6, seed=0, frames=FRAMES, size=SIZE)  # generated on demand, never repeats
held_out = BouncingShapes(n=SIZES["eval_clips"], seed=1, frames=FRAMES, size=SIZE)
held = held_out.batch(range(len(held_out)))
held_colours = held["colour"][:, 0]  # (b,) the class of each clip
masks = held["masks"].any(dim=2, keepdim=True)  # (b, t, 1, h, w): the object's pixels
real_fidelity = class_fidelity(held["video"], held_colours)
print(f"scene checker on {len(held_colours)} real clips: {real_fidelity.valid:.0%} valid, "
      f"{real_fidelity.frames_clean:.0%} of frames with one clean object, "
      f"{real_fidelity.colour_match:.0%} of frames of the clip's colour")
show = [int((held_colours == k).nonzero()[0]) for k in range(NUM_CLASSES) if (held_colours == k).any()][:6]
fig = frame_grid(held["video"][show], titles=[COLOUR_NAMES[int(held_colours[i])] for i in show])
savefig(fig, CHAPTER, "real_clips")
plt.show()

# %% [markdown]
# ## The DiT, part by part
#
# `DiT.from_name("tiny/4", num_classes=6)`:
#
# 1. **patchify**: cut each frame into 4 x 4-pixel patches and flatten each to a vector of
#    `4 * 4 * 3 = 48` numbers, then a linear map to width 64: a clip becomes `8 x 8 x 8 = 512`
#    tokens, plus a fixed sine-cosine code of each token's place in time and space;
# 2. **blocks**: each does spatial attention (the tokens of one frame), temporal attention (one
#    position across the frames, chapter 08's *factorised* pattern) and an MLP;
# 3. **the final layer** maps each token back to its 48 numbers, and **unpatchify** puts the
#    patches back in their places. The output has the shape of the input: the denoiser interface
#    of every model in the course.

# %%
model = DiT.from_name(SIZES["model"], num_classes=NUM_CLASSES)
x = held["video"][:2]
tokens = patchify(x, 4, 1)
print(f"clip {tuple(x.shape)} -> patches {tuple(tokens.shape)} (b, t, h', w', p p c) -> back {tuple(unpatchify(tokens, 4, 1).shape)}; "
      f"exact round trip: {torch.equal(unpatchify(tokens, 4, 1), x)}")
print(f"{model.num_parameters():,} parameters, {model.gflops((1, FRAMES, 3, SIZE, SIZE)):.2f} GFLOPs per clip (forward)")

# %% [markdown]
# ### How the step and the class get in: adaptive LayerNorm with a zero gate
#
# The network must know the noise level and the class. The step goes through a sinusoidal code and
# an MLP, the class through a learned table; their sum is one vector `c` per clip. In an
# **adaLN-Zero** block, `c` does not enter the token sequence at all. A small linear layer regresses
# from `c` a shift, a scale and a gate for every sublayer, and each sublayer becomes
#
# `x + gate * sublayer(LayerNorm(x) * (1 + scale) + shift)`
#
# (the LayerNorm has no weights of its own; `c` supplies them). The regression starts at **zero**:
# every gate is 0, so every block starts as the identity and the untrained network predicts 0.
# That is the library's code:

# %%
print(inspect.getsource(modulate))
print(inspect.getsource(DiTBlock.sublayer))
block = DiTBlock(64, 4, "factorised", "adaln_zero")
h = torch.randn(2, FRAMES, 8, 8, 64)
print("adaLN-Zero block at initialisation is the identity:", torch.equal(block(h, torch.randn(2, 64)), h))
print("untrained adaLN-Zero DiT predicts exactly 0:",
      bool((model(x, torch.tensor([10, 900]), held_colours[:2]) == 0).all()))

# %% [markdown]
# ## Four ways to feed in the condition
#
# The DiT paper (section 3.2) compares four block designs, all in `tinyvdm.models.dit`:
#
# | conditioning | how `c` (step + class) gets in |
# |---|---|
# | `in_context` | as two extra tokens in the sequence (here: in front of every frame's tokens), read by plain blocks; dropped at the end |
# | `cross_attention` | the tokens attend to the two condition embeddings in an extra cross-attention layer per block |
# | `adaln` | adaptive LayerNorm: a shift and a scale per sublayer regressed from `c`, ordinary initialisation |
# | `adaln_zero` | the same plus a gate per sublayer, and the regression and final layer initialised at zero |
#
# Their sizes and costs (forward, one clip of 8 frames):

# %%
variants = {name: DiT.from_name(SIZES["model"], num_classes=NUM_CLASSES, conditioning=name) for name in CONDITIONINGS}
table = "| conditioning | parameters | GFLOPs per clip |\n|---|---|---|\n" + "".join(
    f"| {name} | {m.num_parameters():,} | {m.gflops((1, FRAMES, 3, SIZE, SIZE)):.3f} |\n" for name, m in variants.items())
display(Markdown(table))

# %% [markdown]
# ## The ablation: same network, same data, same steps, four conditionings
#
# Class-conditional training with DiT's recipe: each clip's label is its colour, replaced by the
# null class 10% of the time (`tinyvdm.diffusion.label_dropout`), so the same network also learns
# the unconditional prediction that classifier-free guidance needs. The loss is chapter 07's
# x0-prediction loss. Each conditioning gets the same seed, batches, noise and steps.

# %%
schedule = NoiseSchedule.from_name("cosine", 1000)


def loss_fn(model, batch, generator):
    return class_conditional_loss(schedule, model, batch["video"], batch["colour"][:, 0], NUM_CLASSES,
                                  SIZES["label_dropout"], prediction=PREDICTION, generator=generator)


def train(name, conditioning="adaln_zero"):
    seed_everything(0)
    model = DiT.from_name(name, num_classes=NUM_CLASSES, conditioning=conditioning)
    config = TrainConfig(steps=SIZES["train_steps"], batch_size=SIZES["batch_size"], lr=SIZES["lr"],
                         warmup_steps=min(20, SIZES["train_steps"]), lr_schedule="cosine", min_lr_ratio=0.1,
                         seed=0, log_every=25, progress=False, device=str(profile.device))
    trainer = Trainer(model, loss_fn, data, config)
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    losses = np.array([record["loss"] for record in trainer.history])
    return dict(model=model.eval(), seconds=seconds, losses=losses, parameters=model.num_parameters(),
                gflops=model.gflops((1, FRAMES, 3, SIZE, SIZE)))


@torch.no_grad()
def evaluate(run, seed=0):
    """Held-out denoising error on the objects' pixels, then guided samples judged by the scene checker."""
    model = run["model"].to(profile.device)
    run["error"] = denoising_error(model, schedule, held["video"].to(profile.device), SIZES["eval_steps"],
                                   mask=masks.to(profile.device), prediction=PREDICTION, repeats=1,
                                   cond=held_colours.to(profile.device))
    colours = torch.arange(SIZES["sample_clips"]) % NUM_CLASSES  # each colour equally often
    start = time.perf_counter()
    samples = DDIMSampler(schedule, SIZES["ddim_steps"], prediction=PREDICTION).sample(
        model, (len(colours), FRAMES, 3, SIZE, SIZE), cond=colours.to(profile.device),
        generator=torch.Generator().manual_seed(seed), guidance_scale=SIZES["guidance"],
        null_cond=torch.tensor(NUM_CLASSES), device=profile.device)
    run["sample_seconds"] = time.perf_counter() - start
    run["samples"], run["colours"] = samples.float().clamp(-1, 1).cpu(), colours
    run["fidelity"] = class_fidelity(run["samples"], colours)
    return run


runs = {}
for conditioning in CONDITIONINGS:
    runs[conditioning] = evaluate(train(SIZES["model"], conditioning))
    run = runs[conditioning]
    print(f"{conditioning:>15}: {run['seconds']:.0f} s training, loss {run['losses'][:10].mean():.3f} -> "
          f"{run['losses'][-20:].mean():.3f}; held-out error on objects {run['error'].mean():.4f}; "
          f"samples of the asked colour {run['fidelity'].dominant_match:.0%}, clean frames "
          f"{run['fidelity'].frames_clean:.0%}, valid clips {run['fidelity'].valid:.0%}", flush=True)

# %% [markdown]
# ### Loss at every stage of training
#
# The paper's Figure 5 plots FID against training steps for the four designs; here is the
# training loss at every step (smoothed), the cheapest view of "at every stage". The right panel
# is the held-out error on the objects' pixels at several noise levels after training.

# %%
def smooth(values, width=10):
    width = max(1, min(width, len(values) // 4 or 1))
    return np.convolve(values, np.ones(width) / width, mode="valid")


fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
for name, run in runs.items():
    axes[0].plot(np.arange(len(smooth(run["losses"]))) + 1, smooth(run["losses"]), label=name)
    axes[1].plot(SIZES["eval_steps"], run["error"], "o-", label=name)
axes[0].set(xlabel="training step", ylabel="x0 loss (smoothed)", yscale="log", title="training loss, four conditionings")
axes[1].set(xlabel="diffusion step t", ylabel="x0 error on object pixels", yscale="log", title="held-out error")
axes[0].legend()
fig.tight_layout()
savefig(fig, CHAPTER, "conditioning_loss")
plt.show()

# Which design is ahead at each quarter of training (mean loss over the quarter)?
parts = min(4, SIZES["train_steps"])  # quarters (fewer parts only in the smoke profile's 3 steps)
quarters = {name: [q.mean() for q in np.array_split(run["losses"], parts)] for name, run in runs.items()}
leaders = [min(quarters, key=lambda n: quarters[n][i]) for i in range(parts)]
print("lowest mean training loss in each quarter of training:", leaders)

# %% [markdown]
# ### Do the samples obey their class?
#
# Each model draws the same number of clips of every colour (DDIM, classifier-free guidance), and
# each sample is judged three ways:
#
# - **asked colour**: the clip's most frequent hue, counted over all its non-black pixels weighted
#   by brightness, is the class it was asked for (chance: 1 in 6). It needs no clean object, so it
#   shows whether the condition steers the sample before the samples look right (a faint wash of
#   the right hue counts);
# - **clean frames**: frames with exactly one object of plausible size and outline (chapter 07's
#   frame-level score), and **of the asked colour** among them;
# - **valid clips**: the strict clip-level scene checker, with the rules broken most often.

# %%
rows = "| conditioning | asked colour | clean frames | clean and asked colour | valid clips | rules broken most (clips) |\n|---|---|---|---|---|---|\n"
for name, run in runs.items():
    f = run["fidelity"]
    rules = ", ".join(f"{rule} {count}" for rule, count in list(f.rules.items())[:3])
    rows += (f"| {name} | {f.dominant_match:.0%} | {f.frames_clean:.0%} | {f.colour_match:.0%} | {f.valid:.0%} "
             f"| {rules} |\n")
display(Markdown(rows + f"\n({SIZES['sample_clips']} clips per model; real clips: {real_fidelity.valid:.0%} valid.)"))


def sample_png(name):
    run = runs[name]
    image = grid_image(run["samples"][:NUM_CLASSES])
    buffer = io.BytesIO()
    Image.fromarray(image).resize((image.shape[1] * 3, image.shape[0] * 3), Image.NEAREST).save(buffer, "png")
    return buffer.getvalue()


picker = widgets.Dropdown(options=list(runs), value="adaln_zero", description="conditioning")
picture = widgets.Image(value=sample_png("adaln_zero"), format="png")
picker.observe(lambda change: setattr(picture, "value", sample_png(change["new"])), names="value")
fig, axes = plt.subplots(len(runs), 1, figsize=(8, 1.3 * NUM_CLASSES * len(runs) / 2))
for ax, (name, run) in zip(np.atleast_1d(axes), runs.items()):
    ax.imshow(grid_image(run["samples"][:NUM_CLASSES]))
    ax.set_title(f"{name}: rows asked for " + ", ".join(COLOUR_NAMES[int(c)] for c in run["colours"][:NUM_CLASSES]),
                 fontsize=8)
    ax.axis("off")
fig.tight_layout()
savefig(fig, CHAPTER, "samples_by_conditioning")
plt.close(fig)
display_with_fallback(widgets.VBox([widgets.HTML(
    "Samples, one row per asked colour: " + ", ".join(COLOUR_NAMES)), picker, picture]), fig)

# %% [markdown]
# ## Quality against GFLOPs
#
# The DiT paper's second finding: across sizes and patch sizes, sample quality follows the
# network's forward GFLOPs. Shrinking the patch from 8 to 4 pixels keeps the parameters and
# quadruples the tokens (and so roughly the FLOPs); a wider, deeper network adds both. Here,
# adaLN-Zero DiTs of several sizes and patch sizes (`mini`: width 32, 2 blocks; `tiny`: width 64,
# 4 blocks), the same steps and batches as the ablation (tiny/4 is the ablation's adaLN-Zero run).
# Quality is the held-out denoising error (lower is better) and the samples' class obedience.

# %%
curve = {}
for name in SIZES["curve"]:
    curve[name] = runs["adaln_zero"] if name == SIZES["model"] else evaluate(train(name))
    run = curve[name]
    print(f"{name:>7}: {run['parameters'] / 1e6:.2f}M parameters, {run['gflops']:.3f} GFLOPs, {run['seconds']:.0f} s "
          f"training, held-out error {run['error'].mean():.4f}, asked colour {run['fidelity'].dominant_match:.0%}, "
          f"clean frames {run['fidelity'].frames_clean:.0%}", flush=True)

fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for name, run in curve.items():
    for ax, value in zip(axes, (run["error"].mean(), run["fidelity"].dominant_match)):
        ax.scatter(run["gflops"], value, s=30 + 60 * run["parameters"] / 5e5)
        ax.annotate(name, (run["gflops"], value), textcoords="offset points", xytext=(6, 3), fontsize=9)
for ax, (label, title) in zip(axes, (("held-out x0 error on objects (lower is better)", "denoising error against GFLOPs"),
                                      ("samples of the asked colour", "class obedience against GFLOPs"))):
    ax.set(xscale="log", xlabel="forward GFLOPs per clip (log)", ylabel=label, title=title)
axes[0].set_yscale("log")
axes[1].axhline(1 / NUM_CLASSES, color="grey", ls=":", lw=1)
fig.suptitle(f"adaLN-Zero DiTs, {SIZES['train_steps']} steps of {SIZES['batch_size']} clips each "
             "(marker area ~ parameters)", fontsize=10)
fig.tight_layout()
savefig(fig, CHAPTER, "quality_vs_gflops")
plt.show()
names = list(curve)
gflops = np.array([curve[n]["gflops"] for n in names])
errors = np.array([curve[n]["error"].mean() for n in names])
rank_agreement = float(np.corrcoef(np.argsort(np.argsort(gflops)), np.argsort(np.argsort(-errors)))[0, 1])
print(f"rank correlation of GFLOPs with quality (lower error): {rank_agreement:+.2f}")

# %% [markdown]
# ## How fast does it train? Samples/s and MFU
#
# `tinyvdm.bench` times a training step of the chapter's DiT and counts its FLOPs; model FLOPs
# utilisation (MFU) is the achieved FLOP/s over the machine's ceiling, measured in the same run
# on a large matrix product.

# %%
ceiling = measure_ceiling(device=profile.device)["best"]
bench = benchmark_training(build_model(f"dit-{SIZES['model']}"), f"dit-{SIZES['model']}",
                           (SIZES["batch_size"], FRAMES, 3, SIZE, SIZE), ceiling=ceiling,
                           steps=SIZES["bench_steps"], warmup=1, device=profile.device)
print(f"ceiling {ceiling / 1e9:.0f} GFLOP/s; dit-{SIZES['model']}: {bench.clips_per_second:.1f} clips/s "
      f"({bench.frames_per_second:.0f} frames/s), {bench.flops_per_step / 1e9:.1f} GFLOP per step, "
      f"{bench.achieved_flops / 1e9:.0f} GFLOP/s = {bench.mfu:.0%} MFU")

# %% [markdown]
# ## Answer, with evidence
#
# The cell below writes the chapter's answer from the numbers measured above.

# %%
zero = runs["adaln_zero"]
best_error = min(runs, key=lambda n: runs[n]["error"].mean())
best_colour = max(runs, key=lambda n: runs[n]["fidelity"].dominant_match)
final = {name: run["losses"][-20:].mean() for name, run in runs.items()}
ranked = sorted(final, key=final.get)
stages = sum(leader == "adaln_zero" for leader in leaders)
if stages == parts and best_error == "adaln_zero":
    verdict = ("**It holds here**: adaLN-Zero had the lowest training loss in every quarter of training and the lowest "
               "held-out error.")
elif stages >= 2 or best_error == "adaln_zero":
    verdict = (f"**It holds only in part here**: adaLN-Zero led the training loss in {stages} of {parts} quarters of "
               f"training (leaders by quarter: {', '.join(leaders)}), and the lowest held-out error belongs to "
               f"{best_error}.")
else:
    verdict = (f"**It does not hold at this budget**: adaLN-Zero led the training loss in {stages} of {parts} quarters "
               f"(leaders by quarter: {', '.join(leaders)}); the lowest held-out error belongs to {best_error}. "
               "Starting every block as the identity buys stability for deep networks trained long; four blocks "
               f"trained {SIZES['train_steps']} steps do not need it, and a zero gate first has to open.")
fid = {name: run["fidelity"] for name, run in runs.items()}
# Pooled over the four models: how many samples have the asked colour, against chance (1 in 6)?
hits = sum(round(f.dominant_match * f.clips) for f in fid.values())
pooled = hits / sum(f.clips for f in fid.values())
chance_p = binomtest(hits, sum(f.clips for f in fid.values()), 1 / NUM_CLASSES, alternative="greater").pvalue
steering = (f"Pooled over the four models, {pooled:.0%} of samples have the asked colour (chance 17%, "
            f"p = {chance_p:.1g} against chance): " + ("the class already steers the colour before the shapes "
            "come out clean." if chance_p < 0.01 else "not yet clearly better than chance."))
if "tiny/8" in curve and "tiny/4" in curve:
    ratio = curve["tiny/8"]["error"].mean() / curve["tiny/4"]["error"].mean()
    patch_finding = (f"Same parameters, patch 8 -> 4 (tiny/8 -> tiny/4, {curve['tiny/4']['gflops'] / curve['tiny/8']['gflops']:.1f}x "
                     f"the FLOPs): the held-out error changes {ratio:.2f}x " + (
                         "in favour of the finer patches: FLOPs alone buy quality, the paper's point that compute, not "
                         "parameter count, is what matters." if ratio > 1 else
                         "against the finer patches: at this budget the extra tokens do not pay off yet."))
else:
    patch_finding = ""
clean_best = max(fid, key=lambda n: fid[n].frames_clean)
answer = f"""
**Q5 — What is a DiT?** A diffusion model whose denoiser is a transformer over patches. Nothing
else about diffusion changes: this chapter trained it with chapter 07's loss and sampled it with
chapter 07's DDIM sampler. A clip of {FRAMES} frames of {SIZE} x {SIZE} pixels is cut into 4 x 4-pixel
patches, {FRAMES * (SIZE // 4) ** 2} tokens, which pass through transformer blocks (spatial then temporal
attention here, chapter 08) and are put back into a clip of the same shape (unpatchify). The FAQ's
"on latent representations" is where the paper ran it, not what it is: here it runs on pixels,
chapter 12 on latents.

**How the condition gets in matters.** The same {zero['parameters']:,}-parameter DiT (tiny/4) trained
{SIZES['train_steps']} steps of {SIZES['batch_size']} clips with each of DiT's four conditionings, the class
being the object's colour (a model that ignores it gets 1 in 6 right). Final training loss:
{", ".join(f"{n} {final[n]:.4f}" for n in ranked)}; held-out error on the objects' pixels:
{", ".join(f"{n} {runs[n]['error'].mean():.4f}" for n in CONDITIONINGS)}. Samples of the asked colour:
{", ".join(f"{n} {fid[n].dominant_match:.0%}" for n in CONDITIONINGS)}. The paper found adaLN-Zero best at every
stage of training; {verdict}

**Quality against GFLOPs.** adaLN-Zero DiTs from {min(gflops):.3f} to {max(gflops):.2f} GFLOPs per clip,
same steps: held-out error {", ".join(f"{n} ({curve[n]['gflops']:.3f} GFLOPs) {curve[n]['error'].mean():.4f}" for n in names)};
rank correlation of GFLOPs with quality {rank_agreement:+.2f}. {patch_finding}

**How good are the samples?** Honestly: not good yet at this budget. The best share of frames with one
clean object is {fid[clean_best].frames_clean:.0%} ({clean_best}); the strict clip-level checker passes
{max(f.valid for f in fid.values()):.0%} of clips (real clips: {real_fidelity.valid:.0%}); its rules broken most
often for adaLN-Zero: {", ".join(f"{r} ({c} of {zero['fidelity'].clips} clips)" for r, c in list(zero['fidelity'].rules.items())[:3])}.
{steering} {SIZES['train_steps']} steps are
about a twentieth of chapter 07's UNet budget in clips seen; the `gpu` profile trains
{profile.pick(smoke=3000, cpu=3000, gpu=SIZES['train_steps'])} steps.

**Speed.** dit-{SIZES['model']} trains at {bench.clips_per_second:.1f} clips/s ({bench.frames_per_second:.0f}
frames/s), {bench.achieved_flops / 1e9:.0f} GFLOP/s = {bench.mfu:.0%} of the {ceiling / 1e9:.0f} GFLOP/s this machine
reached on a large matrix product in the same run ({profile.device.type}).
"""
display(Markdown(answer))
print(f"chapter ran in {time.perf_counter() - chapter_start:.0f} s ({profile.name} profile)")
if profile.name != "smoke":
    assert real_fidelity.valid >= 0.95 and real_fidelity.colour_match >= 0.95
    for name, run in runs.items():  # every conditioning learned to denoise
        assert run["losses"][-20:].mean() < 0.3 * run["losses"][:10].mean(), (name, run["losses"][:10].mean())
    # The class steers the samples: pooled over the four models (96 clips), clearly above chance (1/6);
    # a model that ignores its class passes this with probability ~1%.
    assert pooled >= 0.25, {n: f.dominant_match for n, f in fid.items()}
    # More compute, better denoiser: the largest point of the curve beats the smallest.
    assert curve[names[-1]]["error"].mean() < curve[names[0]]["error"].mean(), errors
