"""Tests for tinyvdm.data: synthetic data sets, 2-D toys and the user's own files."""

from __future__ import annotations

import math
import pickle
import re
import time

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from tinyvdm.data import (
    COLOURS,
    DIRECTIONS,
    SHAPES,
    WALLS,
    BouncingShapes,
    BouncingShapesConfig,
    MovingDigits,
    NumpyVideos,
    VideoFolder,
    bounce_step,
    bounce_walls,
    direction_class,
    load_digit_images,
    render,
    soundtrack,
    toy2d,
)
from tinyvdm.data.moving_digits import split_indices

COLOUR_NAMES = tuple(COLOURS)


def assert_items_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


# ---------------------------------------------------------------------------------------------
# bounce_step


def test_bounce_step_hand_worked_example():
    position = torch.tensor([[1.5, 30.0], [10.0, 10.0]])
    velocity = torch.tensor([[-2.0, 3.0], [1.0, -1.0]])
    radius = torch.tensor([1.0, 2.0])
    before = (position.clone(), velocity.clone())
    new_position, new_velocity = bounce_step(position, velocity, radius, 32)
    # Object 0: x = 1.5 - 2 = -0.5 < 1 -> 2*1 + 0.5 = 2.5, vx flips;
    #           y = 30 + 3 = 33 > 31 -> 2*31 - 33 = 29, vy flips. Object 1: no wall.
    assert torch.equal(new_position, torch.tensor([[2.5, 29.0], [11.0, 9.0]]))
    assert torch.equal(new_velocity, torch.tensor([[2.0, -3.0], [1.0, -1.0]]))
    assert torch.equal(position, before[0]) and torch.equal(velocity, before[1])  # not in place
    assert bounce_walls(position, velocity, radius, 32).tolist() == [1 + 8, 0]
    # numpy in, numpy out, same numbers
    np_position, np_velocity = bounce_step(position.numpy(), velocity.numpy(), radius.numpy(), 32)
    assert isinstance(np_position, np.ndarray)
    assert np.array_equal(np_position, new_position.numpy())
    assert np.array_equal(np_velocity, new_velocity.numpy())


def test_bounce_step_stays_inside_and_conserves_speed():
    generator = torch.Generator().manual_seed(0)
    n, size = 256, 32
    radius = 1 + 5 * torch.rand(n, generator=generator, dtype=torch.float64)
    free = size - 2 * radius[:, None]
    position = radius[:, None] + free * torch.rand(n, 2, generator=generator, dtype=torch.float64)
    velocity = 4 * (2 * torch.rand(n, 2, generator=generator, dtype=torch.float64) - 1)
    speed = velocity.abs()
    for _ in range(200):
        position, velocity = bounce_step(position, velocity, radius, size)
        assert (position >= radius[:, None] - 1e-9).all()
        assert (position <= size - radius[:, None] + 1e-9).all()
        assert torch.equal(velocity.abs(), speed)  # elastic: only signs change


def test_bounce_step_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"position must have shape \(n, 2\)"):
        bounce_step(torch.zeros(3, 3), torch.zeros(3, 3), torch.ones(3), 32)
    with pytest.raises(ValueError, match="velocity must have the shape of position"):
        bounce_step(torch.zeros(3, 2), torch.zeros(2, 2), torch.ones(3), 32)
    with pytest.raises(ValueError, match=r"radius must have shape \(n,\) = \(3,\)"):
        bounce_step(torch.zeros(3, 2), torch.zeros(3, 2), torch.ones(2), 32)
    with pytest.raises(ValueError, match="size must be a positive number"):
        bounce_step(torch.zeros(3, 2), torch.zeros(3, 2), torch.ones(3), 0)


def test_direction_class_compass():
    up_is_minus_y = torch.tensor([[1.0, 0.0], [1.0, -1.0], [0.0, -1.0], [-1.0, -1.0],
                                  [-1.0, 0.0], [-1.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
    assert direction_class(up_is_minus_y).tolist() == list(range(8))
    assert DIRECTIONS[2] == "up" and DIRECTIONS[1] == "up and to the right"


# ---------------------------------------------------------------------------------------------
# BouncingShapes: items


def test_item_keys_shapes_dtypes_and_range():
    ds = BouncingShapes(16, frames=6, size=24, max_objects=3, actions=True, audio=True)
    expected = {
        "video": ((6, 3, 24, 24), torch.float32),
        "shape": ((3,), torch.int64),
        "colour": ((3,), torch.int64),
        "radius": ((3,), torch.float32),
        "present": ((3,), torch.bool),
        "num_objects": ((), torch.int64),
        "direction": ((3,), torch.int64),
        "trajectory": ((6, 3, 2), torch.float32),
        "velocity": ((6, 3, 2), torch.float32),
        "bounces": ((6, 3), torch.int64),
        "masks": ((6, 3, 24, 24), torch.bool),
        "actions": ((6, 3, 2), torch.float32),
        "audio": ((6 * 8000 // 8,), torch.float32),
    }
    counts = set()
    for i in range(len(ds)):
        item = ds[i]
        assert set(item) == set(expected) | {"caption"}
        for key, (shape, dtype) in expected.items():
            assert tuple(item[key].shape) == shape and item[key].dtype == dtype, key
        assert isinstance(item["caption"], str)
        video = item["video"]
        assert video.min() >= -1 and video.max() <= 1
        assert (video == -1).float().mean() > 0.3  # mostly background
        n = int(item["num_objects"])
        counts.add(n)
        assert item["present"].tolist() == [True] * n + [False] * (3 - n)
        absent = ~item["present"]
        assert (item["shape"][absent] == -1).all() and (item["colour"][absent] == -1).all()
        assert (item["direction"][absent] == -1).all() and (item["radius"][absent] == 0).all()
        assert not item["masks"][:, absent].any() and (item["trajectory"][:, absent] == 0).all()
        assert (item["shape"][:n] >= 0).all() and (item["colour"][:n] >= 0).all()
        assert len(set(item["colour"][:n].tolist())) == n  # distinct colours
        assert item["audio"].abs().max() <= 1
    assert counts == {1, 2, 3}


def test_determinism_and_independence_of_order():
    ds = BouncingShapes(32, max_objects=2, seed=3)
    late = ds[17]
    for i in range(5):
        ds[i]
    assert_items_equal(ds[17], late)
    assert_items_equal(BouncingShapes(32, max_objects=2, seed=3)[17], late)
    assert_items_equal(ds[-15], late)
    other_seed = BouncingShapes(32, max_objects=2, seed=4)[17]
    assert not torch.equal(other_seed["video"], late["video"])
    assert not torch.equal(ds[16]["video"], late["video"])
    with pytest.raises(IndexError, match="0..31"):
        ds[32]


def test_dataloader_batches_match_items_with_and_without_workers():
    ds = BouncingShapes(8, max_objects=2, actions=True)
    batches = list(DataLoader(ds, batch_size=4, num_workers=0))
    assert batches[0]["video"].shape == (4, 8, 3, 32, 32)
    assert batches[0]["caption"] == [ds[i]["caption"] for i in range(4)]
    assert_items_equal(batches[1], ds.batch([4, 5, 6, 7]))
    with_workers = list(DataLoader(ds, batch_size=4, num_workers=2))
    for a, b in zip(batches, with_workers):
        assert_items_equal(a, b)


def test_config_overrides_and_derived_sizes():
    ds = BouncingShapes(4, config=BouncingShapesConfig(frames=5), size=64)
    assert ds.config.frames == 5 and ds.config.size == 64
    assert ds.config.radius_range == pytest.approx((6.4, 64 / 7))  # scaled with size
    assert ds.config.speed_range == pytest.approx((2.0, 5.0))
    assert ds[0]["video"].shape == (5, 3, 64, 64)


def test_generation_is_fast():
    # Generation must never be the training bottleneck: this is ~10x slack on a 2-core laptop.
    ds = BouncingShapes(200)
    start = time.perf_counter()
    for i in range(len(ds)):
        ds[i]
    assert time.perf_counter() - start < 2.0


# ---------------------------------------------------------------------------------------------
# BouncingShapes: physics, pictures and words agree


def test_trajectory_follows_bounce_step_and_bounces_are_the_walls_hit():
    ds = BouncingShapes(24, max_objects=3, min_objects=3, frames=12)
    hits = 0
    for i in range(len(ds)):
        item = ds[i]
        radius, size = item["radius"], ds.config.size
        for k in range(1, ds.config.frames):
            before = (item["trajectory"][k - 1], item["velocity"][k - 1])
            position, velocity = bounce_step(*before, radius, size)
            assert torch.equal(position, item["trajectory"][k])
            assert torch.equal(velocity, item["velocity"][k])
            walls = bounce_walls(*before, radius, size)
            assert torch.equal(walls, item["bounces"][k])
        assert (item["bounces"][0] == 0).all()
        assert torch.equal(direction_class(item["velocity"][0]), item["direction"])
        hits += int((item["bounces"] != 0).sum())
    assert hits > 10


def test_mask_centroid_follows_trajectory():
    ds = BouncingShapes(12, max_objects=3, min_objects=3, size=48, frames=6)
    for i in range(len(ds)):
        item = ds[i]
        ys, xs = torch.meshgrid(torch.arange(48) + 0.5, torch.arange(48) + 0.5, indexing="ij")
        for j in range(3):
            mask = item["masks"][:, j].float()  # (t, h, w)
            area = mask.sum(dim=(1, 2))
            centroid = torch.stack([(mask * xs).sum(dim=(1, 2)), (mask * ys).sum(dim=(1, 2))], -1)
            centroid = centroid / area[:, None]  # (t, 2)
            expected = item["trajectory"][:, j].clone()
            if SHAPES[item["shape"][j]] == "triangle":
                expected[:, 1] += item["radius"][j] / 3  # apex at -r, base at +r: centroid r/3 low
            assert (centroid - expected).abs().max() < 1.0


def naive_render(trajectory, shapes, colours, radii, size):
    """Every pixel of every frame, one at a time in spirit: the reference for the fast renderer."""
    t, n = trajectory.shape[:2]
    centres = np.arange(size) + 0.5
    px, py = np.meshgrid(centres, centres, indexing="xy")  # (h, w)
    video = np.full((t, 3, size, size), -1.0)
    for k in range(t):
        for j in range(n):
            dx, dy, r = px - trajectory[k, j, 0], py - trajectory[k, j, 1], radii[j]
            if shapes[j] == "circle":
                distance = np.hypot(dx, dy) - r
            elif shapes[j] == "square":
                distance = np.maximum(abs(dx), abs(dy)) - r
            else:
                c = math.sqrt(3) / 2
                sides = [dy - r, c * dx - dy / 2 - r / 2, -c * dx - dy / 2 - r / 2]
                distance = np.max(sides, axis=0)
            alpha = np.clip(0.5 - distance, 0, 1)
            colour = 2 * np.array(COLOURS[colours[j]]) - 1
            video[k] = video[k] * (1 - alpha) + colour[:, None, None] * alpha
    return video


def test_render_matches_a_naive_full_frame_renderer():
    rng = np.random.default_rng(0)
    for size in (16, 33, 64):
        radii = rng.uniform(1.5, size / 7, size=3)
        # Centres anywhere inside, including right against the walls.
        free = size - 2 * radii[None, :, None]
        trajectory = radii[None, :, None] + rng.random((5, 3, 2)) * free
        trajectory[0, :, 0] = radii  # touching the left wall
        trajectory[1, :, 1] = size - radii  # touching the bottom wall
        shapes, colours = ["triangle", "circle", "square"], ["red", "green", "blue"]
        video, masks = render(trajectory, shapes, colours, radii, size)
        expected = naive_render(
            trajectory.astype(np.float32), shapes, colours, radii.astype(np.float32), size
        )
        assert np.allclose(video.numpy(), expected, atol=1e-5)
        assert masks.shape == (5, 3, size, size)
        # Anti-aliased: edges have values between the background and the colour.
        assert ((video > -0.99) & (video < 0.8)).any()


def test_render_puts_later_objects_on_top():
    trajectory = torch.full((1, 2, 2), 16.0)  # two squares in the same place
    video, masks = render(trajectory, ["square", "square"], ["red", "blue"], [4.0, 4.0], 32)
    assert video[0, :, 16, 16].tolist() == pytest.approx([2 * c - 1 for c in COLOURS["blue"]])
    assert masks[0, 0].sum() == masks[0, 1].sum() == 64  # an 8 x 8 square, pixel-aligned
    assert (video[0, :, 0, 0] == -1).all()


def test_rerender_with_other_colours_keeps_the_motion():
    ds = BouncingShapes(4, max_objects=2, min_objects=2)
    item = ds[1]
    shapes = item["shape"][:2].tolist()
    colours = [COLOUR_NAMES[c] for c in item["colour"][:2]]
    video, masks = render(item["trajectory"][:, :2], shapes, colours, item["radius"][:2], 32)
    assert torch.allclose(video, item["video"], atol=1e-6)
    assert torch.equal(masks, item["masks"])
    others = [name for name in COLOUR_NAMES if name not in colours][:2]
    recoloured, same_masks = render(
        item["trajectory"][:, :2], shapes, others, item["radius"][:2], 32
    )
    assert torch.equal(same_masks, masks) and not torch.allclose(recoloured, video)
    as_rgb, _ = render(item["trajectory"][:, :2], shapes, [COLOURS[c] for c in colours],
                       item["radius"][:2], 32)
    assert torch.equal(as_rgb, video)
    as_index, _ = render(item["trajectory"][:, :2], item["shape"][:2], item["colour"][:2],
                         item["radius"][:2], 32)
    assert torch.equal(as_index, video)
    with pytest.raises(ValueError, match="n=2 objects"):
        render(item["trajectory"][:, :2], shapes[:1], colours, item["radius"][:2], 32)


CAPTION = re.compile(
    r"^a (?:(small|large) )?(\w+) (\w+) moves (.+?)(?:, bouncing off the (.+) walls?)?$"
)


def test_captions_name_colour_shape_direction_and_walls_hit():
    ds = BouncingShapes(40, max_objects=3, frames=12)
    low, high = ds.config.radius_range
    saw_bounce = saw_plain = False
    for i in range(len(ds)):
        item = ds[i]
        parts = item["caption"].split(", and ")
        assert len(parts) == int(item["num_objects"])
        for j, part in enumerate(parts):
            size_word, colour, shape, direction, walls = CAPTION.match(part).groups()
            assert colour == COLOUR_NAMES[item["colour"][j]]
            assert shape == SHAPES[item["shape"][j]]
            assert direction == DIRECTIONS[item["direction"][j]]
            middle = (low + high) / 2
            if size_word == "small":
                assert item["radius"][j] < middle
            if size_word == "large":
                assert item["radius"][j] > middle
            hit = []  # walls in order of first hit, worked out from the bit flags
            for flags in item["bounces"][:, j].tolist():
                hit += [w for b, w in enumerate(WALLS) if flags >> b & 1 and w not in hit]
            if hit:
                saw_bounce = True
                named = re.split(r", | and ", walls)
                assert named == hit
            else:
                saw_plain = True
                assert walls is None and "bouncing" not in part
    assert saw_bounce and saw_plain


def test_actions_change_velocity_exactly_as_recorded():
    plain = BouncingShapes(6, max_objects=2, frames=12, seed=1)
    pushed = BouncingShapes(6, max_objects=2, frames=12, seed=1, actions=True, action_prob=0.3)
    never = BouncingShapes(6, max_objects=2, frames=12, seed=1, actions=True, action_prob=0.0)
    pushes = 0
    for i in range(6):
        item = pushed[i]
        actions = item["actions"]
        assert (actions[0] == 0).all()
        pushes += int((actions.abs().sum(-1) > 0).sum())
        for k in range(1, 12):
            velocity = item["velocity"][k - 1] + actions[k]
            position, velocity = bounce_step(
                item["trajectory"][k - 1], velocity, item["radius"], 32
            )
            assert torch.equal(position, item["trajectory"][k])
            assert torch.equal(velocity, item["velocity"][k])
        # Same start with or without pushes; no pushes at all is the plain clip.
        assert torch.equal(item["trajectory"][0], plain[i]["trajectory"][0])
        assert torch.equal(never[i]["video"], plain[i]["video"])
    assert pushes > 3


def zero_crossings(signal: torch.Tensor) -> int:
    return int((torch.sign(signal[1:]) != torch.sign(signal[:-1])).sum())


def test_soundtrack_pitch_rises_with_height_and_clicks_on_bounces():
    rate, fps = 8000, 8
    rising = soundtrack(torch.linspace(0, 1, 8), torch.zeros(8), fps, rate)
    assert rising.shape == (8000,) and rising.abs().max() <= 1
    windows = rising.reshape(8, 1000)
    crossings = [zero_crossings(w) for w in windows]
    assert crossings == sorted(crossings) and crossings[-1] > 3 * crossings[0]
    # 220 Hz at the bottom: ~2 * 220 / 8 crossings per 1/8 s window
    assert abs(crossings[0] - 2 * 220 * (1 / 8) * 2 ** (1 / 7)) < 8
    clicks = torch.zeros(8)
    clicks[3] = 1
    clicked = soundtrack(torch.linspace(0, 1, 8), clicks, fps, rate)
    changed = torch.nonzero(clicked != rising).flatten()
    assert changed.min() >= 3000 and changed.max() < 3000 + 0.03 * rate


def test_audio_follows_object_zero_in_the_data_set():
    ds = BouncingShapes(80, audio=True, frames=8)
    checked = 0
    for i in range(len(ds)):
        item = ds[i]
        if item["bounces"].any():
            continue  # clicks add crossings of their own
        y, r = item["trajectory"][:, 0, 1], item["radius"][0]
        height = 1 - (y - r) / (32 - 2 * r)
        first, last = (height[0] + height[1]) / 2, height[-1]
        if abs(last - first) < 0.2:
            continue
        windows = item["audio"].reshape(8, 1000)
        more = zero_crossings(windows[-1]) > zero_crossings(windows[0])
        assert more == bool(last > first), (i, height)
        checked += 1
    assert checked >= 5


BAD_CONFIGS = [
    (dict(frames=0), "frames must be >= 1"),
    (dict(size=8), "size must be in 16..64"),
    (dict(size=100), "size must be in 16..64"),
    (dict(max_objects=4), "max_objects must be in 1..3"),
    (dict(min_objects=0), "min_objects must be in 1..3"),
    (dict(min_objects=3, max_objects=2), "min_objects must be <= max_objects"),
    (dict(shapes=("hexagon",)),
     "names from \\('circle', 'square', 'triangle'\\), got \\('hexagon',\\)"),
    (dict(shapes=()), "non-empty"),
    (dict(colours=("purple",)), "'red', 'green'.*got \\('purple',\\)"),
    (dict(min_radius=-1.0), "0 < min_radius <= max_radius, got min_radius=-1"),
    (dict(min_radius=5.0, max_radius=4.0), "0 < min_radius <= max_radius"),
    (dict(max_radius=16.0), "2 \\* max_radius < size = 32, got max_radius=16"),
    (dict(max_objects=3, max_radius=7.0),
     "max_objects \\* \\(2 \\* max_radius\\)\\*\\*2 <= size\\*\\*2 / 2 = 512"),
    (dict(max_speed=30.0), "max_speed < size - 2 \\* max_radius"),
    (dict(min_speed=0.0), "0 < min_speed"),
    (dict(action_prob=1.5), "action_prob must be in \\[0, 1\\], got 1.5"),
    (dict(audio_rate=100), "audio_rate must be >= 4000, got 100"),
    (dict(fps=0), "fps must be >= 1"),
]


@pytest.mark.parametrize("overrides, message", BAD_CONFIGS)
def test_bad_configs_raise_naming_the_valid_range(overrides, message):
    with pytest.raises(ValueError, match=message):
        BouncingShapesConfig(**overrides)
    with pytest.raises(ValueError, match=message):
        BouncingShapes(4, **overrides)


def test_bad_data_set_arguments():
    with pytest.raises(ValueError, match="unknown config fields \\['frame'\\]"):
        BouncingShapes(4, frame=3)
    with pytest.raises(ValueError, match="n must be >= 0"):
        BouncingShapes(-1)
    with pytest.raises(ValueError, match="config must be a BouncingShapesConfig"):
        BouncingShapes(4, config={"frames": 3})


# ---------------------------------------------------------------------------------------------
# MovingDigits


def test_moving_digits_items():
    ds = MovingDigits(12, frames=7, size=32, num_digits=2)
    images, labels = load_digit_images()
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)
    for i in range(len(ds)):
        item = ds[i]
        assert item["video"].shape == (7, 1, 32, 32) and item["video"].dtype == torch.float32
        assert item["video"].min() >= -1 and item["video"].max() <= 1
        assert item["masks"].shape == (7, 2, 32, 32) and item["masks"].dtype == torch.bool
        assert item["trajectory"].shape == (7, 2, 2)
        digits, index = item["digits"], item["index"]
        assert torch.equal(digits, torch.from_numpy(labels[index.numpy()]))  # real scans of them
        assert digits[0] != digits[1]
        assert item["caption"] == f"digits {digits[0].item()} and {digits[1].item()} bouncing"
        # each digit's ink sits in the glyph box around its trajectory
        half = ds.glyph_size / 2
        for j in range(2):
            ys, xs = torch.nonzero(item["masks"][0, j], as_tuple=True)
            x, y = item["trajectory"][0, j]
            assert xs.min() >= x - half - 1 and xs.max() <= x + half + 1
            assert ys.min() >= y - half - 1 and ys.max() <= y + half + 1
            start = item["trajectory"][0]
            assert ((start >= half) & (start <= 32 - half)).all()  # starts inside the walls


def test_moving_digits_shows_the_upscaled_scan():
    ds = MovingDigits(3, frames=2, size=32, num_digits=1, glyph_size=16)
    item = ds[0]
    x, y = item["trajectory"][0, 0].tolist()
    left, top = round(x - 8), round(y - 8)
    patch = (item["video"][0, 0, top:top + 16, left:left + 16] + 1) / 2
    scan = torch.from_numpy(load_digit_images()[0][item["index"][0]].copy())
    upscaled = torch.nn.functional.interpolate(scan[None, None], size=(16, 16), mode="bilinear")
    upscaled = upscaled[0, 0]
    assert torch.allclose(patch, upscaled.clamp(0, 1), atol=1e-6)
    assert item["caption"] == f"digit {item['digits'][0].item()} bouncing"


def test_moving_digits_determinism_and_disjoint_splits():
    train = MovingDigits(200, frames=2, num_digits=3, seed=5)
    assert_items_equal(train[7], MovingDigits(200, frames=2, num_digits=3, seed=5)[7])
    reseeded = MovingDigits(200, frames=2, num_digits=3, seed=6)
    assert not torch.equal(train[7]["video"], reseeded[7]["video"])
    test = MovingDigits(200, frames=2, num_digits=3, split="test")
    train_scans = {s for i in range(len(train)) for s in train[i]["index"].tolist()}
    test_scans = {s for i in range(len(test)) for s in test[i]["index"].tolist()}
    assert not train_scans & test_scans
    assert len(train_scans) > 300  # many different handwritten glyphs, not a few
    assert set(split_indices("train")).isdisjoint(split_indices("test"))
    assert len(split_indices("train")) + len(split_indices("test")) == 1797


def test_moving_digits_batches_collate():
    ds = MovingDigits(6, frames=3, size=16, num_digits=2)
    batch = ds.batch([1, 4])
    assert batch["video"].shape == (2, 3, 1, 16, 16) and batch["digits"].shape == (2, 2)
    assert batch["caption"] == [ds[1]["caption"], ds[4]["caption"]]
    assert_items_equal(next(iter(DataLoader(ds, batch_size=2))), ds.batch([0, 1]))


@pytest.mark.parametrize("kwargs, message", [
    (dict(size=8), "size must be in 16..64"),
    (dict(frames=0), "frames must be >= 1"),
    (dict(num_digits=4), "num_digits must be in 1..3"),
    (dict(size=16, glyph_size=14), "glyph_size must be in 4..12"),
    (dict(split="valid"), "split must be one of \\('train', 'test'\\)"),
])
def test_moving_digits_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MovingDigits(4, **kwargs)


# ---------------------------------------------------------------------------------------------
# toy2d


@pytest.mark.parametrize("name", toy2d.NAMES)
def test_toy2d_samples(name):
    points = toy2d.sample(name, 500, seed=1)
    assert points.shape == (500, 2) and points.dtype == torch.float32
    assert torch.equal(points, toy2d.sample(name, 500, seed=1))
    assert not torch.equal(points, toy2d.sample(name, 500, seed=2))
    assert points.abs().max() < 2.5 and points.std(0).min() > 0.4  # fills the [-2, 2] box


def test_toy2d_mode_coverage():
    assert toy2d.modes("gaussians8").shape == (8, 2)
    assert toy2d.modes("gaussians25").shape == (25, 2)
    assert toy2d.modes("moons") is None
    for name, k in (("gaussians8", 8), ("gaussians25", 25)):
        covered, counts = toy2d.mode_coverage(toy2d.sample(name, 4000), name)
        assert covered == 1.0 and counts.shape == (k,) and counts.sum() > 0.97 * 4000
        assert toy2d.fraction_near_modes(toy2d.sample(name, 4000), name) > 0.97
    # mode collapse: every point on one mode
    collapsed = toy2d.modes("gaussians8")[2].repeat(100, 1)
    covered, counts = toy2d.mode_coverage(collapsed, "gaussians8")
    assert covered == 1 / 8 and counts[2] == 100
    # blur: uniform points mostly miss the modes
    blur = torch.rand(4000, 2) * 4 - 2
    assert toy2d.fraction_near_modes(blur, "gaussians8") < 0.2


def test_toy2d_errors_list_the_names():
    with pytest.raises(ValueError, match="gaussians8.*checkerboard.*got 'swirl'"):
        toy2d.sample("swirl", 10)
    with pytest.raises(ValueError, match="only for the mixtures"):
        toy2d.mode_coverage(torch.zeros(3, 2), "moons")
    with pytest.raises(ValueError, match=r"points must have shape \(n, 2\)"):
        toy2d.mode_coverage(torch.zeros(3, 3), "gaussians8")
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        toy2d.sample("moons", 0)


# ---------------------------------------------------------------------------------------------
# The user's own files


def test_numpy_videos_layouts_and_values(tmp_path):
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, size=(5, 6, 20, 20), dtype=np.uint8)  # n t h w
    clips[0, 0, 0, 0], clips[0, 0, 0, 1] = 0, 255
    np.save(tmp_path / "ntw.npy", clips)
    np.save(tmp_path / "tnw.npy", clips.transpose(1, 0, 2, 3))  # Moving MNIST's own layout
    ds = NumpyVideos(tmp_path / "ntw.npy")
    assert len(ds) == 5
    video = ds[0]["video"]
    assert video.shape == (6, 1, 20, 20) and video.dtype == torch.float32
    assert video[0, 0, 0, 0] == -1 and video[0, 0, 0, 1] == 1
    assert torch.allclose(video[:, 0], torch.from_numpy(clips[0]).float() / 127.5 - 1)
    time_first = NumpyVideos(tmp_path / "tnw.npy", layout="t n h w")
    assert len(time_first) == 5 and torch.equal(time_first[3]["video"], ds[3]["video"])
    cropped = NumpyVideos(tmp_path / "ntw.npy", frames=4, size=12)
    assert cropped[1]["video"].shape == (4, 1, 12, 12)
    assert cropped[1]["video"].min() >= -1 and cropped[1]["video"].max() <= 1
    # a copy for another process reopens the file instead of carrying the data
    assert torch.equal(pickle.loads(pickle.dumps(ds))[2]["video"], ds[2]["video"])

    colour = rng.random((3, 4, 10, 16, 3)).astype(np.float32)  # n t h w c, floats in [0, 1]
    np.save(tmp_path / "rgb.npy", colour)
    rgb = NumpyVideos(tmp_path / "rgb.npy", size=8)
    assert rgb[2]["video"].shape == (4, 3, 8, 8)
    full = NumpyVideos(tmp_path / "rgb.npy")[2]["video"]
    assert torch.allclose(full, torch.from_numpy(colour[2]).permute(0, 3, 1, 2) * 2 - 1)


def test_numpy_videos_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.npy"
    with pytest.raises(FileNotFoundError, match="nope.npy"):
        NumpyVideos(missing)
    corrupt = tmp_path / "corrupt.npy"
    corrupt.write_bytes(b"this is not a numpy file at all")
    with pytest.raises(ValueError, match="corrupt.npy.*n t h w"):
        NumpyVideos(corrupt)
    truncated = tmp_path / "truncated.npy"
    np.save(truncated, np.zeros((4, 5, 16, 16), dtype=np.uint8))
    truncated.write_bytes(truncated.read_bytes()[:300])
    with pytest.raises(ValueError, match="truncated.npy"):
        NumpyVideos(truncated)
    np.savez(tmp_path / "archive.npz", clips=np.zeros((2, 3, 8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="archive.npz is an archive"):
        NumpyVideos(tmp_path / "archive.npz")
    np.save(tmp_path / "flat.npy", np.zeros((4, 16, 16), dtype=np.uint8))
    with pytest.raises(ValueError, match="flat.npy.*shape \\(4, 16, 16\\).*n t h w"):
        NumpyVideos(tmp_path / "flat.npy")
    np.save(tmp_path / "ints.npy", np.zeros((2, 3, 8, 8), dtype=np.int16))
    with pytest.raises(ValueError, match="ints.npy holds int16"):
        NumpyVideos(tmp_path / "ints.npy")
    np.save(tmp_path / "signed.npy", -np.ones((2, 3, 8, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="signed.npy.*\\[0, 1\\]"):
        NumpyVideos(tmp_path / "signed.npy")[0]
    np.save(tmp_path / "short.npy", np.zeros((2, 3, 8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="frames must be in 1..3"):
        NumpyVideos(tmp_path / "short.npy", frames=5)


def write_clips(folder):
    """A GIF, a grey GIF and an MP4 in nested folders; returns the RGB colours used."""
    import imageio.v3 as iio

    (folder / "sub").mkdir(parents=True)
    gif = np.zeros((6, 24, 40, 3), dtype=np.uint8)
    for k in range(6):
        gif[k, :, 8 + 4 * k:12 + 4 * k] = (255, 0, 0)  # a red bar moving right
    iio.imwrite(folder / "b_moving.gif", gif, duration=100, loop=0)
    # Frames differ, or the GIF writer merges them into one.
    grey = (100 + 40 * np.arange(3)[:, None, None] + np.zeros((3, 16, 16))).astype(np.uint8)
    iio.imwrite(folder / "sub" / "c_grey.gif", grey)
    mp4 = np.zeros((12, 32, 48, 3), dtype=np.uint8)
    mp4[..., 2] = 200  # blue
    iio.imwrite(folder / "a_blue.mp4", mp4, fps=8, plugin="FFMPEG")
    (folder / "notes.txt").write_text("not a video")


def test_video_folder_reads_gif_and_mp4(tmp_path):
    write_clips(tmp_path)
    ds = VideoFolder(tmp_path, frames=4, size=16)
    assert [p.name for p in ds.paths] == ["a_blue.mp4", "b_moving.gif", "c_grey.gif"]
    for i in range(3):
        item = ds[i]
        assert item["video"].shape == (4, 3, 16, 16) and item["video"].dtype == torch.float32
        assert item["video"].min() >= -1 and item["video"].max() <= 1
        assert item["path"] == str(ds.paths[i])
    blue = ds[0]["video"].mean(dim=(0, 2, 3))
    assert blue[2] > 0.4 and blue[0] < -0.8  # codecs are lossy; the colour survives
    grey = ds[2]["video"]
    assert torch.allclose(grey[:, 0], grey[:, 1]) and torch.allclose(grey[:, 1], grey[:, 2])
    # the bar moves right: its red mass drifts to larger x across frames
    moving = VideoFolder(tmp_path, frames=6, size=24)[1]["video"]
    red = (moving[:, 0] + 1).sum(dim=1)  # (t, w)
    columns = (red * torch.arange(24)).sum(-1) / red.sum(-1)
    assert (columns[1:] > columns[:-1]).all()


def test_video_folder_short_clips_pad_or_raise(tmp_path):
    write_clips(tmp_path)
    grey = VideoFolder(tmp_path, frames=5, size=8)[2]["video"]  # the grey GIF has 3 frames
    assert torch.equal(grey[3], grey[2]) and torch.equal(grey[4], grey[2])
    with pytest.raises(ValueError, match="c_grey.gif.*3 usable frames"):
        VideoFolder(tmp_path, frames=5, size=8, pad=False)[2]
    strided = VideoFolder(tmp_path, frames=3, size=8, frame_step=2)[1]["video"]
    every = VideoFolder(tmp_path, frames=6, size=8)[1]["video"]
    assert torch.equal(strided, every[::2])


def test_video_folder_errors_name_the_folder_or_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing_folder"):
        VideoFolder(tmp_path / "missing_folder")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .gif or .mp4 files under.*empty"):
        VideoFolder(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.mp4").write_bytes(b"garbage" * 20)
    with pytest.raises(ValueError, match="broken.mp4"):
        VideoFolder(tmp_path / "bad")[0]
