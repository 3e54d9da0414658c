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
# # Chapter 00 — Video as data
#
# **FAQ questions answered here**
#
# - **Q1.** What is "AI video", and which techniques does it rest on?
# - **Q2.** What does *video generation* mean, and what are its main directions?
# - **Q4.** Where is video generation used?
#
# Before any model, this chapter looks at the thing every later chapter generates: a clip as a
# tensor, with everything we know about it. You will meet the course's datasets (generated on
# the fly, never downloaded), see text-to-video, image-to-video and video-to-video as pairs of
# data, and train a first model, a small video *classifier*, to find out what a single frame
# cannot tell you.

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
from tinyvdm.data import COLOURS, DIRECTIONS, SHAPES, BouncingShapes, MovingDigits, bounce_step, render
from tinyvdm.models.classifier import ClipClassifier, fit_classifier, predict
from tinyvdm.viz import DatasetBrowser, animate, frame_grid, output_dir, save_gif, save_mp4, savefig

profile = get_profile()
seed_everything(0)
CHAPTER = "00_video_as_data"
FRAMES, SIZE = 8, 32
SIZES = dict(
    train_clips=profile.pick(smoke=256, cpu=4096, gpu=16384),
    test_clips=profile.pick(smoke=256, cpu=1024, gpu=4096),
    steps=profile.pick(smoke=40, cpu=600, gpu=1500),
    batch_size=profile.pick(smoke=32, cpu=64, gpu=128),
    width=profile.pick(smoke=8, cpu=16, gpu=32),
)
print(profile, SIZES)

# %% [markdown]
# ## A video is a tensor
#
# A clip is a stack of frames: `t` frames of `c` colour channels of `h x w` pixels. This course
# writes it `(t, c, h, w)`, a batch of clips `(b, t, c, h, w)`, and stores pixel values as
# floats in `[-1, 1]` (the range diffusion models expect: zero-mean, like the noise they add).
# Here is one clip of the **bouncing shapes** dataset.

# %%
shapes = BouncingShapes(n=64, seed=0, frames=FRAMES, size=SIZE, max_objects=2)
item = shapes[0]
video = item["video"]
print("video:", tuple(video.shape), video.dtype, f"values in [{video.min():.2f}, {video.max():.2f}]")
print("caption:", item["caption"])
for key, value in item.items():
    if isinstance(value, torch.Tensor):
        print(f"  {key:<12} {str(tuple(value.shape)):<22} {value.dtype}")

# %%
batch = shapes.batch(range(4))
fig = frame_grid(batch["video"], titles=batch["caption"])
savefig(fig, CHAPTER, "bouncing_shapes_grid")
plt.show()
# The same clips as files you can share: an animated GIF and an MP4 (written atomically).
print(save_gif(batch["video"], output_dir(CHAPTER) / "bouncing_shapes.gif", fps=6, scale=4))
print(save_mp4(batch["video"], output_dir(CHAPTER) / "bouncing_shapes.mp4", fps=6, scale=4))
animate(batch["video"], fps=6, titles=batch["caption"])

# %% [markdown]
# The time axis is what makes video expensive. The next cell prices a few clips in memory:
# the course's clips are tiny on purpose; a five-second HD clip is over a billion numbers.
# That is why real video generators compress clips into a small latent space first (chapter 12)
# and why attention over every pixel of every frame is out of the question (chapter 08).

# %%
def clip_bytes(t, c, h, w, bytes_per_value=4):
    return t * c * h * w * bytes_per_value


rows = [
    ("this chapter's clip", FRAMES, 3, SIZE, SIZE),
    ("one 256x256 image", 1, 3, 256, 256),
    ("5 s at 24 fps, 256x256", 120, 3, 256, 256),
    ("5 s at 24 fps, 1920x1080", 120, 3, 1080, 1920),
]
table = "| clip | (t, c, h, w) | values | float32 |\n|---|---|---|---|\n"
for name, t, c, h, w in rows:
    n_values = t * c * h * w
    table += f"| {name} | ({t}, {c}, {h}, {w}) | {n_values:,} | {clip_bytes(t, c, h, w) / 2**20:,.1f} MiB |\n"
display(Markdown(table))
hd_values = 120 * 3 * 1080 * 1920
assert hd_values > 7e8 and clip_bytes(FRAMES, 3, SIZE, SIZE) < 2**20

# %% [markdown]
# ## The datasets
#
# Every clip of bouncing shapes comes with what a model could be asked about: the objects'
# shapes and colours, a caption, each object's trajectory and velocity, which walls it hit and
# when, and a mask per object per frame. Browse them with the widget below (sample, frame, mask
# and trajectory overlays; press play). Where no live front end is attached (CI, a static
# viewer), the same cell shows a still picture instead.

# %%
DatasetBrowser(shapes).show()

# %% [markdown]
# Item `i` is generated from the seed and `i` alone, so a dataset needs no storage and is the
# same on every machine: asking twice gives the same clip.

# %%
again = BouncingShapes(n=64, seed=0, frames=FRAMES, size=SIZE, max_objects=2)[0]
assert torch.equal(again["video"], item["video"]) and again["caption"] == item["caption"]
print(f"shapes: {SHAPES}\ncolours: {tuple(COLOURS)}\ndirections: {DIRECTIONS}")

# %% [markdown]
# The second dataset, **moving digits**, bounces real handwritten digits (the 8x8 scans that
# ship inside scikit-learn, scaled up) in the manner of Moving MNIST. No colour, no clean
# geometry: the shapes are drawn by people.

# %%
digits = MovingDigits(n=8, frames=FRAMES, size=SIZE, seed=0)
digit_batch = digits.batch(range(3))
fig = frame_grid(digit_batch["video"], titles=digit_batch["caption"])
savefig(fig, CHAPTER, "moving_digits_grid")
plt.show()

# %% [markdown]
# ## Q1. What AI video is: understanding and generation
#
# "AI video" covers two opposite directions of the same mapping:
#
# - **understanding**: video in, a description out (a class, a caption, boxes, masks, a
#   trajectory): recognition, tracking, action recognition, video question answering;
# - **generation**: a description in (text, an image, another video, sound, actions), video out.
#
# Editing, restoration and prediction sit in between: video in, video out. The techniques they
# share are the deep networks of computer vision (convolutions and transformers over space *and
# time*), language models for the text side, and generative modelling (GANs, VAEs,
# autoregressive models and, today above all, diffusion), which is what the rest of this course
# builds.
#
# **Where the FAQ is off.** Its answer pairs each technique with one task: NLP "for" generation,
# deep learning "for" recommendation, reinforcement learning "for" editing. Every one of those
# tasks is done with deep learning; NLP matters wherever text is involved (captions, prompts,
# search), and reinforcement learning is not a core technique of video editing: its real place in
# video generation is elsewhere (fine-tuning generators against reward models, and agents that
# plan inside a learned video *world model*, chapter 16). The split that matters is
# understanding versus generation, and the next experiment shows the single property that
# separates video from images for both: **the order of frames carries information**.

# %% [markdown]
# ## Video understanding: a motion classifier
#
# Task: from an 8-frame clip of one shape, tell which of 8 compass directions it started moving
# in. Two networks of the same size, trained the same way:
#
# - **frames as a bag**: a 2-D convolutional encoder turns each frame into a vector, and the
#   vectors are averaged over frames. It sees every frame, but not their order.
# - **space-time**: the same, plus one convolution across neighbouring frames before the
#   average (a factorised "2-D in space, then 1-D in time" design, the idea the video UNet of
#   chapter 07 builds on).
#
# A bag of frames shows *where* the object has been, so at best it can find the line it moved
# along (the positions line up), never which end of the line came first: even a perfect bag
# would have to toss a coin between "left" and "right", which caps it at 50%. The space-time
# network has no such limit.

# %%
def direction_dataset(n, seed):
    data = BouncingShapes(n=n, seed=seed, frames=FRAMES, size=SIZE, max_objects=1)
    start = time.perf_counter()
    batch = data.batch(range(n))
    seconds = time.perf_counter() - start
    return batch["video"], batch["direction"][:, 0], n / seconds


train_videos, train_labels, clips_per_s = direction_dataset(SIZES["train_clips"], seed=1)
test_videos, test_labels, _ = direction_dataset(SIZES["test_clips"], seed=2)
print(f"generated {len(train_videos)} training clips at {clips_per_s:,.0f} clips/s")
print("class counts:", torch.bincount(train_labels, minlength=8).tolist())

# %%
results = {}
for name, temporal in [("frames as a bag", False), ("space-time", True)]:
    seed_everything(0)
    model = ClipClassifier(num_classes=len(DIRECTIONS), size=SIZE, width=SIZES["width"], temporal=temporal)
    fit = fit_classifier(
        model, train_videos, train_labels, steps=SIZES["steps"], batch_size=SIZES["batch_size"],
        lr=3e-3, device=profile.device,
    )
    predictions = predict(model, test_videos)
    results[name] = dict(
        model=model, fit=fit, predictions=predictions,
        accuracy=(predictions == test_labels).float().mean().item(),
        parameters=sum(p.numel() for p in model.parameters()),
    )
    print(f"{name:>16}: test accuracy {results[name]['accuracy']:.1%}, "
          f"{results[name]['parameters']:,} parameters, {fit.seconds:.0f} s ({fit.clips_per_second:,.0f} clips/s)")

# %%
def axis_accuracy(predictions, labels):
    """Right line of motion, either way along it: the label or its exact opposite."""
    return ((predictions == labels) | (predictions == (labels + 4) % 8)).float().mean().item()


fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
for name, result in results.items():
    axes[0].plot(np.convolve(result["fit"].losses, np.ones(10) / 10, mode="valid"), label=name)
axes[0].set(xlabel="step", ylabel="cross-entropy (smoothed)", title="training loss")
axes[0].legend()
for ax, (name, result) in zip(axes[1:], results.items()):
    confusion = torch.zeros(8, 8)
    for true, guess in zip(test_labels, result["predictions"]):
        confusion[true, guess] += 1
    ax.imshow(confusion / confusion.sum(1, keepdim=True).clamp(min=1), cmap="Blues", vmin=0, vmax=1)
    short = ["R", "UR", "U", "UL", "L", "DL", "D", "DR"]
    ax.set_xticks(range(8), short)
    ax.set_yticks(range(8), short)
    ax.set(xlabel="predicted", ylabel="true", title=f"{name}: {result['accuracy']:.0%}")
fig.tight_layout()
savefig(fig, CHAPTER, "motion_classifier")
plt.show()

bag, spacetime = results["frames as a bag"], results["space-time"]
for result in results.values():
    result["axis"] = axis_accuracy(result["predictions"], test_labels)
print(f"right line of motion (either way): bag {bag['axis']:.0%}, space-time {spacetime['axis']:.0%} (chance 25%)")

# %% [markdown]
# The space-time network's confusion matrix is a clean diagonal. The bag's is smeared: with
# the same budget it learned only a little about the line of motion (its "right line" score is
# above chance) and nothing about the way along it. And by construction it cannot tell a clip
# from the same clip played backwards:

# %%
clip = test_videos[:8].to(profile.device)
with torch.no_grad():
    same = torch.allclose(bag["model"](clip), bag["model"](clip.flip(1)), atol=1e-4)
    flipped = (spacetime["model"](clip).argmax(-1) != spacetime["model"](clip.flip(1)).argmax(-1)).float().mean().item()
print(f"bag: identical output for a clip played backwards: {same}")
print(f"space-time: changes its answer for {flipped:.0%} of clips played backwards")
assert same

# %% [markdown]
# ## Q2. The directions of video generation, as data pairs
#
# A generator is defined by what it is given and what it must produce. The three directions the
# FAQ names are three kinds of *training pairs*, and this dataset can make all of them:
#
# - **text-to-video**: caption → clip;
# - **image-to-video**: first frame → clip (animate a still);
# - **video-to-video**: clip → clip that keeps the motion and changes the look (editing,
#   style transfer, restoration).
#
# One thing the pairs make plain: image-to-video is **one-to-many**. The same first frame is the
# start of many different clips, so a good model must output a *distribution* over futures, not
# one answer. That is why the rest of the course is about generative models, not regressors.

# %%
pair_item = shapes[3]
present = pair_item["present"]
trajectory = pair_item["trajectory"][:, present]
shape_ids = pair_item["shape"][present].tolist()
radii = pair_item["radius"][present]
# video-to-video: the same trajectory, re-rendered with other colours and shapes
palette = list(COLOURS)
new_colours = [palette[(c + 3) % len(palette)] for c in pair_item["colour"][present].tolist()]
new_shapes = [SHAPES[(s + 1) % len(SHAPES)] for s in shape_ids]
edited, _ = render(trajectory, new_shapes, new_colours, radii, SIZE)

# image-to-video: one first frame, four futures (same start, different velocities)
start = trajectory[0]
gen = torch.Generator().manual_seed(5)
futures = []
for _ in range(4):
    velocity = 2.0 * (torch.rand(start.shape, generator=gen) - 0.5) * 2.5
    position, steps = start.clone(), [start.clone()]
    for _ in range(FRAMES - 1):
        position, velocity = bounce_step(position, velocity, radii, SIZE)
        steps.append(position.clone())
    futures.append(render(torch.stack(steps), shape_ids, pair_item["colour"][present].tolist(), radii, SIZE)[0])
futures = torch.stack(futures)
assert torch.allclose(futures[:, 0], futures[0, 0])  # one first frame ...
assert (futures[:, -1] - futures[0, -1]).abs().amax() > 0.5  # ... many last frames

fig = frame_grid(torch.stack([pair_item["video"], edited]), titles=[f"source: {pair_item['caption']}", "video-to-video: same motion, new look"])
savefig(fig, CHAPTER, "video_to_video_pair")
plt.show()
fig = frame_grid(futures, titles=[f"image-to-video: future {k + 1}" for k in range(4)])
savefig(fig, CHAPTER, "image_to_video_futures")
plt.show()

# %% [markdown]
# The FAQ's answer to Q2 is mostly a list of products (Runway, Pika, HeyGen, ...). Products come
# and go; the directions are defined by the **conditioning signal**, and every one of them
# appears in this course:
#
# | direction | given | chapter |
# |---|---|---|
# | unconditional | nothing (noise) | 06, 07, 10, 11 |
# | class-to-video | a label ("red circle") | 07, 11, 15 |
# | text-to-video | a caption | 15, 18 |
# | image-to-video | the first frame | 15 |
# | video-to-video | a source clip (editing, restoration, super-resolution) | 13, 16 |
# | video prediction / completion | the first frames | 14, 16 |
# | audio-to-video | a soundtrack | 15 |
# | action-to-video (world model) | the agent's actions | 16 |
#
# Text-to-video pairs come for free here, because the generator knows what it drew:

# %%
for caption in shapes.batch(range(4, 10))["caption"]:
    print("-", caption)

# %% [markdown]
# ## Q4. Where video generation is used
#
# The FAQ lists industries (advertising, film, education, entertainment, medicine, finance), and
# its list is cut off in the middle of a sentence. Industries say little about the technique; the
# *capabilities* do, and each is something a chapter of this course builds and measures:
#
# | capability | used for | chapter |
# |---|---|---|
# | text- and image-to-video | advertising, previsualisation, education material | 15, 18 |
# | prediction and completion | extending shots, forecasting, frame interpolation | 14, 16 |
# | editing with structure kept | changing looks or objects, keeping motion | 16 |
# | restoration | denoising, colourising, outpainting old footage | 16 |
# | world models | simulators for robots and games, planning | 16 |
# | synthetic training data | labelled data for understanding models | 00, 16 |
#
# The last row is what this chapter just did. The motion classifier never saw a labelled real
# video: it learned from generated clips whose labels (direction, class, masks, trajectories)
# cost nothing, because the generator knows what it drew. Counted below: the labels one
# generated clip carries, which a human annotator would otherwise draw by hand.

# %%
per_clip = item["masks"][:, item["present"]].sum().item()
print(f"one {FRAMES}-frame clip carries {item['present'].sum().item()} class labels, a caption, "
      f"{FRAMES} trajectory points per object and {per_clip:,} labelled mask pixels")
print(f"generation speed: {clips_per_s:,.0f} clips/s on this machine "
      f"(training used {spacetime['fit'].clips_per_second:,.0f} clips/s)")

# %% [markdown]
# ## Answer, with evidence
#
# The cell below writes the chapter's answer from the numbers this notebook just measured.

# %%
answer = f"""
**Q1 — What is AI video?** Models that map video to meaning (understanding: classify, track,
caption) and meaning to video (generation: from text, an image, a clip, sound or actions),
built from deep networks over space *and* time, language models for text, and generative
models. The defining property of video is that frame order carries information. Measured here:
on {len(test_labels)} test clips, a network that saw all {FRAMES} frames as an unordered bag
named the direction of motion {bag['accuracy']:.0%} of the time (chance 12.5%; right line,
either way: {bag['axis']:.0%}, chance 25%), while the same network with one convolution across
time reached **{spacetime['accuracy']:.0%}** ({spacetime['parameters']:,} vs
{bag['parameters']:,} parameters, {spacetime['fit'].seconds:.0f} s of training on
{profile.device.type}). Played backwards, a clip gives the bag exactly the same output. The FAQ's pairing of reinforcement learning with editing is not
right: RL's place is in tuning generators against rewards and planning in world models.

**Q2 — Directions of video generation.** They are set by the conditioning signal: text-to-video
(caption → clip), image-to-video (first frame → clip), video-to-video (clip → clip with the
motion kept); plus prediction, audio- and action-conditioned generation. Shown as data pairs
above; image-to-video is one-to-many (four different futures from one identical first frame),
so these are generative problems, not regressions.

**Q4 — Applications.** Organised by capability: creation from text or an image, prediction and
completion, editing, restoration, world models for planning, and synthetic training data. This
chapter did the last one: a classifier trained only on generated clips, each carrying its labels
for free, produced at {clips_per_s:,.0f} clips/s.
"""
display(Markdown(answer))

# %%
# What the learner should have seen (the smoke profile only proves the cells run).
# The bag's ceiling is 50% (it cannot know the sign), whatever the profile.
min_spacetime = profile.pick(smoke=0.0, cpu=0.85, gpu=0.9)
assert spacetime["accuracy"] >= min_spacetime, f"space-time classifier: {spacetime['accuracy']:.1%}"
assert bag["accuracy"] <= 0.5 + 0.05, f"bag of frames beat its 50% ceiling: {bag['accuracy']:.1%}"
if not profile.is_smoke:
    assert spacetime["accuracy"] > bag["accuracy"] + 0.3
    assert spacetime["axis"] >= spacetime["accuracy"] and bag["axis"] >= bag["accuracy"]

# %% [markdown]
# ## Summary
#
# - A clip is a `(t, c, h, w)` tensor in `[-1, 1]`; a batch is `(b, t, c, h, w)`. The time axis
#   multiplies every cost, which is why real systems compress and factorise.
# - The course's datasets are generated from a seed, carry their own labels (captions, classes,
#   trajectories, masks, actions, audio) and plug into a `DataLoader`; your own `.npy` and video
#   files load with `NumpyVideos` and `VideoFolder`.
# - Generation directions are defined by the conditioning signal; image-to-video is one-to-many.
# - Frame order is information: without layers that mix frames, a network cannot tell a clip
#   from the clip played backwards.
#
# ## Exercises
#
# `exercises/00_video_as_data.py`: convert decoded frames to the course's layout, lay a batch out
# as one image with `einops`, and write the bounce physics the dataset uses.
