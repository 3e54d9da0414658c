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


# --- sample_diversity, fit_gan, spectral_norm_step ------------------------------------------------

from tinyvdm.metrics.sharpness import pairwise_distance as sample_diversity  # noqa: E402
from tinyvdm.models.gan import GANRun, fit_gan, spectral_norm_step  # noqa: E402


def test_sample_diversity_matches_the_pairwise_definition():
    gen = torch.Generator().manual_seed(0)
    videos = torch.randn(5, 2, 3, 4, 4, generator=gen)
    flat = videos.flatten(1)
    pairs = [torch.sqrt(((flat[i] - flat[j]) ** 2).mean()) for i in range(5) for j in range(5) if i != j]
    assert abs(sample_diversity(videos) - float(torch.stack(pairs).mean())) < 1e-6
    assert sample_diversity(videos[:1].repeat(4, 1, 1, 1, 1)) < 1e-6  # a collapsed generator
    two = torch.stack([torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)])
    assert abs(sample_diversity(two) - 1.0) < 1e-9
    with pytest.raises(ValueError, match="at least 2 clips"):
        sample_diversity(videos[:1])
    with pytest.raises(ValueError, match=r"\(b, t, c, h, w\)"):
        sample_diversity(videos[0])


def test_fit_gan_records_steps_snapshots_and_an_average():
    generator, discriminator, config = tiny_pair()
    pool = torch.rand(16, *config.clip_shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    seen, weights = [], []

    def on_snapshot(step, clips):
        seen.append(step)
        weights.append([p.detach().clone() for p in generator.parameters()])

    run = fit_gan(generator, discriminator, pool, steps=5, batch_size=4, snapshot_every=2, snapshot_clips=3,
                  ema_decay=0.5, on_snapshot=on_snapshot)
    assert isinstance(run, GANRun) and len(run.history) == 5 and run.seconds > 0
    assert run.snapshot_steps == seen == [0, 2, 4, 5]
    assert all(s.shape == (3, *config.clip_shape) for s in run.snapshots + run.ema_snapshots)
    assert len(run.diversity) == len(run.ema_diversity) == 4
    assert run.series("d_loss") == [h["d_loss"] for h in run.history]
    # The snapshots come from fixed noise: at step 0 the average equals the generator.
    assert torch.equal(run.snapshots[0], run.ema_snapshots[0])
    assert not any(p.requires_grad for p in run.ema_generator.parameters())
    with pytest.raises(ValueError, match="unknown history key"):
        run.series("fid")


def test_fit_gan_average_is_the_exponential_moving_average_of_the_weights():
    generator, discriminator, config = tiny_pair()
    pool = torch.rand(16, *config.clip_shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    weights = []
    run = fit_gan(generator, discriminator, pool, steps=3, batch_size=4, snapshot_every=1, snapshot_clips=2,
                  ema_decay=0.5, on_snapshot=lambda step, clips: weights.append(
                      [p.detach().clone() for p in generator.parameters()]))
    # ema_0 = w_0; ema_k = 0.5 ema_{k-1} + 0.5 w_k.
    expected = weights[0]
    for w in weights[1:]:
        expected = [0.5 * e + 0.5 * x for e, x in zip(expected, w)]
    for e, average in zip(expected, run.ema_generator.parameters()):
        assert torch.allclose(average, e, atol=1e-6)


def test_fit_gan_is_reproducible_and_checks_its_arguments():
    pool = torch.rand(8, 8, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    runs = []
    for _ in range(2):
        generator, discriminator, _ = tiny_pair()
        runs.append(fit_gan(generator, discriminator, pool, steps=2, batch_size=2, seed=3, snapshot_clips=2))
    assert runs[0].history == runs[1].history
    assert torch.equal(runs[0].snapshots[-1], runs[1].snapshots[-1])
    generator, discriminator, _ = tiny_pair()
    with pytest.raises(ValueError, match="steps must be a positive int"):
        fit_gan(generator, discriminator, pool, steps=0)
    with pytest.raises(ValueError, match="ema_decay"):
        fit_gan(generator, discriminator, pool, steps=1, ema_decay=1.0)
    with pytest.raises(ValueError, match=r"videos must be .*\(b, 8, 3, 16, 16\)"):
        fit_gan(generator, discriminator, pool[:, :4], steps=1)


def test_spectral_norm_step_matches_torch_parametrization():
    torch.manual_seed(0)
    conv = torch.nn.utils.parametrizations.spectral_norm(torch.nn.Conv3d(3, 5, kernel_size=3))
    parametrization = conv.parametrizations.weight[0]
    raw = conv.parametrizations.weight.original.detach().clone()
    v_before = parametrization._v.clone()
    conv.train()
    normalised = conv.weight  # one power-iteration step runs here
    u, v, sigma = spectral_norm_step(raw, v_before)
    assert torch.allclose(u, parametrization._u, atol=1e-6) and torch.allclose(v, parametrization._v, atol=1e-6)
    assert torch.allclose(normalised, raw / sigma, atol=1e-6)
    # Repeated, sigma converges to the largest singular value.
    for _ in range(100):
        u, v, sigma = spectral_norm_step(raw, v)
    assert abs(float(sigma) - float(torch.linalg.matrix_norm(raw.reshape(5, -1), ord=2))) < 1e-4
    with pytest.raises(ValueError, match=r"v must have shape \(81,\)"):
        spectral_norm_step(raw, torch.ones(5))


# --- instability -----------------------------------------------------------------------------
from tinyvdm.models.gan import Instability, instability  # noqa: E402


def test_instability_measures_written_out_by_hand():
    d_loss = [1.0, 1.2, 0.9, 5.0, 1.1]  # median 1.1: only 5.0 is above 3x
    d_real = [0.5, 0.4, 2.0, 0.1, 0.3]
    d_fake = [-0.5, -0.2, -1.5, 0.2, -0.4]
    history = [dict(d_loss=a, d_real=b, d_fake=c, g_loss=0.0, r1=0.0) for a, b, c in zip(d_loss, d_real, d_fake)]
    result = instability(history)
    assert result == instability({"d_loss": d_loss, "d_real": d_real, "d_fake": d_fake})
    assert result.spikes == 1
    assert result.peak == 5.0
    assert result.gap == pytest.approx(3.5)
    mean = sum(d_loss) / 5
    assert result.swing == pytest.approx((sum((x - mean) ** 2 for x in d_loss) / 5) ** 0.5)
    assert instability(history, spike_factor=0.5).spikes == 5
    assert isinstance(result, Instability)


def test_instability_reads_a_gan_run_and_rejects_bad_input():
    run = GANRun(history=[dict(d_loss=1.0, d_real=0.0, d_fake=0.0)] * 3, snapshot_steps=[], snapshots=[],
                 diversity=[], seconds=0.0)
    assert instability(run) == Instability(swing=0.0, peak=1.0, gap=0.0, spikes=0)
    with pytest.raises(ValueError, match="non-empty"):
        instability([])
    with pytest.raises(ValueError, match="lacks"):
        instability({"d_loss": [1.0]})
    with pytest.raises(ValueError, match="one length"):
        instability({"d_loss": [1.0, 2.0], "d_real": [0.0], "d_fake": [0.0]})
    with pytest.raises(TypeError, match="GANRun"):
        instability(3.0)
