"""Tests for tinyvdm.models.dit: adaLN-Zero as the identity, the four conditionings, frames, FLOPs, training."""

import pytest
import torch
import torch.nn.functional as F

from tinyvdm.diffusion import DDIMSampler, NoiseSchedule, diffusion_loss, q_sample
from tinyvdm.models.dit import CONDITIONINGS, DIT_CONFIGS, DiT, DiTBlock, DiTConfig, modulate
from tinyvdm.train import TrainConfig, Trainer

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py

SHAPE = (2, 4, 3, 8, 8)  # b t c h w
DIM = 32


def tiny(**overrides) -> DiT:
    torch.manual_seed(0)
    config = dict(patch_size=2, dim=DIM, depth=2, heads=2, frequency_dim=32)
    return DiT(DiTConfig(**{**config, **overrides})).eval()


def wake_up(model: DiT, scale: float = 0.05) -> DiT:
    """Move every weight off its initialisation (adaLN-Zero's zeros included)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * scale)
    return model


def inputs(shape=SHAPE):
    generator = torch.Generator().manual_seed(2)
    return torch.randn(shape, generator=generator), torch.tensor([3, 700])


def change_frame(x: torch.Tensor, frame: int) -> torch.Tensor:
    changed = x.clone()
    changed[:, frame] += torch.randn(changed[:, frame].shape, generator=torch.Generator().manual_seed(3))
    return changed


@pytest.mark.parametrize("attention", ["factorised", "full", "causal"])
def test_adaln_zero_block_is_the_identity_at_init(attention):
    torch.manual_seed(0)
    block = DiTBlock(DIM, 2, attention, "adaln_zero")
    x, c = torch.randn(2, 3, 4, 4, DIM), torch.randn(2, DIM)
    assert torch.equal(block(x, c), x)
    # The regression is zero, yet its gradient is not: the block wakes up on the first step.
    block(x, c).mul(torch.randn_like(x)).sum().backward()
    assert block.modulation[-1].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("conditioning", ["adaln", "in_context", "cross_attention"])
def test_other_blocks_are_not_the_identity(conditioning):
    torch.manual_seed(0)
    block = DiTBlock(DIM, 2, "factorised", conditioning)
    x, c, context = torch.randn(2, 3, 4, 4, DIM), torch.randn(2, DIM), torch.randn(2, 2, DIM)
    out = block(x, c if conditioning == "adaln" else None, context if conditioning == "cross_attention" else None)
    assert out.shape == x.shape and (out - x).abs().max() > 1e-2


@pytest.mark.parametrize("attention", ["factorised", "full"])
def test_adaln_zero_dit_predicts_zero_at_init(attention):
    model = tiny(attention=attention, num_classes=3)
    x, timestep = inputs()
    assert torch.equal(model(x, timestep), torch.zeros_like(x))
    assert torch.equal(model(x, timestep, torch.tensor([0, 2])), torch.zeros_like(x))


def test_the_variants_differ_at_init():
    x, timestep = inputs()
    outputs = {conditioning: tiny(conditioning=conditioning)(x, timestep) for conditioning in CONDITIONINGS}
    for conditioning in ("adaln", "in_context", "cross_attention"):
        assert outputs[conditioning].abs().max() > 1e-2, conditioning  # no zero-initialised final layer
    assert (outputs["in_context"] - outputs["cross_attention"]).abs().max() > 1e-2
    # Same sizes, different machinery: adaLN has no gates, the token variants no regression at all.
    sizes = {conditioning: tiny(conditioning=conditioning).num_parameters() for conditioning in CONDITIONINGS}
    assert sizes["adaln_zero"] - sizes["adaln"] == 3 * (DIM * DIM + DIM) * 2  # 3 gates per block, 2 blocks
    assert sizes["in_context"] < sizes["cross_attention"] < sizes["adaln"]


def test_modulate_is_scale_and_shift_per_sample():
    x, shift, scale = torch.randn(2, 3, 5), torch.randn(2, 5), torch.randn(2, 5)
    torch.testing.assert_close(modulate(x, shift, scale), x * (1 + scale[:, None]) + shift[:, None])


@pytest.mark.parametrize("conditioning", CONDITIONINGS)
def test_shapes_and_class_conditioning(conditioning):
    model = wake_up(tiny(conditioning=conditioning, num_classes=4))
    x, timestep = inputs()
    a = model(x, timestep, torch.tensor([0, 0]))
    b = model(x, timestep, torch.tensor([3, 3]))
    assert a.shape == x.shape and (a - b).abs().max() > 1e-4
    assert torch.equal(model(x, timestep, torch.tensor([4, 4])), model(x, timestep, None))  # the null class
    assert (model(x, torch.tensor([3, 3])) - model(x, torch.tensor([900, 900]))).abs().max() > 1e-4
    assert model(x, timestep.float()).shape == x.shape  # float steps work too
    wide = tiny(conditioning=conditioning, in_channels=1, out_channels=2, tubelet=2)
    assert wide(torch.randn(1, 4, 1, 8, 8), torch.tensor([5])).shape == (1, 4, 2, 8, 8)


@pytest.mark.parametrize("conditioning", CONDITIONINGS)
def test_spatial_dit_never_mixes_frames(conditioning):
    model = wake_up(tiny(attention="spatial", conditioning=conditioning))
    x, timestep = inputs()
    before, after = model(x, timestep), model(change_frame(x, 2), timestep)
    others = [0, 1, 3]
    assert torch.allclose(before[:, others], after[:, others], atol=1e-6)
    assert (before[:, 2] - after[:, 2]).abs().max() > 1e-3


@pytest.mark.parametrize("conditioning", CONDITIONINGS)
@pytest.mark.parametrize("attention", ["causal", "sparse-causal"])
def test_causal_dit_never_reads_a_later_frame(conditioning, attention):
    model = wake_up(tiny(attention=attention, conditioning=conditioning))
    x, timestep = inputs()
    before, after = model(x, timestep), model(change_frame(x, 2), timestep)
    assert torch.allclose(before[:, :2], after[:, :2], atol=1e-6)
    assert (before[:, 3] - after[:, 3]).abs().max() > 1e-4


def test_factorised_dit_mixes_frames_once_awake():
    model = tiny()
    x, timestep = inputs()
    wake_up(model)
    assert (model(x, timestep)[:, 0] - model(change_frame(x, 2), timestep)[:, 0]).abs().max() > 1e-4


def test_gflops_quadruple_when_the_patch_halves():
    # One frame (2-D tokens) of 16 x 16: patch 4 gives 16 tokens, patch 2 gives 64. The linear layers
    # scale with the tokens (4x), attention with their square, which is still small at this size.
    shape = (1, 1, 3, 16, 16)
    coarse, fine = DiT.from_name("tiny/4").gflops(shape), DiT.from_name("tiny/2").gflops(shape)
    assert coarse > 0 and 3.8 < fine / coarse < 4.6, (coarse, fine)
    model = DiT.from_name("tiny/4")
    assert model.gflops((2, 8, 3, 32, 32)) == pytest.approx(2 * model.gflops((1, 8, 3, 32, 32)))
    # Space-time tokens with full attention: the quadratic part takes over.
    full = {p: DiT.from_name(f"tiny/{p}", attention="full").gflops() for p in (2, 4)}
    assert full[2] / full[4] > 8


def test_named_sizes():
    assert set(DIT_CONFIGS) == {"mini/8", "mini/4", "tiny/8", "tiny/4", "tiny/2", "S/4", "S/2", "B/4", "B/2"}
    assert DiT.from_name("S/2").config.patch_size == 2 and DiT.from_name("B/4").config.patch_size == 4
    sizes = {name: DiT.from_name(name).num_parameters() for name in ("mini/4", "tiny/4", "S/4")}
    assert 0.05e6 < sizes["mini/4"] < 0.1e6, sizes
    assert 0.3e6 < sizes["tiny/4"] < 0.6e6 and 2.5e6 < sizes["S/4"] < 4e6, sizes
    # The chapter-11 curve: each step along it costs more, patch 8 -> 4 about 4x (16 -> 64 tokens a frame).
    gflops = [DiT.from_name(name).gflops() for name in ("mini/8", "mini/4", "tiny/8", "tiny/4")]
    assert gflops == sorted(gflops) and 3.5 < gflops[3] / gflops[2] < 5, gflops


def test_bad_inputs_raise_naming_the_constraint():
    model = tiny()
    x, timestep = inputs()
    with pytest.raises(ValueError, match=r"x must have shape \(b, t, 3, h, w\)"):
        model(x[:, :, :2], timestep)
    with pytest.raises(ValueError, match="w=9 must be divisible by patch_size=2"):
        model(torch.randn(2, 4, 3, 8, 9), timestep)
    with pytest.raises(ValueError, match="t=3 frames must be divisible by tubelet=2"):
        tiny(tubelet=2)(torch.randn(2, 3, 3, 8, 8), timestep)
    with pytest.raises(ValueError, match=r"timestep must have shape \(b,\) = \(2,\)"):
        model(x, torch.tensor(5))
    with pytest.raises(ValueError, match="DiT was built with num_classes=None"):
        model(x, timestep, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"cond must be int64 class labels of shape \(b,\) = \(2,\)"):
        tiny(num_classes=3)(x, timestep, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="conditioning must be one of"):
        DiTConfig(conditioning="film")
    with pytest.raises(ValueError, match="attention must be one of"):
        DiTConfig(attention="temporal")
    with pytest.raises(ValueError, match="unknown DiT size"):
        DiT.from_name("XL/2")


@pytest.mark.parametrize("conditioning", CONDITIONINGS)
def test_overfits_one_batch(conditioning):
    # The denoising task on one fixed batch: predict the noise mixed into x0 at two steps.
    model = tiny(conditioning=conditioning).train()
    schedule = NoiseSchedule.from_name("cosine", 1000)
    generator = torch.Generator().manual_seed(4)
    x0 = torch.rand(SHAPE, generator=generator) * 2 - 1
    eps = torch.randn(SHAPE, generator=generator)
    timestep = torch.tensor([300, 700])
    xt = q_sample(schedule, x0, timestep, eps)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    losses = []
    for _ in range(60):
        loss = F.mse_loss(model(xt, timestep), eps)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10, losses


def test_trains_with_the_trainer_and_samples_with_ddim():
    schedule = NoiseSchedule.from_name("cosine", 100)
    videos = torch.rand(4, *SHAPE[1:], generator=torch.Generator().manual_seed(5)) * 2 - 1
    data = [{"video": video} for video in videos]

    def loss_fn(model, batch, generator):
        return diffusion_loss(schedule, model, batch["video"], generator=generator)

    config = TrainConfig(steps=2, batch_size=2, progress=False, device="cpu")
    trainer = Trainer(tiny(num_classes=3), loss_fn, data, config).fit()
    assert len(trainer.history) == 2 and all(torch.isfinite(torch.tensor(r["loss"])) for r in trainer.history)
    # Two steps moved the zero-initialised final layer off zero: the model now predicts something.
    x, timestep = inputs()
    assert trainer.model.eval()(x, timestep).abs().max() > 0
    sampler = DDIMSampler(schedule, 2)
    generator = torch.Generator().manual_seed(6)
    sample = sampler.sample(trainer.model, SHAPE, cond=torch.tensor([0, 2]), generator=generator,
                            guidance_scale=2.0, null_cond=torch.tensor(3))
    assert sample.shape == SHAPE and torch.isfinite(sample).all()
    unconditional = sampler.sample(trainer.model, SHAPE, generator=torch.Generator().manual_seed(6))
    assert unconditional.shape == SHAPE


def test_final_conv_is_off_by_default_and_a_3x3_convolution_per_frame():
    plain, conv = tiny(), tiny(final_conv=True)
    assert plain.final_conv is None and DiTConfig().final_conv is False
    # Built after the other weights: same seed, same weights, and only the convolution's 84 extra parameters.
    assert conv.num_parameters() - plain.num_parameters() == 3 * 3 * 3 * 3 + 3
    for name, value in plain.state_dict().items():
        assert torch.equal(conv.state_dict()[name], value), name
    x, t = inputs()
    assert torch.equal(conv(x, t), torch.zeros_like(x))  # adaLN-Zero: still exactly 0 at initialisation
    wake_up(plain)
    conv.load_state_dict({**conv.state_dict(), **plain.state_dict()})
    with torch.no_grad():
        conv.final_conv.bias.normal_()
        reference = plain(x, t)  # (b, t, c, h, w), each frame convolved on its own with zero padding
        expected = torch.stack([F.conv2d(reference[:, k], conv.final_conv.weight, conv.final_conv.bias, padding=1)
                                for k in range(x.shape[1])], dim=1)
        torch.testing.assert_close(conv(x, t), expected, rtol=1e-5, atol=1e-5)
