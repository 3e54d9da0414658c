"""The object class label (colour, shape, size) that chapter 07's conditional UNet is given."""

import itertools

import pytest
import torch

from tinyvdm.data import (COLOURS, NUM_OBJECT_CLASSES, SHAPES, BouncingShapes, object_class, object_class_name,
                          size_class)


def test_labels_agree_with_the_captions():
    data = BouncingShapes(n=200, seed=3)
    batch = data.batch(range(len(data)))
    labels = object_class(batch["shape"][:, 0], batch["colour"][:, 0], batch["radius"][:, 0], data.config.radius_range)
    sizes_seen = set()
    for label, caption in zip(labels.tolist(), batch["caption"]):
        size, colour, shape = object_class_name(label).split()
        sizes_seen.add(size)
        # The caption names "small" and "large" and leaves the middle third unnamed.
        words = f"a {colour} {shape}" if size == "medium" else f"a {size} {colour} {shape}"
        assert caption.startswith(words), (label, caption)
    assert sizes_seen == {"small", "medium", "large"}


def test_every_class_once():
    radius_range = (3.0, 6.0)
    radii = (3.2, 4.5, 5.9)  # one in each third
    labels = [int(object_class(torch.tensor(s), torch.tensor(c), r, radius_range))
              for s, c, r in itertools.product(range(len(SHAPES)), range(len(COLOURS)), radii)]
    assert sorted(labels) == list(range(NUM_OBJECT_CLASSES)) == list(range(54))
    names = {object_class_name(k) for k in range(NUM_OBJECT_CLASSES)}
    assert len(names) == NUM_OBJECT_CLASSES


def test_size_thirds():
    got = size_class(torch.tensor([3.0, 3.99, 4.0, 5.0, 5.01, 6.0]), (3.0, 6.0))
    assert got.tolist() == [0, 0, 1, 1, 2, 2]
    assert got.dtype == torch.int64


def test_bad_input():
    with pytest.raises(ValueError, match="radius_range"):
        size_class(4.0, (5.0, 3.0))
    with pytest.raises(ValueError, match="absent object"):
        object_class(torch.tensor([-1]), torch.tensor([0]), torch.tensor([4.0]), (3.0, 6.0))
    with pytest.raises(ValueError, match="one shape"):
        object_class(torch.tensor([0, 1]), torch.tensor([0]), torch.tensor([4.0]), (3.0, 6.0))
    with pytest.raises(ValueError, match="int64"):
        object_class(torch.tensor([0.0]), torch.tensor([0]), torch.tensor([4.0]), (3.0, 6.0))
    with pytest.raises(ValueError, match=r"\[0, 54\)"):
        object_class_name(54)


def test_first_object_class_is_object_class_of_the_first_object():
    data = BouncingShapes(n=12, seed=5, max_objects=2)
    batch = data.batch(range(len(data)))
    expected = object_class(batch["shape"][:, 0], batch["colour"][:, 0], batch["radius"][:, 0],
                            data.config.radius_range)
    assert torch.equal(data.first_object_class(batch), expected)
    with pytest.raises(ValueError, match="missing \\['shape'"):
        data.first_object_class({"video": batch["video"]})
