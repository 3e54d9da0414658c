"""Bouncing shapes: the course's synthetic video data set, generated on the fly.

Taught in chapter 00 (video as data) and used by almost every chapter after it: text-to-video
uses the captions (chapters 15 and 18), video-to-video pairs re-render the same motion with
other colours (:func:`render`), the world model of chapter 16 uses the optional pushes
(``actions``), and chapter 15 conditions on the optional soundtrack (``audio``).

Each clip shows one to three coloured shapes gliding in straight lines and bouncing elastically
off the walls of a square frame. Everything a model could be asked about is recorded beside the
pixels: shape, colour, size, direction, the trajectory, which walls were hit and when, and a
mask per object. Item ``i`` of a data set is drawn from ``numpy.random.default_rng([seed, i])``,
so it is the same whatever order, batch or worker it is asked for in.

Coordinates are pixels: the frame spans ``[0, size]`` on both axes, ``x`` grows to the right and
``y`` grows *downwards* (image convention), so "up" means ``y`` decreasing. Pixel ``(row, col)``
covers ``[col, col + 1] x [row, row + 1]`` and is sampled at its centre.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from tinyvdm.data.base import SeededClips, check_int

SHAPES = ("circle", "square", "triangle")

# Hues far apart on the colour wheel and bright against the black background, so a small model
# (and a human glancing at a 32-pixel frame) can tell them apart.
COLOURS = {
    "red": (0.95, 0.15, 0.15),
    "green": (0.15, 0.85, 0.20),
    "blue": (0.20, 0.35, 1.00),
    "yellow": (0.95, 0.90, 0.10),
    "magenta": (0.90, 0.20, 0.90),
    "cyan": (0.10, 0.90, 0.95),
}

# Compass class k is the direction at k * 45 degrees counter-clockwise from "right", as seen on
# screen (y up on screen is y decreasing in pixels).
DIRECTIONS = (
    "right",
    "up and to the right",
    "up",
    "up and to the left",
    "left",
    "down and to the left",
    "down",
    "down and to the right",
)

# Wall names in the order of their bit flags in ``bounces``: 1 left, 2 right, 4 top, 8 bottom.
WALLS = ("left", "right", "top", "bottom")

COLOUR_NAMES = tuple(COLOURS)  # the order of the "colour" index

MIN_SIZE, MAX_SIZE = 16, 64
MAX_OBJECTS = 3

# A sampled direction stays this far (radians) from its compass class's centre, so the class of
# the initial velocity is never a coin toss between two neighbours (a sector is +-pi/8 wide).
_DIRECTION_JITTER = math.pi / 10
# Bit flags of the wall hit when a velocity component flips: (x, y) moving towards 0 hits the
# left (1) or top (4) wall, moving away from 0 the right (2) or bottom (8) wall.
_LOW_WALL_BITS = np.array([1, 4], dtype=np.int64)
_HIGH_WALL_BITS = np.array([2, 8], dtype=np.int64)
# Frequencies (Hz) of the soundtrack's tone at the bottom and at the top of the frame.
_LOW_PITCH, _HIGH_PITCH = 220.0, 880.0


@dataclass(frozen=True)
class BouncingShapesConfig:
    """What a bouncing-shapes clip may contain. Toy-sized defaults: 8 frames of 32 x 32.

    ``min_radius``/``max_radius`` (pixels) default to ``size / 10`` .. ``size / 7`` (objects a
    sixth to a quarter of the frame across); ``min_speed``/``max_speed`` (pixels per frame)
    default to ``1.0 .. 2.5`` at 32 pixels, scaled with ``size``. Leaving them ``None`` keeps them
    tied to ``size`` when a copy changes it (``dataclasses.replace(config, size=64)``); read the
    values in use from :attr:`radius_range` and :attr:`speed_range`.

    ``actions`` adds random pushes (each frame, each object, with probability ``action_prob``)
    and ``audio`` a soundtrack at ``audio_rate`` samples per second for a clip played at ``fps``.
    """

    frames: int = 8
    size: int = 32
    min_objects: int = 1
    max_objects: int = 1
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = tuple(COLOURS)
    min_radius: float | None = None
    max_radius: float | None = None
    min_speed: float | None = None
    max_speed: float | None = None
    actions: bool = False
    action_prob: float = 0.15
    audio: bool = False
    audio_rate: int = 8000
    fps: int = 8

    def __post_init__(self):
        # Lists are accepted for convenience but stored as tuples, so the config stays hashable.
        object.__setattr__(self, "shapes", tuple(self.shapes))
        object.__setattr__(self, "colours", tuple(self.colours))
        check_int("frames", self.frames, 1, None)
        check_int("size", self.size, MIN_SIZE, MAX_SIZE)
        check_int("min_objects", self.min_objects, 1, MAX_OBJECTS)
        check_int("max_objects", self.max_objects, 1, MAX_OBJECTS)
        if self.min_objects > self.max_objects:
            raise ValueError(
                f"min_objects must be <= max_objects (both in 1..{MAX_OBJECTS}), got "
                f"min_objects={self.min_objects}, max_objects={self.max_objects}"
            )
        _check_names("shapes", self.shapes, SHAPES)
        _check_names("colours", self.colours, tuple(COLOURS))

        low, high = self.radius_range
        if not (0 < low <= high):
            raise ValueError(
                f"radii must satisfy 0 < min_radius <= max_radius, got min_radius={low}, "
                f"max_radius={high}"
            )
        if 2 * high >= self.size:
            raise ValueError(
                f"objects must be smaller than the frame: need 2 * max_radius < size = "
                f"{self.size}, got max_radius={high} (diameter {2 * high})"
            )
        covered, limit = self.max_objects * (2 * high) ** 2, self.size**2 / 2
        if covered > limit:
            raise ValueError(
                f"{self.max_objects} objects of radius {high} do not fit a {self.size}x{self.size} "
                f"frame: need max_objects * (2 * max_radius)**2 <= size**2 / 2 = {limit}, "
                f"got {covered}"
            )
        low_speed, high_speed = self.speed_range
        # One reflection per step is all bounce_step does: a faster object could cross the free
        # space between the walls in one frame and end up outside it.
        limit = self.size - 2 * high
        if not (0 < low_speed <= high_speed < limit):
            raise ValueError(
                f"speeds must satisfy 0 < min_speed <= max_speed < size - 2 * max_radius = {limit} "
                f"pixels per frame, got min_speed={low_speed}, max_speed={high_speed}"
            )
        if not (0.0 <= self.action_prob <= 1.0):
            raise ValueError(f"action_prob must be in [0, 1], got {self.action_prob}")
        check_int("fps", self.fps, 1, None)
        # The tone goes up to 880 Hz and the clicks to 1.5 kHz: keep both under Nyquist.
        check_int("audio_rate", self.audio_rate, 4000, None)

    @property
    def radius_range(self) -> tuple[float, float]:
        """``(min_radius, max_radius)`` in pixels, derived from ``size`` where left ``None``."""
        low = self.size / 10 if self.min_radius is None else float(self.min_radius)
        high = self.size / 7 if self.max_radius is None else float(self.max_radius)
        if self.max_radius is None:
            high = max(high, low)  # a min_radius above the default max raises the max with it
        return low, high

    @property
    def speed_range(self) -> tuple[float, float]:
        """``(min_speed, max_speed)`` in pixels per frame, derived from ``size`` where ``None``."""
        low = self.size / 32 if self.min_speed is None else float(self.min_speed)
        high = 2.5 * self.size / 32 if self.max_speed is None else float(self.max_speed)
        if self.max_speed is None:
            high = max(high, low)
        return low, high

    @property
    def audio_samples(self) -> int:
        """Length of the soundtrack: ``frames * audio_rate // fps`` samples."""
        return self.frames * self.audio_rate // self.fps



def _check_names(name: str, values: tuple, valid: tuple[str, ...]) -> None:
    unknown = [v for v in values if v not in valid]
    if not values or unknown:
        raise ValueError(
            f"{name} must be a non-empty tuple of names from {valid}, got {values!r}"
        )


# ---------------------------------------------------------------------------------------------
# Physics


def _check_motion(position, velocity, radius, size) -> None:
    for name, value in (("position", position), ("velocity", velocity)):
        if not isinstance(value, (torch.Tensor, np.ndarray)):
            raise ValueError(f"{name} must be a tensor of shape (n, 2), got {type(value).__name__}")
    if position.ndim != 2 or position.shape[-1] != 2:
        raise ValueError(f"position must have shape (n, 2), got {tuple(position.shape)}")
    if tuple(velocity.shape) != tuple(position.shape):
        raise ValueError(
            f"velocity must have the shape of position {tuple(position.shape)}, "
            f"got {tuple(velocity.shape)}"
        )
    if type(velocity) is not type(position):
        raise ValueError("position and velocity must both be torch tensors (or both numpy arrays)")
    if isinstance(radius, (torch.Tensor, np.ndarray)):
        if tuple(radius.shape) != (position.shape[0],):
            raise ValueError(
                f"radius must have shape (n,) = ({position.shape[0]},), got {tuple(radius.shape)}"
            )
    elif not isinstance(radius, (int, float, np.number)):
        raise ValueError(f"radius must be a tensor of shape (n,) or a number, got {radius!r}")
    if not isinstance(size, (int, float, np.integer, np.floating)) or size <= 0:
        raise ValueError(f"size must be a positive number of pixels, got {size!r}")


def _radius_like(radius, position):
    """``radius`` repeated to ``position``'s shape ``(n, 2)``, kind and dtype.

    Same-shape arithmetic skips numpy's broadcasting machinery, which on a handful of objects
    costs more than the arithmetic itself.
    """
    if isinstance(position, torch.Tensor):
        r = torch.as_tensor(radius, dtype=position.dtype, device=position.device)
        return (r[:, None] if r.ndim else r).expand_as(position)
    r = np.asarray(radius, dtype=position.dtype)
    out = np.empty_like(position)
    out[...] = r[:, None] if r.ndim else r
    return out


def bounce_step(position, velocity, radius, size):
    """Move ``n`` objects one frame and reflect them elastically off the walls.

    The frame spans ``[0, size]`` on both axes and an object of radius ``r`` keeps its centre in
    ``[r, size - r]``. With ``new = position + velocity``, on each axis where ``new < r`` the
    object ends at ``2 r - new`` and that velocity component changes sign; where
    ``new > size - r`` it ends at ``2 (size - r) - new``, also flipped. (One reflection per step:
    keep speeds below ``size - 2 r``.)

    Args:
        position: ``(n, 2)`` centres ``(x, y)`` in pixels (torch tensor; numpy arrays work too
            and give numpy back, which the data set uses for speed).
        velocity: ``(n, 2)`` pixels per frame.
        radius: ``(n,)`` pixels (or one number for all).
        size: side of the frame in pixels.

    Returns:
        ``(position, velocity)``, both ``(n, 2)``, new arrays; the inputs are not modified.
    """
    _check_motion(position, velocity, radius, size)
    where = torch.where if isinstance(position, torch.Tensor) else np.where
    low = _radius_like(radius, position)  # (n, 2)
    high = size - low
    new = position + velocity
    below = new < low
    above = new > high
    # below and above never both hold on one axis (r < size - r), so applying them in turn is
    # the same as applying whichever one holds.
    new = where(below, 2 * low - new, new)
    new = where(above, 2 * high - new, new)
    velocity = where(below | above, -velocity, velocity)
    return new, velocity


def bounce_walls(position, velocity, radius, size):
    """Which walls ``bounce_step(position, velocity, radius, size)`` would bounce off.

    Returns ``(n,)`` int64 bit flags: 1 left, 2 right, 4 top, 8 bottom (see :data:`WALLS`);
    0 means no bounce, 5 a bounce into the top-left corner. Same arguments as :func:`bounce_step`.
    """
    _check_motion(position, velocity, radius, size)
    low = _radius_like(radius, position)
    new = position + velocity
    below = new < low  # (n, 2): left wall on x, top wall on y
    above = new > size - low  # (n, 2): right wall on x, bottom wall on y
    flags = 1 * below[:, 0] + 2 * above[:, 0] + 4 * below[:, 1] + 8 * above[:, 1]
    if isinstance(flags, torch.Tensor):
        return flags.long()
    return flags.astype(np.int64)


def direction_class(velocity) -> torch.Tensor:
    """The 8-way compass class (index into :data:`DIRECTIONS`) of each velocity.

    ``velocity`` is ``(..., 2)`` as ``(x, y)`` in pixels (y down); returns int64 ``(...)``.
    A zero velocity gets class 0 ("right").
    """
    velocity = torch.as_tensor(velocity, dtype=torch.float64)
    if velocity.ndim == 0 or velocity.shape[-1] != 2:
        raise ValueError(f"velocity must have shape (..., 2), got {tuple(velocity.shape)}")
    # Minus y: on screen "up" is y decreasing.
    angle = torch.atan2(-velocity[..., 1], velocity[..., 0])
    return torch.round(angle / (math.pi / 4)).long() % 8


SIZE_CLASSES = ("small", "medium", "large")  # thirds of the radius range; captions omit "medium"
NUM_OBJECT_CLASSES = len(COLOURS) * len(SHAPES) * len(SIZE_CLASSES)


def _size_index(share):
    """0, 1 or 2 for ``share`` (radius as a share of the range) in its lower, middle or upper third.

    Plain comparisons, so one definition serves a Python float (the captions, per object, on the
    data path) and a tensor (:func:`size_class`, per batch).
    """
    return (share >= 1 / 3) * 1 + (share > 2 / 3) * 1


def size_class(radius, radius_range: tuple[float, float]) -> torch.Tensor:
    """Which third of ``radius_range`` each radius falls in: 0 small, 1 medium, 2 large.

    The same thirds the captions use for "small" and "large". ``radius`` is any shape of
    pixels; returns int64 of that shape.
    """
    radius = torch.as_tensor(radius, dtype=torch.float64)
    if len(radius_range) != 2 or not 0 < radius_range[0] < radius_range[1]:
        raise ValueError(f"radius_range must be (low, high) with 0 < low < high, got {radius_range!r}")
    low, high = radius_range
    return _size_index((radius - low) / (high - low))


def object_class(shape, colour, radius, radius_range: tuple[float, float]) -> torch.Tensor:
    """One class index per object, ``(colour * 3 + shape) * 3 + size``, in ``[0, 54)``.

    What a caption says about an object ("a large yellow triangle") as a single label, for a
    class-conditional model. ``shape`` and ``colour`` are int64 indices into :data:`SHAPES` and
    :data:`COLOUR_NAMES`, ``radius`` pixels, all of one shape (e.g. a batch's ``[:, 0]``, its
    first object); see :func:`object_class_name` for the way back.
    """
    shape, colour, radius = torch.as_tensor(shape), torch.as_tensor(colour), torch.as_tensor(radius)
    if shape.dtype != torch.int64 or colour.dtype != torch.int64:
        raise ValueError(f"shape and colour must be int64 indices, got {shape.dtype} and {colour.dtype}")
    if shape.shape != colour.shape or shape.shape != radius.shape:
        raise ValueError(f"shape, colour and radius must have one shape, got {tuple(shape.shape)}, "
                         f"{tuple(colour.shape)} and {tuple(radius.shape)}")
    if ((shape < 0) | (shape >= len(SHAPES))).any() or ((colour < 0) | (colour >= len(COLOURS))).any():
        raise ValueError(f"shape must lie in [0, {len(SHAPES)}) and colour in [0, {len(COLOURS)}) "
                         "(absent object slots, -1, have no class)")
    size = size_class(radius, radius_range).to(shape.device)
    return (colour * len(SHAPES) + shape) * len(SIZE_CLASSES) + size


def object_class_name(label: int) -> str:
    """``object_class``'s label back in words, e.g. ``"large yellow triangle"``."""
    if isinstance(label, torch.Tensor):
        label = int(label)
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < NUM_OBJECT_CLASSES:
        raise ValueError(f"label must be an int in [0, {NUM_OBJECT_CLASSES}), got {label!r}")
    rest, size = divmod(int(label), len(SIZE_CLASSES))
    colour, shape = divmod(rest, len(SHAPES))
    return f"{SIZE_CLASSES[size]} {COLOUR_NAMES[colour]} {SHAPES[shape]}"


# ---------------------------------------------------------------------------------------------
# Rendering


def _signed_distance(shape: str, dx: np.ndarray, dy: np.ndarray, radius: float) -> np.ndarray:
    """Signed distance in pixels (negative inside) from pixel centres to the shape's edge.

    ``dx`` is ``(t, 1, w)`` and ``dy`` is ``(t, h, 1)``, pixel centre minus object centre, so the
    result broadcasts to ``(t, h, w)``.
    """
    if shape == "circle":
        return np.sqrt(dx * dx + dy * dy) - radius
    if shape == "square":
        # Chebyshev distance: the square of half-side r is the unit ball of the max-norm.
        return np.maximum(np.abs(dx), np.abs(dy)) - radius
    if shape == "triangle":
        # Equilateral, pointing up, filling the same 2r-high box as the others (apex at -r,
        # base at +r), so it looks about as big. It is the intersection of three half-planes:
        # the base (normal pointing down, r from the centre) and two sides (normals 30 degrees
        # above the horizontal, r/2 from the centre), so the signed distance is their maximum.
        cos30 = math.sqrt(3) / 2
        base = dy - radius
        right = cos30 * dx - 0.5 * dy - 0.5 * radius
        left = -cos30 * dx - 0.5 * dy - 0.5 * radius
        return np.maximum(base, np.maximum(right, left))
    raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")


def _rgb(colour) -> np.ndarray:
    """A colour name, an index into :data:`COLOUR_NAMES` or an RGB triple, as float32 ``(3,)``."""
    if isinstance(colour, torch.Tensor) and colour.ndim == 0:
        colour = colour.item()
    if isinstance(colour, (int, np.integer)) and not isinstance(colour, bool):
        if not 0 <= colour < len(COLOUR_NAMES):
            raise ValueError(f"colour index must be in 0..{len(COLOUR_NAMES) - 1}, got {colour}")
        colour = COLOUR_NAMES[colour]
    if isinstance(colour, str):
        if colour not in COLOURS:
            raise ValueError(
                f"colour must be one of {COLOUR_NAMES} or an RGB triple, got {colour!r}"
            )
        colour = COLOURS[colour]
    rgb = np.asarray(colour, dtype=np.float32)
    if rgb.shape != (3,) or rgb.min() < 0 or rgb.max() > 1:
        raise ValueError(
            f"colour must be a name, an index or an RGB triple in [0, 1], got {colour!r}"
        )
    return rgb


def _render_numpy(trajectory: np.ndarray, shapes, rgbs, radii, size: int,
                  slots: int | None = None):
    """:func:`render` on numpy arrays, without checks: the data set's fast path.

    Each object is drawn only inside a square window around it that holds every pixel it can
    touch, which at 64 pixels is a sixth of the frame's area: the same picture for less work.
    ``slots`` (default ``n``) sizes the masks' object axis, leaving the extra slots empty.
    """
    frames, n = trajectory.shape[:2]
    # Flat per channel while compositing, so a window is one 1-D gather per channel: far faster
    # in numpy than indexing (t, h, w) with three index arrays.
    canvas = np.full((3, frames * size * size), -1.0, dtype=np.float32)  # (3, t h w)
    slots = n if slots is None else slots
    masks = np.zeros((frames, slots, size, size), dtype=bool)
    flags = masks.reshape(-1)  # a view: (t slots h w)
    frame = np.arange(frames)[:, None, None]  # (t, 1, 1)
    for j in range(n):  # objects, back to front; frames and pixels are all done at once
        radius = float(radii[j])
        # How far from its centre an object can colour a pixel: the triangle's base corners sit
        # 1.155 r out, and the anti-aliased fringe at its 60-degree corners reaches 1 px further.
        reach = 1.16 * radius + 1.5
        side = min(size, math.ceil(2 * reach) + 1)
        corner = np.floor(trajectory[:, j] - reach).astype(np.int64)  # (t, 2) window's (x, y)
        corner = np.minimum(np.maximum(corner, 0), size - side)  # np.clip, minus its overhead
        offsets = np.arange(side)
        cols = corner[:, 0, None] + offsets  # (t, side)
        rows = corner[:, 1, None] + offsets  # (t, side)
        dx = (cols + 0.5).astype(np.float32) - trajectory[:, j, 0, None]  # (t, side)
        dy = (rows + 0.5).astype(np.float32) - trajectory[:, j, 1, None]  # (t, side)
        # (t, side, side): pixel centres in the window against this object
        distance = _signed_distance(shapes[j], dx[:, None], dy[..., None], radius)
        # Anti-aliasing: the share of a pixel a straight edge at this distance would cover.
        coverage = np.minimum(np.maximum(0.5 - distance, 0.0), 1.0)
        rows, cols = rows[:, :, None], cols[:, None, :]
        flags[((frame * slots + j) * size + rows) * size + cols] = distance < 0  # coverage > 0.5
        window = (frame * size + rows) * size + cols  # (t, side, side) into t h w
        for channel, value in enumerate(2.0 * rgbs[j] - 1.0):  # colour in [-1, 1]
            plane = canvas[channel]
            patch = plane[window]
            # "Over" compositing: later objects cover earlier ones in proportion to coverage.
            plane[window] = patch + coverage * (value - patch)
    video = canvas.reshape(3, frames, size, size).transpose(1, 0, 2, 3)  # (t, 3, h, w)
    video = np.ascontiguousarray(video)
    return video, masks


def render(trajectory, shapes, colours, radii, size: int):
    """Draw ``n`` objects along a trajectory, anti-aliased, later objects on top.

    Use it to re-render the motion of a data set item with other colours or shapes (a
    video-to-video pair): ``render(item["trajectory"][:, :k], ...)`` with the ``k`` present
    objects.

    Args:
        trajectory: ``(t, n, 2)`` centres ``(x, y)`` in pixels.
        shapes: ``n`` names from :data:`SHAPES` (or indices into it).
        colours: ``n`` names from :data:`COLOURS`, indices into ``tuple(COLOURS)`` (the
            items' ``colour`` values) or RGB triples in ``[0, 1]``.
        radii: ``(n,)`` pixels.
        size: side of the square frame in pixels.

    Returns:
        ``video`` float32 ``(t, 3, h, w)`` in ``[-1, 1]`` (background -1) and ``masks`` bool
        ``(t, n, h, w)``, each object's own silhouette (coverage > 0.5), occluded or not.
    """
    trajectory = np.asarray(torch.as_tensor(trajectory).detach().cpu(), dtype=np.float32)
    if trajectory.ndim != 3 or trajectory.shape[-1] != 2:
        raise ValueError(f"trajectory must have shape (t, n, 2), got {tuple(trajectory.shape)}")
    n = trajectory.shape[1]
    radii = np.asarray(torch.as_tensor(radii).detach().cpu(), dtype=np.float32).reshape(-1)
    if len(shapes) != n or len(colours) != n or radii.shape != (n,):
        raise ValueError(
            f"trajectory has n={n} objects, so shapes, colours and radii need {n} entries each; "
            f"got {len(shapes)}, {len(colours)} and {radii.shape[0]}"
        )
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    names = []
    for shape in shapes:
        if isinstance(shape, torch.Tensor) and shape.ndim == 0:
            shape = int(shape)
        if isinstance(shape, (int, np.integer)):
            index = int(shape)
            if not 0 <= index < len(SHAPES):
                raise ValueError(f"shape index must be in 0..{len(SHAPES) - 1}, got {index}")
            shape = SHAPES[index]
        if shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
        names.append(shape)
    rgbs = [_rgb(c) for c in colours]
    video, masks = _render_numpy(trajectory, names, rgbs, radii, int(size))
    return torch.from_numpy(video), torch.from_numpy(masks)


# ---------------------------------------------------------------------------------------------
# Sound


def soundtrack(height, clicks, fps: int = 8, audio_rate: int = 8000) -> torch.Tensor:
    """A tone whose pitch follows a height, plus a click at each marked frame.

    The pitch moves between 220 Hz (``height`` 0, the bottom) and 880 Hz (1, the top) on a
    log scale, interpolated smoothly between frames and phase-continuous (no pops). A click is a
    short decaying 1.5 kHz burst starting when the frame appears.

    Args:
        height: ``(t,)`` values in ``[0, 1]``, one per frame.
        clicks: ``(t,)`` bool (or counts): frames that start with a bounce.
        fps: frames per second of the clip.
        audio_rate: samples per second.

    Returns:
        float32 ``(t * audio_rate // fps,)`` in ``[-1, 1]``.
    """
    height = np.asarray(torch.as_tensor(height, dtype=torch.float64))
    clicks = np.asarray(torch.as_tensor(clicks).to(torch.int64))
    if height.ndim != 1 or clicks.shape != height.shape:
        raise ValueError(
            f"height and clicks must both have shape (t,), got {height.shape} and {clicks.shape}"
        )
    check_int("fps", fps, 1, None)
    check_int("audio_rate", audio_rate, 4000, None)
    frames = height.shape[0]
    samples = frames * audio_rate // fps
    time = np.arange(samples) / audio_rate  # seconds
    # Height at each sample, interpolated between frames, so the pitch glides instead of jumping.
    height_at = np.interp(time * fps, np.arange(frames), np.clip(height, 0.0, 1.0))
    frequency = _LOW_PITCH * (_HIGH_PITCH / _LOW_PITCH) ** height_at
    # Integrating the frequency keeps the phase continuous when the pitch changes.
    phase = 2 * np.pi * np.cumsum(frequency) / audio_rate
    audio = 0.5 * np.sin(phase)
    click_length = int(0.03 * audio_rate)
    click_time = np.arange(click_length) / audio_rate
    click = 0.5 * np.exp(-click_time / 0.004) * np.sin(2 * np.pi * 1500.0 * click_time)
    for k in np.flatnonzero(clicks):
        start = k * audio_rate // fps
        stop = min(start + click_length, samples)
        audio[start:stop] += clicks[k] * click[: stop - start]
    return torch.from_numpy(np.clip(audio, -1.0, 1.0).astype(np.float32))


# ---------------------------------------------------------------------------------------------
# Captions


def _join(words: list[str]) -> str:
    """``["a"] -> "a"``, ``["a", "b"] -> "a and b"``, ``["a", "b", "c"] -> "a, b and c"``."""
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def _size_word(radius: float, radius_range: tuple[float, float]) -> str:
    low, high = radius_range
    # Only name a size when the data set's sizes differ enough to see; then the lower and upper
    # thirds of the range are "small" and "large" and the middle third goes unnamed.
    if high < 1.25 * low:
        return ""
    word = SIZE_CLASSES[_size_index((radius - low) / (high - low))]
    return "" if word == "medium" else word + " "


def _caption(shapes, colours, radii, directions, bounces, radius_range) -> str:
    """Plain English for the ``n`` present objects; ``bounces`` is ``(t, >= n)`` bit flags."""
    parts = []
    for j in range(len(shapes)):
        walls = []
        for flags in bounces[np.flatnonzero(bounces[:, j]), j]:
            for bit, wall in enumerate(WALLS):
                if flags & (1 << bit) and wall not in walls:
                    walls.append(wall)
        part = (
            f"a {_size_word(radii[j], radius_range)}{colours[j]} {shapes[j]} "
            f"moves {DIRECTIONS[directions[j]]}"
        )
        if walls:
            part += f", bouncing off the {_join(walls)} wall{'s' if len(walls) > 1 else ''}"
        parts.append(part)
    return ", and ".join(parts)


# ---------------------------------------------------------------------------------------------
# The data set


class BouncingShapes(SeededClips):
    """``n`` clips of bouncing shapes, item ``i`` drawn from ``default_rng([seed, i])``.

    ``BouncingShapes(256, frames=16, max_objects=3)`` builds the config from keywords;
    ``BouncingShapes(256, config=cfg, size=64)`` copies ``cfg`` with ``size`` changed.

    Each item is a dict (``m = config.max_objects``; absent object slots are padded with -1 for
    indices, 0 for numbers, False for flags, so the default ``DataLoader`` collate works):

    - ``video`` float32 ``(t, 3, h, w)`` in ``[-1, 1]``, background -1
    - ``shape`` int64 ``(m,)`` index into :data:`SHAPES`; ``colour`` int64 ``(m,)`` index into
      ``tuple(COLOURS)``; ``radius`` float32 ``(m,)`` pixels; ``present`` bool ``(m,)``;
      ``num_objects`` int64 ``()``
    - ``direction`` int64 ``(m,)`` compass class of the initial velocity (:data:`DIRECTIONS`)
    - ``trajectory`` float32 ``(t, m, 2)`` centres ``(x, y)``; ``velocity`` float32
      ``(t, m, 2)`` the velocity after the step into frame ``k`` (frame 0: the initial one)
    - ``bounces`` int64 ``(t, m)`` walls hit on the step into frame ``k`` (1 left, 2 right,
      4 top, 8 bottom)
    - ``masks`` bool ``(t, m, h, w)`` each object's own silhouette
    - ``caption`` str, e.g. "a red circle moves up and to the left, bouncing off the top wall"
    - with ``config.actions``: ``actions`` float32 ``(t, m, 2)``, the push added to the velocity
      at the start of the step into frame ``k`` (always 0 at frame 0), so that
      ``bounce_step(trajectory[k-1], velocity[k-1] + actions[k], radius, size)`` gives frame
      ``k`` exactly
    - with ``config.audio``: ``audio`` float32 ``(config.audio_samples,)`` in ``[-1, 1]``, a
      tone that rises as object 0 rises, and a click at every bounce of any object

    Objects start apart but pass through each other (no object-object collisions); the caption
    describes the initial direction, before any bounce or push.
    """

    def __init__(self, n: int = 1024, config: BouncingShapesConfig | None = None, seed: int = 0,
                 **config_overrides):
        check_int("n", n, 0, None)
        check_int("seed", seed, 0, None)
        if config is not None and not isinstance(config, BouncingShapesConfig):
            raise ValueError(
                f"config must be a BouncingShapesConfig or None, got {type(config).__name__}"
            )
        fields = {f.name for f in dataclasses.fields(BouncingShapesConfig)}
        unknown = sorted(set(config_overrides) - fields)
        if unknown:
            raise ValueError(f"unknown config fields {unknown}; valid fields are {sorted(fields)}")
        if config is None:
            config = BouncingShapesConfig(**config_overrides)
        elif config_overrides:
            config = dataclasses.replace(config, **config_overrides)
        self.n = n
        self.config = config
        self.seed = seed


    def __repr__(self) -> str:
        return f"BouncingShapes(n={self.n}, seed={self.seed}, config={self.config})"

    def first_object_class(self, batch: dict) -> torch.Tensor:
        """:func:`object_class` of each clip's first object, ``(b,)`` int64 in ``[0, 54)``, sized by
        this data set's radius range: the label a class-conditional model of one-object clips is told."""
        missing = [key for key in ("shape", "colour", "radius") if key not in batch]
        if missing:
            raise ValueError(f"batch must be a batch of this data set (with 'shape', 'colour', 'radius'), "
                             f"missing {missing}")
        return object_class(batch["shape"][:, 0], batch["colour"][:, 0], batch["radius"][:, 0],
                            self.config.radius_range)


    # The draws below come in a fixed order, and those for actions come last, so a clip with
    # pushes starts exactly like the same clip without them.
    def _generate(self, rng: np.random.Generator) -> dict:
        cfg = self.config
        t, size, m = cfg.frames, cfg.size, cfg.max_objects
        n = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
        shape_names = [cfg.shapes[k] for k in rng.integers(len(cfg.shapes), size=n)]
        # Distinct colours while there are enough, so a caption never names two "red" objects.
        if len(cfg.colours) >= n:
            colour_picks = rng.permutation(len(cfg.colours))[:n]
        else:
            colour_picks = rng.integers(len(cfg.colours), size=n)
        colour_names = [cfg.colours[k] for k in colour_picks]
        low, high = cfg.radius_range
        radii = rng.uniform(low, high, size=n).astype(np.float32)
        start = _place_apart(rng, radii, size)

        directions = rng.integers(8, size=n)
        angle = directions * (math.pi / 4) + rng.uniform(-_DIRECTION_JITTER, _DIRECTION_JITTER, n)
        speed = rng.uniform(*cfg.speed_range, size=n)
        # Minus sin: y grows downwards, and direction class 2 ("up") must decrease y.
        velocity0 = np.stack([speed * np.cos(angle), -speed * np.sin(angle)], axis=-1)

        if cfg.actions:
            push = rng.random((t, n)) < cfg.action_prob
            push[0] = False  # nothing moves into frame 0
            push_angle = rng.uniform(0.0, 2 * math.pi, size=(t, n))
            push_speed = rng.uniform(*cfg.speed_range, size=(t, n))
            # A push sets a new random velocity of an ordinary speed; the action is the change.
            target = np.stack([np.cos(push_angle), -np.sin(push_angle)], -1) * push_speed[..., None]
            target = target.astype(np.float32)  # (t, n, 2)

        # Arrays for all m object slots, zero for the absent ones; physics runs on the first n.
        trajectory = np.zeros((t, m, 2), dtype=np.float32)
        velocity = np.zeros((t, m, 2), dtype=np.float32)
        actions = np.zeros((t, m, 2), dtype=np.float32)
        moved = np.zeros((t, m, 2), dtype=np.float32)  # velocity used on the step into frame k
        trajectory[0, :n], velocity[0, :n] = start, velocity0
        for k in range(1, t):
            if cfg.actions:
                actions[k, :n] = np.where(push[k, :, None], target[k] - velocity[k - 1, :n], 0.0)
                moved[k, :n] = velocity[k - 1, :n] + actions[k, :n]
            else:
                moved[k, :n] = velocity[k - 1, :n]
            trajectory[k, :n], velocity[k, :n] = bounce_step(
                trajectory[k - 1, :n], moved[k, :n], radii, size
            )
        # Objects start inside [r, size - r], so a flipped component means a bounce off the wall
        # it was moving towards: what bounce_walls says, without a second pass per step.
        flipped = velocity != moved  # (t, m, 2)
        flipped[0] = False  # nothing moves into frame 0
        wall_bits = np.where(moved < 0, _LOW_WALL_BITS, _HIGH_WALL_BITS)  # (t, m, 2)
        bounces = (flipped * wall_bits).sum(axis=-1)  # (t, m)

        rgbs = [np.asarray(COLOURS[c], dtype=np.float32) for c in colour_names]
        video, masks = _render_numpy(trajectory[:, :n], shape_names, rgbs, radii, size, slots=m)

        # Per-object labels, padded: -1 (no such index) or 0 for the absent slots.
        labels = np.full((4, m), -1, dtype=np.int64)  # shape, colour, direction, present
        labels[0, :n] = [SHAPES.index(s) for s in shape_names]
        labels[1, :n] = [COLOUR_NAMES.index(c) for c in colour_names]
        labels[2, :n] = directions
        labels[3] = np.arange(m) < n
        radius = np.zeros(m, dtype=np.float32)
        radius[:n] = radii

        item = {
            "video": torch.from_numpy(video),
            "shape": torch.from_numpy(labels[0]),
            "colour": torch.from_numpy(labels[1]),
            "radius": torch.from_numpy(radius),
            "present": torch.from_numpy(labels[3].astype(bool)),
            "num_objects": torch.scalar_tensor(n, dtype=torch.int64),
            "direction": torch.from_numpy(labels[2]),
            "trajectory": torch.from_numpy(trajectory),
            "velocity": torch.from_numpy(velocity),
            "bounces": torch.from_numpy(bounces),
            "masks": torch.from_numpy(masks),
            "caption": _caption(shape_names, colour_names, radii, directions, bounces, (low, high)),
        }
        if cfg.actions:
            item["actions"] = torch.from_numpy(actions)
        if cfg.audio:
            # Height of object 0: 1 with its top at the top of the frame, 0 at the bottom.
            free = size - 2 * float(radii[0])
            height = 1.0 - (trajectory[:, 0, 1] - radii[0]) / free
            item["audio"] = soundtrack(height, (bounces != 0).sum(axis=1), cfg.fps, cfg.audio_rate)
        return item


def _place_apart(rng: np.random.Generator, radii: np.ndarray, size: int,
                 tries: int = 64) -> np.ndarray:
    """Random centres ``(n, 2)`` inside the frame with no two objects touching at frame 0."""
    n = len(radii)
    low = radii[:, None].astype(np.float64)
    if n == 1:
        return rng.uniform(low, size - low, size=(1, 2)).astype(np.float32)
    for _ in range(tries):
        # 16 candidate layouts per draw: far fewer Python round trips than one at a time.
        candidates = rng.uniform(low, size - low, size=(16, n, 2))  # (16, n, 2)
        offsets = candidates[:, :, None] - candidates[:, None, :]  # (16, n, n, 2)
        gaps = np.linalg.norm(offsets, axis=-1)  # (16, n, n)
        needed = radii[:, None] + radii[None, :] + 1.0  # one pixel of daylight between objects
        apart = (gaps >= needed) | np.eye(n, dtype=bool)
        ok = apart.all(axis=(1, 2))
        if ok.any():
            return candidates[np.argmax(ok)].astype(np.float32)
    raise ValueError(
        f"could not place {n} objects of radii {np.round(radii, 2).tolist()} apart in a "
        f"{size}x{size} frame after {tries * 16} tries; use fewer or smaller objects"
    )
