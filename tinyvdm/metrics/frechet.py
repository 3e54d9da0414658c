"""Fréchet distance between Gaussians fitted to features: the number behind FID and FVD.

Used by the evaluation chapter: features of real and generated clips (from any encoder) are
summarised by their mean and covariance, and the Fréchet (2-Wasserstein) distance between the
two Gaussians is reported.
"""

from __future__ import annotations

import numpy as np
import torch


def _as_float64(name: str, value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be an array of numbers, got {type(value).__name__}") from error


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(d,)`` and unbiased covariance ``(d, d)`` of ``features`` ``(n, d)``, float64."""
    features = _as_float64("features", features)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"features must have shape (n, d) with n >= 2, got {features.shape}")
    mu = features.mean(axis=0)
    sigma = np.cov(features, rowvar=False).reshape(features.shape[1], features.shape[1])
    return mu, sigma


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    # Round-off can push zero eigenvalues slightly negative; they are zero in exact arithmetic.
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance ``|mu1 - mu2|^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))``.

    The trace of ``(sigma1 sigma2)^(1/2)`` is computed as the trace of the symmetric
    ``(s1 sigma2 s1)^(1/2)`` with ``s1 = sigma1^(1/2)``: the two matrices are similar, and the
    symmetric one has real non-negative eigenvalues, so no complex round-off appears (which the
    ``scipy.linalg.sqrtm`` route of the FID reference code has to discard by hand).

    Args:
        mu1, mu2: ``(d,)`` means; sigma1, sigma2: ``(d, d)`` covariances (symmetric PSD).

    Returns:
        the distance as a Python float (float64 arithmetic throughout).
    """
    mu1, mu2 = _as_float64("mu1", mu1), _as_float64("mu2", mu2)
    sigma1, sigma2 = _as_float64("sigma1", sigma1), _as_float64("sigma2", sigma2)
    if mu1.ndim != 1 or mu2.shape != mu1.shape:
        raise ValueError(
            f"mu1 and mu2 must both have shape (d,), got {mu1.shape} and {mu2.shape}"
        )
    d = mu1.shape[0]
    for name, sigma in (("sigma1", sigma1), ("sigma2", sigma2)):
        if sigma.shape != (d, d):
            raise ValueError(f"{name} must have shape (d, d) = ({d}, {d}), got {sigma.shape}")
    root1 = _sqrt_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_root = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_root)


def frechet_distance_from_features(a, b) -> float:
    """Fréchet distance between Gaussians fitted to features ``a`` ``(n, d)`` and ``b`` ``(m, d)``."""
    a, b = _as_float64("a", a), _as_float64("b", b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(
            f"a and b must have shapes (n, d) and (m, d) with the same d, got {a.shape} and {b.shape}"
        )
    return frechet_distance(*feature_statistics(a), *feature_statistics(b))
