import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from tinyvdm.data.bouncing_shapes import BouncingShapes
from tinyvdm.models.vqvae import (
    VQVAE,
    VQVAE_CONFIGS,
    VectorQuantizer,
    VQVAEConfig,
    background_tokens,
    foreground_mask,
    perplexity,
    squared_distances,
    vqvae_loss,
    weighted_reconstruction_error,
)
from tinyvdm.train import TrainConfig, Trainer

SHAPE = (2, 4, 3, 16, 16)  # b t c h w


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def tiny(**overrides) -> VQVAE:
    torch.manual_seed(0)
    return VQVAE.from_name("tiny", **overrides)


def clips(n=2, frames=4, size=16, seed=0) -> torch.Tensor:
    data = BouncingShapes(n, frames=frames, size=size, seed=seed)
    return torch.stack([data[i]["video"] for i in range(n)])


def quantizer(codes: torch.Tensor, **kwargs) -> VectorQuantizer:
    """A quantizer whose codebook is ``codes`` ``(k, d)``, marked initialised (no data-dependent init)."""
    vq = VectorQuantizer(len(codes), codes.shape[1], **kwargs)
    with torch.no_grad():
        vq.embedding.data.copy_(codes)
        if vq.kind == "ema":
            vq.embed_sum.copy_(codes)
            vq.cluster_size.fill_(1.0)
        vq.initialized.fill_(True)
    return vq


def test_shapes_and_token_round_trip():
    x = clips()
    model = tiny()
    indices = model.encode_to_indices(x)
    assert indices.shape == (2, 4, 4, 4) == model.token_shape(SHAPE) and indices.dtype == torch.long
    assert indices.min() >= 0 and indices.max() < model.config.codebook_size
    assert model.decode_indices(indices).shape == SHAPE
    recon, out = model(x)
    assert recon.shape == SHAPE and out.quantized.shape == (2, 4, 4, 4, 4) and out.indices.shape == (2, 4, 4, 4)
    # Eval mode: the forward pass picks the same tokens and decodes them to the same clip.
    model.eval()
    recon, out = model(x)
    assert torch.equal(out.indices, model.encode_to_indices(x))
    assert torch.allclose(recon, model.decode_indices(out.indices), atol=1e-5)  # z + (e - z) rounds
    squeezed = tiny(temporal_downsample=2)
    assert squeezed.encode_to_indices(x).shape == (2, 2, 4, 4)
    assert squeezed.decode_indices(squeezed.encode_to_indices(x)).shape == SHAPE


def test_named_sizes_build():
    for name in VQVAE_CONFIGS:
        assert VQVAE.from_name(name).num_parameters() > 0
    with pytest.raises(ValueError, match="unknown VQ-VAE size"):
        VQVAE.from_name("huge")


def test_training_step_is_deterministic_with_a_seeded_generator():
    x = clips()

    def one_step(seed):
        model = tiny(restart_after=1)  # the first-call init and the restarts draw from the generator
        loss, _ = vqvae_loss(model, x, torch.Generator().manual_seed(seed))
        return loss, model.quantizer.embedding.clone()

    (loss_a, codes_a), (loss_b, codes_b) = one_step(5), one_step(5)
    assert torch.equal(loss_a, loss_b) and torch.equal(codes_a, codes_b)
    _, codes_c = one_step(6)
    assert not torch.equal(codes_a, codes_c)


def test_nearest_code_equals_brute_force_argmin():
    generator = torch.Generator().manual_seed(0)
    codes = torch.randn(37, 5, generator=generator)
    vectors = torch.randn(500, 5, generator=generator)
    brute = (vectors[:, None, :] - codes[None, :, :]).pow(2).sum(-1)  # (n, k)
    assert torch.allclose(squared_distances(vectors, codes), brute, atol=1e-4)
    assert torch.equal(quantizer(codes).nearest(vectors), brute.argmin(dim=1))
    out = quantizer(codes).eval()(vectors.view(20, 25, 5))
    assert torch.equal(out.indices, brute.argmin(dim=1).view(20, 25))
    assert torch.allclose(out.quantized, codes[out.indices], atol=1e-6)  # z + (e - z) rounds


def test_straight_through_gradient_reaches_the_encoder():
    x = clips()
    model = tiny()
    recon, _ = model(x)
    F.mse_loss(recon, x).backward()  # the reconstruction loss alone, no commitment term
    encoder_grads = [p.grad for p in model.encoder.parameters() if p.grad is not None]
    assert encoder_grads and sum(float(g.abs().sum()) for g in encoder_grads) > 0
    assert model.encoder.out_conv.weight.grad.abs().sum() > 0


def test_straight_through_copies_the_gradient_unchanged():
    vq = quantizer(torch.randn(8, 3, generator=torch.Generator().manual_seed(0))).eval()
    z = torch.randn(10, 3, requires_grad=True)
    weights = torch.randn(10, 3)
    (vq(z).quantized * weights).sum().backward()
    assert torch.equal(z.grad, weights)


def test_ema_update_moves_codes_toward_their_assigned_vectors():
    codes = torch.tensor([[0.0, 0.0], [10.0, 10.0]])
    vq = quantizer(codes, codebook="ema", decay=0.9, restart_after=None).train()
    vectors = torch.tensor([[1.0, 1.0], [1.0, 3.0], [11.0, 10.0]])
    out = vq(vectors)
    assert out.indices.tolist() == [0, 0, 1]
    # N_0 = 0.9 * 1 + 0.1 * 2 = 1.1, m_0 = 0.9 * 0 + 0.1 * (2, 4): e_0 = (0.2, 0.4) / 1.1 (smoothing ~1e-5).
    assert torch.allclose(vq.embedding[0], torch.tensor([0.2, 0.4]) / 1.1, atol=1e-4)
    assert torch.allclose(vq.embedding[1], torch.tensor([10.1, 10.0]) / 1.0, atol=1e-4)
    before = (codes[0] - vectors[:2].mean(0)).norm()
    for _ in range(50):
        vq(vectors)
    assert (vq.embedding[0] - vectors[:2].mean(0)).norm() < 0.05 * before
    # In eval mode nothing changes.
    frozen = vq.embedding.clone()
    vq.eval()(vectors * 3)
    assert torch.equal(vq.embedding, frozen)


def test_learned_codebook_is_trained_by_the_codebook_loss():
    codes = torch.tensor([[0.0, 0.0], [10.0, 10.0]])
    vq = quantizer(codes, codebook="learned", restart_after=None).train()
    assert isinstance(vq.embedding, torch.nn.Parameter)
    out = vq(torch.tensor([[1.0, 1.0], [11.0, 10.0]]))
    assert out.codebook_loss > 0
    out.loss.backward()
    assert vq.embedding.grad.abs().sum() > 0
    ema = quantizer(codes, codebook="ema")
    assert "embedding" not in dict(ema.named_parameters()) and float(ema(torch.ones(1, 2)).codebook_loss) == 0


def test_dead_code_restart_revives_unused_codes():
    codes = torch.tensor([[0.0, 0.0], [1.0, 0.0], [100.0, 100.0]])  # code 2 is far from every input
    vq = quantizer(codes, restart_after=3).train()
    vectors = torch.tensor([[0.1, 0.0], [0.9, 0.1], [0.2, 0.1], [0.8, -0.1]])
    generator = torch.Generator().manual_seed(0)
    restarted = [vq(vectors, generator).restarted for _ in range(3)]
    assert restarted == [0, 0, 1]
    revived = vq.embedding[2]
    assert any(torch.allclose(revived, v) for v in vectors)  # moved onto a current encoder output
    assert int(vq.unused_steps[2]) == 0
    assert 2 in vq.eval()(vectors).indices  # and now it is used again


def test_perplexity_of_uniform_and_single_code_usage():
    assert float(perplexity(torch.arange(64).repeat(3), 64)) == pytest.approx(64.0, rel=1e-5)
    assert float(perplexity(torch.full((100,), 7), 64)) == pytest.approx(1.0)
    assert float(perplexity(torch.tensor([0, 0, 1, 1]), 64)) == pytest.approx(2.0)
    vq = quantizer(torch.eye(4)).eval()
    out = vq(torch.eye(4).repeat(5, 1))
    assert float(out.perplexity) == pytest.approx(4.0) and float(out.usage) == 1.0
    out = vq(torch.eye(4)[:1].repeat(5, 1))
    assert float(out.perplexity) == pytest.approx(1.0) and float(out.usage) == 0.25


def test_one_batch_overfit():
    x = clips(n=2, frames=4, size=16)
    model = tiny()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    first = None
    for _ in range(100):
        loss, logs = vqvae_loss(model, x, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = logs["recon"] if first is None else first
    assert logs["recon"] < 0.03 * first, (first, logs)  # about 0.93 -> 0.01 measured


def test_trainer_runs_vqvae_loss():
    data = TensorDataset(clips(n=8, frames=4, size=16))
    config = TrainConfig(steps=2, batch_size=4, progress=False, device="cpu")
    trainer = Trainer(tiny(), vqvae_loss, data, config).fit()
    assert all({"recon", "commit", "perplexity", "usage"} <= set(record) for record in trainer.history)


def test_bad_inputs_raise_naming_the_expected_shape():
    model = tiny()
    with pytest.raises(ValueError, match=r"\(b, t, 3, h, w\)"):
        model.encode_to_indices(torch.zeros(4, 3, 16, 16))
    with pytest.raises(ValueError, match="divisible by 4"):
        model.encode_to_indices(torch.zeros(1, 4, 3, 16, 10))
    with pytest.raises(ValueError, match="t divisible by 2"):
        tiny(temporal_downsample=2).encode_to_indices(torch.zeros(1, 3, 3, 16, 16))
    with pytest.raises(ValueError, match=r"\(b, t', h', w'\)"):
        model.decode_indices(torch.zeros(1, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(b, t', h', w'\)"):
        model.decode_indices(torch.zeros(1, 4, 4, 4))  # floats, not tokens
    with pytest.raises(ValueError, match=r"\[0, 32\)"):
        model.decode_indices(torch.full((1, 4, 4, 4), 32, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        model.quantizer(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="codebook"):
        VQVAEConfig(codebook="kmeans")


def test_foreground_mask_finds_the_object_on_its_background():
    data = BouncingShapes(3, frames=4, size=16, seed=0).batch(range(3))
    mask = foreground_mask(data["video"])
    assert mask.shape == (3, 4, 1, 16, 16) and mask.dtype == torch.bool
    # The data set's own object masks (union over objects) agree with the background estimate.
    truth = data["masks"].bool().any(dim=2, keepdim=True)  # (b, t, 1, h, w)
    agreement = (mask == truth).float().mean()
    assert agreement > 0.95, agreement  # 0.96 measured: anti-aliased edges differ
    # A plain grey clip with one bright pixel: only that pixel is foreground.
    x = torch.full((1, 2, 3, 8, 8), 0.2)
    x[0, 1, 1, 3, 5] = 0.9
    expected = torch.zeros(1, 2, 1, 8, 8, dtype=torch.bool)
    expected[0, 1, 0, 3, 5] = True
    assert torch.equal(foreground_mask(x), expected)


def test_weighted_reconstruction_error_against_a_hand_computed_weighted_mean():
    x = torch.full((1, 1, 3, 4, 4), -1.0)
    x[0, 0, :, 1, 1] = 0.5  # one foreground pixel
    recon = x + 0.1
    recon[0, 0, :, 1, 1] = 0.0  # error 0.25 on the object, 0.01 on the background
    assert float(weighted_reconstruction_error(recon, x, 1.0)) == pytest.approx(float(F.mse_loss(recon, x)))
    w = 10.0  # 1 object pixel of weight 10 and 15 background pixels of weight 1, 3 channels each
    expected = (w * 0.25 + 15 * 0.01) / (w + 15)
    assert float(weighted_reconstruction_error(recon, x, w)) == pytest.approx(expected, rel=1e-5)
    # vqvae_loss uses the model's foreground weight.
    model = tiny(foreground_weight=5.0)
    loss, logs = vqvae_loss(model, clips(), torch.Generator().manual_seed(0))
    assert torch.isfinite(loss) and logs["recon"] > 0
    with pytest.raises(ValueError, match="foreground_weight"):
        VQVAEConfig(foreground_weight=0.5)
    with pytest.raises(ValueError, match="same shape"):
        weighted_reconstruction_error(recon[:, :, :2], x, 2.0)
    with pytest.raises(ValueError, match=r"\(b, t, c, h, w\)"):
        foreground_mask(torch.zeros(3, 4, 4))


def test_background_tokens_match_a_pixel_by_pixel_count():
    x = torch.full((1, 4, 3, 16, 16), -1.0)
    x[0, 0, 0, 5, 9] = 1.0  # one object pixel in frame 0, token (row 1, column 2) of a 4 x 4 grid
    x[0, 3, :, 12:14, 0:6] = 0.5  # frame 3: a bar across tokens (3, 0) and (3, 1)
    expected = torch.ones(1, 4, 4, 4, dtype=torch.bool)
    expected[0, 0, 1, 2] = False
    expected[0, 3, 3, 0] = expected[0, 3, 3, 1] = False
    assert torch.equal(background_tokens(x, 1, 4), expected)
    # Two frames per token: a token is foreground when either of its frames is.
    assert torch.equal(background_tokens(x, 2, 4), expected.view(1, 2, 2, 4, 4).all(dim=2))
    # On real clips: a token is background exactly when no pixel of its block is foreground.
    real = clips(n=3)
    blocks = foreground_mask(real).float()[:, :, 0]  # (b, t, h, w)
    counts = F.avg_pool2d(blocks.flatten(0, 1), 4).view(3, 4, 4, 4)
    assert torch.equal(background_tokens(real, 1, 4), counts == 0)
    with pytest.raises(ValueError, match="do not split"):
        background_tokens(x, 3, 4)


def test_background_code_writes_code_zero_on_empty_tokens_only():
    x = clips(n=4)
    model = tiny(background_code=True)
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(3):  # training moves the other codes; code 0 stays the zero vector
        loss, _ = vqvae_loss(model, x, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert torch.equal(model.quantizer.embedding[0], torch.zeros(4))
    assert model.quantizer.embedding[1:].abs().sum() > 0
    tokens = model.encode_to_indices(x)
    background = background_tokens(x, 1, 4)
    assert 0.5 < background.float().mean() < 1  # mostly empty, as bouncing shapes are
    assert torch.equal(tokens == 0, background)  # code 0 exactly where the block is empty
    model.eval()
    _, out = model(x)
    assert torch.equal(out.indices, tokens)
    # Empty tokens are the fixed code: the encoder gets no gradient from them.
    z = torch.randn(2, 3, 4, requires_grad=True)
    mask = torch.tensor([[True, False, True], [False, False, True]])
    out = model.quantizer(z, background=mask)
    assert torch.equal(out.indices[mask], torch.zeros(3, dtype=torch.long)) and (out.indices[~mask] > 0).all()
    out.quantized.sum().backward()
    assert torch.equal(z.grad[mask], torch.zeros(3, 4)) and torch.equal(z.grad[~mask], torch.ones(3, 4))
    with pytest.raises(ValueError, match="background must be a bool tensor of shape"):
        model.quantizer(z, background=mask[:, :2])
    with pytest.raises(ValueError, match="background_code=True"):
        tiny().quantizer(z, background=mask)
    # Without background_code nothing changes: code 0 is an ordinary code.
    assert tiny().background_mask(x) is None
