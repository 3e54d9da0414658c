"""A video GAN: a 3-D convolutional generator and discriminator, their losses, and one training step.

Taught in chapter 03 (GANs: the two-player game, non-saturating and hinge losses, spectral
normalisation, the R1 penalty, two time-scale learning rates) and compared with the VAE and the
diffusion models in chapter 04.

The game (Goodfellow et al. 2014): a generator ``G`` maps noise ``z ~ N(0, I)`` to a clip, a
discriminator ``D`` maps a clip to one logit, "real" when large. With ``D``'s logits ``D(x)`` on
real clips and ``D(G(z))`` on generated ones:

- non-saturating loss (Goodfellow et al. 2014, section 3): ``D`` minimises
  ``softplus(-D(x)) + softplus(D(G(z)))`` (the binary cross-entropy of "real" vs "fake"), ``G``
  minimises ``softplus(-D(G(z)))`` instead of ``-softplus(D(G(z)))``, which keeps its gradient
  large exactly when ``D`` confidently rejects its samples (early in training);
- hinge loss (Lim & Ye 2017; used by SN-GAN and BigGAN): ``D`` minimises
  ``relu(1 - D(x)) + relu(1 + D(G(z)))``, so it stops pushing once real logits pass 1 and fake
  ones fall below -1; ``G`` minimises ``-D(G(z))``.

Two stabilisers for ``D``: spectral normalisation (Miyato et al. 2018) divides every weight by
its largest singular value (estimated by one power-iteration step per forward), which bounds
``D``'s Lipschitz constant; the R1 penalty (Mescheder et al. 2018, eq. 9) adds
``gamma / 2 * E_x ||grad_x D(x)||^2`` on real clips, so ``D`` is flat where the data is and the
game has a point to converge to. TTUR (Heusel et al. 2017) trains ``D`` and ``G`` with different
learning rates: here simply two Adam optimizers, ``lr_d`` and ``lr_g`` (:func:`make_optimizers`).

Both networks use 3-D convolutions over ``b c t h w``: the generator starts from a small
``(t', 4, 4)`` grid and doubles time (while it is below ``frames``) and space at every block; the
discriminator mirrors it with strided convolutions.
"""

from __future__ import annotations

import math
import time
import copy
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from tinyvdm.metrics.sharpness import pairwise_distance

LOSS_KINDS = ("non_saturating", "hinge")
START_SIZE = 4  # the generator's first grid is 4 x 4 pixels; the discriminator ends on 4 x 4


@dataclass
class GANConfig:
    """Sizes and training settings of the video GAN; toy-sized defaults (see ``GAN_CONFIGS``).

    ``frames``, ``channels``, ``size``: the clips ``(b, frames, channels, size, size)``; ``size``
    must be ``4 * 2^k``. ``z_dim``: the noise width. ``g_channels`` / ``d_channels``: the widest
    layer of each network (the generator halves it at every upsampling block, the discriminator
    doubles up to it). ``spectral_norm``: wrap every discriminator weight. ``loss``:
    ``"non_saturating"`` or ``"hinge"``. ``r1_gamma``: weight of the R1 penalty (0: off).
    ``lr_g`` / ``lr_d``: two time-scale learning rates (TTUR), one Adam each, with ``betas``;
    ``beta1 = 0`` is the usual GAN choice, since momentum on a moving target makes the game
    oscillate.
    """

    frames: int = 8
    channels: int = 3
    size: int = 32
    z_dim: int = 64
    g_channels: int = 64
    d_channels: int = 64
    spectral_norm: bool = True
    loss: str = "non_saturating"
    r1_gamma: float = 0.0
    lr_g: float = 2e-4
    lr_d: float = 4e-4
    betas: tuple[float, float] = (0.0, 0.99)

    def __post_init__(self):
        for name in ("frames", "channels", "size", "z_dim", "g_channels", "d_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        levels = math.log2(self.size / START_SIZE) if self.size >= START_SIZE else -1
        if levels < 1 or levels != int(levels):
            raise ValueError(f"size must be {START_SIZE} * 2^k with k >= 1 (8, 16, 32, ...), got {self.size}")
        if self.loss not in LOSS_KINDS:
            raise ValueError(f"loss must be one of {LOSS_KINDS}, got {self.loss!r}")
        if not self.r1_gamma >= 0:
            raise ValueError(f"r1_gamma must be >= 0, got {self.r1_gamma!r}")
        if not (self.lr_g > 0 and self.lr_d > 0):
            raise ValueError(f"lr_g and lr_d must be positive, got {self.lr_g!r} and {self.lr_d!r}")
        self.betas = tuple(self.betas)
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")

    @property
    def levels(self) -> int:
        """Up- (generator) or down-sampling (discriminator) blocks: ``log2(size / 4)``."""
        return int(math.log2(self.size // START_SIZE))

    @property
    def temporal_factors(self) -> tuple[int, ...]:
        """The time stride of each level, 2 or 1; their product takes ``start_frames`` to ``frames``.

        Time is halved while it stays even and above 2, at most once per level, so 8 frames over
        three levels go 2 -> 4 -> 8 -> 8.
        """
        frames, factors = self.frames, []
        for _ in range(self.levels):
            if frames % 2 == 0 and frames > 2:
                frames //= 2
                factors.append(2)
            else:
                factors.append(1)
        return tuple(reversed(factors))  # the generator upsamples time first, where it is cheap

    @property
    def start_frames(self) -> int:
        return self.frames // math.prod(self.temporal_factors)

    @property
    def clip_shape(self) -> tuple[int, int, int, int]:
        """``(t, c, h, w)`` of one clip."""
        return (self.frames, self.channels, self.size, self.size)


def _tiny() -> GANConfig:
    return GANConfig(frames=8, size=16, z_dim=32, g_channels=32, d_channels=32)


def _small() -> GANConfig:
    return GANConfig(frames=8, size=32, z_dim=64, g_channels=64, d_channels=64)


# Named sizes, RGB: tiny, 8 frames of 16 x 16 (G 56k, D 23k parameters; tests, smoke profile);
# small, 8 frames of 32 x 32 (G 0.21M, D 80k) for the CPU chapters, about 0.9 s per gan_step of 16
# clips on one CPU thread (1.06 s with R1; 3-D convolution backward is 60% of it).
GAN_CONFIGS = {"tiny": _tiny, "small": _small}


def gan_config(name: str, **overrides) -> GANConfig:
    """A named size from ``GAN_CONFIGS`` (``"tiny"``, ``"small"``) with fields overridden."""
    if name not in GAN_CONFIGS:
        raise ValueError(f"unknown GAN size {name!r}; choose one of {sorted(GAN_CONFIGS)}")
    return replace(GAN_CONFIGS[name](), **overrides)


def check_clips(x: torch.Tensor, config: GANConfig, name: str = "x") -> None:
    """Raise ``ValueError`` unless ``x`` is a floating ``(b, t, c, h, w)`` tensor of ``config``'s clip shape."""
    expected = config.clip_shape
    if not isinstance(x, torch.Tensor) or x.ndim != 5 or tuple(x.shape[1:]) != expected or not x.is_floating_point():
        got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a floating tensor of shape (b, {', '.join(map(str, expected))}) "
                         f"(b, t, c, h, w), got {got}")


def _groups(channels: int) -> int:
    return math.gcd(8, channels)


class UpBlock(nn.Module):
    """Nearest-neighbour upsampling by ``(time_factor, 2, 2)``, then Conv3d, GroupNorm, ReLU.

    Upsample + convolution rather than a transposed convolution: a stride-2 transposed
    convolution with a kernel not divisible by the stride paints checkerboards (Odena et al.
    2016). GroupNorm rather than BatchNorm, so a sample does not depend on the rest of its batch
    and train and eval mode give the same clips.
    """

    def __init__(self, in_channels: int, out_channels: int, time_factor: int):
        super().__init__()
        self.scale = (time_factor, 2, 2)
        self.conv = nn.Conv3d(in_channels, out_channels, kernel_size=3, padding=1)
        self.norm = nn.GroupNorm(_groups(out_channels), out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(b, c, t, h, w)`` -> ``(b, c', t * time_factor, 2h, 2w)``."""
        x = F.interpolate(x, scale_factor=self.scale, mode="nearest")
        return F.relu(self.norm(self.conv(x)))


class VideoGenerator(nn.Module):
    """Noise ``z`` ``(b, z_dim)`` -> clips ``(b, t, c, h, w)`` in ``[-1, 1]``.

    A linear layer to a ``(g_channels, start_frames, 4, 4)`` grid, ``levels`` :class:`UpBlock`
    halving the channels each time (down to 16 at least), a last Conv3d to ``channels`` and a
    tanh. Build a named size with :meth:`from_name`.
    """

    def __init__(self, config: GANConfig | None = None):
        super().__init__()
        self.config = config = config or GANConfig()
        widths = [max(16, config.g_channels // 2**i) for i in range(config.levels + 1)]
        self.start = (config.start_frames, START_SIZE, START_SIZE)
        self.project = nn.Linear(config.z_dim, widths[0] * math.prod(self.start))
        self.project_norm = nn.GroupNorm(_groups(widths[0]), widths[0])
        self.blocks = nn.ModuleList(UpBlock(widths[i], widths[i + 1], factor)
                                    for i, factor in enumerate(config.temporal_factors))
        self.to_rgb = nn.Conv3d(widths[-1], config.channels, kernel_size=3, padding=1)

    @classmethod
    def from_name(cls, name: str, **overrides) -> VideoGenerator:
        return cls(gan_config(name, **overrides))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` ``(b, z_dim)`` -> ``(b, t, c, h, w)`` in ``[-1, 1]``."""
        z_dim = self.config.z_dim
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[1] != z_dim or not z.is_floating_point():
            got = f"{z.dtype} {tuple(z.shape)}" if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"z must be a floating tensor of shape (b, {z_dim}), got {got}")
        t, h, w = self.start
        x = rearrange(self.project(z), "b (c t h w) -> b c t h w", t=t, h=h, w=w)
        x = F.relu(self.project_norm(x))
        for block in self.blocks:
            x = block(x)  # (b, c, t, h, w), time and space doubled
        x = torch.tanh(self.to_rgb(x))
        return rearrange(x, "b c t h w -> b t c h w")

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` clips from fresh noise drawn with ``generator``: ``(n, t, c, h, w)``."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        device = next(self.parameters()).device
        z = torch.randn(n, self.config.z_dim, generator=generator, device=device)
        return self(z)


class VideoDiscriminator(nn.Module):
    """Clips ``(b, t, c, h, w)`` -> one logit per clip ``(b,)``; large means "real".

    A Conv3d stem, then ``levels`` strided Conv3d (stride 2 in space, and in time where the
    generator upsampled it) with LeakyReLU(0.2), doubling the channels up to ``d_channels``; a
    linear layer reads the final ``(t', 4, 4)`` grid. No normalisation layers: BatchNorm would
    couple the logits of a batch, which the R1 penalty (a per-clip gradient) does not expect.
    With ``spectral_norm`` every convolution and the linear layer are spectrally normalised.
    """

    def __init__(self, config: GANConfig | None = None):
        super().__init__()
        self.config = config = config or GANConfig()
        levels = config.levels
        widths = [max(16, config.d_channels // 2**(levels - i)) for i in range(levels + 1)]
        layers = [nn.Conv3d(config.channels, widths[0], kernel_size=3, padding=1)]
        # Mirror the generator: the first levels of D undo its last up-sampling blocks.
        for i, factor in enumerate(reversed(config.temporal_factors)):
            layers.append(nn.Conv3d(widths[i], widths[i + 1], kernel_size=3, stride=(factor, 2, 2), padding=1))
        self.convs = nn.ModuleList(layers)
        self.head = nn.Linear(widths[-1] * config.start_frames * START_SIZE * START_SIZE, 1)
        if config.spectral_norm:
            for i in range(len(self.convs)):
                self.convs[i] = _spectral_norm(self.convs[i])
            self.head = _spectral_norm(self.head)

    @classmethod
    def from_name(cls, name: str, **overrides) -> VideoDiscriminator:
        return cls(gan_config(name, **overrides))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(b, t, c, h, w)`` -> logits ``(b,)``."""
        check_clips(x, self.config)
        x = rearrange(x, "b t c h w -> b c t h w")
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)  # (b, c', t', h / 2, w / 2) after each strided conv
        return self.head(x.flatten(1)).squeeze(1)


# ---------------------------------------------------------------------------------------------
# Losses


def _check_logits(name: str, logits: torch.Tensor) -> None:
    if not isinstance(logits, torch.Tensor) or logits.ndim != 1 or not logits.is_floating_point():
        got = f"{logits.dtype} {tuple(logits.shape)}" if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"{name} must be floating logits of shape (b,), got {got}")


def _check_kind(kind: str) -> None:
    if kind not in LOSS_KINDS:
        raise ValueError(f"kind must be one of {LOSS_KINDS}, got {kind!r}")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                       kind: str = "non_saturating") -> torch.Tensor:
    """``D``'s loss, a mean over each batch of logits ``(b,)``.

    ``"non_saturating"``: ``mean softplus(-D(x)) + mean softplus(D(G(z)))``, the cross-entropy of
    calling real clips real and fakes fake (``-log sigmoid(l) = softplus(-l)``).
    ``"hinge"``: ``mean relu(1 - D(x)) + mean relu(1 + D(G(z)))``; zero once every real logit is
    ``>= 1`` and every fake one ``<= -1``.
    """
    _check_kind(kind)
    _check_logits("real_logits", real_logits)
    _check_logits("fake_logits", fake_logits)
    if kind == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, kind: str = "non_saturating") -> torch.Tensor:
    """``G``'s loss on ``D``'s logits ``(b,)`` for its samples.

    ``"non_saturating"``: ``mean softplus(-D(G(z)))`` (``-log D``, Goodfellow et al. 2014);
    ``"hinge"``: ``-mean D(G(z))``.
    """
    _check_kind(kind)
    _check_logits("fake_logits", fake_logits)
    if kind == "hinge":
        return -fake_logits.mean()
    return F.softplus(-fake_logits).mean()


def r1_penalty(discriminator: nn.Module, real: torch.Tensor) -> torch.Tensor:
    """``E_x ||grad_x D(x)||^2`` on real clips ``(b, ...)`` (Mescheder et al. 2018, eq. 9, without ``gamma / 2``).

    ``create_graph=True`` keeps the gradient differentiable, so the penalty itself trains ``D``
    (a gradient of a gradient). Each clip's logit depends only on that clip, so the gradient of
    the summed logits gives every clip its own ``grad_x D(x)``.
    """
    if not isinstance(real, torch.Tensor) or real.ndim < 2 or not real.is_floating_point():
        got = f"{real.dtype} {tuple(real.shape)}" if isinstance(real, torch.Tensor) else type(real).__name__
        raise ValueError(f"real must be a floating tensor of shape (b, ...), got {got}")
    real = real.detach().requires_grad_(True)
    logits = discriminator(real)  # (b,)
    (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(dim=1).mean()


# ---------------------------------------------------------------------------------------------
# Training


def make_optimizers(generator: nn.Module, discriminator: nn.Module,
                    config: GANConfig) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """Two Adam optimizers, ``(opt_g, opt_d)``, with ``lr_g`` and ``lr_d``: the two time-scale rule (TTUR)."""
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr_g, betas=config.betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=config.betas)
    return opt_g, opt_d


def adversarial_step(generator: nn.Module, discriminator: nn.Module, opt_g: torch.optim.Optimizer,
                     opt_d: torch.optim.Optimizer, real: torch.Tensor, z_dim: int, loss: str = "non_saturating",
                     r1_gamma: float = 0.0, z_generator: torch.Generator | None = None) -> dict[str, float]:
    """One round of the game on a batch ``real`` of any shape ``(b, ...)``: a ``D`` step, then a ``G`` step.

    ``D`` minimises ``discriminator_loss + r1_gamma / 2 * r1_penalty`` (R1 only when
    ``r1_gamma > 0``) against a detached batch of fakes; then ``G`` minimises ``generator_loss``
    on a fresh batch of noise ``(b, z_dim)``, with ``D`` frozen. Noise is drawn with
    ``z_generator`` on its own device (seeded: the step is reproducible) and moved to ``real``'s.
    Shared by the video GAN (:func:`gan_step`) and the toy GAN of chapter 01.
    """
    _check_kind(loss)
    b, device = real.shape[0], real.device

    def noise() -> torch.Tensor:
        where = z_generator.device if z_generator is not None else device
        return torch.randn(b, z_dim, generator=z_generator, device=where).to(device)

    generator.train()
    discriminator.train()

    # Discriminator step. The fakes are detached: this step must not train G.
    z = noise()
    with torch.no_grad():
        fake = generator(z)
    real_logits = discriminator(real)
    fake_logits = discriminator(fake)
    d_loss = discriminator_loss(real_logits, fake_logits, loss)
    total = d_loss
    r1 = torch.zeros((), device=device)
    if r1_gamma > 0:
        r1 = r1_penalty(discriminator, real)
        total = total + r1_gamma / 2 * r1
    opt_d.zero_grad(set_to_none=True)
    total.backward()
    opt_d.step()

    # Generator step. D's weights are frozen so its gradients are neither computed nor left over.
    z = noise()
    for p in discriminator.parameters():
        p.requires_grad_(False)
    try:
        g_loss = generator_loss(discriminator(generator(z)), loss)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
    finally:
        for p in discriminator.parameters():
            p.requires_grad_(True)

    return {"d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach()), "r1": float(r1.detach()),
            "d_real": float(real_logits.detach().mean()), "d_fake": float(fake_logits.detach().mean())}


def gan_step(generator: nn.Module, discriminator: nn.Module, opt_g: torch.optim.Optimizer,
             opt_d: torch.optim.Optimizer, real: torch.Tensor, z_generator: torch.Generator | None,
             config: GANConfig) -> dict[str, float]:
    """One discriminator step, then one generator step, on real clips ``(b, t, c, h, w)``.

    :func:`adversarial_step` with the loss, R1 weight and noise width of ``config``. Returns
    floats: ``d_loss`` (without R1), ``g_loss``, ``r1`` (0 when off), ``d_real`` and ``d_fake``
    (``D``'s mean logits on the real and fake clips of the discriminator step).
    """
    check_clips(real, config, "real")
    return adversarial_step(generator, discriminator, opt_g, opt_d, real, config.z_dim, config.loss,
                            config.r1_gamma, z_generator)


# ---------------------------------------------------------------------------------------------
# Watching the game: a diversity number, and a training loop that records the dynamics


@dataclass
class GANRun:
    """What :func:`fit_gan` records.

    ``history``: one dict per step (``gan_step``'s floats). ``snapshot_steps``: the steps at
    which the generator drew ``snapshots`` (each ``(n, t, c, h, w)`` on the CPU, always from the
    same noise, so the pictures can be compared across training), with ``diversity``
    (:func:`~tinyvdm.metrics.sharpness.pairwise_distance` of each). With an exponential moving
    average of the generator's weights, ``ema_generator`` is that average and ``ema_snapshots`` / ``ema_diversity`` the same
    records drawn with it (empty lists otherwise). ``seconds``: time spent in training steps only.
    """

    history: list[dict[str, float]]
    snapshot_steps: list[int]
    snapshots: list[torch.Tensor]
    diversity: list[float]
    seconds: float
    ema_generator: VideoGenerator | None = None
    ema_snapshots: list[torch.Tensor] = field(default_factory=list)
    ema_diversity: list[float] = field(default_factory=list)

    def series(self, key: str) -> list[float]:
        """One entry of ``history`` over the steps, e.g. ``run.series("d_loss")``."""
        if not self.history or key not in self.history[0]:
            raise ValueError(f"unknown history key {key!r}; recorded: {sorted(self.history[0]) if self.history else []}")
        return [record[key] for record in self.history]


def fit_gan(generator: VideoGenerator, discriminator: VideoDiscriminator, videos: torch.Tensor, steps: int,
            batch_size: int = 16, seed: int = 0, snapshot_every: int = 50, snapshot_clips: int = 16,
            ema_decay: float = 0.0, on_snapshot=None) -> GANRun:
    """Train a GAN for ``steps`` :func:`gan_step` calls on batches drawn from real ``videos``.

    ``videos`` ``(n, t, c, h, w)`` in ``[-1, 1]`` is a pool of real clips (on any device; batches
    move to the generator's device). Batches are drawn with replacement from a generator seeded
    with ``seed``, and so is the noise, so a run is reproducible. Every ``snapshot_every`` steps
    (and at step 0 and at the end) the generator draws ``snapshot_clips`` clips from fixed noise;
    ``on_snapshot(step, clips)`` is then called if given (e.g. to judge the clips), outside the
    timed part. The optimizers come from :func:`make_optimizers` (TTUR) with the generator's config.

    ``ema_decay`` in ``(0, 1)`` also keeps an exponential moving average of the generator's
    weights, ``ema = decay * ema + (1 - decay) * weights`` after every step (Karras et al. 2018;
    Yazici et al. 2019): the game makes the generator circle around a good point rather than sit
    on it, and the average lands nearer the point. It is never trained, only sampled.
    """
    config = generator.config
    if discriminator.config.clip_shape != config.clip_shape:
        raise ValueError(f"generator and discriminator disagree on the clip shape: {config.clip_shape} "
                         f"and {discriminator.config.clip_shape}")
    check_clips(videos, config, "videos")
    for name, value in (("steps", steps), ("batch_size", batch_size), ("snapshot_every", snapshot_every),
                        ("snapshot_clips", snapshot_clips)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not (0.0 <= ema_decay < 1.0):
        raise ValueError(f"ema_decay must be in [0, 1) (0: no average), got {ema_decay!r}")
    if snapshot_clips < 2:
        raise ValueError(f"snapshot_clips must be at least 2 (diversity compares pairs), got {snapshot_clips}")
    device = next(generator.parameters()).device
    opt_g, opt_d = make_optimizers(generator, discriminator, config)
    batches = torch.Generator().manual_seed(seed)
    noise = torch.Generator(device=device).manual_seed(seed + 1)
    fixed_z = torch.randn(snapshot_clips, config.z_dim, generator=torch.Generator().manual_seed(seed + 2)).to(device)
    run = GANRun(history=[], snapshot_steps=[], snapshots=[], diversity=[], seconds=0.0)
    if ema_decay > 0:
        run.ema_generator = copy.deepcopy(generator).eval().requires_grad_(False)

    def snapshot(step: int) -> None:
        generator.eval()
        with torch.no_grad():
            clips = generator(fixed_z).float().cpu()
            if run.ema_generator is not None:
                run.ema_snapshots.append(run.ema_generator(fixed_z).float().cpu())
                run.ema_diversity.append(pairwise_distance(run.ema_snapshots[-1]))
        run.snapshot_steps.append(step)
        run.snapshots.append(clips)
        run.diversity.append(pairwise_distance(clips))
        if on_snapshot is not None:
            on_snapshot(step, clips)

    snapshot(0)
    for step in range(1, steps + 1):
        start = time.perf_counter()
        index = torch.randint(len(videos), (batch_size,), generator=batches)
        real = videos[index].to(device, non_blocking=True)
        run.history.append(gan_step(generator, discriminator, opt_g, opt_d, real, noise, config))
        if run.ema_generator is not None:
            with torch.no_grad():
                for average, weight in zip(run.ema_generator.state_dict().values(), generator.state_dict().values()):
                    if average.is_floating_point():
                        average.lerp_(weight, 1 - ema_decay)
        run.seconds += time.perf_counter() - start
        if step % snapshot_every == 0 or step == steps:
            snapshot(step)
    generator.eval()
    return run


@dataclass(frozen=True)
class Instability:
    """How unsteady a GAN's training was, read off its discriminator (see :func:`instability`).

    ``swing``: the standard deviation of ``D``'s loss over training (oscillation). ``peak``: its
    highest value (a spike is a step where ``D`` was suddenly and badly fooled). ``gap``: the
    largest ``|D(real) - D(fake)|`` mean-logit gap (a discriminator that runs away grows it).
    ``spikes``: steps whose ``D`` loss exceeds ``spike_factor`` times its median.
    """

    swing: float
    peak: float
    gap: float
    spikes: int


def instability(history, spike_factor: float = 3.0) -> Instability:
    """The :class:`Instability` of a run: a :class:`GANRun`, its ``history`` (a list of
    :func:`gan_step` dicts) or a mapping of equal-length series with ``d_loss``, ``d_real`` and
    ``d_fake``. One number per measure, so chapters 03 and 04 compare runs the same way.
    """
    if isinstance(history, GANRun):
        history = history.history
    if isinstance(history, (list, tuple)):
        if not history or not all(isinstance(record, dict) for record in history):
            raise ValueError("history must be a non-empty list of gan_step dicts")
        history = {key: [record[key] for record in history] for key in history[0]}
    if not hasattr(history, "keys"):
        raise TypeError(f"history must be a GANRun, a list of gan_step dicts or a mapping of series, "
                        f"got {type(history).__name__}")
    missing = [key for key in ("d_loss", "d_real", "d_fake") if key not in history]
    if missing:
        raise ValueError(f"history lacks {missing}; it has {sorted(history)}")
    d_loss, d_real, d_fake = (np.asarray(history[key], dtype=np.float64) for key in ("d_loss", "d_real", "d_fake"))
    if d_loss.ndim != 1 or len(d_loss) == 0 or d_real.shape != d_loss.shape or d_fake.shape != d_loss.shape:
        raise ValueError(f"d_loss, d_real and d_fake must be non-empty series of one length, got shapes "
                         f"{d_loss.shape}, {d_real.shape}, {d_fake.shape}")
    if not spike_factor > 0:
        raise ValueError(f"spike_factor must be positive, got {spike_factor!r}")
    return Instability(swing=float(d_loss.std()), peak=float(d_loss.max()),
                       gap=float(np.abs(d_real - d_fake).max()),
                       spikes=int(np.sum(d_loss > spike_factor * np.median(d_loss))))


def spectral_norm_step(weight: torch.Tensor, v: torch.Tensor, eps: float = 1e-12
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One power-iteration step of spectral normalisation (Miyato et al. 2018, algorithm 1).

    ``weight`` ``(out, ...)`` is read as the matrix ``W`` ``(out, in)`` (a convolution's kernel
    flattened); ``v`` ``(in,)`` is the current guess of its top right-singular vector. Returns
    ``(u, v_new, sigma)``: ``u = normalise(W v)``, ``v_new = normalise(W^T u)`` and the estimate
    ``sigma = u . W v_new`` of ``W``'s largest singular value; the layer then uses ``W / sigma``.
    The order (``u`` from ``v`` first) is the one ``torch.nn.utils.parametrizations.spectral_norm``
    uses, so with its stored vectors this gives exactly its ``sigma``. One step per training
    forward is enough because ``W`` changes little between steps and the vectors are kept.
    """
    if not isinstance(weight, torch.Tensor) or weight.ndim < 2 or not weight.is_floating_point():
        got = f"{weight.dtype} {tuple(weight.shape)}" if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(f"weight must be a floating tensor of shape (out, in, ...), got {got}")
    matrix = weight.reshape(weight.shape[0], -1)  # (out, in)
    if not isinstance(v, torch.Tensor) or v.shape != (matrix.shape[1],):
        got = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
        raise ValueError(f"v must have shape ({matrix.shape[1]},) (the weight's flattened input size), got {got}")
    u = F.normalize(matrix @ v, dim=0, eps=eps)  # (out,)
    v = F.normalize(matrix.T @ u, dim=0, eps=eps)  # (in,)
    sigma = torch.dot(u, matrix @ v)
    return u, v, sigma
