"""Defective clips for a quality inspector: glitches a video generator makes, injected on purpose.

Taught in chapter 09 (ViT), where a Vision Transformer and a small CNN learn to tell clean clips
from defective ones, the toy version of the "industrial inspection" use the FAQ gives for ViTs.

Two data sets, both built from :class:`~tinyvdm.data.BouncingShapes` clips and both seeded per
item like every synthetic data set of the course:

- :class:`DefectClips`: one object; each clip is clean or carries one defect at one frame ``k``
  (``1 <= k < t``), see :func:`apply_defect`. Three defects can be seen in frame ``k`` alone:

  - ``"dropout"``: the object is missing from frame ``k``;
  - ``"glitch"``: a square of random pixels (a corrupted block) covers part of frame ``k``;
  - ``"duplicate"``: frame ``k`` shows a second copy of the object somewhere else.

  Three only show against the neighbouring frames, so a model must compare frames to find them:

  - ``"teleport"``: from frame ``k`` on the object is somewhere else, at least ``min_jump``
    pixels from where it should be, and carries on moving from there (a broken motion);
  - ``"freeze"``: frame ``k`` repeats frame ``k - 1`` (a dropped frame filled with a duplicate);
  - ``"flicker"``: in frame ``k`` alone the object has another colour.

- :class:`CutClips`: three shots separated by cuts, frames ``[0, a)``, ``[a, b)`` and
  ``[b, t)``. The first and last shots show the same object (same shape and size, new place and
  motion) or, in the defective half, the same shape in another colour; the middle shot is an
  unrelated clip (or empty frames). Telling the two apart means comparing frames at least
  ``b - a + 1`` apart: a *global* task, out of reach of any model that only ever combines
  nearby frames.
"""

from __future__ import annotations

import numpy as np
import torch

from tinyvdm.data.base import SeededClips, check_int
from tinyvdm.data.bouncing_shapes import COLOUR_NAMES, SHAPES, BouncingShapes, bounce_step, render

DEFECTS = ("clean", "dropout", "glitch", "duplicate", "teleport", "freeze", "flicker")
SINGLE_FRAME_DEFECTS = ("dropout", "glitch", "duplicate")  # visible in the defective frame alone
CUT_LABELS = ("same object", "changed colour")
MIDDLES = ("clip", "blank")

_NEEDED = ("video", "shape", "colour", "radius", "present", "trajectory", "velocity", "masks")


def _check_item(item) -> int:
    """Raise ``ValueError`` unless ``item`` is a one-object bouncing-shapes item; return its ``t``."""
    if not isinstance(item, dict) or any(key not in item for key in _NEEDED):
        got = sorted(item) if isinstance(item, dict) else type(item).__name__
        raise ValueError(f"item must be a BouncingShapes item, a dict with keys {_NEEDED}, got {got}")
    video = item["video"]
    if not isinstance(video, torch.Tensor) or video.ndim != 4 or video.shape[1] != 3:
        got = tuple(video.shape) if isinstance(video, torch.Tensor) else type(video).__name__
        raise ValueError(f"item['video'] must have shape (t, 3, h, w), got {got}")
    if int(item["present"].sum()) != 1 or not bool(item["present"][0]):
        raise ValueError(f"apply_defect handles clips of exactly one object (present = [True, False, ...]), "
                         f"got present = {item['present'].tolist()}")
    return video.shape[0]


def _draw(trajectory: np.ndarray, item: dict, colour: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Render object 0 of ``item`` along ``trajectory`` ``(t, 2)`` in ``colour``: video ``(t, 3, h, w)``, masks ``(t, 1, h, w)``."""
    return render(trajectory[:, None], [int(item["shape"][0])], [colour], item["radius"][:1], size)


def _far_place(rng: np.random.Generator, avoid: np.ndarray, radius: float, size: int, jump: float) -> np.ndarray:
    """A centre ``(2,)`` where an object of ``radius`` fits, at least ``jump`` pixels from ``avoid``."""
    for _ in range(256):
        place = rng.uniform(radius, size - radius, size=2)
        if np.linalg.norm(place - avoid) >= jump:
            return place
    raise ValueError(f"no place {jump:.1f} px away from {avoid.round(1).tolist()} in a {size}-pixel frame; "
                     f"lower min_jump")


def apply_defect(item: dict, kind: str, frame: int, rng: np.random.Generator | None = None,
                 min_jump: float | None = None) -> dict:
    """A copy of a one-object :class:`BouncingShapes` ``item`` with defect ``kind`` at ``frame``.

    ``kind`` is one of :data:`DEFECTS` (``"clean"`` returns an unchanged copy); ``frame`` ``k``
    must be in ``1 .. t - 1``. ``rng`` draws where a teleported or duplicated object lands, the
    glitch's block and noise, and the flicker's colour (default: seeded from ``frame``).
    ``min_jump`` (pixels, default ``size / 3``): the least distance between a teleported object
    and where it should have been, or between a duplicate and the object.

    The copy's ``video``, ``masks`` and ``trajectory`` describe the defective clip (a dropped
    object keeps its mask and place, as where it should have been; a duplicate is not an object
    of the clip). Added keys: ``defect``, the index of ``kind`` in :data:`DEFECTS`;
    ``defect_frame``, ``k`` (``-1`` when clean); ``defect_mask`` bool ``(t, h, w)``, the pixels
    where the defect shows (in frame ``k``: the missing, duplicated, teleported, frozen or
    recoloured object, or the glitch's block; all False when clean).
    """
    t = _check_item(item)
    if kind not in DEFECTS:
        raise ValueError(f"kind must be one of {DEFECTS}, got {kind!r}")
    if kind != "clean":
        check_int("frame", frame, 1, t - 1)
    rng = np.random.default_rng(frame) if rng is None else rng
    size = item["video"].shape[-1]
    out = {key: (value.clone() if isinstance(value, torch.Tensor) else value) for key, value in item.items()}
    out["defect"] = torch.scalar_tensor(DEFECTS.index(kind), dtype=torch.int64)
    out["defect_frame"] = torch.scalar_tensor(frame if kind != "clean" else -1, dtype=torch.int64)
    out["defect_mask"] = torch.zeros(t, size, size, dtype=torch.bool)
    if kind == "clean":
        return out
    trajectory = item["trajectory"][:, 0].numpy().astype(np.float64)  # (t, 2)
    colour = int(item["colour"][0])
    radius = float(item["radius"][0])
    jump = size / 3 if min_jump is None else float(min_jump)
    video, masks = item["video"].clone(), item["masks"][:, :1].clone()  # (t, 3, h, w), (t, 1, h, w)
    shows = masks[frame, 0].clone()  # where the defect shows, for most kinds the object in frame k
    if kind == "dropout":
        video[frame] = -1.0  # background only
    elif kind == "glitch":
        side = max(2, size // 4)
        row, col = (int(v) for v in rng.integers(0, size - side + 1, size=2))
        noise = rng.uniform(-1.0, 1.0, size=(3, side, side)).astype(np.float32)
        video[frame, :, row:row + side, col:col + side] = torch.from_numpy(noise)
        shows = torch.zeros(size, size, dtype=torch.bool)
        shows[row:row + side, col:col + side] = True
    elif kind == "duplicate":
        place = _far_place(rng, trajectory[frame], radius, size, max(jump, 2 * radius + 1))
        copy, copy_mask = _draw(place[None], item, colour, size)
        video[frame] = torch.maximum(video[frame], copy[0])  # both on black: the brighter pixel is an object's
        shows = copy_mask[0, 0]
    elif kind == "teleport":
        position = _far_place(rng, trajectory[frame], radius, size, jump)[None]
        velocity = item["velocity"][frame, :1].numpy().astype(np.float64)
        trajectory[frame] = position[0]
        for k in range(frame + 1, t):  # carry on with the same motion from the new place
            position, velocity = bounce_step(position, velocity, np.array([radius]), size)
            trajectory[k] = position[0]
        video, masks = _draw(trajectory, item, colour, size)
        shows = masks[frame, 0]
    elif kind == "freeze":
        trajectory[frame] = trajectory[frame - 1]
        video[frame], masks[frame] = video[frame - 1], masks[frame - 1]
        shows = masks[frame, 0]
    else:  # flicker
        others = [c for c in range(len(COLOUR_NAMES)) if c != colour]
        flickered, _ = _draw(trajectory[frame:frame + 1], item, int(rng.choice(others)), size)
        video[frame] = flickered[0]
    out["video"] = video
    out["masks"][:, :1] = masks
    out["trajectory"][:, 0] = torch.from_numpy(trajectory.astype(np.float32))
    out["defect_mask"][frame] = shows
    return out


class DefectClips(SeededClips):
    """``n`` one-object clips, each clean or with one defect of ``kinds``, drawn evenly.

    Item ``i`` is ``BouncingShapes(n, seed=seed, max_objects=1, ...)[i]`` passed through
    :func:`apply_defect` with a kind and a frame drawn after the clip, from the same generator.
    Keys: those of a :class:`BouncingShapes` item, plus ``defect`` (int64 ``()``, the index into
    ``kinds``, which is the class label), ``defect_frame`` (int64 ``()``, ``-1`` when clean) and
    ``defect_mask`` (bool ``(t, h, w)``), as :func:`apply_defect` makes them.
    Other keywords are :class:`~tinyvdm.data.BouncingShapesConfig` fields (``frames``, ``size``).
    """

    def __init__(self, n: int = 1024, seed: int = 0, kinds: tuple[str, ...] = DEFECTS, **config):
        check_int("n", n, 0, None)
        kinds = tuple(kinds)
        if len(kinds) < 2 or len(set(kinds)) != len(kinds) or any(k not in DEFECTS for k in kinds):
            raise ValueError(f"kinds must be two or more distinct names from {DEFECTS}, got {kinds!r}")
        if config.get("max_objects", 1) != 1 or config.get("min_objects", 1) != 1:
            raise ValueError(f"DefectClips makes one-object clips; got min_objects={config.get('min_objects', 1)}, "
                             f"max_objects={config.get('max_objects', 1)}")
        self.clips = BouncingShapes(n, seed=seed, **config)
        if self.clips.config.frames < 2:
            raise ValueError(f"a defect needs at least 2 frames, got frames={self.clips.config.frames}")
        self.n, self.seed, self.kinds = n, seed, kinds

    @property
    def config(self):
        return self.clips.config

    def __repr__(self) -> str:
        return f"DefectClips(n={self.n}, seed={self.seed}, kinds={self.kinds}, config={self.config})"

    def _generate(self, rng: np.random.Generator) -> dict:
        item = self.clips._generate(rng)  # the same draws as BouncingShapes item i
        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        frame = int(rng.integers(1, self.config.frames))
        item = apply_defect(item, kind, frame, rng)
        item["defect"] = torch.scalar_tensor(self.kinds.index(kind), dtype=torch.int64)
        return item


def check_shots(frames: int, shots) -> tuple[int, int, int]:
    """``shots`` = ``(first, middle, last)`` frame counts, each >= 1, summing to ``frames``."""
    if (not isinstance(shots, (tuple, list)) or len(shots) != 3
            or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in shots)
            or sum(shots) != frames):
        raise ValueError(f"shots must be three frame counts >= 1 (first, middle, last) summing to "
                         f"frames={frames}, got {shots!r}")
    return tuple(int(s) for s in shots)


class CutClips(SeededClips):
    """``n`` three-shot clips: does the object of the last shot match the object of the first?

    ``shots`` = ``(first, middle, last)`` frame counts (default: the middle shot takes a quarter
    of the frames, the first shot half the rest). Shot one and shot three show one object each:
    the same shape and size, each in its own bouncing-shapes motion; in half the clips (label 1,
    ``"changed colour"`` in :data:`CUT_LABELS`) the last shot paints it in another of the
    config's colours. The
    middle shot is an unrelated one-object clip, of any shape and colour.

    Keys: ``video`` ``(t, 3, h, w)``; ``label`` int64 ``()``; ``shot`` int64 ``(t,)`` (0, 1, 2
    per frame); ``masks`` bool ``(t, 1, h, w)`` (the object on screen in each frame);
    ``trajectory`` ``(t, 2)``; ``shape`` and ``colour`` int64 ``(3,)`` (per shot).
    Other keywords are :class:`~tinyvdm.data.BouncingShapesConfig` fields.
    """

    def __init__(self, n: int = 1024, seed: int = 0, shots: tuple[int, int, int] | None = None,
                 middle: str = "clip", **config):
        check_int("n", n, 0, None)
        if middle not in MIDDLES:
            raise ValueError(f"middle must be one of {MIDDLES}, got {middle!r}")
        self.middle = middle
        if config.get("max_objects", 1) != 1 or config.get("min_objects", 1) != 1:
            raise ValueError(f"CutClips makes one-object shots; got min_objects={config.get('min_objects', 1)}, "
                             f"max_objects={config.get('max_objects', 1)}")
        self.clips = BouncingShapes(n, seed=seed, **config)
        frames = self.clips.config.frames
        if shots is None:
            middle = max(1, frames // 4)
            first = max(1, (frames - middle) // 2)
            shots = (first, middle, frames - middle - first)
        self.shots = check_shots(frames, shots)
        if len(self.clips.config.colours) < 2:
            raise ValueError(f"CutClips needs two or more colours to change one, got colours={self.clips.config.colours}")
        self.n, self.seed = n, seed

    @property
    def config(self):
        return self.clips.config

    def __repr__(self) -> str:
        return f"CutClips(n={self.n}, seed={self.seed}, shots={self.shots}, config={self.config})"

    def _generate(self, rng: np.random.Generator) -> dict:
        first, middle, _ = self.shots
        size = self.config.size
        a, b, c = (self.clips._generate(rng) for _ in range(3))  # shot one, the middle shot, shot three
        label = int(rng.integers(2))
        shape, colour = int(a["shape"][0]), int(a["colour"][0])
        last_colour = colour
        if label:
            others = [COLOUR_NAMES.index(name) for name in self.config.colours if COLOUR_NAMES.index(name) != colour]
            last_colour = int(rng.choice(others))
        # Shot three: the motion of clip c, drawn with shot one's shape and size.
        drawn, drawn_masks = render(c["trajectory"][:, :1], [SHAPES[shape]], [last_colour], a["radius"][:1], size)
        cut = (slice(0, first), slice(first, first + middle), slice(first + middle, None))
        if self.middle == "blank":  # nothing on screen: the object is hidden, the frames are background
            b["video"] = torch.full_like(b["video"], -1.0)
            b["masks"] = torch.zeros_like(b["masks"])
        video = torch.cat([a["video"][cut[0]], b["video"][cut[1]], drawn[cut[2]]])
        masks = torch.cat([a["masks"][cut[0], :1], b["masks"][cut[1], :1], drawn_masks[cut[2]]])
        trajectory = torch.cat([a["trajectory"][cut[0], 0], b["trajectory"][cut[1], 0], c["trajectory"][cut[2], 0]])
        shot = torch.cat([torch.full((n,), k, dtype=torch.int64) for k, n in enumerate(self.shots)])
        return {
            "video": video,
            "label": torch.scalar_tensor(label, dtype=torch.int64),
            "shot": shot,
            "masks": masks,
            "trajectory": trajectory,
            "shape": torch.tensor([shape, int(b["shape"][0]), shape]),
            "colour": torch.tensor([colour, int(b["colour"][0]), last_colour]),
        }


def frame_distance(shots: tuple[int, int, int]) -> int:
    """The fewest frames between a frame of shot one and a frame of shot three: ``middle + 1``."""
    return shots[1] + 1


__all__ = ["CUT_LABELS", "DEFECTS", "MIDDLES", "SINGLE_FRAME_DEFECTS", "CutClips", "DefectClips", "apply_defect", "check_shots", "frame_distance"]
