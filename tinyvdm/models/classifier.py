"""A small video classifier: video understanding, the other half of "AI video".

Taught in chapter 00, where it learns the direction an object moves in, and reused wherever a
chapter needs a judge trained on real clips (which shape, which colour, which way).

The network is factorised the way many video models are: a 2-D convolutional encoder turns each
frame into a vector (keeping *where* things are, since it ends in a dense layer rather than a
global pool), then a 1-D convolution across neighbouring frames compares them, and the result is
averaged over time. With ``temporal=False`` the convolution across frames is dropped: the
network then sees the frames as an unordered bag, so it cannot know which one came first. That
switch is chapter 00's experiment.

(A first version pooled 3-D convolution features over all pixels and frames; on 32-pixel clips it
stayed at chance for hundreds of steps, because global pooling throws away the positions that
make motion easy to read.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from torch.utils.data import TensorDataset

from tinyvdm.train import TrainConfig, Trainer


class FrameEncoder(nn.Module):
    """Each frame ``(c, h, w)`` to a vector ``(d,)``: three 3x3 convolutions, then a dense layer."""

    def __init__(self, in_channels: int, size: int, width: int, dim: int):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.SiLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1), nn.SiLU(),
        )
        self.dense = nn.Linear(2 * width * (size // 4) ** 2, dim)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(n, c, h, w) -> (n, d)"""
        return F.silu(self.dense(self.convs(frames).flatten(1)))


class ClipClassifier(nn.Module):
    """Classify a clip ``(b, t, c, h, w)`` into ``num_classes``; logits ``(b, num_classes)``.

    ``temporal=False`` removes the convolution across frames: the per-frame vectors are then
    averaged as an unordered set, so the network cannot know which frame came first.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, size: int = 32, width: int = 16,
                 dim: int = 64, temporal: bool = True):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
        if size < 4 or size % 4:
            raise ValueError(f"size must be a multiple of 4 (two stride-2 convolutions), got {size}")
        self.in_channels, self.size, self.temporal = in_channels, size, temporal
        self.encoder = FrameEncoder(in_channels, size, width, dim)
        self.time = nn.Conv1d(dim, dim, 3, padding=1) if temporal else None
        self.head = nn.Linear(dim, num_classes)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        expected = (self.in_channels, self.size, self.size)
        if video.ndim != 5 or tuple(video.shape[2:]) != expected:
            raise ValueError(
                f"expected video of shape (b, t, {self.in_channels}, {self.size}, {self.size}), got {tuple(video.shape)}"
            )
        b = video.shape[0]
        features = self.encoder(rearrange(video, "b t c h w -> (b t) c h w"))
        features = rearrange(features, "(b t) d -> b d t", b=b)
        if self.time is not None:
            features = F.silu(self.time(features))  # each step sees frames k-1, k, k+1
        return self.head(features.mean(dim=-1))  # average over time: order only enters via self.time


@dataclass
class FitResult:
    losses: list[float]
    seconds: float
    clips_per_second: float


def _cross_entropy(model: nn.Module, batch, generator) -> torch.Tensor:
    videos, labels = batch
    return F.cross_entropy(model(videos), labels)


def fit_classifier(
    model: nn.Module,
    videos: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> FitResult:
    """Train ``model`` on ``videos (n, t, c, h, w)`` and ``labels (n,)`` with cross-entropy.

    A shortcut through the course's one training loop (:class:`tinyvdm.train.Trainer`): AdamW,
    a cosine learning-rate decay, no EMA and no checkpoints, for tensors already in memory.
    """
    if videos.ndim != 5 or labels.shape != videos.shape[:1]:
        raise ValueError(
            f"expected videos (n, t, c, h, w) and labels (n,), got {tuple(videos.shape)} and {tuple(labels.shape)}"
        )
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be >= 1, got {steps} and {batch_size}")
    config = TrainConfig(
        steps=steps, batch_size=batch_size, lr=lr, weight_decay=1e-4, lr_schedule="cosine",
        grad_clip=None, seed=seed, device=str(device), progress=progress,
    )
    trainer = Trainer(model, _cross_entropy, TensorDataset(videos, labels), config)
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    model.eval()
    return FitResult(
        losses=[entry["loss"] for entry in trainer.history],
        seconds=seconds,
        clips_per_second=steps * batch_size / seconds,
    )


@torch.no_grad()
def predict(model: nn.Module, videos: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Class predictions ``(n,)`` for ``videos (n, t, c, h, w)``, in batches."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model(videos[i : i + batch_size].to(device)).argmax(-1).cpu() for i in range(0, len(videos), batch_size)])


def accuracy(model: nn.Module, videos: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of clips whose predicted class equals the label."""
    return (predict(model, videos) == labels).float().mean().item()
