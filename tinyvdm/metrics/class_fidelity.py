"""Did a class-conditional video generator draw clean objects, and of the class it was asked for?

Taught in chapter 11 (DiT), where four ways of feeding a class label into a denoiser are compared
by what their samples show. Built on the scene checker of :mod:`tinyvdm.metrics.scene`, which
finds each object's colour and shape in every frame; this module turns its per-clip reports into
the numbers a chapter quotes:

- ``frames_clean``: the share of frames holding exactly one object, of plausible size and outline
  (an image-quality score that ignores time);
- ``valid``: the share of clips that pass every rule of the checker (one object throughout, same
  colour, shape and size, constant velocity between wall bounces);
- ``colour_match`` / ``shape_match``: the share of frames whose one clean object has the colour /
  shape the clip was conditioned on (a frame without exactly one clean object counts as a miss, so
  a model cannot score here by drawing nothing);
- ``rules``: how many clips break each rule (:func:`~tinyvdm.metrics.sample_quality.rule_counts`);
- ``dominant_match``: the share of clips whose most frequent hue, counted over all the non-black
  pixels of the clip weighted by brightness (:func:`dominant_colour`), is the colour asked for. It
  needs no clean object, so it tells whether the condition steers the sample before the samples
  look right; a model that ignores its condition scores about 1 / 6.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from tinyvdm.checks import describe
from tinyvdm.data.bouncing_shapes import COLOUR_NAMES, COLOURS, SHAPES
from tinyvdm.metrics.sample_quality import rule_counts
from tinyvdm.metrics.scene import BatchReport, SceneConfig, check_batch

def dominant_colour(videos: torch.Tensor, dark: float = 0.03) -> torch.Tensor:
    """Index into ``COLOUR_NAMES`` of each clip's most frequent colour: ``(b, t, 3, h, w)`` -> ``(b,)`` int64.

    Each pixel with ``u = (x + 1) / 2`` above ``dark`` (max channel) votes, with its brightness as
    weight, for the palette colour whose direction is nearest to ``u``'s (cosine), the hue the scene
    checker would give it. The threshold is far below the checker's (0.2) on purpose: an undertrained
    model often paints a faint wash of the right hue long before it draws a clean object, and that
    already shows the condition at work. A clip with no pixel above ``dark`` gets ``-1``.
    """
    if not isinstance(videos, torch.Tensor) or videos.ndim != 5 or videos.shape[2] != 3:
        shape = describe(videos, dtype=False)
        raise ValueError(f"videos must be a tensor of shape (b, t, 3, h, w), got {shape}")
    u = ((videos.detach().float().cpu() + 1) / 2).clamp(0, 1).movedim(2, -1).reshape(videos.shape[0], -1, 3)
    palette = torch.tensor([COLOURS[name] for name in COLOUR_NAMES])  # (k, 3)
    palette = palette / palette.norm(dim=1, keepdim=True)
    nearest = (u @ palette.T).argmax(dim=-1)  # (b, pixels): cosine up to u's own norm
    brightness = u.amax(dim=-1)  # (b, pixels)
    weight = torch.where(brightness > dark, brightness, torch.zeros(()))
    votes = torch.zeros(videos.shape[0], len(COLOUR_NAMES)).scatter_add_(1, nearest, weight)
    return torch.where((weight > 0).any(dim=1), votes.argmax(dim=1), torch.full((videos.shape[0],), -1))


@dataclass
class ClassFidelity:
    """The scores of :func:`class_fidelity`, each a share in ``[0, 1]`` (module docstring)."""

    frames_clean: float
    valid: float
    colour_match: float
    shape_match: float
    dominant_match: float
    clips: int
    rules: dict[str, int] = field(default_factory=dict)
    report: BatchReport | None = field(default=None, repr=False)


def _labels(name: str, labels, b: int, names: tuple[str, ...]) -> np.ndarray | None:
    if labels is None:
        return None
    if not isinstance(labels, torch.Tensor) or labels.shape != (b,) or labels.dtype != torch.int64:
        shape = describe(labels, dtype=False)
        raise ValueError(f"{name} must be None or an int64 tensor of shape (b,) = ({b},), got {shape}")
    if labels.numel() and not (0 <= int(labels.min()) and int(labels.max()) < len(names)):
        raise ValueError(f"{name} must be indices in 0..{len(names) - 1} of {names}, got {labels.tolist()}")
    return labels.cpu().numpy()


def class_fidelity(videos: torch.Tensor, colours: torch.Tensor | None = None, shapes: torch.Tensor | None = None,
                   config: SceneConfig = SceneConfig()) -> ClassFidelity:
    """Score generated single-object clips ``videos`` ``(b, t, 3, h, w)`` in ``[-1, 1]``.

    ``colours`` / ``shapes``: the class each clip was asked for, ``(b,)`` int64 indices into
    ``COLOUR_NAMES`` / ``SHAPES`` (``None``: that match is reported as NaN).
    """
    if not isinstance(videos, torch.Tensor) or videos.ndim != 5:
        shape = describe(videos, dtype=False)
        raise ValueError(f"videos must be a tensor of shape (b, t, 3, h, w), got {shape}")
    b = videos.shape[0]
    wanted_colours = _labels("colours", colours, b, COLOUR_NAMES)
    wanted_shapes = _labels("shapes", shapes, b, SHAPES)
    report = check_batch(videos, expected_objects=1, config=config)
    clean, colour_hits, shape_hits = [], [], []
    for i, clip in enumerate(report.reports):
        frames = len(clip.num_objects)
        for k in range(frames):
            one = clip.single_clean(k)
            clean.append(one is not None)
            if wanted_colours is not None:
                colour_hits.append(one is not None and one.colour == COLOUR_NAMES[wanted_colours[i]])
            if wanted_shapes is not None:
                shape_hits.append(one is not None and one.shape == SHAPES[wanted_shapes[i]])
    nan = float("nan")
    return ClassFidelity(
        frames_clean=float(np.mean(clean)) if clean else nan,
        valid=report.valid_rate,
        colour_match=float(np.mean(colour_hits)) if colour_hits else nan,
        shape_match=float(np.mean(shape_hits)) if shape_hits else nan,
        dominant_match=(float((dominant_colour(videos) == colours.cpu()).float().mean())
                        if wanted_colours is not None else nan),
        clips=b, rules=rule_counts(report), report=report,
    )


@torch.no_grad()
def class_effect(model, xt: torch.Tensor, timestep: torch.Tensor, labels: torch.Tensor, null_label: int) -> float:
    """How much a conditional denoiser's output depends on its class, on noisy inputs ``xt``.

    ``mean |model(xt, t, y) - model(xt, t, null)| / mean |model(xt, t, y)|``: 0 for a network that
    ignores its label. Classifier-free guidance with scale ``w`` moves the prediction by ``w - 1``
    times this difference, so a network with no class effect cannot be steered by any scale.
    ``xt`` ``(b, t, c, h, w)``, ``timestep`` and ``labels`` ``(b,)`` int64, ``null_label`` the null class.
    """
    if not isinstance(xt, torch.Tensor) or xt.ndim != 5:
        shape = describe(xt, dtype=False)
        raise ValueError(f"xt must be a tensor of shape (b, t, c, h, w), got {shape}")
    for name, value in (("timestep", timestep), ("labels", labels)):
        if not isinstance(value, torch.Tensor) or value.shape != (xt.shape[0],) or value.dtype != torch.int64:
            shape = describe(value, dtype=False)
            raise ValueError(f"{name} must be an int64 tensor of shape (b,) = ({xt.shape[0]},), got {shape}")
    if isinstance(null_label, bool) or not isinstance(null_label, int) or null_label < 0:
        raise ValueError(f"null_label must be a non-negative int, got {null_label!r}")
    conditional = model(xt, timestep, labels).float()
    unconditional = model(xt, timestep, torch.full_like(labels, null_label)).float()
    return float((conditional - unconditional).abs().mean() / conditional.abs().mean().clamp_min(1e-12))
