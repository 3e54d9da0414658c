"""The toy GAN, VAE and autoregressive model of chapter 01: tokens, sampling, losses, call counts."""

import math

import numpy as np
import pytest
import torch

from tinyvdm.diffusion import DDIMSampler, NoiseSchedule
from tinyvdm.models.mlp import MLPDenoiser
from tinyvdm.models.toy2d import (
    TokenGrid,
    ToyAutoregressive,
    ToyDiscriminator,
    ToyGANConfig,
    ToyGenerator,
    ToyVAE,
    count_calls,
    from_tokens,
    sample_token,
    to_tokens,
    toy_ar_loss,
    toy_vae_loss,
    train_toy_gan,
)
from tinyvdm.train import Trainer, TrainConfig


def test_tokens_match_numpy_digitize_and_round_trip():
    grid = TokenGrid(bins=40, low=-2.0, high=2.0)
    points = torch.rand(500, 2, generator=torch.Generator().manual_seed(0)) * 5 - 2.5  # some outside the range
    tokens = to_tokens(points, grid)
    edges = np.linspace(-2.0, 2.0, 41)[1:-1]
    assert torch.equal(tokens, torch.from_numpy(np.digitize(points.numpy(), edges)).long())
    inside = (points.abs() < 2.0).all(1)
    centres = from_tokens(tokens, grid)
    assert (centres[inside] - points[inside]).abs().max() <= grid.bin_width / 2 + 1e-6
    jittered = from_tokens(tokens, grid, torch.Generator().manual_seed(1))
    assert torch.equal(to_tokens(jittered, grid), tokens)  # a jittered point stays in its bin
    assert not torch.equal(jittered, centres)


def test_sample_token_inverts_the_cdf():
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(6, 9, generator=gen)
    uniform = torch.rand(6, generator=gen)
    cdf = torch.softmax(logits / 0.7, 1).cumsum(1)
    expected = torch.searchsorted(cdf, uniform[:, None], right=True).squeeze(1)
    assert torch.equal(sample_token(logits, uniform, 0.7), expected)
    # Frequencies over many uniform draws approach the softmax.
    probs = torch.softmax(torch.tensor([[0.0, 1.0, -1.0, 2.0]]), 1)[0]
    u = torch.rand(20000, generator=gen)
    tokens = sample_token(torch.tensor([[0.0, 1.0, -1.0, 2.0]]).expand(20000, 4), u)
    assert torch.allclose(torch.bincount(tokens, minlength=4).float() / 20000, probs, atol=0.015)
    # u just below 1 never runs off the end.
    assert sample_token(torch.zeros(1, 5), torch.tensor([1 - 1e-9])).item() == 4


def test_ar_is_causal_and_training_matches_sampling_calls():
    torch.manual_seed(0)
    model = ToyAutoregressive(TokenGrid(bins=16), width=32, depth=2)
    tokens = torch.randint(0, 16, (5, 2))
    inputs = model.teacher_forced_inputs(tokens)
    assert torch.equal(inputs[:, 0], torch.full((5,), 16)) and torch.equal(inputs[:, 1], tokens[:, 0])
    logits = model(inputs)  # (5, 2, 16)
    changed = tokens.clone()
    changed[:, 1] = (changed[:, 1] + 3) % 16  # y is never an input: nothing may change
    assert torch.equal(model(model.teacher_forced_inputs(changed)), logits)
    # The two one-position calls of sampling give the same logits as the one training call.
    assert torch.allclose(model(inputs[:, :1], start=0)[:, 0], logits[:, 0], atol=1e-6)
    assert torch.allclose(model(inputs[:, 1:], start=1)[:, 0], logits[:, 1], atol=1e-6)
    # The loss is -log p(x) - log p(y | x), written out.
    points = from_tokens(tokens, model.grid)
    loss, extras = toy_ar_loss(model, (points,))
    log_probs = torch.log_softmax(logits, -1)
    manual = -(log_probs[torch.arange(5), 0, tokens[:, 0]] + log_probs[torch.arange(5), 1, tokens[:, 1]]).mean()
    assert torch.allclose(loss, manual, atol=1e-5)
    assert math.isclose(extras["bits_per_coordinate"], manual.item() / 2 / math.log(2), rel_tol=1e-5)


def test_ar_learns_two_points():
    torch.manual_seed(0)
    points = torch.tensor([[-1.0, 0.5], [1.0, -0.5]]).repeat(64, 1)
    model = ToyAutoregressive(TokenGrid(bins=20), width=32, depth=2)
    Trainer(model, toy_ar_loss, torch.utils.data.TensorDataset(points),
            TrainConfig(steps=60, batch_size=32, lr=1e-2, progress=False, device="cpu")).fit()
    samples = model.eval().sample(200, torch.Generator().manual_seed(3))
    distance = torch.cdist(samples, points[:2]).min(1).values
    assert (distance < 0.2).float().mean() > 0.95  # within one bin of a training point


def test_vae_loss_is_the_negative_elbo():
    torch.manual_seed(0)
    model = ToyVAE(latent_dim=2, width=16, depth=1, decoder_std=0.2)
    x = torch.randn(7, 2)
    loss, extras = toy_vae_loss(model, (x,), generator=torch.Generator().manual_seed(4), beta=0.5)
    posterior = model.encode(x)
    z = posterior.sample(torch.Generator().manual_seed(4))
    mean = model.decode(z)
    recon = ((x - mean) ** 2).sum(1) / (2 * 0.2**2) + 2 * (math.log(0.2) + 0.5 * math.log(2 * math.pi))
    kl = 0.5 * (posterior.mean**2 + posterior.var - 1 - posterior.logvar).sum(1)
    assert torch.allclose(loss, recon.mean() + 0.5 * kl.mean(), atol=1e-5)
    assert math.isclose(extras["kl"], kl.mean().item(), rel_tol=1e-5)


def test_gan_moves_its_samples_to_the_data():
    torch.manual_seed(0)
    data = torch.tensor([[1.0, -0.5]]) + 0.05 * torch.randn(512, 2)
    generator, discriminator = ToyGenerator(z_dim=2, width=32, depth=2), ToyDiscriminator(width=32, depth=2)
    before = (generator.sample(256).mean(0) - data.mean(0)).norm().item()
    history = train_toy_gan(generator, discriminator, data, ToyGANConfig(steps=300, batch_size=64, lr_g=2e-3))
    after = (generator.sample(256).mean(0) - data.mean(0)).norm().item()
    assert len(history) == 300 and {"d_loss", "g_loss"} <= set(history[0])
    assert after < 0.25 < before
    assert all(p.requires_grad for p in discriminator.parameters())


def test_sampling_cost_in_network_calls():
    torch.manual_seed(0)
    gan, vae, ar = ToyGenerator(width=16), ToyVAE(width=16), ToyAutoregressive(TokenGrid(bins=8), width=16)
    with count_calls(gan) as c_gan:
        assert gan.sample(100).shape == (100, 2)
    with count_calls(vae.decoder) as c_vae:
        assert vae.sample(100).shape == (100, 2)
    with count_calls(ar) as c_ar:
        assert ar.sample(100).shape == (100, 2)
    denoiser = MLPDenoiser(width=16, depth=1)
    with count_calls(denoiser) as c_diffusion:
        DDIMSampler(NoiseSchedule.from_name("cosine", 100), 10, clip_x0=False).sample(denoiser, (100, 2))
    assert (c_gan.calls, c_vae.calls, c_ar.calls, c_diffusion.calls) == (1, 1, 2, 10)
    assert c_diffusion.seconds > 0


def test_seeded_sampling_is_deterministic():
    torch.manual_seed(0)
    model = ToyAutoregressive(TokenGrid(bins=8), width=16)
    a = model.sample(50, torch.Generator().manual_seed(5))
    b = model.sample(50, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_bad_inputs_are_refused():
    grid = TokenGrid(bins=8)
    with pytest.raises(ValueError, match=r"\(b, 2\)"):
        to_tokens(torch.zeros(3, 3), grid)
    with pytest.raises(ValueError, match="0..7"):
        from_tokens(torch.tensor([[0, 8]]), grid)
    with pytest.raises(ValueError, match="integer"):
        from_tokens(torch.zeros(2, 2), grid)
    with pytest.raises(ValueError, match="low < high"):
        TokenGrid(bins=8, low=1.0, high=-1.0)
    with pytest.raises(ValueError, match="uniform"):
        sample_token(torch.zeros(3, 4), torch.zeros(2))
    with pytest.raises(ValueError, match="temperature"):
        sample_token(torch.zeros(3, 4), torch.zeros(3), temperature=0)
    with pytest.raises(ValueError, match="start"):
        ToyAutoregressive(grid, width=8)(torch.zeros(2, 2, dtype=torch.long), start=1)
    with pytest.raises(ValueError, match=r"z must have shape \(b, 8\)"):
        ToyGenerator()(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="decoder_std"):
        ToyVAE(decoder_std=0)
    with pytest.raises(ValueError, match="loss"):
        ToyGANConfig(loss="wasserstein")
    with pytest.raises(TypeError, match="nn.Module"):
        with count_calls("model"):
            pass
