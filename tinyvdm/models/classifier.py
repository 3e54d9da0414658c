"""A small video classifier: video understanding, the other half of "AI video".

Taught in chapter 00, where it learns the direction an object moves in, and reused wherever a
chapter needs a judge trained on real clips (which shape, which colour, which way).

The network is a (2+1)-D convolution stack: a 2-D convolution inside each frame, then a 1-D
convolution across frames at every pixel. Factorising space and time this way keeps the cost of
a 2-D network, and with ``temporal=False`` the time convolutions are dropped so the network only
ever sees a bag of frames: order is lost, and with it the direction of motion. That switch is the
chapter's experiment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from tqdm.auto import tqdm


class SpaceTimeConv(nn.Module):
    """A 3x3 convolution inside each frame, then (optionally) a width-3 convolution across frames."""

    def __init__(self, channels_in: int, channels_out: int, temporal: bool, stride: int = 1):
        super().__init__()
        self.spatial = nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1)
        self.temporal = nn.Conv1d(channels_out, channels_out, 3, padding=1) if temporal else None
        self.norm = nn.GroupNorm(min(8, channels_out), channels_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(b, t, c, h, w) -> (b, t, c', h/stride, w/stride)"""
        b, t = x.shape[:2]
        x = self.spatial(rearrange(x, "b t c h w -> (b t) c h w"))
        x = rearrange(x, "(b t) c h w -> b t c h w", b=b)
        if self.temporal is not None:
            h, w = x.shape[-2:]
            y = self.temporal(rearrange(x, "b t c h w -> (b h w) c t"))
            x = x + rearrange(y, "(b h w) c t -> b t c h w", b=b, h=h, w=w)  # residual: a frame keeps itself
        x = self.norm(rearrange(x, "b t c h w -> (b t) c h w"))
        return rearrange(F.silu(x), "(b t) c h w -> b t c h w", b=b)


class ClipClassifier(nn.Module):
    """Classify a clip ``(b, t, c, h, w)`` into ``num_classes``; logits ``(b, num_classes)``.

    ``temporal=False`` removes every convolution across frames: the frames are then pooled as an
    unordered set, so the network cannot know which frame came first.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 16, depth: int = 3, temporal: bool = True):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
        self.in_channels = in_channels
        self.temporal = temporal
        widths = [width * 2**i for i in range(depth)]
        layers, channels = [], in_channels
        for i, w in enumerate(widths):
            layers.append(SpaceTimeConv(channels, w, temporal, stride=1 if i == 0 else 2))
            channels = w
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Linear(channels, num_classes)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        if video.ndim != 5 or video.shape[2] != self.in_channels:
            raise ValueError(
                f"expected video of shape (b, t, {self.in_channels}, h, w), got {tuple(video.shape)}"
            )
        features = self.blocks(video)  # (b, t, c, h', w')
        return self.head(features.mean(dim=(1, 3, 4)))


@dataclass
class FitResult:
    losses: list[float]
    seconds: float
    clips_per_second: float


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
    """Train ``model`` on ``videos (n, t, c, h, w)`` and ``labels (n,)`` with AdamW and cross-entropy.

    A deliberately plain loop (random minibatches, cosine learning-rate decay): chapter 00 has no
    need for the course's full trainer, which arrives with the diffusion chapters.
    """
    if videos.ndim != 5 or labels.shape != videos.shape[:1]:
        raise ValueError(
            f"expected videos (n, t, c, h, w) and labels (n,), got {tuple(videos.shape)} and {tuple(labels.shape)}"
        )
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be >= 1, got {steps} and {batch_size}")
    device = torch.device(device)
    model.to(device).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    start = time.perf_counter()
    bar = tqdm(range(steps), desc="training", disable=not progress, mininterval=1.0)
    for _ in bar:
        index = torch.randint(0, len(videos), (batch_size,), generator=gen)
        x, y = videos[index].to(device), labels[index].to(device)
        loss = F.cross_entropy(model(x), y)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
    seconds = time.perf_counter() - start
    model.eval()
    return FitResult(losses=losses, seconds=seconds, clips_per_second=steps * batch_size / seconds)


@torch.no_grad()
def predict(model: nn.Module, videos: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Class predictions ``(n,)`` for ``videos (n, t, c, h, w)``, in batches."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model(videos[i : i + batch_size].to(device)).argmax(-1).cpu() for i in range(0, len(videos), batch_size)])


def accuracy(model: nn.Module, videos: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of clips whose predicted class equals the label."""
    return (predict(model, videos) == labels).float().mean().item()
