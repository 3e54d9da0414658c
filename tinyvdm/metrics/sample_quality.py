"""Two levels of sample quality, and how much a video denoiser leans on the other frames.

Taught in chapter 07 (the UNet denoiser), which first separated them, and reused in chapters 10
(U-ViT) and 11 (DiT):

- :func:`scene_scores`: the scene checker (:mod:`tinyvdm.metrics.scene`) on a batch of samples,
  read at two levels: the share of *frames* that show exactly one object (an image-quality
  score, blind to time) and the share of *clips* that pass every rule (one object, of one size,
  shape and colour, moving at constant velocity between wall bounces); with :func:`rule_counts`,
  how many clips break each rule.
- :func:`shuffle_between_clips` and :func:`denoising_error`: the *shuffle control*. Swap frames
  between clips (frame ``k`` of clip ``i`` comes from clip ``i + k``): every frame is still a real
  frame, but its neighbours now show other objects. The rise in a denoiser's error on such clips
  is what it was getting from the other frames; a frame-by-frame denoiser's error does not move.
"""

from __future__ import annotations

import re

import numpy as np
import torch

from tinyvdm.diffusion.forward import diffusion_loss
from tinyvdm.metrics.scene import BatchReport, check_batch

# The checker's reasons, reduced to the rule they break (colours, frames and numbers dropped).
RULES = (
    ("noise", r"^noise:"),
    ("no object", r"^no objects found"),
    ("wrong number of objects", r"^expected \d+ objects"),
    ("object missing in some frames", r"missing in frames"),
    ("implausible size or outline", r"implausible size or outline"),
    ("changes size", r"changes size"),
    ("changes shape", r"changes shape"),
    ("jumps", r" jumps "),
    ("bounces too hard", r"bounces too hard"),
    ("accelerates away from a wall", r" accelerates "),
)


def rule_of(reason: str) -> str:
    """The rule one of the checker's reasons breaks, e.g. ``"red object changes size: ..."`` -> ``"changes size"``."""
    if not isinstance(reason, str):
        raise TypeError(f"reason must be a str, got {type(reason).__name__}")
    for rule, pattern in RULES:
        if re.search(pattern, reason):
            return rule
    return "other"


def rule_counts(report: BatchReport) -> dict[str, int]:
    """How many clips break each rule (a clip counts once per rule), most frequent first."""
    if not isinstance(report, BatchReport):
        raise TypeError(f"report must be a scene.BatchReport, got {type(report).__name__}")
    counts: dict[str, int] = {}
    for clip in report.reports:
        for rule in {rule_of(reason) for reason in clip.reasons}:
            counts[rule] = counts.get(rule, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def scene_scores(videos: torch.Tensor, expected_objects: int = 1) -> dict:
    """The scene checker on ``videos`` ``(b, t, 3, h, w)`` in ``[-1, 1]``, at frame and at clip level.

    Returns a dict: ``frames_ok`` (share of frames with exactly ``expected_objects`` objects
    found), ``frames_clean`` (share of frames holding exactly one object, of plausible size and
    outline; meaningful for single-object clips), ``valid`` (share of clips that pass every rule), ``smoothness`` (mean px/frame^2
    where defined), ``rules`` (:func:`rule_counts`) and the checker's ``report``.
    """
    return report_scores(check_batch(videos.detach().float().cpu(), expected_objects=expected_objects),
                         expected_objects)


def report_scores(report: BatchReport, expected_objects: int = 1) -> dict:
    """:func:`scene_scores` from a checker report already made (e.g. ``class_fidelity(...).report``),
    so that the same clips are not checked twice."""
    if not isinstance(report, BatchReport):
        raise TypeError(f"report must be a scene.BatchReport, got {type(report).__name__}")
    frames_ok = float(np.mean([[n == expected_objects for n in clip.num_objects] for clip in report.reports]))
    frames_clean = float(np.mean([[clip.single_clean(k) is not None for k in range(len(clip.num_objects))]
                                  for clip in report.reports]))
    return dict(frames_ok=frames_ok, frames_clean=frames_clean, valid=report.valid_rate, smoothness=report.mean_smoothness,
                rules=rule_counts(report), report=report)


def shuffle_between_clips(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Frame ``k`` of clip ``i`` taken from clip ``(i + k) mod b``, the same way for each ``(b, t, ...)`` tensor.

    Frame 0 stays in its clip; every later frame comes from another clip (when ``b > k``). Pass a
    clip batch and its masks together so they stay aligned.
    """
    if not tensors:
        raise ValueError("give at least one tensor (b, t, ...)")
    b, t = tensors[0].shape[:2] if tensors[0].ndim >= 2 else (None, None)
    for x in tensors:
        if not isinstance(x, torch.Tensor) or x.ndim < 2 or x.shape[:2] != (b, t):
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"every tensor must have shape (b, t, ...) with the same b, t = {b}, {t}; got {got}")
    if b < 2:
        raise ValueError(f"shuffling between clips needs at least 2 clips, got b = {b}")
    source = (torch.arange(b)[:, None] + torch.arange(t)[None]) % b  # (b, t): the clip each frame comes from
    frame = torch.arange(t)[None].expand(b, t)
    return tuple(x[source, frame] for x in tensors)


@torch.no_grad()
def denoising_error(model, schedule, clips: torch.Tensor, steps, mask: torch.Tensor | None = None,
                    prediction: str = "x0", repeats: int = 2, seed: int = 0,
                    cond: torch.Tensor | None = None) -> np.ndarray:
    """Mean held-out denoising loss of ``model`` at each diffusion step in ``steps``, over ``repeats`` noise draws.

    ``clips`` ``(b, t, c, h, w)`` on the model's device; ``mask`` (bool, e.g. the objects' pixels)
    averages the error over the masked elements only, as :func:`~tinyvdm.diffusion.diffusion_loss`
    does; ``cond`` (e.g. class labels ``(b,)``) is passed to the model. The noise is seeded by
    ``seed`` afresh at every step, so two models (or two calls) see the same noise.
    """
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    if cond is not None and (not isinstance(cond, torch.Tensor) or cond.shape[:1] != clips.shape[:1]):
        got = tuple(cond.shape) if isinstance(cond, torch.Tensor) else type(cond).__name__
        raise ValueError(f"cond must be a tensor with one row per clip, ({clips.shape[0]}, ...), got {got}")
    is_module = isinstance(model, torch.nn.Module)  # a plain function is a denoiser too
    was_training = is_module and model.training
    if is_module:
        model.eval()
    errors = []
    for step in steps:
        generator = torch.Generator(device=clips.device).manual_seed(seed)
        losses = [diffusion_loss(schedule, model, clips, timestep=int(step), prediction=prediction, mask=mask,
                                 cond=cond, generator=generator) for _ in range(repeats)]
        errors.append(torch.stack(losses).mean().item())
    if is_module:
        model.train(was_training)
    return np.array(errors)
