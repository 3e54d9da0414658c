"""Per-frame image metrics: PSNR and SSIM, for clips in ``[-1, 1]``.

Used by the evaluation chapter to score reconstructions (VAE, prediction) frame by frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Wang et al. 2004, "Image quality assessment: from error visibility to structural similarity",
# eq. 7: the stabilising constants are C1 = (K1 L)^2 and C2 = (K2 L)^2 with these K.
_K1, _K2 = 0.01, 0.03


def _check_pair(x: torch.Tensor, y: torch.Tensor, data_range: float) -> None:
    for name, value in (("x", x), ("y", y)):
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{name} must be a torch tensor, got {type(value).__name__}")
    if x.shape != y.shape:
        raise ValueError(
            f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if x.ndim not in (4, 5):
        raise ValueError(
            f"x and y must have shape (b, c, h, w) or (b, t, c, h, w), got {tuple(x.shape)}"
        )
    if not (isinstance(data_range, (int, float)) and data_range > 0):
        raise ValueError(f"data_range must be a positive number, got {data_range!r}")


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, one value per sample.

    Args:
        x, y: ``(b, c, h, w)`` or ``(b, t, c, h, w)``, values spanning ``data_range``
            (2 for ``[-1, 1]``).
        data_range: the peak-to-peak range of the values.

    Returns:
        float ``(b,)``: ``10 log10(data_range^2 / mse)`` with the MSE taken over everything but
        the batch axis; ``inf`` where ``x`` and ``y`` are identical.
    """
    _check_pair(x, y, data_range)
    diff = x.double() - y.double()
    mse = diff.pow(2).flatten(1).mean(dim=1)  # (b,)
    # Division by zero gives +inf, which is the honest answer for identical samples.
    out = 10.0 * torch.log10(data_range**2 / mse)
    return out.to(x.dtype if x.is_floating_point() else torch.float32)


def gaussian_window(window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """A normalised 1-D Gaussian of odd length ``window``, float64 ``(window,)``."""
    if not (isinstance(window, int) and window >= 1 and window % 2 == 1):
        raise ValueError(f"window must be an odd positive int, got {window!r}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    offsets = torch.arange(window, dtype=torch.float64) - (window - 1) / 2
    weights = torch.exp(-(offsets**2) / (2 * sigma**2))
    return weights / weights.sum()


def ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0, window: int = 11,
             sigma: float = 1.5) -> torch.Tensor:
    """The SSIM index at every fully-covered window position.

    Args:
        x, y: ``(n, c, h, w)`` images (``h, w >= window``).

    Returns:
        float64 ``(n, c, h - window + 1, w - window + 1)`` (no padding: a padded border would
        compare zeros that neither image contains).
    """
    if x.ndim != 4 or x.shape != y.shape:
        raise ValueError(
            f"x and y must both have shape (n, c, h, w), got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    n, c, h, w = x.shape
    if h < window or w < window:
        raise ValueError(f"frames must be at least window={window} pixels on a side, got {h}x{w}")
    g = gaussian_window(window, sigma).to(x.device)
    # Separable blur: a (1, k) pass then a (k, 1) pass, grouped so channels never mix.
    row = g.view(1, 1, 1, window).expand(c, 1, 1, window)
    col = g.view(1, 1, window, 1).expand(c, 1, window, 1)

    def blur(image: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(image, row, groups=c), col, groups=c)

    x, y = x.double(), y.double()
    mu_x, mu_y = blur(x), blur(y)
    # Local (co)variances as E[xy] - E[x]E[y] under the Gaussian weights (eq. 14-16).
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    denominator = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return numerator / denominator


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0, window: int = 11,
         sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity, averaged per frame, then over frames: one value per sample.

    Args:
        x, y: ``(b, c, h, w)`` or ``(b, t, c, h, w)``; frames at least ``window`` pixels on a
            side (use ``window=7`` for 16-pixel toy clips if 11 feels coarse).
        data_range: peak-to-peak range of the values (2 for ``[-1, 1]``).
        window: odd side of the Gaussian window (7 or 11 are usual).
        sigma: its standard deviation in pixels (1.5 in the SSIM paper).

    Returns:
        float ``(b,)`` in ``[-1, 1]``; exactly 1 where ``x`` equals ``y``.
    """
    _check_pair(x, y, data_range)
    b = x.shape[0]
    frames_x = x.flatten(0, 1) if x.ndim == 5 else x  # (b t, c, h, w) or (b, c, h, w)
    frames_y = y.flatten(0, 1) if y.ndim == 5 else y
    per_frame = ssim_map(frames_x, frames_y, data_range, window, sigma).flatten(1).mean(dim=1)
    out = per_frame.view(b, -1).mean(dim=1)  # (b,): mean over frames (a single one for 4-D)
    return out.to(x.dtype if x.is_floating_point() else torch.float32)
