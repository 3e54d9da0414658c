"""Pictures, animations and widgets for videos: how every chapter shows its results.

- ``frames``: tensors to uint8 frames, mosaics and frame-grid figures.
- ``animation``: inline GIF animations that survive static viewers; GIF and MP4 files.
- ``widgets``: live widgets with a static PNG in the same output; the dataset browser.
- ``schedule_explorer``, ``trajectory``, ``attention_viewer``: the noise-schedule explorer
  (chapter 06), the sampling-trajectory scrubber (chapter 07) and the attention-mask viewer
  (chapter 08); ``latent_traversal``: sliders over a VAE's latent units (chapter 02); ``attention_maps``: where a ViT's class token looks (chapter 09).
- ``figures``: where chapter outputs go, and atomic saving.
"""

from tinyvdm.viz.attention_maps import AttentionMapViewer
from tinyvdm.viz.attention_viewer import AttentionMaskViewer, pattern_gallery
from tinyvdm.viz.animation import animate, gif_bytes, save_gif, save_mp4
from tinyvdm.viz.figures import atomic_path, output_dir, savefig
from tinyvdm.viz.latent_traversal import LatentTraversal
from tinyvdm.viz.frames import frame_grid, grid_image, side_by_side, to_uint8
from tinyvdm.viz.schedule_explorer import NoiseScheduleExplorer
from tinyvdm.viz.trajectory import TrajectoryScrubber
from tinyvdm.viz.widgets import (
    DatasetBrowser,
    FrameScrubber,
    display_with_fallback,
    fallback_bundle,
    figure_png,
    overlay_frame,
)

__all__ = [
    "AttentionMapViewer",
    "AttentionMaskViewer",
    "DatasetBrowser",
    "FrameScrubber",
    "LatentTraversal",
    "NoiseScheduleExplorer",
    "TrajectoryScrubber",
    "animate",
    "atomic_path",
    "display_with_fallback",
    "fallback_bundle",
    "figure_png",
    "frame_grid",
    "gif_bytes",
    "grid_image",
    "output_dir",
    "overlay_frame",
    "pattern_gallery",
    "save_gif",
    "save_mp4",
    "savefig",
    "side_by_side",
    "to_uint8",
]
