"""A scene checker for bouncing-shapes clips: does a generated clip obey the data's rules?

Used by the chapters that sample from video models and by the evaluation chapter. The rules of
:mod:`tinyvdm.data.bouncing_shapes` are simple enough to check by hand: a black background, a few
flat objects in palette colours, each keeping its colour and shape, moving at constant velocity
and reflecting off the walls. The checker runs in three reusable steps:

1. :func:`analyse_frame` / :func:`detect_objects`: label each pixel by its nearest palette colour,
   find the connected components per colour, and describe each (area, centroid, box, shape).
2. :func:`track`: link the detections frame to frame by colour, then by nearest centroid.
3. :func:`check_clip`: judge the tracks (count, gaps, shape, motion) and the noise, and explain
   every failure in words. :func:`check_batch` does it for a batch.

Coordinates follow the data set: ``x`` is the column, ``y`` the row, pixel ``(row, col)`` covers
``[col, col + 1] x [row, row + 1]``, so a centroid is a mean of pixel centres ``col + 0.5``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import ndimage

from tinyvdm.data.bouncing_shapes import COLOURS

_PALETTE_NAMES = tuple(COLOURS)
_PALETTE = np.array([COLOURS[name] for name in _PALETTE_NAMES], dtype=np.float64)  # (k, 3)


@dataclass(frozen=True)
class SceneConfig:
    """Thresholds of the scene checker; sizes in pixels at a 32-pixel frame, scaled with ``h``.

    Colour tests work on ``u = (x + 1) / 2`` in ``[0, 1]``, where an anti-aliased pixel of an
    object of colour ``rgb`` covering a share ``s`` of the pixel is exactly ``s * rgb``.
    """

    dark: float = 0.2            # max channel of u below this: background
    colour_tolerance: float = 0.2  # distance from u to the palette ray s * rgb
    min_coverage: float = 0.6    # s at or above this: the pixel belongs to the object
    min_fragment: float = 3.0    # components smaller than this (px at 32) are stray noise
    # Plausible whole-object area range (px at 32), read as the object's coverage mass (below):
    # the data's smallest object, a triangle of radius 3.2, covers 4 / sqrt(3) 3.2^2 = 23.6 px
    # and its largest, a square of radius 4.6, 84.6 px.
    min_area: float = 18.0
    max_area: float = 100.0
    max_speed: float = 2.5       # px/frame at 32 (the data set's top speed)
    max_radius: float = 32 / 7
    jump_slack: float = 1.2      # allowed extra frame-to-frame centroid movement
    accel_tolerance: float = 1.0  # |second difference| (px/frame^2) not explained by a wall
    max_gap: int = 3             # frames an object may vanish behind another
    noise_tolerance: float = 0.02  # mean share of noise pixels per frame
    shape_agreement: float = 0.7  # share of unoccluded frames that must keep the object's shape
    # Shape from the coverage's moments (shape_moments): an upward triangle's vertical skewness
    # and a square's fourth-cumulant anisotropy (both 0 for a circle). A shape is named by the
    # nearer end of each, and a frame departs from its object's shape when a moment moves more
    # than half of these from the object's median.
    triangle_skewness: float = -0.0169
    square_anisotropy: float = -1 / 240


@dataclass
class Detection:
    """One object (or an occluded piece of one) in one frame.

    ``area`` counts the solid pixels (coverage at least ``min_coverage``); ``mass`` sums the
    coverage over them and a two-pixel rim, the object's area measured so that a soft edge
    neither adds nor removes any (a blur moves coverage across the edge, it does not create or
    destroy it). ``centroid`` is ``(x, y)`` in pixels; ``box`` is ``(x0, y0, x1, y1)`` with
    exclusive ends (the pixel edges); ``fill`` is ``area / box area``; ``parts`` counts merged
    components.
    """

    colour: str
    area: int
    centroid: tuple[float, float]
    box: tuple[int, int, int, int]
    fill: float
    shape: str
    clean: bool
    parts: int = 1
    mass: float = 0.0
    moments: tuple[float, float] = (0.0, 0.0)  # (skewness, anisotropy): see shape_moments

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


@dataclass
class FrameAnalysis:
    """Everything :func:`analyse_frame` saw in one frame: detections and noise counts."""

    detections: list[Detection]
    stray_pixels: int      # palette-coloured pixels in components too small to be objects
    off_palette_pixels: int  # bright pixels that match no palette colour
    pixels: int

    @property
    def noise_fraction(self) -> float:
        return (self.stray_pixels + self.off_palette_pixels) / self.pixels


@dataclass
class Track:
    """One object followed through a clip. ``detections[k]`` is ``None`` where it is missing."""

    colour: str
    detections: list[Detection | None]

    @property
    def positions(self) -> np.ndarray:
        """``(t, 2)`` centroids ``(x, y)``, NaN where the object was not found."""
        return np.array(
            [d.centroid if d is not None else (np.nan, np.nan) for d in self.detections]
        )

    @property
    def present(self) -> np.ndarray:
        return np.array([d is not None for d in self.detections])


@dataclass
class SceneReport:
    """The verdict on one clip; ``reasons`` is empty exactly when ``valid``."""

    valid: bool
    num_objects: list[int]   # objects found per frame
    reasons: list[str]
    smoothness: float        # mean |second difference| of positions off the walls, px/frame^2
    max_jump: float          # largest frame-to-frame centroid move, px
    noise_fraction: float    # mean share of noise pixels per frame
    tracks: list[Track] = field(default_factory=list, repr=False)
    shapes: dict[str, str] = field(default_factory=dict)  # colour -> majority shape

    def single_clean(self, k: int) -> Detection | None:
        """Frame ``k``'s one object if the frame holds exactly one and it is clean (plausible size
        and outline), else ``None``: the per-frame image-quality test, blind to time."""
        present = [trk.detections[k] for trk in self.tracks if trk.detections[k] is not None]
        return present[0] if len(present) == 1 and present[0].clean else None


@dataclass
class BatchReport:
    """:func:`check_clip` over a batch: ``valid_rate`` in ``[0, 1]`` and the clip reports."""

    valid_rate: float
    mean_smoothness: float   # over clips where it is defined
    reports: list[SceneReport]


def _scale(h: int) -> float:
    return h / 32.0


def _check_frame(frame) -> torch.Tensor:
    if not isinstance(frame, torch.Tensor):
        raise ValueError(f"frame must be a torch tensor (3, h, w), got {type(frame).__name__}")
    if frame.ndim != 3 or frame.shape[0] != 3:
        raise ValueError(f"frame must have shape (3, h, w), got {tuple(frame.shape)}")
    return frame


def shape_moments(weight: np.ndarray) -> tuple[float, float]:
    """Two blur-invariant shape numbers of one object's coverage ``weight`` ``(h, w)``.

    Each is zero for a circle and unchanged by a blur: a blur moves every unit of coverage by an
    independent offset drawn from its kernel, keeps the mass, and cumulants of independent parts
    add. A symmetric kernel adds no third cumulant, and an isotropic one the same fourth
    cumulant in every direction (a Gaussian none at all), which the difference below cancels.

    - ``skewness``: the vertical third central moment over ``mass^1.5``. An upward triangle keeps
      more of its area near its base than its apex: -(1/135) h^3 / (h^2 / sqrt(3))^1.5 = -0.0169
      for height ``h``; circles and squares are mirror-symmetric (0).
    - ``anisotropy``: the fourth cumulant along the axes minus along the diagonals, over
      ``mass^2``. A square's extent along an axis is uniform and along a diagonal a tent, so
      -1/240 = -0.0042; a circle looks the same in every direction, and so, to fourth order,
      does an equilateral triangle (0).
    """
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 2 or not np.isfinite(weight).all() or (weight < 0).any() or weight.sum() <= 0:
        raise ValueError(f"weight must be a finite, non-negative (h, w) array with a positive sum, got shape "
                         f"{weight.shape} and sum {weight.sum() if weight.size else 0.0}")
    mass = weight.sum()
    rows, cols = np.indices(weight.shape)
    p = weight / mass
    dx = cols - (p * cols).sum()
    dy = rows - (p * rows).sum()
    skewness = float((p * dy**3).sum() / mass**1.5)

    def fourth_cumulant(a: float, b: float) -> float:
        s = a * dx + b * dy
        return float((p * s**4).sum() - 3 * (p * s**2).sum() ** 2)

    r = math.sqrt(0.5)
    axes = (fourth_cumulant(1.0, 0.0) + fourth_cumulant(0.0, 1.0)) / 2
    diagonals = (fourth_cumulant(r, r) + fourth_cumulant(r, -r)) / 2
    return skewness, float((axes - diagonals) / mass**2)


def _guess_shape(moments: tuple[float, float], config: SceneConfig = SceneConfig()) -> str:
    """Circle, square or triangle from :func:`shape_moments`, by the config's thresholds."""
    skewness, anisotropy = moments
    if skewness < config.triangle_skewness / 2:
        return "triangle"
    return "square" if anisotropy < config.square_anisotropy / 2 else "circle"


def _weighted_centroid(mask: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    """``(x, y)`` of the component ``mask`` ``(h, w)`` and its one-pixel rim, weighted."""
    region = ndimage.binary_dilation(mask, structure=np.ones((3, 3), dtype=bool))
    weight = np.where(region, weight, 0.0)
    total = weight.sum()
    rows, cols = np.indices(mask.shape)
    return (float((weight * (cols + 0.5)).sum() / total),
            float((weight * (rows + 0.5)).sum() / total))


def analyse_frame(frame: torch.Tensor, config: SceneConfig = SceneConfig()) -> FrameAnalysis:
    """Detect the objects in one frame and count its noise pixels.

    Args:
        frame: ``(3, h, w)`` in ``[-1, 1]`` (values outside are clipped).
        config: thresholds.

    Returns:
        a :class:`FrameAnalysis`: one :class:`Detection` per connected component (8-connected)
        of each palette colour with at least ``min_fragment`` pixels, and the noise counts.
    """
    frame = _check_frame(frame)
    h, w = frame.shape[1:]
    scale = _scale(h)
    u = ((frame.detach().double().cpu().numpy() + 1.0) / 2.0).clip(0.0, 1.0)  # (3, h, w)
    pixels = u.reshape(3, -1).T  # (h w, 3)
    # The best coverage s for each palette ray and the distance from the pixel to s * rgb.
    norms = (_PALETTE**2).sum(axis=1)  # (k,)
    coverage = (pixels @ _PALETTE.T / norms).clip(0.0, None)  # (h w, k)
    residual = np.linalg.norm(pixels[:, None, :] - coverage[..., None] * _PALETTE, axis=-1)
    nearest = residual.argmin(axis=1)  # (h w,)
    best_residual = residual[np.arange(len(pixels)), nearest]
    best_coverage = coverage[np.arange(len(pixels)), nearest]
    bright = pixels.max(axis=1) >= config.dark
    on_palette = best_residual <= config.colour_tolerance
    off_palette = int((bright & ~on_palette).sum())
    solid = (bright & on_palette & (best_coverage >= config.min_coverage)).reshape(h, w)
    nearest = nearest.reshape(h, w)
    # Faint palette pixels belong to an object's anti-aliased rim only next to its solid body;
    # anywhere else they are noise (a noisy background looks like dim colours).
    faint = (bright & on_palette & (best_coverage < config.min_coverage)).reshape(h, w)
    rim = ndimage.binary_dilation(solid, structure=np.ones((3, 3), dtype=bool))
    off_palette += int((faint & ~rim).sum())
    # Coverage as a weight gives a sub-pixel centroid: the anti-aliased rim says where the edge
    # really is, which a plain pixel count rounds away (half a pixel of jitter per frame).
    weights = np.where(bright & on_palette, 1.0, 0.0)[:, None] * coverage.clip(0.0, 1.0)
    weights = weights.T.reshape(-1, h, w)  # (k, h, w)

    min_fragment = config.min_fragment * scale**2
    min_area, max_area = config.min_area * scale**2, config.max_area * scale**2
    detections, stray = [], 0
    eight = np.ones((3, 3), dtype=bool)
    wide = np.ones((5, 5), dtype=bool)
    for index, name in enumerate(_PALETTE_NAMES):
        mask = solid & (nearest == index)
        if not mask.any():
            continue
        labels, count = ndimage.label(mask, structure=eight)
        for label, box in enumerate(ndimage.find_objects(labels), start=1):
            piece = labels[box] == label
            area = int(piece.sum())
            if area < min_fragment:
                stray += area
                continue
            y0, x0 = box[0].start, box[1].start
            centroid = _weighted_centroid(labels == label, weights[index])
            # Size and shape from the coverage over the piece and a two-pixel rim: a soft edge
            # spreads the object's coverage over about two pixels, and no other object can add
            # to it (a clip never repeats a colour).
            reach = ndimage.binary_dilation(labels == label, structure=wide)
            weight = np.where(reach, weights[index], 0.0)
            mass = float(weight.sum())
            moments = shape_moments(weight)
            height, width = piece.shape
            fill = area / (height * width)
            aspect = width / height
            clean = min_area <= mass <= max_area and 0.6 <= aspect <= 1.6
            detections.append(Detection(
                colour=name, area=area, centroid=centroid,
                box=(x0, y0, x0 + width, y0 + height), fill=fill,
                shape=_guess_shape(moments, config), clean=clean, mass=mass, moments=moments,
            ))
    return FrameAnalysis(detections, stray, off_palette, h * w)


def detect_objects(frame: torch.Tensor, config: SceneConfig = SceneConfig()) -> list[Detection]:
    """The objects in one ``(3, h, w)`` frame: :func:`analyse_frame` without the noise counts."""
    return analyse_frame(frame, config).detections


def _merge(pieces: list[Detection]) -> Detection:
    """Pieces of one colour that one object could cover, as one (occluded) detection."""
    if len(pieces) == 1:
        return pieces[0]
    area = sum(p.area for p in pieces)
    x = sum(p.centroid[0] * p.area for p in pieces) / area
    y = sum(p.centroid[1] * p.area for p in pieces) / area
    box = (min(p.box[0] for p in pieces), min(p.box[1] for p in pieces),
           max(p.box[2] for p in pieces), max(p.box[3] for p in pieces))
    fill = area / ((box[2] - box[0]) * (box[3] - box[1]))
    return Detection(pieces[0].colour, area, (x, y), box, fill, pieces[0].shape, clean=False,
                     parts=sum(p.parts for p in pieces), mass=sum(p.mass for p in pieces),
                     moments=pieces[0].moments)


def _group(detections: list[Detection], extent: float) -> list[Detection]:
    """Merge same-colour pieces whose joint box fits one object (``extent`` px a side).

    An object half hidden behind another can be cut in two; the data set never repeats a colour
    in a clip, so pieces of a colour that fit in one object's box are taken as one object.
    """
    groups: list[list[Detection]] = []
    for piece in sorted(detections, key=lambda d: -d.area):
        for group in groups:
            box = _merge(group + [piece]).box
            if group[0].colour == piece.colour and max(box[2] - box[0], box[3] - box[1]) <= extent:
                group.append(piece)
                break
        else:
            groups.append([piece])
    return [_merge(g) for g in groups]


def track(detections: list[list[Detection]], max_distance: float | None = None,
          size: int = 32, config: SceneConfig = SceneConfig()) -> list[Track]:
    """Link per-frame detections into tracks: same colour, then the nearest centroid.

    Args:
        detections: ``t`` lists of :class:`Detection` (from :func:`detect_objects`).
        max_distance: farthest (px) a detection may be from a track's last position to extend
            it; default: four times the largest plausible step, so a wild jump still links and
            is judged by :func:`check_clip` rather than splitting the track.
        size: frame side in pixels (scales the defaults).
        config: thresholds.

    Returns:
        tracks ordered by first appearance, each with one entry per frame.
    """
    if not isinstance(detections, (list, tuple)):
        raise ValueError(f"detections must be a list of t lists of Detection, got {type(detections).__name__}")
    scale = _scale(size)
    extent = (2 * 1.16 * config.max_radius + 2) * scale
    if max_distance is None:
        max_distance = size  # link anything of the same colour: jumps are judged later
    frames = len(detections)
    tracks: list[Track] = []
    last: list[tuple[float, float]] = []
    for k, frame_detections in enumerate(detections):
        grouped = _group(list(frame_detections), extent)
        taken = set()
        # Greedy matching by distance within each colour: few objects, so greedy is exact enough.
        pairs = []
        for i, trk in enumerate(tracks):
            for j, det in enumerate(grouped):
                if det.colour == trk.colour:
                    dist = math.dist(last[i], det.centroid)
                    if dist <= max_distance:
                        pairs.append((dist, i, j))
        used_tracks = set()
        for dist, i, j in sorted(pairs):
            if i in used_tracks or j in taken:
                continue
            tracks[i].detections[k] = grouped[j]
            last[i] = grouped[j].centroid
            used_tracks.add(i)
            taken.add(j)
        for j, det in enumerate(grouped):
            if j not in taken:
                tracks.append(Track(det.colour, [None] * frames))
                tracks[-1].detections[k] = det
                last.append(det.centroid)
    return tracks


def _check_video(video, name: str, ndim: int, layout: str) -> torch.Tensor:
    if not isinstance(video, torch.Tensor):
        raise ValueError(f"{name} must be a torch tensor {layout}, got {type(video).__name__}")
    if video.ndim != ndim or video.shape[-3] != 3:
        raise ValueError(f"{name} must have shape {layout} with 3 channels, got {tuple(video.shape)}")
    return video


def _near(a: Detection, b: Detection, margin: float) -> bool:
    """Whether the boxes of ``a`` and ``b`` touch or overlap, give or take ``margin`` px."""
    return (a.box[0] - margin < b.box[2] and b.box[0] - margin < a.box[2]
            and a.box[1] - margin < b.box[3] and b.box[1] - margin < a.box[3])


def _occluded(tracks: list[Track], i: int, k: int, margin: float) -> bool:
    """Whether track ``i`` at frame ``k`` is (or may be) overlapped by another track."""
    mine = tracks[i].detections[k]
    if mine is None:
        return True
    return mine.parts > 1 or any(
        j != i and other.detections[k] is not None and _near(mine, other.detections[k], margin)
        for j, other in enumerate(tracks)
    )


def _gap_explained(tracks: list[Track], i: int, k: int, margin: float) -> bool:
    """Track ``i`` is missing at frame ``k``: is another object where it was last seen?"""
    present = np.flatnonzero(tracks[i].present)
    nearest = present[np.argmin(np.abs(present - k))]  # the closest frame it was seen in
    ghost = tracks[i].detections[nearest]
    return any(
        j != i and other.detections[k] is not None and _near(ghost, other.detections[k], margin)
        for j, other in enumerate(tracks)
    )


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of True in a 1-D bool array."""
    runs, start = [], None
    for k, flag in enumerate(list(flags) + [False]):
        if flag and start is None:
            start = k
        elif not flag and start is not None:
            runs.append((start, k))
            start = None
    return runs


def _wall_explains(detections: list[Detection | None], k: int, axis: int, accel: float,
                   size: int, margin: float) -> bool:
    """Whether a bounce off a wall on ``axis`` near frame ``k`` explains acceleration ``accel``.

    A reflection turns the velocity component away from the wall, so near the low wall (left or
    top) the second difference is positive and near the high wall negative; the bounce lands
    within one step of the wall, in frame ``k`` or a neighbour.
    """
    for j in (k - 1, k, k + 1):
        det = detections[j] if 0 <= j < len(detections) else None
        if det is None:
            continue
        low, high = det.box[axis], det.box[axis + 2]
        if accel > 0 and low <= margin:
            return True
        if accel < 0 and size - high <= margin:
            return True
    return False


def _drop_blends(tracks: list[Track], margin: float) -> list[Track]:
    """Tracks that are only where two objects overlap, minus those: the mix of two palette
    colours can itself be near a palette colour (red over blue looks magenta at the seam)."""
    kept = []
    for i, trk in enumerate(tracks):
        frames = np.flatnonzero(trk.present)
        touching = sum(
            sum(j != i and other.detections[k] is not None
                and _near(trk.detections[k], other.detections[k], margin)
                for j, other in enumerate(tracks)) >= 2
            for k in frames
        )
        if touching < len(frames) or len(frames) > len(trk.detections) // 2:
            kept.append(trk)
    return kept


def check_clip(video: torch.Tensor, expected_objects: int | None = None,
               config: SceneConfig = SceneConfig()) -> SceneReport:
    """Judge whether a ``(t, 3, h, w)`` clip in ``[-1, 1]`` could be a bouncing-shapes clip.

    Rules, each adding a reason when broken:

    - noise: the mean share of stray and off-palette pixels per frame is at most
      ``noise_tolerance``;
    - count: at least one object, and ``expected_objects`` if given; every object is found in
      every frame, except for up to ``max_gap`` frames while another object covers it;
    - identity: each object keeps its colour (a colour that appears or vanishes mid-clip is a new
      or lost object) and its shape (majority over frames where it stands alone);
    - size: an unoccluded object's area is plausible and roughly constant;
    - motion: frame-to-frame moves stay below the top speed, and the second difference of the
      position is near zero except where a wall bounce explains it.

    Args:
        video: ``(t, 3, h, w)``.
        expected_objects: the number of objects the clip should show, or ``None`` for any.
        config: thresholds (pixel sizes at 32 px, scaled with ``h``).

    Returns:
        a :class:`SceneReport`; its ``tracks`` are kept for later metrics (mask IoU, trajectory
        error against ground truth).
    """
    video = _check_video(video, "video", 4, "(t, 3, h, w)")
    if expected_objects is not None and not (
        isinstance(expected_objects, int) and expected_objects >= 0
    ):
        raise ValueError(f"expected_objects must be a non-negative int or None, got {expected_objects!r}")
    frames, _, h, w = video.shape
    scale = _scale(h)
    analyses = [analyse_frame(video[k], config) for k in range(frames)]
    tracks = track([a.detections for a in analyses], size=h, config=config)
    tracks = _drop_blends(tracks, margin=2.0 * scale)
    noise = float(np.mean([a.noise_fraction for a in analyses]))
    num_objects = [sum(trk.detections[k] is not None for trk in tracks) for k in range(frames)]
    reasons: list[str] = []
    margin = 2.0 * scale

    if noise > config.noise_tolerance:
        reasons.append(f"noise: {noise:.1%} of pixels per frame are stray or off-palette "
                       f"(at most {config.noise_tolerance:.1%})")
    if not tracks:
        reasons.append("no objects found")
    if expected_objects is not None and len(tracks) != expected_objects:
        reasons.append(f"expected {expected_objects} objects, found {len(tracks)} "
                       f"({', '.join(t.colour for t in tracks) or 'none'})")

    min_area, max_area = config.min_area * scale**2, config.max_area * scale**2
    step = config.max_speed * scale
    max_jump, accels, shapes = 0.0, [], {}
    for i, trk in enumerate(tracks):
        name = f"{trk.colour} object"
        missing = ~trk.present
        for start, stop in _runs(missing):
            explained = stop - start <= config.max_gap and all(
                _gap_explained(tracks, i, k, margin) for k in range(start, stop)
            )
            if not explained:
                reasons.append(f"{name} missing in frames {start}..{stop - 1}")
        alone = [k for k in range(frames) if not _occluded(tracks, i, k, margin)]
        if any(not trk.detections[k].clean for k in alone):
            bad = [k for k in alone if not trk.detections[k].clean]
            reasons.append(f"{name} has an implausible size or outline in frames {bad}")
        areas = [trk.detections[k].mass for k in alone]
        if areas and max(areas) > 1.6 * min(areas):
            reasons.append(f"{name} changes size: area {min(areas):.0f}..{max(areas):.0f} px")
        seen = np.array([trk.detections[k].moments for k in alone])  # (frames, 2)
        if len(seen):
            typical = np.median(seen, axis=0)
            shapes[trk.colour] = _guess_shape(tuple(typical), config)
            # A frame departs from the object's shape when a moment moves more than half-way
            # from a circle to a triangle or a square.
            half_way = np.abs([config.triangle_skewness / 2, config.square_anisotropy / 2])
            departs = (np.abs(seen - typical) > half_way).any(axis=1)
            if len(seen) >= 2 and (~departs).mean() < config.shape_agreement:
                guesses = [_guess_shape(tuple(m), config) for m in seen]
                reasons.append(f"{name} changes shape: {guesses}")

        positions = trk.positions
        occluded = np.array([_occluded(tracks, i, k, margin) for k in range(frames)])
        for k in range(frames - 1):
            if missing[k] or missing[k + 1]:
                continue
            jump = float(np.linalg.norm(positions[k + 1] - positions[k]))
            max_jump = max(max_jump, jump)
            # An occluded object's centroid shifts towards its visible part: allow a radius more.
            limit = step + config.jump_slack * scale
            if occluded[k] or occluded[k + 1]:
                limit += config.max_radius * scale
            if jump > limit:
                reasons.append(f"{name} jumps {jump:.1f} px between frames {k} and {k + 1} "
                               f"(at most {limit:.1f})")
        for k in range(1, frames - 1):
            if occluded[k - 1 : k + 2].any():
                continue
            accel = positions[k + 1] - 2 * positions[k] + positions[k - 1]  # (2,)
            for axis in (0, 1):
                if abs(accel[axis]) <= config.accel_tolerance * scale:
                    accels.append(abs(accel[axis]))
                elif _wall_explains(trk.detections, k, axis, accel[axis], h if axis else w,
                                    step + margin):
                    if abs(accel[axis]) > 2 * step + config.accel_tolerance * scale:
                        reasons.append(f"{name} bounces too hard at frame {k}")
                else:
                    accels.append(abs(accel[axis]))
                    reasons.append(f"{name} accelerates {accel[axis]:+.1f} px/frame^2 on "
                                   f"{'xy'[axis]} at frame {k}, away from any wall")
    smoothness = float(np.mean(accels)) if accels else float("nan")
    return SceneReport(
        valid=not reasons, num_objects=num_objects, reasons=reasons, smoothness=smoothness,
        max_jump=max_jump, noise_fraction=noise, tracks=tracks, shapes=shapes,
    )


def check_batch(videos: torch.Tensor, expected_objects: int | None = None,
                config: SceneConfig = SceneConfig()) -> BatchReport:
    """:func:`check_clip` on each of ``videos`` ``(b, t, 3, h, w)``; see :class:`BatchReport`."""
    videos = _check_video(videos, "videos", 5, "(b, t, 3, h, w)")
    reports = [check_clip(v, expected_objects, config) for v in videos]
    smooth = [r.smoothness for r in reports if math.isfinite(r.smoothness)]
    return BatchReport(
        valid_rate=float(np.mean([r.valid for r in reports])) if reports else float("nan"),
        mean_smoothness=float(np.mean(smooth)) if smooth else float("nan"),
        reports=reports,
    )
