import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tinyvdm.models.gan import (
    GAN_CONFIGS,
    GANConfig,
    VideoDiscriminator,
    VideoGenerator,
    discriminator_loss,
    gan_config,
    gan_step,
    generator_loss,
    make_optimizers,
    r1_penalty,
)


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def tiny_pair(**overrides):
    config = gan_config("tiny", **overrides)
    torch.manual_seed(0)
    return VideoGenerator(config), VideoDiscriminator(config), config


def test_named_sizes():
    assert set(GAN_CONFIGS) == {"tiny", "small"}
    assert gan_config("tiny").clip_shape == (8, 3, 16, 16)
    assert gan_config("small").clip_shape == (8, 3, 32, 32)
    with pytest.raises(ValueError, match="unknown GAN size"):
        gan_config("huge")
    with pytest.raises(ValueError, match="size must be"):
        GANConfig(size=24)
    with pytest.raises(ValueError, match="loss must be one of"):
        GANConfig(loss="wasserstein")


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_generator_shape_and_range(name):
    torch.manual_seed(0)
    generator = VideoGenerator.from_name(name)
    config = generator.config
    clips = generator(torch.randn(3, config.z_dim) * 5)  # large noise pushes tanh towards its limits
    assert clips.shape == (3, *config.clip_shape)
    assert clips.min() >= -1 and clips.max() <= 1
    assert clips.std() > 0.01  # not a constant
    assert generator.sample(2).shape == (2, *config.clip_shape)


@pytest.mark.parametrize("frames", [1, 2, 4, 6])
def test_other_frame_counts(frames):
    config = gan_config("tiny", frames=frames)
    clips = VideoGenerator(config)(torch.randn(2, config.z_dim))
    assert clips.shape == (2, frames, 3, 16, 16)
    assert VideoDiscriminator(config)(clips).shape == (2,)


@pytest.mark.parametrize("spectral", [True, False])
def test_discriminator_gives_one_logit_per_clip(spectral):
    _, discriminator, config = tiny_pair(spectral_norm=spectral)
    logits = discriminator(torch.rand(4, *config.clip_shape) * 2 - 1)
    assert logits.shape == (4,) and torch.isfinite(logits).all()


def test_spectral_norm_keeps_largest_singular_value_near_one():
    _, discriminator, config = tiny_pair(spectral_norm=True)
    x = torch.randn(2, *config.clip_shape)
    with torch.no_grad():
        for _ in range(30):  # each train-mode forward runs one power-iteration step
            discriminator(x)
    discriminator.eval()
    layers = [m for m in discriminator.modules() if isinstance(m, (nn.Conv3d, nn.Linear))]
    assert len(layers) == config.levels + 2
    for layer in layers:
        weight = layer.weight.detach().reshape(layer.weight.shape[0], -1)  # (out, in * kernel)
        sigma = torch.linalg.matrix_norm(weight, ord=2)
        assert abs(float(sigma) - 1) < 0.05, (layer, float(sigma))
    # Without it the raw weights are not normalised.
    _, plain, _ = tiny_pair(spectral_norm=False)
    sigmas = [float(torch.linalg.matrix_norm(m.weight.detach().reshape(m.weight.shape[0], -1), ord=2))
              for m in plain.modules() if isinstance(m, (nn.Conv3d, nn.Linear))]
    assert max(abs(s - 1) for s in sigmas) > 0.1


def test_losses_match_hand_formulas():
    real = torch.tensor([2.0, -0.5, 0.3])
    fake = torch.tensor([-1.0, 0.7, 0.0])
    sigmoid = torch.sigmoid
    hand_d = (-torch.log(sigmoid(real))).mean() + (-torch.log(1 - sigmoid(fake))).mean()
    assert torch.allclose(discriminator_loss(real, fake, "non_saturating"), hand_d, atol=1e-6)
    assert torch.allclose(generator_loss(fake, "non_saturating"), (-torch.log(sigmoid(fake))).mean(), atol=1e-6)
    hand_hinge = torch.clamp(1 - real, min=0).mean() + torch.clamp(1 + fake, min=0).mean()
    assert torch.allclose(discriminator_loss(real, fake, "hinge"), hand_hinge)
    assert torch.allclose(generator_loss(fake, "hinge"), -fake.mean())


def test_hinge_is_zero_beyond_the_margins():
    real = torch.tensor([1.0, 3.0, 10.0])
    fake = torch.tensor([-1.0, -2.5, -7.0])
    assert discriminator_loss(real, fake, "hinge") == 0
    assert discriminator_loss(real - 0.1, fake, "hinge") > 0


def test_loss_arguments_are_checked():
    with pytest.raises(ValueError, match="kind must be one of"):
        generator_loss(torch.zeros(2), "wgan")
    with pytest.raises(ValueError, match=r"shape \(b,\)"):
        discriminator_loss(torch.zeros(2, 1), torch.zeros(2))


class LinearDiscriminator(nn.Module):
    def __init__(self, size: int):
        super().__init__()
        self.linear = nn.Linear(size, 1)

    def forward(self, x):
        return self.linear(x.flatten(1)).squeeze(1)


def test_r1_equals_the_squared_weight_norm_of_a_linear_discriminator():
    torch.manual_seed(0)
    discriminator = LinearDiscriminator(2 * 3 * 4)
    real = torch.randn(5, 2, 3, 4)
    # D(x) = w.x + b, so grad_x D = w for every clip and R1 = ||w||^2.
    expected = discriminator.linear.weight.pow(2).sum()
    penalty = r1_penalty(discriminator, real)
    assert torch.allclose(penalty, expected)
    # create_graph=True: the penalty trains D; d ||w||^2 / dw = 2w.
    penalty.backward()
    assert torch.allclose(discriminator.linear.weight.grad, 2 * discriminator.linear.weight)
    assert not real.requires_grad


def test_r1_of_a_nonlinear_discriminator_matches_autograd_per_clip():
    _, discriminator, config = tiny_pair(spectral_norm=False)
    real = torch.randn(2, *config.clip_shape)
    norms = []
    for clip in real:
        clip = clip[None].clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(discriminator(clip).sum(), clip)
        norms.append(grad.pow(2).sum())
    assert torch.allclose(r1_penalty(discriminator, real), torch.stack(norms).mean(), rtol=1e-4)


def run_step(seed=0, **overrides):
    generator, discriminator, config = tiny_pair(**overrides)
    opt_g, opt_d = make_optimizers(generator, discriminator, config)
    real = torch.rand(4, *config.clip_shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
    stats = gan_step(generator, discriminator, opt_g, opt_d, real, torch.Generator().manual_seed(seed), config)
    return generator, discriminator, stats


@pytest.mark.parametrize("loss, gamma", [("non_saturating", 1.0), ("hinge", 0.0)])
def test_gan_step_trains_both_networks(loss, gamma):
    before_g, before_d, config = tiny_pair()
    after_g, after_d, stats = run_step(loss=loss, r1_gamma=gamma)
    assert set(stats) == {"d_loss", "g_loss", "r1", "d_real", "d_fake"}
    assert all(isinstance(v, float) and torch.isfinite(torch.tensor(v)) for v in stats.values())
    assert (stats["r1"] > 0) == (gamma > 0)
    for before, after in ((before_g, after_g), (before_d, after_d)):
        changed = [not torch.equal(a, b) for a, b in zip(before.state_dict().values(), after.state_dict().values())
                   if a.is_floating_point()]
        assert any(changed)
    assert all(p.requires_grad for p in after_d.parameters())  # D is unfrozen after the G step


def test_two_optimizers_use_their_own_learning_rates():
    generator, discriminator, config = tiny_pair(lr_g=1e-4, lr_d=3e-4)
    opt_g, opt_d = make_optimizers(generator, discriminator, config)
    assert opt_g.param_groups[0]["lr"] == 1e-4 and opt_d.param_groups[0]["lr"] == 3e-4
    assert opt_g.param_groups[0]["betas"] == (0.0, 0.99)


def test_gan_step_is_deterministic_with_a_seeded_generator():
    g1, d1, stats1 = run_step(seed=3, r1_gamma=1.0)
    g2, d2, stats2 = run_step(seed=3, r1_gamma=1.0)
    assert stats1 == stats2
    for a, b in zip(g1.state_dict().values(), g2.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(d1.state_dict().values(), d2.state_dict().values()):
        assert torch.equal(a, b)
    _, _, stats3 = run_step(seed=4, r1_gamma=1.0)
    assert stats3 != stats1
    sample1 = g1.sample(2, generator=torch.Generator().manual_seed(0))
    sample2 = g1.sample(2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(sample1, sample2)


def test_bad_shapes_raise_naming_the_expected_shape():
    generator, discriminator, config = tiny_pair()
    with pytest.raises(ValueError, match=r"\(b, 32\)"):
        generator(torch.randn(2, 16))
    with pytest.raises(ValueError, match=r"\(b, 8, 3, 16, 16\)"):
        discriminator(torch.randn(2, 8, 3, 32, 32))
    with pytest.raises(ValueError, match=r"\(b, 8, 3, 16, 16\)"):
        discriminator(torch.randn(8, 3, 16, 16))
    opt_g, opt_d = make_optimizers(generator, discriminator, config)
    with pytest.raises(ValueError, match=r"real must be .*\(b, 8, 3, 16, 16\)"):
        gan_step(generator, discriminator, opt_g, opt_d, torch.randn(2, 4, 3, 16, 16), None, config)
    with pytest.raises(ValueError, match="n must be a positive int"):
        generator.sample(0)


def test_a_few_steps_separate_real_from_fake():
    """A short game on one batch: D learns to score the real clips above the generator's."""
    generator, discriminator, config = tiny_pair()
    opt_g, opt_d = make_optimizers(generator, discriminator, config)
    real = torch.zeros(4, *config.clip_shape)
    real[:, :, :, 4:12, 4:12] = 1.0  # a white square on black
    real = real * 2 - 1
    z_generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        stats = gan_step(generator, discriminator, opt_g, opt_d, real, z_generator, config)
    assert stats["d_real"] > stats["d_fake"]
    assert F.softplus(-torch.tensor(stats["d_real"])) < 0.7  # better than chance (log 2 = 0.69)
