import math

import pytest
import torch
from torch.distributions import Independent, Normal, kl_divergence
from torch.utils.data import TensorDataset

from tinyvdm.data.bouncing_shapes import BouncingShapes
from tinyvdm.models.vae import (
    VAE_CONFIGS,
    DiagonalGaussian,
    VAEConfig,
    VideoVAE,
    active_units,
    bits_per_dim,
    estimate_latent_scale,
    free_bits_kl,
    gaussian_nll,
    kl_weight,
    posterior_means,
    vae_loss,
)
from tinyvdm.train import TrainConfig, Trainer

SHAPE = (2, 4, 3, 16, 16)  # b t c h w


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def tiny(**overrides) -> VideoVAE:
    torch.manual_seed(0)
    return VideoVAE.from_name("tiny", **overrides)


def clips(n=2, frames=4, size=16, seed=0) -> torch.Tensor:
    data = BouncingShapes(n, frames=frames, size=size, seed=seed)
    return torch.stack([data[i]["video"] for i in range(n)])


def gaussian(shape=(3, 2, 4, 5), seed=0) -> DiagonalGaussian:
    generator = torch.Generator().manual_seed(seed)
    return DiagonalGaussian(torch.randn(shape, generator=generator), torch.randn(shape, generator=generator))


def test_shapes_with_and_without_temporal_downsampling():
    x = torch.rand(SHAPE) * 2 - 1
    model = tiny()
    posterior = model.encode(x)
    assert posterior.shape == (2, 4, 4, 4, 4) == model.latent_shape(SHAPE)  # (b, t', z, h/4, w/4)
    recon, posterior = model(x)
    assert recon.shape == SHAPE
    assert model.decode(posterior.sample()).shape == SHAPE
    squeezed = tiny(temporal_downsample=2, latent_channels=3)
    assert squeezed.encode(x).shape == (2, 2, 3, 4, 4) == squeezed.latent_shape(SHAPE)
    assert squeezed(x)[0].shape == SHAPE
    flat = tiny(temporal=False, channel_mults=(1, 2))  # 2x spatial, no layers across frames
    assert flat.encode(x).shape == (2, 4, 4, 8, 8)


def test_named_sizes_build():
    for name in VAE_CONFIGS:
        assert VideoVAE.from_name(name).num_parameters() > 0
    with pytest.raises(ValueError, match="unknown VAE size"):
        VideoVAE.from_name("huge")


def test_seeded_generator_gives_the_same_sample_and_loss():
    x = clips()
    model = tiny()
    losses = [vae_loss(model, x, torch.Generator().manual_seed(7))[0] for _ in range(2)]
    assert torch.equal(losses[0], losses[1])
    other = vae_loss(model, x, torch.Generator().manual_seed(8))[0]
    assert not torch.equal(losses[0], other)
    posterior = model.encode(x)
    assert torch.equal(posterior.sample(torch.Generator().manual_seed(3)),
                       posterior.sample(torch.Generator().manual_seed(3)))
    assert torch.equal(model.reconstruct(x), model.reconstruct(x))


def test_frame_by_frame_vae_never_mixes_frames():
    model = tiny(temporal=False)
    x = clips()
    perturbed = x.clone()
    perturbed[:, 2] = -perturbed[:, 2]
    before, after = model.reconstruct(x), model.reconstruct(perturbed)
    assert torch.equal(before[:, [0, 1, 3]], after[:, [0, 1, 3]])
    assert not torch.equal(before[:, 2], after[:, 2])


def test_kl_between_diagonal_gaussians_matches_torch_distributions():
    p, q = gaussian(seed=0), gaussian(seed=1)
    reference = kl_divergence(Independent(Normal(p.mean, p.std), 3), Independent(Normal(q.mean, q.std), 3))
    assert torch.allclose(p.kl(q), reference, rtol=1e-5, atol=1e-5)
    standard = Independent(Normal(torch.zeros_like(p.mean), torch.ones_like(p.mean)), 3)
    prior_kl = kl_divergence(Independent(Normal(p.mean, p.std), 3), standard)
    assert torch.allclose(p.kl(), prior_kl, rtol=1e-5, atol=1e-5)
    assert torch.allclose(p.kl(p), torch.zeros(3), atol=1e-6)
    z = p.sample(torch.Generator().manual_seed(0))
    assert torch.allclose(p.nll(z), -Independent(Normal(p.mean, p.std), 3).log_prob(z), rtol=1e-5)


def test_kl_to_standard_normal_is_zero_exactly_at_the_prior():
    zeros = torch.zeros(2, 3, 4)
    assert torch.equal(DiagonalGaussian(zeros, zeros).kl(), torch.zeros(2))
    for mean, logvar in ((zeros + 1e-3, zeros), (zeros, zeros + 1e-2), (zeros, zeros - 1e-2)):
        assert (DiagonalGaussian(mean, logvar).kl() > 0).all()


def test_posterior_clamps_logvar_and_checks_its_inputs():
    huge = DiagonalGaussian(torch.zeros(1, 2), torch.tensor([[100.0, -100.0]]))
    assert torch.isfinite(huge.var).all() and huge.logvar.tolist() == [[20.0, -30.0]]
    with pytest.raises(ValueError, match="same shape"):
        DiagonalGaussian(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="even size"):
        DiagonalGaussian.from_parameters(torch.zeros(1, 2, 3, 4, 4))


def test_reparameterised_sample_passes_gradients_to_mean_and_logvar():
    mean = torch.zeros(2, 5, requires_grad=True)
    logvar = torch.zeros(2, 5, requires_grad=True)
    z = DiagonalGaussian(mean, logvar).sample(torch.Generator().manual_seed(0))
    z.pow(2).sum().backward()
    assert mean.grad.abs().sum() > 0 and logvar.grad.abs().sum() > 0


def test_reparameterised_samples_have_the_posterior_statistics():
    mean, logvar = torch.full((20000, 1), 1.5), torch.full((20000, 1), math.log(0.25))
    z = DiagonalGaussian(mean, logvar).sample(torch.Generator().manual_seed(0))
    assert abs(z.mean().item() - 1.5) < 0.02 and abs(z.std().item() - 0.5) < 0.02


def test_kl_annealing_schedules():
    assert kl_weight(0, beta=2.0, schedule="constant") == 2.0
    assert [kl_weight(s, beta=1.0, warmup_steps=4) for s in (0, 1, 2, 4, 100)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    assert kl_weight(3, beta=0.5, warmup_steps=0) == 0.5
    cyclical = [kl_weight(s, beta=1.0, schedule="cyclical", cycle_steps=8, ramp_fraction=0.5) for s in range(10)]
    assert cyclical == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0, 0.0, 0.25]
    with pytest.raises(ValueError, match="cycle_steps"):
        kl_weight(3, schedule="cyclical")
    with pytest.raises(ValueError, match="schedule"):
        kl_weight(3, schedule="sigmoid")
    with pytest.raises(ValueError, match="step"):
        kl_weight(-1)


def test_bits_per_dim_and_the_loss_agree_with_the_formula():
    x = clips()
    model = tiny()
    generator = torch.Generator().manual_seed(0)
    loss, logs = vae_loss(model, x, generator, beta=0.5)
    recon, posterior = model(x, generator=torch.Generator().manual_seed(0))
    dims = x[0].numel()
    std = model.config.decoder_std
    by_hand = ((x - recon).pow(2).flatten(1).sum(1) / (2 * std**2)
               + dims * 0.5 * math.log(2 * math.pi * std**2))
    assert torch.allclose(gaussian_nll(x, recon, std), by_hand, rtol=1e-5)
    kl = posterior.kl()
    assert torch.allclose(loss, (by_hand + 0.5 * kl).mean() / dims, rtol=1e-5)
    expected_bpd = ((by_hand + kl) / (dims * math.log(2)) + math.log2(127.5)).mean().detach()
    assert logs["bpd"] == pytest.approx(float(expected_bpd), rel=1e-5)
    assert set(logs) >= {"recon", "kl", "bpd"}
    # A density of 1/2 on [-1, 1] gives each 2/255-wide level 1/255 of probability: log2(255) bits.
    assert float(bits_per_dim(torch.tensor(10 * math.log(2.0)), 10)) == pytest.approx(math.log2(255))


def test_one_batch_overfit():
    x = clips(n=2, frames=4, size=16)
    model = tiny()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    first = None
    for _ in range(100):
        loss, logs = vae_loss(model, x, generator, beta=0.01)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = logs["mse"] if first is None else first
    assert logs["mse"] < 0.03 * first, (first, logs)  # about 0.93 -> 0.01 measured


def test_trainer_runs_vae_loss_with_kl_annealing():
    data = TensorDataset(clips(n=8, frames=4, size=16))
    trainer = None

    def loss_fn(model, batch, generator):
        return vae_loss(model, batch, generator, beta=kl_weight(trainer.step, beta=1.0, warmup_steps=4))

    config = TrainConfig(steps=3, batch_size=4, progress=False, device="cpu")
    trainer = Trainer(tiny(), loss_fn, data, config)  # bound before fit(), which reads trainer.step
    trainer.fit()
    assert [record["beta"] for record in trainer.history] == [0.0, 0.25, 0.5]
    assert all({"recon", "kl", "bpd"} <= set(record) for record in trainer.history)


def test_active_units_counts_dimensions_that_vary_across_data():
    generator = torch.Generator().manual_seed(0)
    means = torch.randn(100, 2, 3, 2, 2, generator=generator)  # (n, t', z, h', w'): 24 units
    means[:, :, 1] = 0.7  # channel 1 collapsed: the same value for every clip
    means[:, 0, 2] *= 0.01  # variance 1e-4, below the threshold
    assert active_units(means) == 24 - 8 - 4
    assert active_units(means, threshold=0.0) == 24 - 8
    with pytest.raises(ValueError, match="n >= 2"):
        active_units(torch.zeros(1, 4))


def test_latent_scale_gives_unit_variance_latents_and_round_trips():
    x = clips(n=6, frames=4, size=16)
    model = tiny().eval()
    scale = estimate_latent_scale(model, x, batch_size=4, generator=torch.Generator().manual_seed(0))
    assert float(model.latent_scale) == pytest.approx(scale)
    latents = model.encode_latents(x, generator=torch.Generator().manual_seed(0))
    assert latents.std().item() == pytest.approx(1.0, abs=1e-3)  # same samples as the estimate
    assert "latent_scale" in model.state_dict()
    with torch.no_grad():
        assert torch.allclose(model.decode_latents(model.encode_latents(x, sample=False)), model.reconstruct(x),
                              atol=1e-5)
    assert posterior_means(model, x, batch_size=4).shape == (6,) + model.latent_shape(x.shape)[1:]


def test_bad_shapes_raise_naming_the_expected_shape():
    model = tiny()
    with pytest.raises(ValueError, match=r"\(b, t, 3, h, w\)"):
        model.encode(torch.zeros(4, 3, 16, 16))  # no time axis
    with pytest.raises(ValueError, match=r"\(b, t, 3, h, w\)"):
        model.encode(torch.zeros(1, 4, 1, 16, 16))  # wrong channels
    with pytest.raises(ValueError, match="divisible by 4"):
        model.encode(torch.zeros(1, 4, 3, 18, 16))
    with pytest.raises(ValueError, match="t divisible by 2"):
        tiny(temporal_downsample=2).encode(torch.zeros(1, 3, 3, 16, 16))
    with pytest.raises(ValueError, match=r"\(b, t', 4, h', w'\)"):
        model.decode(torch.zeros(1, 4, 3, 4, 4))
    with pytest.raises(ValueError, match="batch must be"):
        vae_loss(model, "not a batch")
    with pytest.raises(ValueError, match="temporal_downsample"):
        VAEConfig(temporal_downsample=3)
    with pytest.raises(ValueError, match="decoder_std"):
        VAEConfig(decoder_std=0.0)


def test_free_bits_charges_at_least_the_floor_per_unit_on_the_batch_mean():
    kl = torch.tensor([[0.1, 2.0, 0.0], [0.3, 4.0, 0.0]])  # (b=2, units=3): batch means 0.2, 3.0, 0.0
    assert torch.allclose(free_bits_kl(kl, 0.0), torch.tensor(3.2))
    assert torch.allclose(free_bits_kl(kl, 0.5), torch.tensor(0.5 + 3.0 + 0.5))
    # The max acts on the batch mean: a unit that carries 0.9 nats for one clip and 0 for the other
    # is charged its mean 0.45 -> the floor 0.5, not 0.9 + 0.5.
    assert torch.allclose(free_bits_kl(torch.tensor([[0.9], [0.0]]), 0.5), torch.tensor(0.5))
    # Below the floor a unit gets no gradient; above it, the plain KL's gradient 1 / b.
    kl = kl.clone().requires_grad_(True)
    free_bits_kl(kl, 0.5).backward()
    assert torch.equal(kl.grad, torch.tensor([[0.0, 0.5, 0.0], [0.0, 0.5, 0.0]]))
    # Units may be a grid: every axis after the batch counts.
    grid = torch.rand(4, 2, 3, 5)
    assert torch.allclose(free_bits_kl(grid, 0.25), grid.flatten(1).mean(0).clamp(min=0.25).sum())


def test_free_bits_checks_its_inputs():
    with pytest.raises(ValueError, match="kl_per_unit must be"):
        free_bits_kl(torch.zeros(3), 0.1)
    with pytest.raises(ValueError, match="free_bits must be"):
        free_bits_kl(torch.zeros(2, 3), -0.1)


def test_vae_loss_with_free_bits_charges_the_floor():
    model = tiny()
    x = clips()
    loss, logs = vae_loss(model, x, torch.Generator().manual_seed(0), free_bits=1e6)
    plain, plain_logs = vae_loss(model, x, torch.Generator().manual_seed(0))
    units = model.latent_shape(tuple(x.shape))
    dims = x[0].numel()
    # Every unit far below a huge floor: the KL charged is the floor times the units, a constant.
    expected = plain - plain_logs["kl"] + 1e6 * math.prod(units[1:]) / dims
    assert torch.allclose(loss, torch.tensor(expected, dtype=loss.dtype), rtol=1e-4)
    assert logs["kl"] == pytest.approx(plain_logs["kl"])
