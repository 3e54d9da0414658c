"""Checks for chapter 00, video as data (``exercises/00_video_as_data.py``)."""

from __future__ import annotations

import torch
from einops import rearrange

from tinyvdm.data.bouncing_shapes import bounce_step
from tinyvdm.exercises.compare import assert_close
from tinyvdm.exercises.registry import Mismatch, exercise

# Sizes are drawn so that no two axes have the same length: a swapped axis then changes
# the output shape or the values, and the check sees it.
_SHAPES = [(2, 3, 1, 4, 5), (3, 5, 3, 2, 7), (1, 4, 3, 6, 3)]


@exercise("00.to_unit_range", "to_unit_range", "uint8 frames (t, h, w, c) -> float video (t, c, h, w) in [-1, 1]")
def check_to_unit_range(fn) -> str:
    gen = torch.Generator().manual_seed(0)
    for t, h, w, c in [(3, 5, 7, 3), (2, 4, 6, 1), (4, 2, 3, 3)]:
        frames = torch.randint(0, 256, (t, h, w, c), generator=gen, dtype=torch.uint8)
        frames[0, 0, 0] = 0  # make sure both ends of the range are present
        frames[-1, -1, -1] = 255
        expected = rearrange(frames.float() / 127.5 - 1.0, "t h w c -> t c h w")
        assert_close(fn(frames.clone()), expected, what="the video", case=f"frames of shape {(t, h, w, c)}")
    return "3 random clips converted correctly"


@exercise("00.frames_to_grid", "frames_to_grid", "a batch (b, t, c, h, w) -> one image (c, b*h, t*w)")
def check_frames_to_grid(fn) -> str:
    gen = torch.Generator().manual_seed(1)
    for shape in _SHAPES:
        videos = torch.rand(shape, generator=gen)
        expected = rearrange(videos, "b t c h w -> c (b h) (t w)")
        assert_close(fn(videos.clone()), expected, what="the grid", case=f"videos of shape {shape}")
    return f"{len(_SHAPES)} random batches laid out correctly (rows = samples, columns = frames)"


@exercise("00.bounce_step", "bounce_step", "one physics step with elastic bounces off the walls")
def check_bounce_step(fn) -> str:
    gen = torch.Generator().manual_seed(2)
    size = 32.0
    for case in range(4):
        n = 6
        radius = 2.0 + 4.0 * torch.rand(n, generator=gen)
        # Start some objects right at a wall and moving into it, so every wall is exercised.
        position = radius[:, None] + (size - 2 * radius[:, None]) * torch.rand(n, 2, generator=gen)
        velocity = 6.0 * (torch.rand(n, 2, generator=gen) - 0.5)
        position[0, 0], velocity[0, 0] = radius[0] + 0.5, -2.0  # left wall
        position[1, 0], velocity[1, 0] = size - radius[1] - 0.3, 2.5  # right wall
        position[2, 1], velocity[2, 1] = radius[2] + 0.2, -1.5  # top wall
        position[3, 1], velocity[3, 1] = size - radius[3] - 1.0, 2.0  # bottom wall
        exp_pos, exp_vel = bounce_step(position.clone(), velocity.clone(), radius.clone(), size)
        got = fn(position.clone(), velocity.clone(), radius.clone(), size)
        if not (isinstance(got, tuple) and len(got) == 2):
            raise Mismatch(f"expected a tuple (position, velocity), got {type(got).__name__}")
        assert_close(got[0], exp_pos, what="the new position", case=f"case {case}")
        assert_close(got[1], exp_vel, what="the new velocity", case=f"case {case}")
    return "4 random scenes stepped correctly, bounces off all four walls included"
