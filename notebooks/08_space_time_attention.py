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
# # Chapter 08 — Space-time attention
#
# **FAQ question answered here**
#
# - **Q22.** What are the main ways a video diffusion model handles time? The FAQ lists three:
#   space-time self-attention, temporal upsampling for long videos, and structure preservation
#   for video-to-video editing. This chapter takes the first and measures it; chapter 14 builds
#   the second (keyframes, then infill) and chapter 16 the third (partial noising).
#
# The FAQ's list of attention variants needs two corrections, and this chapter shows both in
# code:
#
# 1. It calls attention "within one frame, across its regions" *temporal* attention. That is
#    **spatial** attention: it never looks at another frame. Temporal attention is the opposite
#    slice: one position, across all the frames.
# 2. It says sparse-causal attention looks at "the first few frames". In the work that named it
#    (Tune-A-Video, Wu et al. 2023) a frame reads the **first frame and the previous one**, not a
#    few first frames; which is what keeps its cost flat as clips grow.
#
# The idea in one sentence: a video transformer's tokens are patches of frames, and the only
# thing that separates the attention variants is **which other tokens each token may read**. That
# is a mask, so we start with masks, then price them, then train the same small denoiser with
# each one and measure what it buys.

# %% [markdown]
# ## Set-up: the run profile
#
# Every size in this chapter comes from the run profile (`TINYVDM_PROFILE`): `smoke` proves the
# cells run (CI), `cpu` gives the results the text describes on a laptop in a few minutes, `gpu`
# is bigger. They are all set in the next cell and nowhere else.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from tinyvdm import get_profile, seed_everything
from tinyvdm.bench import attention_table
from tinyvdm.data import BouncingShapes
from tinyvdm.diffusion import NoiseSchedule, denoise_once, diffusion_loss, q_sample
from tinyvdm.metrics.motion import jitter, position_error
from tinyvdm.models.dit import DiT
from tinyvdm.nn.attention import PATTERNS, VideoAttention, frame_mask
from tinyvdm.train import Trainer, TrainConfig
from tinyvdm.viz import AttentionMaskViewer, frame_grid, pattern_gallery, savefig

profile = get_profile()
seed_everything(0)
CHAPTER = "08_space_time_attention"
FRAMES, SIZE = 8, 32
# The five denoisers of the experiment: factorised = spatial then temporal attention in every block.
MODEL_PATTERNS = ("spatial", "factorised", "full", "causal", "sparse-causal")
SIZES = dict(
    model="tiny/4",  # DiT, width 64, 4 blocks, 4x4-pixel patches: 8 x 8 tokens per frame
    train_steps=profile.pick(smoke=3, cpu=150, gpu=3000),
    batch_size=profile.pick(smoke=4, cpu=16, gpu=64),
    lr=profile.pick(smoke=1e-3, cpu=3e-3, gpu=1e-3),
    eval_clips=profile.pick(smoke=4, cpu=64, gpu=256),
    eval_steps=profile.pick(smoke=(500, 850), cpu=(300, 500, 700, 850), gpu=(300, 500, 700, 850)),
    cost_frames=profile.pick(smoke=(4, 8), cpu=(4, 8, 16, 32), gpu=(4, 8, 16, 32)),
    timing_repeats=profile.pick(smoke=1, cpu=5, gpu=5),
)
print(profile, SIZES)
chapter_start = time.perf_counter()

# %% [markdown]
# ## Five patterns, one mask each
#
# Cut each frame of a clip into an `h x w` grid of patches; the clip becomes `n = t h w` tokens,
# numbered frame by frame. Self-attention lets every token read every other, unless a **mask**
# `(n, n)` forbids some pairs. Each pattern is a rule over frames times a rule over positions:
#
# | pattern | a token of frame f at position p reads | used by |
# |---|---|---|
# | spatial | every position of frame f | image models run frame by frame |
# | temporal | position p of every frame | the temporal layers of factorised models (VDM, Make-A-Video) |
# | full | every token of the clip | full space-time transformers (Sora-style DiTs) |
# | causal | every position of frames 0 .. f | autoregressive video models, streaming |
# | sparse-causal | every position of frame 0, frame f - 1 and frame f | Tune-A-Video's one-shot editing |
#
# (The library's sparse-causal keeps the own frame on purpose: Tune-A-Video swaps it into a
# *pretrained* image model whose other layers already carry each frame's content; a model trained
# from scratch must let a token see its own frame.)
#
# The viewer below draws the library's own `attention_mask`: pick a pattern, a clip length, a
# grid and a query token, and see which keys it reads, on the frames and in the `(n, n)` matrix.

# %%
AttentionMaskViewer("sparse-causal", frames=6, height=4, width=4)

# %% [markdown]
# The static picture of all five for the last frame's centre token, and the frame rule of each
# as a `(t, t)` table (rows: query frame; columns: key frame):

# %%
fig = pattern_gallery(frames=6, height=4, width=4)
savefig(fig, CHAPTER, "pattern_gallery")
plt.show()
for pattern in PATTERNS:
    rows = frame_mask(pattern, 6).int().numpy()
    print(f"{pattern:>13}: " + "  ".join("".join(map(str, row)) for row in rows))

# %% [markdown]
# ### The patterns hold in code, not only in pictures
#
# Two properties, checked on a random attention layer: under **spatial** attention, changing one
# frame changes only that frame's output; under **causal** attention, changing the last frame
# leaves every earlier frame's output exactly as it was. The fast path (frames folded into the
# batch, or SDPA with the mask) and the teaching path (softmax over all `n` tokens with the
# `(n, n)` mask) agree on every pattern.

# %%
x = torch.randn(2, 4, 3, 3, 32, generator=torch.Generator().manual_seed(0))  # (b, t, h, w, d)
changed = x.clone()
changed[:, -1] += 1.0  # change the last frame only
for pattern in PATTERNS:
    layer = VideoAttention(32, heads=4, pattern=pattern).eval()
    with torch.no_grad():
        out, moved = layer(x), layer(changed)
        teaching, _ = layer(x, return_weights=True)
    per_frame = (out - moved).abs().amax(dim=(0, 2, 3, 4))  # (t,) largest change per output frame
    print(f"{pattern:>13}: change per output frame after editing frame 3 = "
          f"{np.array2string(per_frame.numpy(), precision=3)}; fast vs teaching path "
          f"{(out - teaching).abs().max().item():.1e}")
    if pattern in ("spatial", "causal", "sparse-causal"):
        assert per_frame[:-1].max() == 0, pattern  # earlier frames never read frame 3

# %% [markdown]
# ## What each pattern costs as the clip grows
#
# For one attention layer (width 64, 4 heads) on an `8 x 8` token grid, as the clip grows from 4
# to 32 frames: the FLOPs of a forward and backward pass (counted on the meta device), the bytes
# the layer keeps for its backward pass (measured on real tensors, through the path the layer
# actually takes on this machine), and the measured time of a forward and backward pass.

# %%
# One call measures the whole table (the same table `python -m tinyvdm.bench --attention` prints).
cost_rows = [dict(pattern=r["pattern"], frames=r["frames"], tokens=r["tokens"], gflops=r["flops"] / 1e9,
                  useful_gflops=r["useful_flops"] / 1e9, saved_mb=r["saved_bytes"] / 2**20,
                  plain_saved_mb=r["plain_saved_bytes"] / 2**20, ms=1000 * r["seconds"])
             for r in attention_table(frames=SIZES["cost_frames"], device=profile.device,
                                      repeats=SIZES["timing_repeats"])]
print(f"{'pattern':>13} {'t':>3} {'tokens':>6} {'GFLOP':>7} {'useful':>7} {'saved MB':>9} "
      f"{'(plain)':>8} {'ms':>7}")
for row in cost_rows:
    print(f"{row['pattern']:>13} {row['frames']:>3} {row['tokens']:>6} {row['gflops']:>7.3f} "
          f"{row['useful_gflops']:>7.3f} {row['saved_mb']:>9.2f} {row['plain_saved_mb']:>8.2f} {row['ms']:>7.1f}")


def cost_of(pattern, frames, key):
    return next(r[key] for r in cost_rows if r["pattern"] == pattern and r["frames"] == frames)


# Full, causal and sparse-causal cost the same FLOPs here: distinct markers and line styles keep
# the overlapping lines visible; dashed grey: the useful FLOPs of the two masked patterns.
STYLE = {"spatial": "o-", "temporal": "v-", "full": "s-", "causal": "D--", "sparse-causal": "^:"}
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
frames = list(SIZES["cost_frames"])
for pattern in PATTERNS:
    for ax, key in zip(axes, ("gflops", "saved_mb", "ms")):
        ax.plot(frames, [cost_of(pattern, f, key) for f in frames], STYLE[pattern], label=pattern, alpha=0.8)
for pattern in ("causal", "sparse-causal"):
    axes[0].plot(frames, [cost_of(pattern, f, "useful_gflops") for f in frames], STYLE[pattern][0] + "--",
                 color="grey", lw=0.8, label=f"{pattern}, useful only")
for ax, title in zip(axes, ("GFLOP, forward + backward", "MB kept for the backward pass", "measured ms, fwd + bwd")):
    ax.set(xscale="log", yscale="log", xlabel="frames t", title=title)
    ax.minorticks_off()
    ax.set_xticks(frames, [str(f) for f in frames])
axes[0].legend(fontsize=7)
fig.tight_layout()
savefig(fig, CHAPTER, "attention_cost")
plt.show()

# %% [markdown]
# Read the table by its growth, not its values. Doubling the frames doubles the tokens; then
#
# - **spatial** and **temporal** grow linearly: spatial does `t` separate `(h w)^2` attentions,
#   temporal does `h w` attentions of length `t` (quadratic in `t`, but `t` is small);
# - **full** grows quadratically in FLOPs: `n^2` scores;
# - **causal** and **sparse-causal** *compute* like full attention here: the SDPA kernel is
#   handed a mask and still scores every pair (the "useful" column is what a kernel that skipped
#   masked blocks would do: half of full for causal, a shrinking share for sparse-causal, whose
#   useful work grows only linearly, since each frame reads at most three frames);
# - memory: the plain matmul-softmax path keeps the `(heads, n, n)` weights (quadratic); the fused
#   SDPA kernel keeps a few numbers per query (linear), but the masked patterns hand it an
#   `(n, n)` boolean mask, which is kept too. That mask is the only quadratic term left.

# %% [markdown]
# ## The experiment: the same denoiser with each pattern
#
# Now the question that matters: do the other frames *help*? Take one small DiT (chapter 11 builds
# it; here it is a black box that maps a noisy clip and its step to a clean clip), and train five
# copies that differ only in the attention pattern of their blocks: **spatial** (frames never
# meet: an image model run on each frame), **factorised** (spatial, then temporal attention in
# each block), **full**, **causal** and **sparse-causal**. Same data, same steps, same seed.
#
# Each predicts the clean clip `x0` directly (`prediction="x0"`), so we can read the object's
# position off its prediction and compare it with where the dataset says the object is
# (`tinyvdm.metrics.motion`): the **position error** in pixels, frame by frame, and the **jitter**,
# how much the predicted path wobbles beyond the true path's own acceleration. At low noise a frame
# shows its own object and the patterns should agree; at high noise one frame says little, and a
# model that can read the others should place the object better and move it more smoothly.

# %%
schedule = NoiseSchedule.from_name("cosine", 1000)
data = BouncingShapes(n=10**6, seed=0, frames=FRAMES, size=SIZE)  # generated on demand, never repeats
held_out = BouncingShapes(n=SIZES["eval_clips"], seed=1, frames=FRAMES, size=SIZE)
held = held_out.batch(range(len(held_out)))
real_error = position_error(held["video"], held["trajectory"]).mean().item()
real_jitter = jitter(held["video"], held["trajectory"]).mean().item()
print(f"real clips: position error {real_error:.2f} px (a triangle's centroid is not its centre), "
      f"jitter {real_jitter:.2f} px/frame^2")


def loss_fn(model, batch, generator):
    return diffusion_loss(schedule, model, batch["video"], prediction="x0", generator=generator)


runs = {}
for pattern in MODEL_PATTERNS:
    seed_everything(0)
    model = DiT.from_name(SIZES["model"], attention=pattern)
    config = TrainConfig(steps=SIZES["train_steps"], batch_size=SIZES["batch_size"], lr=SIZES["lr"],
                         warmup_steps=min(20, SIZES["train_steps"]), lr_schedule="cosine", min_lr_ratio=0.1,
                         seed=0, log_every=25, device=str(profile.device))
    trainer = Trainer(model, loss_fn, data, config)
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    losses = [record["loss"] for record in trainer.history]
    runs[pattern] = dict(model=model.eval(), seconds=seconds, losses=losses,
                         parameters=sum(p.numel() for p in model.parameters()))
    print(f"{pattern:>13}: {runs[pattern]['parameters'] / 1e6:.2f}M parameters, {seconds:.0f} s, "
          f"final loss {np.mean(losses[-20:]):.4f}")

# %% [markdown]
# ### Position error and jitter against the ground truth

# %%
results = {}  # (pattern, step) -> dict of numbers
for pattern, run in runs.items():
    for step in SIZES["eval_steps"]:
        x0 = denoise_once(schedule, run["model"], held["video"], step)
        error = position_error(x0, held["trajectory"])  # (b, t)
        results[pattern, step] = dict(error=error.mean().item(), by_frame=error.mean(dim=0).numpy(),
                                      jitter=jitter(x0, held["trajectory"]).mean().item(), x0=x0)
print(f"{'pattern':>13} " + " ".join(f"{'t=' + str(s):>16}" for s in SIZES["eval_steps"]))
for pattern in runs:
    cells = [f"{results[pattern, s]['error']:5.2f} px {results[pattern, s]['jitter']:5.2f} j" for s in SIZES["eval_steps"]]
    print(f"{pattern:>13} " + " ".join(f"{c:>16}" for c in cells))
print("(px: mean position error; j: jitter in px/frame^2)")

high = max(SIZES["eval_steps"])
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
for pattern in runs:
    axes[0].plot(SIZES["eval_steps"], [results[pattern, s]["error"] for s in SIZES["eval_steps"]], "o-", label=pattern)
    axes[1].plot(SIZES["eval_steps"], [results[pattern, s]["jitter"] for s in SIZES["eval_steps"]], "o-", label=pattern)
    axes[2].plot(range(FRAMES), results[pattern, high]["by_frame"], "o-", label=pattern)
axes[0].axhline(real_error, color="grey", ls=":", lw=1)
axes[1].axhline(real_jitter, color="grey", ls=":", lw=1)
axes[0].set(xlabel="diffusion step t", ylabel="px", title="position error of the predicted x0")
axes[1].set(xlabel="diffusion step t", ylabel="px / frame^2", title="jitter of the predicted path")
axes[2].set(xlabel="frame", ylabel="px", title=f"position error by frame at t = {high}")
axes[0].legend(fontsize=8)
fig.tight_layout()
savefig(fig, CHAPTER, "temporal_consistency")
plt.show()

# %% [markdown]
# What the predictions look like at a high noise level (the second noisiest measured; at the
# noisiest every guess is a faint smudge): the noisy input, then each model's guess of the clean
# clip (one held-out clip; the true clip on top).

# %%
shown_step = sorted(SIZES["eval_steps"])[-2] if len(SIZES["eval_steps"]) > 1 else high
video = held["video"][:1]
noisy = q_sample(schedule, video, torch.tensor([shown_step]),
                 torch.randn(video.shape, generator=torch.Generator().manual_seed(1)))
rows = torch.cat([video, noisy.clamp(-1, 1)] + [results[p, shown_step]["x0"][:1] for p in runs])
fig = frame_grid(rows, titles=["real", f"noisy, t = {shown_step}"] + list(runs))
savefig(fig, CHAPTER, "predictions")
plt.show()

# %% [markdown]
# ### Which input frames reach which output frames, after four blocks
#
# One attention layer of a pattern reads the frames its mask allows; a stack of layers reads
# further, because frame `f` reads frame `f - 1`, which has already read frame `f - 2`. Measured
# on the trained models: nudge one input frame and record which output frames move (rows: output
# frame, columns: nudged input frame).

# %%
@torch.no_grad()
def reach(model, clip, step=500):
    timestep = torch.full((1,), step, dtype=torch.long)
    base = model(clip, timestep)
    table = np.zeros((FRAMES, FRAMES))
    for k in range(FRAMES):
        nudged = clip.clone()
        nudged[:, k] += 0.5
        table[:, k] = (model(nudged, timestep) - base).abs().amax(dim=(0, 2, 3, 4)).numpy()
    return table > 1e-6


clip = torch.randn(1, FRAMES, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(2))
reaches = {pattern: reach(run["model"].cpu(), clip) for pattern, run in runs.items()}
fig, axes = plt.subplots(1, len(reaches), figsize=(2.6 * len(reaches), 2.8))
for ax, (pattern, table) in zip(axes, reaches.items()):
    ax.imshow(table, cmap="Blues", vmin=0, vmax=1.3)
    ax.set(title=f"{pattern}\n{int(table.sum())} of {FRAMES * FRAMES} pairs", xlabel="input frame", ylabel="output frame")
fig.tight_layout()
savefig(fig, CHAPTER, "frame_reach")
plt.show()
assert (reaches["spatial"] == np.eye(FRAMES, dtype=bool)).all()
assert not np.triu(reaches["causal"], k=1).any() and not np.triu(reaches["sparse-causal"], k=1).any()

# %% [markdown]
# ## Answer, with evidence
#
# The cell below writes the chapter's answer from the numbers measured above.

# %%
spatial = results["spatial", high]
best = min((p for p in runs if p != "spatial"), key=lambda p: results[p, high]["error"])
gain = {p: spatial["error"] / results[p, high]["error"] for p in runs}
low = min(SIZES["eval_steps"])
spread_low = max(results[p, low]["error"] for p in runs) - min(results[p, low]["error"] for p in runs)
time_ratio = {p: runs[p]["seconds"] / runs["spatial"]["seconds"] for p in runs}
t_max = max(SIZES["cost_frames"])
causal_frames = results["causal", high]["by_frame"]

if gain[best] >= 1.15:
    finding = (f"At the noisiest step measured (t = {high}) the best of them, **{best}**, places the object "
               f"{gain[best]:.2f}x closer to where it really is than the spatial-only model "
               f"({results[best, high]['error']:.1f} px against {spatial['error']:.1f} px), and its predicted path "
               f"jitters {results[best, high]['jitter']:.1f} px/frame^2 against {spatial['jitter']:.1f}. At t = {low} the "
               f"five agree to within {spread_low:.2f} px: where a frame shows its own object, other frames add nothing.")
else:
    finding = (f"At this budget the other frames barely help yet: at t = {high} the best pattern, {best}, places the "
               f"object {gain[best]:.2f}x closer than the spatial-only model ({results[best, high]['error']:.1f} px "
               f"against {spatial['error']:.1f} px). The layers that *can* read other frames have not yet learned "
               "where to look; the gpu profile trains long enough to separate them.")
joint = [p for p in ("full", "causal", "sparse-causal") if p in runs]
if gain.get("factorised", 1.0) >= 1.08 and all(gain[p] < 1.05 for p in joint):
    finding += (" The joint patterns read other frames too, yet their models place the object no better than the "
                "spatial one (" + ", ".join(f"{p} {gain[p]:.2f}x" for p in joint) + "). At initialisation a joint "
                f"pattern spreads each token's attention evenly over every token it may read ({FRAMES * 64} for full "
                "attention over 8 frames of 8 x 8 patches), so it must first learn *where* in the other frames to "
                "look, and this budget does not teach it that. Factorised temporal attention starts by averaging the "
                "same patch across the frames; for objects that move less than a patch (4 pixels) per frame, that is "
                "nearly the right thing from the first step. A built-in assumption (an inductive bias) buys learning "
                "speed; the joint patterns' generality pays off only with more training, which this profile does not "
                "measure.")
others = ", ".join(f"{p} {gain[p]:.2f}x" for p in runs if p != "spatial")
answer = f"""
**Q22 — How do video diffusion models handle time?** In the attention layers, by choosing which
other frames each token may read: one `(n, n)` mask per pattern. Measured here:

**What each pattern sees** (the reach table, measured on the trained models): spatial attention never
mixes frames ({int(reaches['spatial'].sum())} of {FRAMES * FRAMES} input-output frame pairs connected,
the diagonal); causal attention never reads ahead ({int(reaches['causal'].sum())} pairs, the lower
triangle); sparse-causal reads the first and the previous frame per layer, and four layers stacked
reach back further ({int(reaches['sparse-causal'].sum())} pairs); full and factorised connect all
{int(reaches['full'].sum())} and {int(reaches['factorised'].sum())}.

**What each pattern costs** (one layer, 8 x 8 tokens per frame, {t_max} frames against 4):
full attention grows from {cost_of('full', 4, 'gflops'):.3f} to {cost_of('full', t_max, 'gflops'):.2f} GFLOP
({cost_of('full', t_max, 'gflops') / cost_of('full', 4, 'gflops'):.0f}x for 8x the frames), spatial from
{cost_of('spatial', 4, 'gflops'):.3f} to {cost_of('spatial', t_max, 'gflops'):.3f} ({cost_of('spatial', t_max, 'gflops') / cost_of('spatial', 4, 'gflops'):.0f}x),
temporal {cost_of('temporal', t_max, 'gflops'):.3f}. Causal and sparse-causal are computed as full attention
with a mask by SDPA ({cost_of('causal', t_max, 'gflops'):.2f} GFLOP at {t_max} frames), although sparse-causal
needs only {cost_of('sparse-causal', t_max, 'useful_gflops'):.3f}: the savings of a sparse pattern are real only
with a kernel that skips masked blocks. Memory kept for the backward pass at {t_max} frames:
{cost_of('full', t_max, 'plain_saved_mb'):.0f} MB for full attention through plain softmax,
{cost_of('full', t_max, 'saved_mb'):.1f} MB through the fused kernel this machine uses, and
{cost_of('causal', t_max, 'saved_mb'):.1f} MB for causal (the fused kernel plus its `(n, n)` bool mask).
Measured time per layer at {t_max} frames: spatial {cost_of('spatial', t_max, 'ms'):.1f} ms, temporal
{cost_of('temporal', t_max, 'ms'):.1f} ms, full {cost_of('full', t_max, 'ms'):.1f} ms, causal
{cost_of('causal', t_max, 'ms'):.1f} ms.

**What each pattern buys.** The same DiT ({runs['spatial']['parameters'] / 1e6:.2f}M parameters; the
patterns add no parameters, factorised adds one attention layer per block) trained
{SIZES['train_steps']} steps with each pattern. {finding} Position error relative to spatial at
t = {high} (higher is better): {others}. Training time relative to spatial: """ + ", ".join(
    f"{p} {time_ratio[p]:.1f}x" for p in runs if p != "spatial") + f""".
The causal model's error by frame at t = {high} runs from {causal_frames[0]:.1f} px at frame 0 (which
reads only itself) to {causal_frames[-1]:.1f} px at frame {FRAMES - 1}.

**Where the FAQ is off.** Attention inside one frame is *spatial*, not temporal (the reach table: the
spatial model connects only the diagonal); temporal attention is one position across all frames.
Sparse-causal reads the *first and previous* frame, not "the first few", and within a stack of layers
its reach grows with depth. The FAQ's other two items, temporal upsampling for long videos and
structure preservation in editing, are chapters 14 and 16.
"""
display(Markdown(answer))
print(f"chapter ran in {time.perf_counter() - chapter_start:.0f} s ({profile.name} profile)")

# %%
# What the learner should have seen (the smoke profile only proves the cells run).
if not profile.is_smoke:
    assert cost_of("full", t_max, "gflops") / cost_of("full", 4, "gflops") > 20, "full attention should grow ~quadratically"
    assert cost_of("spatial", t_max, "gflops") / cost_of("spatial", 4, "gflops") < 10
    assert cost_of("full", t_max, "plain_saved_mb") > 10 * cost_of("full", t_max, "saved_mb")
    for pattern in runs:
        assert np.mean(runs[pattern]["losses"][-20:]) < 0.5 * np.mean(runs[pattern]["losses"][:5]), pattern
    assert spread_low < 1.0, "at low noise every pattern should find the object"
    assert gain[best] >= 1.08, "some pattern that reads other frames should beat frame-by-frame at high noise"

# %% [markdown]
# ## Summary
#
# - A space-time attention pattern is a mask: a rule over frames times a rule over positions.
#   Spatial and temporal attention run as reshapes (fold the other axes into the batch); the
#   masked patterns pass a boolean mask to SDPA.
# - Cost: full attention is quadratic in the frames; factorised attention is close to linear;
#   causal and sparse-causal save nothing unless the kernel skips the masked blocks.
# - Benefit: at low noise a frame is its own best witness; at high noise, reading other frames
#   places the object better and moves it more smoothly, but only once the model has learned
#   where to look: on a short budget the pattern with the right built-in prior (factorised:
#   the same patch across frames) is the one that gains. Which frames a model can read decides
#   what it can do (causal: stream frame after frame; sparse-causal: cheap edits anchored on the
#   first frame).
#
# ## Exercises
#
# `exercises/08_space_time_attention.py`: write the frame rule of each pattern and masked
# attention yourself.
