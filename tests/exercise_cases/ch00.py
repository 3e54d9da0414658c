"""Right and wrong answers to the exercises of chapter 00 (read by tests/test_exercises.py).

Each module here defines ``RIGHT`` (exercise id -> a correct function) and ``WRONG`` (exercise
id -> at least three plausible mistakes that the check must reject).
"""

import torch
from einops import rearrange


def to_unit_range_right(frames):
    return rearrange(frames.float() / 127.5 - 1, "t h w c -> t c h w")


def frames_to_grid_right(videos):
    return rearrange(videos, "b t c h w -> c (b h) (t w)")


def bounce_step_right(position, velocity, radius, size):
    low = radius[:, None]
    high = size - low
    moved = position + velocity
    below, above = moved < low, moved > high
    moved = torch.where(below, 2 * low - moved, torch.where(above, 2 * high - moved, moved))
    return moved, torch.where(below | above, -velocity, velocity)


def bounce_clamp(position, velocity, radius, size):  # stops at the wall instead of reflecting
    low = radius[:, None].expand_as(position)
    moved = torch.minimum(torch.maximum(position + velocity, low), size - low)
    hit = (position + velocity < low) | (position + velocity > size - low)
    return moved, torch.where(hit, -velocity, velocity)


def bounce_no_flip(position, velocity, radius, size):  # reflects position, keeps velocity
    moved, _ = bounce_step_right(position, velocity, radius, size)
    return moved, velocity


def bounce_off_by_radius(position, velocity, radius, size):  # walls at 0 and size, ignoring r
    return bounce_step_right(position, velocity, torch.zeros_like(radius), size)


def bounce_flip_both_axes(position, velocity, radius, size):  # a hit flips x and y
    moved, new_velocity = bounce_step_right(position, velocity, radius, size)
    hit = (new_velocity != velocity).any(dim=1, keepdim=True)
    return moved, torch.where(hit, -velocity, velocity)


def bounce_in_place(position, velocity, radius, size):  # right numbers, but returns a list
    return list(bounce_step_right(position, velocity, radius, size))


RIGHT = {
    "00.to_unit_range": to_unit_range_right,
    "00.frames_to_grid": frames_to_grid_right,
    "00.bounce_step": bounce_step_right,
}

WRONG = {
    "00.to_unit_range": [
        lambda f: rearrange(f.float() / 255, "t h w c -> t c h w"),  # [0, 1], not [-1, 1]
        lambda f: rearrange(f.float() / 127.5, "t h w c -> t c h w") - 1 + 1 / 127.5,  # off by one level
        lambda f: rearrange(f.float() / 127.5 - 1, "t h w c -> t c w h"),  # h and w swapped
        lambda f: f.float() / 127.5 - 1,  # layout unchanged
        lambda f: rearrange(f.double() / 127.5 - 1, "t h w c -> t c h w").round(),  # quantised
        lambda f: rearrange((f / 127.5 - 1).to(torch.uint8), "t h w c -> t c h w"),  # integer dtype
    ],
    "00.frames_to_grid": [
        lambda v: rearrange(v, "b t c h w -> c (t h) (b w)"),  # rows are frames
        lambda v: rearrange(v, "b t c h w -> c (b h) (w t)"),  # interleaved columns
        lambda v: rearrange(v, "b t c h w -> c (h b) (t w)"),  # interleaved rows
        lambda v: rearrange(v, "b t c h w -> (b h) (t w) c"),  # channels last
        lambda v: rearrange(v, "b t c h w -> c (b w) (t h)"),  # transposed frames
    ],
    "00.bounce_step": [bounce_clamp, bounce_no_flip, bounce_off_by_radius, bounce_flip_both_axes, bounce_in_place],
}
