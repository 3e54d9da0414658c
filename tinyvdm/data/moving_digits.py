"""Moving digits: Moving-MNIST-style clips made from real handwritten digits.

Taught in chapter 00 (video as data) beside the bouncing shapes: the same physics
(:func:`~tinyvdm.data.bouncing_shapes.bounce_step`), but glyphs that vary from writer to writer,
which is closer to the texture of real data. The digits are the 1797 8 x 8 scans that ship
inside scikit-learn (``sklearn.datasets.load_digits``): nothing is downloaded.

A fixed split keeps the two sets apart: the first 1440 scans are ``"train"``, the last 357
``"test"``, so a model evaluated on ``split="test"`` has never seen those handwritten glyphs.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from tinyvdm.data.base import SeededClips, check_int
from tinyvdm.data.bouncing_shapes import MAX_SIZE, MIN_SIZE, bounce_step

SPLITS = ("train", "test")
NUM_TRAIN = 1440  # of the 1797 scans; the rest are the test split
MAX_DIGITS = 3


@functools.lru_cache(maxsize=1)
def load_digit_images() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 handwritten digits: images ``(1797, 8, 8)`` float32 in ``[0, 1]``, labels int64.

    Loaded once and cached; the arrays are read-only because every caller shares them.
    """
    # Imported here: scikit-learn takes a second to import and only this loader needs it.
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)  # the scans count ink from 0 to 16
    labels = digits.target.astype(np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def split_indices(split: str) -> np.ndarray:
    """Indices into :func:`load_digit_images` of the ``"train"`` or ``"test"`` scans."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    total = len(load_digit_images()[1])
    return np.arange(NUM_TRAIN) if split == "train" else np.arange(NUM_TRAIN, total)


@functools.lru_cache(maxsize=2)
def _scans_by_label(split: str) -> tuple[np.ndarray, ...]:
    """For each label 0..9, the indices of that split's scans of it."""
    indices = split_indices(split)
    labels = load_digit_images()[1][indices]
    return tuple(indices[labels == digit] for digit in range(10))


@functools.lru_cache(maxsize=8)
def _glyphs(glyph_size: int) -> np.ndarray:
    """Every digit upscaled to ``(1797, glyph_size, glyph_size)``, bilinear, values in [0, 1]."""
    images = torch.tensor(load_digit_images()[0])[:, None]  # (1797, 1, 8, 8), a writable copy
    glyphs = F.interpolate(
        images, size=(glyph_size, glyph_size), mode="bilinear", align_corners=False
    )
    glyphs = glyphs[:, 0].clamp(0.0, 1.0).numpy()  # (1797, g, g)
    glyphs.flags.writeable = False
    return glyphs


class MovingDigits(SeededClips):
    """``n`` clips of handwritten digits bouncing in a box; item ``i`` from
    ``default_rng([seed, i])``.

    Each digit is a box of side ``glyph_size`` (default ``round(0.45 * size)``) that bounces off
    the walls like the shapes do (its radius is half the glyph size); digits may overlap, and
    overlapping ink combines with ``max`` as in Moving MNIST. Glyphs sit on whole pixels
    (rounded from the trajectory), so each frame shows exactly the upscaled scan.

    The digits of one clip are different numbers (a 3 and a 7, never two 3s), each a scan drawn
    from the split. Each item is a dict:

    - ``video`` float32 ``(t, 1, h, w)`` in ``[-1, 1]``, background -1
    - ``digits`` int64 ``(num_digits,)`` the labels 0..9
    - ``index`` int64 ``(num_digits,)`` which scans (into :func:`load_digit_images`)
    - ``trajectory`` float32 ``(t, num_digits, 2)`` glyph centres ``(x, y)`` in pixels
    - ``masks`` bool ``(t, num_digits, h, w)`` each digit's ink (intensity > 0.5)
    - ``caption`` str, e.g. "digits 3 and 7 bouncing"
    """

    def __init__(self, n: int = 1024, frames: int = 10, size: int = 32, num_digits: int = 2,
                 seed: int = 0, split: str = "train", glyph_size: int | None = None):
        check_int("n", n, 0, None)
        check_int("frames", frames, 1, None)
        check_int("size", size, MIN_SIZE, MAX_SIZE)
        check_int("num_digits", num_digits, 1, MAX_DIGITS)
        check_int("seed", seed, 0, None)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if glyph_size is None:
            glyph_size = round(0.45 * size)
        # At least 4 free pixels each way, so that a digit has somewhere to move.
        check_int("glyph_size", glyph_size, 4, size - 4)
        self.n, self.frames, self.size = n, frames, size
        self.num_digits, self.seed, self.split = num_digits, seed, split
        self.glyph_size = glyph_size
        # Pixels per frame: the bouncing shapes' speeds, capped at half the free space so one
        # reflection per step is always enough.
        high = min(2.5 * size / 32, (size - glyph_size) / 2)
        self.speed_range = (min(size / 32, high), high)


    def __repr__(self) -> str:
        return (
            f"MovingDigits(n={self.n}, frames={self.frames}, size={self.size}, "
            f"num_digits={self.num_digits}, seed={self.seed}, split={self.split!r}, "
            f"glyph_size={self.glyph_size})"
        )


    def _generate(self, rng: np.random.Generator) -> dict:
        t, size, m, g = self.frames, self.size, self.num_digits, self.glyph_size
        # Different digits in one clip, so the caption names each one unambiguously.
        digits = rng.choice(10, size=m, replace=False).astype(np.int64)
        by_label = _scans_by_label(self.split)
        scans = np.array([by_label[d][rng.integers(len(by_label[d]))] for d in digits])
        half = g / 2
        radius = np.full(m, half, dtype=np.float32)
        position = rng.uniform(half, size - half, size=(m, 2)).astype(np.float32)
        angle = rng.uniform(0.0, 2 * np.pi, size=m)
        speed = rng.uniform(*self.speed_range, size=m)
        velocity = np.stack([speed * np.cos(angle), speed * np.sin(angle)], -1).astype(np.float32)

        trajectory = np.empty((t, m, 2), dtype=np.float32)
        trajectory[0] = position
        for k in range(1, t):
            position, velocity = bounce_step(position, velocity, radius, size)
            trajectory[k] = position

        glyphs = _glyphs(g)[scans]  # (m, g, g)
        # Top-left pixel of each glyph, whole pixels, kept inside the frame.
        corner = np.clip(np.rint(trajectory - half), 0, size - g).astype(np.int64)  # (t, m, 2)
        canvas = np.zeros((t, size, size), dtype=np.float32)
        masks = np.zeros((t, m, size, size), dtype=bool)
        frame = np.arange(t)[:, None, None]
        offsets = np.arange(g)
        for j in range(m):
            rows = (corner[:, j, 1, None] + offsets)[:, :, None]  # (t, g, 1)
            cols = (corner[:, j, 0, None] + offsets)[:, None, :]  # (t, 1, g)
            # Moving MNIST's rule where digits overlap: the brighter ink wins.
            canvas[frame, rows, cols] = np.maximum(canvas[frame, rows, cols], glyphs[j])
            masks[frame, j, rows, cols] = glyphs[j] > 0.5
        video = torch.from_numpy(2.0 * canvas[:, None] - 1.0)  # (t, 1, h, w)

        words = [str(d) for d in digits]
        if m == 1:
            caption = f"digit {words[0]} bouncing"
        else:
            caption = f"digits {', '.join(words[:-1])} and {words[-1]} bouncing"
        return {
            "video": video,
            "digits": torch.from_numpy(digits),
            "index": torch.from_numpy(scans.astype(np.int64)),
            "trajectory": torch.from_numpy(trajectory),
            "masks": torch.from_numpy(masks),
            "caption": caption,
        }
