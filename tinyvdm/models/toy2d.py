"""Three generators for 2-D toy points: a GAN, a VAE and an autoregressive model, each a small MLP.

Taught in chapter 01 (the generative landscape), where they learn the point clouds of
:mod:`tinyvdm.data.toy2d` beside the diffusion denoiser :class:`~tinyvdm.models.mlp.MLPDenoiser`
and the four are compared on the same data: which modes they cover, how much of their mass lands
on a mode, how long they train and how many network calls a sample costs. The video versions of
the same ideas are chapters 02 (VAE), 03 (GAN) and 05 (autoregressive).

- :class:`ToyGenerator` and :class:`ToyDiscriminator`, trained by :func:`train_toy_gan` with the
  losses of :mod:`tinyvdm.models.gan`: one generator call turns noise ``z`` into a point.
- :class:`ToyVAE`, trained by :func:`toy_vae_loss` (the negative ELBO with a fixed decoder
  standard deviation): one decoder call turns a prior draw ``z`` into a point.
- :class:`ToyAutoregressive`: each coordinate cut into ``bins`` tokens (:func:`to_tokens`,
  :func:`from_tokens`), then ``p(x, y) = p(x) p(y | x)``, each factor a softmax over the bins
  (:func:`toy_ar_loss`). Sampling is ancestral: one call draws ``x``, a second draws ``y`` given
  ``x`` (:func:`sample_token` draws a token by inverting the cumulative distribution).

:func:`count_calls` counts how often a network is run while a block of code samples from it.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import TensorDataset

from tinyvdm.checks import describe
from tinyvdm.data.base import check_int
from tinyvdm.models.gan import LOSS_KINDS, adversarial_step
from tinyvdm.models.vae import DiagonalGaussian, gaussian_nll


def check_points(points: torch.Tensor, name: str = "points") -> None:
    """Raise ``ValueError`` unless ``points`` is a floating tensor of shape ``(b, 2)``."""
    if not isinstance(points, torch.Tensor) or points.ndim != 2 or points.shape[1] != 2 \
            or not points.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor of shape (b, 2), got {describe(points)}")


def _check_generator(generator) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")


def mlp(in_dim: int, out_dim: int, width: int, depth: int, activation: type[nn.Module] = nn.SiLU) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` units: ``in_dim -> width -> ... -> width -> out_dim``."""
    for name, value in (("in_dim", in_dim), ("out_dim", out_dim), ("width", width), ("depth", depth)):
        check_int(name, value, 1)
    layers: list[nn.Module] = [nn.Linear(in_dim, width), activation()]
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), activation()]
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


def _num_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _device_of(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


# ---------------------------------------------------------------------------------------------
# GAN


class ToyGenerator(nn.Module):
    """``G``: noise ``z`` ``(b, z_dim)`` -> points ``(b, 2)``, one network call per batch."""

    def __init__(self, z_dim: int = 8, width: int = 128, depth: int = 3):
        super().__init__()
        check_int("z_dim", z_dim, 1)
        self.z_dim = z_dim
        self.net = mlp(z_dim, 2, width, depth)

    def num_parameters(self) -> int:
        return _num_parameters(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (b, {self.z_dim}), got {describe(z)}")
        return self.net(z)  # (b, 2)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` points ``(n, 2)`` from ``z ~ N(0, I)``."""
        check_int("n", n, 1)
        _check_generator(generator)
        device = _device_of(self)
        z = torch.randn(n, self.z_dim, generator=generator, device=generator.device if generator else device)
        return self(z.to(device))


class ToyDiscriminator(nn.Module):
    """``D``: points ``(b, 2)`` -> one logit each ``(b,)``, "real" when large.

    LeakyReLU rather than SiLU, as GAN discriminators usually are: its gradient never vanishes
    on the negative side, so ``D`` keeps telling ``G`` which way to move.
    """

    def __init__(self, width: int = 128, depth: int = 3):
        super().__init__()
        self.net = mlp(2, 1, width, depth, activation=_LeakyReLU)

    def num_parameters(self) -> int:
        return _num_parameters(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_points(x, "x")
        return self.net(x).squeeze(1)  # (b,)


class _LeakyReLU(nn.LeakyReLU):
    """LeakyReLU with the slope GANs use (0.2), constructible without arguments for :func:`mlp`."""

    def __init__(self):
        super().__init__(0.2)


@dataclass
class ToyGANConfig:
    """Settings of :func:`train_toy_gan`: ``steps`` rounds of one ``D`` step then one ``G`` step.

    ``betas = (0.5, 0.999)``: the DCGAN setting; less momentum than Adam's default, since the
    target moves as the other player learns.
    """

    steps: int = 2000
    batch_size: int = 256
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    loss: str = "non_saturating"
    seed: int = 0

    def __post_init__(self):
        check_int("steps", self.steps, 1)
        check_int("batch_size", self.batch_size, 1)
        check_int("seed", self.seed, 0)
        for name in ("lr_g", "lr_d"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if self.loss not in LOSS_KINDS:
            raise ValueError(f"loss must be one of {LOSS_KINDS}, got {self.loss!r}")


def train_toy_gan(generator: ToyGenerator, discriminator: ToyDiscriminator, points: torch.Tensor,
                  config: ToyGANConfig | None = None, device: torch.device | str | None = None) -> list[dict]:
    """Train the pair on ``points`` ``(n, 2)``; returns one dict per step (``d_loss``, ``g_loss``).

    The course's :class:`~tinyvdm.train.Trainer` drives one optimizer on one loss; a GAN is a game
    between two, so it gets this short loop of its own, around the video GAN's round of the game
    (:func:`~tinyvdm.models.gan.adversarial_step`). Batches are drawn with replacement from
    ``points``; all randomness comes from a generator seeded with ``config.seed``.
    """
    config = ToyGANConfig() if config is None else config
    if not isinstance(config, ToyGANConfig):
        raise TypeError(f"config must be a ToyGANConfig or None, got {type(config).__name__}")
    if not isinstance(generator, ToyGenerator) or not isinstance(discriminator, ToyDiscriminator):
        raise TypeError(f"expected a ToyGenerator and a ToyDiscriminator, got {type(generator).__name__} "
                        f"and {type(discriminator).__name__}")
    check_points(points)
    device = torch.device(device) if device is not None else _device_of(generator)
    generator.to(device).train()
    discriminator.to(device).train()
    data = points.to(device)
    rng = torch.Generator().manual_seed(config.seed)  # on the CPU: the same draws on every device
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr_g, betas=config.betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=config.betas)
    history = []
    for _ in range(config.steps):
        index = torch.randint(len(data), (config.batch_size,), generator=rng).to(device)
        step = adversarial_step(generator, discriminator, opt_g, opt_d, data[index], generator.z_dim, config.loss,
                                z_generator=rng)
        history.append(dict(d_loss=step["d_loss"], g_loss=step["g_loss"]))
    generator.eval()
    discriminator.eval()
    return history


# ---------------------------------------------------------------------------------------------
# VAE


class ToyVAE(nn.Module):
    """Encoder ``q(z | x)`` and decoder mean ``mu(z)`` for 2-D points; prior ``N(0, I)``.

    The decoder's standard deviation ``decoder_std`` is fixed, not learned: the likelihood is
    ``N(x; mu(z), decoder_std^2 I)``. It sets the balance of the ELBO: a small one asks for sharp
    reconstructions and pays with a larger KL. Samples are decoder *means* of prior draws (the
    usual practice; adding the decoder's noise would blur each point by ``decoder_std`` more).
    """

    def __init__(self, latent_dim: int = 2, width: int = 128, depth: int = 3, decoder_std: float = 0.1):
        super().__init__()
        check_int("latent_dim", latent_dim, 1)
        if isinstance(decoder_std, bool) or not isinstance(decoder_std, (int, float)) or not decoder_std > 0:
            raise ValueError(f"decoder_std must be a positive number, got {decoder_std!r}")
        self.latent_dim = latent_dim
        self.decoder_std = float(decoder_std)
        self.encoder = mlp(2, 2 * latent_dim, width, depth)
        self.decoder = mlp(latent_dim, 2, width, depth)

    def num_parameters(self) -> int:
        return _num_parameters(self)

    def encode(self, x: torch.Tensor) -> DiagonalGaussian:
        """Points ``(b, 2)`` -> the posterior ``q(z | x)`` over ``(b, latent_dim)``."""
        check_points(x, "x")
        return DiagonalGaussian.from_parameters(self.encoder(x), dim=1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents ``(b, latent_dim)`` -> decoder means ``(b, 2)``."""
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (b, {self.latent_dim}), got {describe(z)}")
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """``(reconstruction (b, 2), posterior)``, the reconstruction decoded from a reparameterised draw."""
        posterior = self.encode(x)
        return self.decode(posterior.sample(generator)), posterior

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` points ``(n, 2)``: decoder means of ``z ~ N(0, I)``, one decoder call."""
        check_int("n", n, 1)
        _check_generator(generator)
        device = _device_of(self)
        z = torch.randn(n, self.latent_dim, generator=generator, device=generator.device if generator else device)
        return self.decode(z.to(device))


def toy_vae_loss(model: ToyVAE, batch, generator: torch.Generator | None = None, beta: float = 1.0):
    """The negative ELBO per point, ``-log N(x; mu(z), s^2 I) + beta KL(q(z | x) || N(0, I))``.

    ``batch`` is ``(points,)`` (a :class:`~torch.utils.data.TensorDataset` batch) or a ``(b, 2)``
    tensor. Returns ``(loss, {"recon": ..., "kl": ...})`` in nats, the form
    :class:`~tinyvdm.train.Trainer` logs.
    """
    points = batch[0] if isinstance(batch, (list, tuple)) else batch
    check_points(points)
    reconstruction, posterior = model(points, generator)
    recon = gaussian_nll(points, reconstruction, model.decoder_std).mean()
    kl = posterior.kl().mean()
    return recon + beta * kl, {"recon": recon.item(), "kl": kl.item()}


# ---------------------------------------------------------------------------------------------
# Autoregressive


@dataclass(frozen=True)
class TokenGrid:
    """How a coordinate becomes a token: ``bins`` equal bins over ``[low, high)``."""

    bins: int = 128
    low: float = -2.2
    high: float = 2.2

    def __post_init__(self):
        check_int("bins", self.bins, 2)
        if not (isinstance(self.low, (int, float)) and isinstance(self.high, (int, float)) and self.low < self.high):
            raise ValueError(f"need numbers low < high, got low={self.low!r}, high={self.high!r}")

    @property
    def bin_width(self) -> float:
        return (self.high - self.low) / self.bins


def to_tokens(points: torch.Tensor, grid: TokenGrid) -> torch.Tensor:
    """Points ``(b, 2)`` -> tokens ``(b, 2)`` int64: the bin of each coordinate.

    Bin ``k`` holds ``[low + k w, low + (k + 1) w)`` with ``w = (high - low) / bins``; a coordinate
    outside ``[low, high)`` goes to the nearest end bin, so every point has a token.
    """
    check_points(points)
    index = torch.floor((points - grid.low) / grid.bin_width)
    return index.clamp(0, grid.bins - 1).long()


def from_tokens(tokens: torch.Tensor, grid: TokenGrid, generator: torch.Generator | None = None) -> torch.Tensor:
    """Tokens ``(b, 2)`` -> points ``(b, 2)``: each bin's centre, or a uniform draw inside it.

    With a ``generator`` the point is spread uniformly over its bin (dequantisation), so the
    model's samples form a density rather than a lattice of bin centres.
    """
    if not isinstance(tokens, torch.Tensor) or tokens.ndim != 2 or tokens.shape[1] != 2 \
            or tokens.is_floating_point() or tokens.dtype == torch.bool:
        raise ValueError(f"tokens must be an integer tensor of shape (b, 2), got {describe(tokens)}")
    if tokens.numel() and (tokens.min() < 0 or tokens.max() >= grid.bins):
        raise ValueError(f"tokens must lie in 0..{grid.bins - 1}, got {tokens.min().item()}..{tokens.max().item()}")
    _check_generator(generator)
    if generator is None:
        offset = torch.full(tokens.shape, 0.5, device=tokens.device)
    else:
        offset = torch.rand(tokens.shape, generator=generator, device=generator.device).to(tokens.device)
    return grid.low + (tokens.float() + offset) * grid.bin_width


def sample_token(logits: torch.Tensor, uniform: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """One token per row of ``logits`` ``(b, bins)`` from ``uniform`` draws ``(b,)`` in ``[0, 1)``: ``(b,)`` int64.

    Inverse-CDF sampling: with ``p = softmax(logits / temperature)`` and its running sum ``F``,
    the token is the first ``k`` with ``F[k] > u``, i.e. the number of ``k`` with ``F[k] <= u``.
    Given the uniforms the draw is a pure function, so it can be checked exactly.
    """
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or not logits.is_floating_point():
        raise ValueError(f"logits must be floating of shape (b, bins), got {describe(logits)}")
    if not isinstance(uniform, torch.Tensor) or uniform.shape != logits.shape[:1] or not uniform.is_floating_point():
        raise ValueError(f"uniform must be floating of shape (b,) = ({logits.shape[0]},), got {describe(uniform)}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    cdf = torch.softmax(logits.float() / temperature, dim=1).cumsum(dim=1)  # (b, bins)
    token = (cdf <= uniform.float()[:, None]).sum(dim=1)
    return token.clamp(max=logits.shape[1] - 1)  # rounding can leave F[-1] a hair below 1


class ToyAutoregressive(nn.Module):
    """``p(x, y) = p(x) p(y | x)`` over binned coordinates, one MLP for both factors.

    ``forward(inputs (b, n), start)`` reads the tokens that come *before* positions
    ``start .. start + n - 1`` and returns the logits of those positions ``(b, n, bins)``. The
    input of position 0 is a begin token (``BOS``, the extra row of the embedding), that of
    position 1 is the ``x`` token. Each position sees only its own input, so no position can read
    the coordinate it predicts: causal by construction. Training reads both positions in one call
    (teacher forcing); sampling needs two, because ``y``'s input is the ``x`` just drawn.
    """

    def __init__(self, grid: TokenGrid | None = None, width: int = 128, depth: int = 3):
        super().__init__()
        self.grid = TokenGrid() if grid is None else grid
        if not isinstance(self.grid, TokenGrid):
            raise TypeError(f"grid must be a TokenGrid or None, got {type(self.grid).__name__}")
        self.bos = self.grid.bins
        self.token_embed = nn.Embedding(self.grid.bins + 1, width)
        self.position_embed = nn.Embedding(2, width)
        self.net = mlp(width, self.grid.bins, width, depth)

    def num_parameters(self) -> int:
        return _num_parameters(self)

    def forward(self, inputs: torch.Tensor, start: int = 0) -> torch.Tensor:
        if not isinstance(inputs, torch.Tensor) or inputs.ndim != 2 or inputs.is_floating_point():
            raise ValueError(f"inputs must be integer tokens of shape (b, n), got {describe(inputs)}")
        check_int("start", start, 0, 1)
        n = inputs.shape[1]
        if not 1 <= start + n <= 2:
            raise ValueError(f"positions start .. start + n - 1 must lie in 0..1, got start={start}, n={n}")
        positions = torch.arange(start, start + n, device=inputs.device)
        h = self.token_embed(inputs) + self.position_embed(positions)  # (b, n, width)
        return self.net(h)  # (b, n, bins)

    def teacher_forced_inputs(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens ``(b, 2)`` -> inputs ``(b, 2)``: ``[BOS, x]``, the targets shifted right by one."""
        bos = torch.full_like(tokens[:, :1], self.bos)
        return torch.cat([bos, tokens[:, :1]], dim=1)

    @torch.no_grad()
    def sample_tokens(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """Ancestral sampling: ``n`` token pairs ``(n, 2)``, two network calls per batch."""
        check_int("n", n, 1)
        _check_generator(generator)
        device = _device_of(self)
        inputs = torch.full((n, 1), self.bos, dtype=torch.long, device=device)
        drawn = []
        for position in range(2):
            logits = self(inputs, start=position)[:, -1]  # (n, bins)
            uniform = torch.rand(n, generator=generator, device=generator.device if generator else device)
            token = sample_token(logits, uniform.to(device), temperature)  # (n,)
            drawn.append(token)
            inputs = token[:, None]  # the next position reads the token just drawn
        return torch.stack(drawn, dim=1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """``n`` points ``(n, 2)``: sampled tokens, spread uniformly over their bins."""
        tokens = self.sample_tokens(n, generator, temperature)
        return from_tokens(tokens, self.grid, generator)


def toy_ar_loss(model: ToyAutoregressive, batch, generator: torch.Generator | None = None):
    """Cross-entropy of both tokens, ``-log p(x) - log p(y | x)``, in nats per point.

    Returns ``(loss, {"bits_per_coordinate": ...})``. The discrete likelihood of a bin converts
    to a density by dividing by the bin width, so ``loss + 2 log(bin width)`` is the continuous
    negative log-likelihood, comparable with the VAE's bound.
    """
    points = batch[0] if isinstance(batch, (list, tuple)) else batch
    tokens = to_tokens(points, model.grid)  # (b, 2)
    logits = model(model.teacher_forced_inputs(tokens))  # (b, 2, bins)
    loss = nn.functional.cross_entropy(logits.flatten(0, 1).float(), tokens.flatten()) * 2
    return loss, {"bits_per_coordinate": loss.item() / 2 / 0.6931471805599453}


# ---------------------------------------------------------------------------------------------
# Sampling cost


class CallCount:
    """How many times the watched modules ran (``calls``) and how long the block took (``seconds``)."""

    def __init__(self):
        self.calls = 0
        self.seconds = 0.0


@contextlib.contextmanager
def count_calls(*modules: nn.Module):
    """Count forward calls of ``modules`` (top-level calls only) and time the block.

    >>> with count_calls(model) as count:
    ...     model.sample(1000)
    >>> count.calls, count.seconds

    A GPU's work is asynchronous, so the clock is read after a CUDA synchronise.
    """
    if not modules or not all(isinstance(m, nn.Module) for m in modules):
        raise TypeError(f"count_calls needs one or more nn.Modules, got {[type(m).__name__ for m in modules]}")
    count = CallCount()

    def hook(module, args, output):
        count.calls += 1

    handles = [m.register_forward_hook(hook) for m in modules]
    start = time.perf_counter()
    try:
        yield count
    finally:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        count.seconds = time.perf_counter() - start
        for handle in handles:
            handle.remove()


def points_dataset(points: torch.Tensor) -> TensorDataset:
    """A dataset of ``(point,)`` items for :class:`~tinyvdm.train.Trainer`."""
    check_points(points)
    return TensorDataset(points)
