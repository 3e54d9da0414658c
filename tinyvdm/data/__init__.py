"""Data: synthetic video data sets generated on the fly, and loaders for the user's own files.

Nothing is downloaded. Every synthetic item is a pure function of ``(seed, index)``.

- :mod:`~tinyvdm.data.bouncing_shapes`: coloured shapes bouncing in a box, with captions,
  trajectories, masks, optional pushes (actions) and sound.
- :mod:`~tinyvdm.data.moving_digits`: Moving-MNIST-style clips of real handwritten digits.
- :mod:`~tinyvdm.data.toy2d`: 2-D point clouds for comparing generative models.
- :mod:`~tinyvdm.data.files`: ``.npy`` arrays and video files that a user brings.
"""

from tinyvdm.data import toy2d
from tinyvdm.data.bouncing_shapes import (
    COLOURS,
    DIRECTIONS,
    NUM_OBJECT_CLASSES,
    SHAPES,
    SIZE_CLASSES,
    WALLS,
    BouncingShapes,
    BouncingShapesConfig,
    bounce_step,
    bounce_walls,
    direction_class,
    object_class,
    object_class_name,
    render,
    size_class,
    soundtrack,
)
from tinyvdm.data.defects import DEFECTS, CutClips, DefectClips, apply_defect
from tinyvdm.data.files import NumpyVideos, VideoFolder
from tinyvdm.data.moving_digits import MovingDigits, load_digit_images

__all__ = [
    "COLOURS",
    "DEFECTS",
    "DIRECTIONS",
    "NUM_OBJECT_CLASSES",
    "SHAPES",
    "SIZE_CLASSES",
    "WALLS",
    "BouncingShapes",
    "BouncingShapesConfig",
    "CutClips",
    "DefectClips",
    "MovingDigits",
    "NumpyVideos",
    "VideoFolder",
    "apply_defect",
    "bounce_step",
    "bounce_walls",
    "direction_class",
    "load_digit_images",
    "object_class",
    "object_class_name",
    "render",
    "size_class",
    "soundtrack",
    "toy2d",
]
