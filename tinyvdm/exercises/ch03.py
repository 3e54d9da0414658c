"""Checks for chapter 03, the video GAN (``exercises/03_gan.py``)."""

from __future__ import annotations

import torch
from torch import nn

from tinyvdm.exercises.compare import assert_close
from tinyvdm.exercises.registry import Mismatch, exercise
from tinyvdm.models.gan import VideoDiscriminator, discriminator_loss, gan_config, r1_penalty, spectral_norm_step


@exercise("03.discriminator_loss", "discriminator_loss",
          "D's loss on real and fake logits (b,): kind 'hinge' or 'non_saturating', a mean over the batch")
def check_discriminator_loss(fn) -> str:
    gen = torch.Generator().manual_seed(3)
    cases = []
    for b_real, b_fake, spread in [(5, 5, 2.0), (3, 7, 0.5), (8, 4, 4.0)]:
        cases.append((torch.randn(b_real, generator=gen) * spread + 0.5, torch.randn(b_fake, generator=gen) * spread - 0.5))
    # Logits beyond the hinge's margins, where only some terms count.
    cases.append((torch.tensor([2.0, 0.5, 1.5, -0.3]), torch.tensor([-3.0, -0.2, 0.8, -1.5])))
    for kind in ("hinge", "non_saturating"):
        for real, fake in cases:
            expected = discriminator_loss(real, fake, kind)
            assert_close(fn(real.clone(), fake.clone(), kind), expected, what="the loss",
                         case=f"kind={kind!r}, real logits {[round(x, 2) for x in real.tolist()]}, "
                              f"fake logits {[round(x, 2) for x in fake.tolist()]}")
    return "both losses right on 4 batches of logits, margins and unequal batch sizes included"


class _SmallD(nn.Module):
    """A small nonlinear discriminator on (b, 2, 3, 4, 4) clips, so the gradient depends on x."""

    def __init__(self, seed: int):
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(96, 16), nn.Tanh(), nn.Linear(16, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)


@exercise("03.r1_penalty", "r1_penalty",
          "E_x ||grad_x D(x)||^2 on real clips, differentiable with respect to D's weights")
def check_r1_penalty(fn) -> str:
    gen = torch.Generator().manual_seed(4)
    models = [(_SmallD(0), (3, 2, 3, 4, 4)), (_SmallD(1), (5, 2, 3, 4, 4))]
    torch.manual_seed(2)
    video_d = VideoDiscriminator(gan_config("tiny", frames=2, spectral_norm=False))
    models.append((video_d, (2, 2, 3, 16, 16)))
    for discriminator, shape in models:
        real = torch.randn(shape, generator=gen)
        expected = r1_penalty(discriminator, real)
        case = f"a {type(discriminator).__name__} on real clips of shape {shape}"
        got = fn(discriminator, real.clone())
        assert_close(got, expected, what="the penalty", case=case, rtol=1e-4, atol=1e-6)
        if real.requires_grad:
            raise Mismatch(f"{case}: the penalty must not change the real clips you were given (requires_grad set)")
        # The penalty trains D: its gradient with respect to D's weights must be the library's.
        # (The last bias does not change grad_x D, so autograd reports no gradient for it: read as 0.)
        params = [p for p in discriminator.parameters()]
        expected_grads = torch.autograd.grad(expected, params, allow_unused=True)
        if not got.requires_grad:
            raise Mismatch(f"{case}: the penalty has no gradient with respect to D's weights; "
                           "the gradient of D must itself be differentiable (create_graph=True)")
        got_grads = torch.autograd.grad(got, params, allow_unused=True)
        for (name, p), g, e in zip(discriminator.named_parameters(), got_grads, expected_grads):
            g = torch.zeros_like(p) if g is None else g
            e = torch.zeros_like(p) if e is None else e
            assert_close(g, e, what=f"the gradient of the penalty with respect to {name}", case=case,
                         rtol=1e-4, atol=1e-6)
    return "3 discriminators: the penalty and its gradient with respect to every weight of D are right"


@exercise("03.spectral_norm_step", "spectral_norm_step",
          "one power-iteration step: W (out, ...) and v -> (u, v_new, sigma), as torch's spectral_norm does it")
def check_spectral_norm_step(fn) -> str:
    gen = torch.Generator().manual_seed(5)
    shapes = [(4, 6), (7, 3), (5, 2, 3, 3), (8, 3, 3, 3, 3)]
    for shape in shapes:
        weight = torch.randn(shape, generator=gen)
        v = torch.nn.functional.normalize(torch.randn(weight[0].numel(), generator=gen), dim=0)
        expected = spectral_norm_step(weight, v)
        got = fn(weight.clone(), v.clone())
        if not isinstance(got, tuple) or len(got) != 3:
            raise Mismatch(f"weight of shape {shape}: expected a tuple (u, v_new, sigma), got {type(got).__name__}")
        for name, g, e in zip(("u", "v_new", "sigma"), got, expected):
            assert_close(g, e, what=name, case=f"weight of shape {shape}", rtol=1e-4, atol=1e-5)
    return "4 weights (linear and convolution kernels): u, v and sigma exactly as torch's spectral_norm computes them"
