"""Where is the object in each frame, and does it move the way the real one did?

Taught in chapter 08 (space-time attention), whose denoisers differ only in which frames a
token may read; the question there is whether a denoised clip keeps the object where the ground
truth says it is, frame after frame. Unlike the scene checker (:mod:`tinyvdm.metrics.scene`),
which judges a finished sample by rules, these numbers compare a clip with the dataset's own
record of the motion (``trajectory`` of :class:`~tinyvdm.data.BouncingShapes`), and they degrade
smoothly on blurry or half-denoised frames instead of failing a rule.

- :func:`object_centroids`: the brightness-weighted centre of each frame's non-background
  pixels, for clips of one object on a black background.
- :func:`position_error`: the distance from that centre to the true one, per clip and frame.
- :func:`jitter`: how far the centre's frame-to-frame acceleration departs from the true
  acceleration: zero for a clip that moves exactly as the real object did (bounces included),
  large when each frame places the object on its own.
"""

from __future__ import annotations

import torch

DARK = 0.2  # as the scene checker: a pixel whose brightest channel in [0, 1] is below this is background


def _check_video(video) -> torch.Tensor:
    if not isinstance(video, torch.Tensor) or video.ndim != 5 or video.shape[2] not in (1, 3):
        got = tuple(video.shape) if isinstance(video, torch.Tensor) else type(video).__name__
        raise ValueError(f"video must have shape (b, t, c, h, w) with c in {{1, 3}}, got {got}")
    return video


def object_centroids(video: torch.Tensor, dark: float = DARK) -> tuple[torch.Tensor, torch.Tensor]:
    """Brightness-weighted centre ``(x, y)`` in pixels of each frame's object.

    ``video`` ``(b, t, c, h, w)`` in ``[-1, 1]`` with a black background. Each pixel weighs
    ``max(brightest channel in [0, 1] - dark, 0)``, so background and faint noise weigh nothing
    and a blurred object still has a centre. Pixel ``(row i, column j)`` sits at ``(x, y) =
    (j + 0.5, i + 0.5)``, the dataset's convention for ``trajectory``.

    Returns ``(centres (b, t, 2), mass (b, t))``; a frame of mass 0 (nothing but background) gets
    the frame centre.
    """
    video = _check_video(video)
    if not 0.0 <= dark < 1.0:
        raise ValueError(f"dark must be in [0, 1), got {dark!r}")
    h, w = video.shape[-2:]
    brightness = ((video.float() + 1) / 2).amax(dim=2)  # (b, t, h, w) in [0, 1] where in range
    weight = (brightness - dark).clamp(min=0)  # (b, t, h, w)
    mass = weight.sum(dim=(-2, -1))  # (b, t)
    ys = torch.arange(h, dtype=weight.dtype, device=weight.device) + 0.5
    xs = torch.arange(w, dtype=weight.dtype, device=weight.device) + 0.5
    safe = mass.clamp(min=1e-8)
    x = (weight.sum(dim=-2) * xs).sum(dim=-1) / safe  # (b, t)
    y = (weight.sum(dim=-1) * ys).sum(dim=-1) / safe  # (b, t)
    centre = torch.stack([x, y], dim=-1)  # (b, t, 2)
    empty = mass <= 1e-8
    centre[empty] = torch.tensor([w / 2, h / 2], dtype=centre.dtype, device=centre.device)
    return centre, mass


def _check_trajectory(trajectory, video: torch.Tensor) -> torch.Tensor:
    b, t = video.shape[:2]
    if isinstance(trajectory, torch.Tensor) and trajectory.ndim == 4:
        trajectory = trajectory[:, :, 0]  # (b, t, m, 2) -> object 0: (b, t, 2)
    if not isinstance(trajectory, torch.Tensor) or tuple(trajectory.shape) != (b, t, 2):
        got = tuple(trajectory.shape) if isinstance(trajectory, torch.Tensor) else type(trajectory).__name__
        raise ValueError(f"trajectory must have shape (b, t, 2) or (b, t, m, 2) with b = {b}, t = {t} "
                         f"(the video's), got {got}")
    return trajectory.to(video.device, torch.float32)


def position_error(video: torch.Tensor, trajectory: torch.Tensor, dark: float = DARK) -> torch.Tensor:
    """Pixels between each frame's :func:`object_centroids` and the true centre: ``(b, t)``.

    ``trajectory`` ``(b, t, 2)``, or the dataset's ``(b, t, m, 2)`` of which object 0 is used
    (clips of one object).
    """
    video = _check_video(video)
    true = _check_trajectory(trajectory, video)
    centre, _ = object_centroids(video, dark)
    return (centre - true).norm(dim=-1)


def jitter(video: torch.Tensor, trajectory: torch.Tensor, dark: float = DARK) -> torch.Tensor:
    """Mean ``|second difference of the centre - second difference of the true centre|`` per clip: ``(b,)``.

    The second difference ``c[k+1] - 2 c[k] + c[k-1]`` is the frame-to-frame acceleration; the
    true object's is zero except at bounces. Subtracting it leaves only what the clip adds: a
    constant offset costs nothing, a centre that wobbles from frame to frame costs its wobble.
    Needs ``t >= 3``; in pixels per frame squared.
    """
    video = _check_video(video)
    if video.shape[1] < 3:
        raise ValueError(f"jitter needs at least 3 frames, got t = {video.shape[1]}")
    true = _check_trajectory(trajectory, video)
    centre, _ = object_centroids(video, dark)

    def accel(x):
        return x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2]  # (b, t - 2, 2)

    return (accel(centre) - accel(true)).norm(dim=-1).mean(dim=1)
