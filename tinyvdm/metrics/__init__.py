"""Metrics: every number a chapter reports.

- :mod:`~tinyvdm.metrics.scene`: a rule-based checker for generated bouncing-shapes clips.
- :mod:`~tinyvdm.metrics.image`: PSNR and SSIM per frame.
- :mod:`~tinyvdm.metrics.frechet`: the Fréchet distance behind FID and FVD.
- :mod:`~tinyvdm.metrics.motion`: object centres and motion against the dataset's ground truth.
- :mod:`~tinyvdm.metrics.ranking`: AUROC and the ROC curve of an anomaly score.
"""

from tinyvdm.metrics.frechet import (
    feature_statistics,
    frechet_distance,
    frechet_distance_from_features,
)
from tinyvdm.metrics.motion import jitter, object_centroids, position_error
from tinyvdm.metrics.ranking import auroc, roc_curve
from tinyvdm.metrics.image import gaussian_window, psnr, ssim, ssim_map
from tinyvdm.metrics.scene import (
    BatchReport,
    Detection,
    FrameAnalysis,
    SceneConfig,
    SceneReport,
    Track,
    analyse_frame,
    check_batch,
    check_clip,
    detect_objects,
    shape_moments,
    track,
)

__all__ = [
    "BatchReport", "Detection", "FrameAnalysis", "SceneConfig", "SceneReport", "Track",
    "analyse_frame", "auroc", "roc_curve", "check_batch", "check_clip", "detect_objects", "feature_statistics",
    "frechet_distance", "frechet_distance_from_features", "gaussian_window", "jitter",
    "object_centroids", "position_error", "psnr", "shape_moments", "ssim", "ssim_map", "track",
]
