"""Tests for tinyvdm.models.uvit: the denoiser interface, long skips, frame independence, training."""

import pytest
import torch
import torch.nn.functional as F

from tinyvdm.diffusion import DDIMSampler, NoiseSchedule, diffusion_loss, q_sample
from tinyvdm.models.uvit import UVIT_CONFIGS, UViT, UViTConfig
from tinyvdm.train import TrainConfig, Trainer

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py

SHAPE = (2, 4, 3, 8, 8)  # b t c h w


def tiny(**overrides) -> UViT:
    torch.manual_seed(0)
    config = dict(image_size=8, frames=4, patch_size=2, dim=32, depth=3, heads=2)
    return UViT(UViTConfig(**{**config, **overrides})).eval()


def inputs(shape=SHAPE):
    generator = torch.Generator().manual_seed(2)
    return torch.randn(shape, generator=generator), torch.tensor([3, 700])


def change_frame(x: torch.Tensor, frame: int) -> torch.Tensor:
    changed = x.clone()
    changed[:, frame] += torch.randn(changed[:, frame].shape, generator=torch.Generator().manual_seed(3))
    return changed


@pytest.mark.parametrize("attention", ["factorised", "full", "spatial", "causal", "sparse-causal"])
def test_shape_and_determinism(attention):
    model = tiny(attention=attention)
    x, timestep = inputs()
    out = model(x, timestep)
    assert out.shape == x.shape and out.abs().max() > 0
    assert torch.equal(model(x, timestep), out)
    assert model(x, timestep.float()).shape == x.shape  # float steps work too
    wide = tiny(attention=attention, in_channels=1, out_channels=2, tubelet=2)
    assert wide(torch.randn(1, 4, 1, 8, 8), torch.tensor([5])).shape == (1, 4, 2, 8, 8)


def test_long_skips_matter_and_cost_parameters():
    with_skips, without = tiny(), tiny(long_skips=False)
    # One skip layer (2d -> d) per out-block: depth // 2 = 1 of them.
    assert with_skips.num_parameters() - without.num_parameters() == 2 * 32 * 32 + 32
    # Same weights everywhere else, so the difference below is the skips' alone.
    missing, unexpected = without.load_state_dict(with_skips.state_dict(), strict=False)
    assert not missing and unexpected == ["out_blocks.0.skip_linear.weight", "out_blocks.0.skip_linear.bias"]
    x, timestep = inputs()
    assert (with_skips(x, timestep) - without(x, timestep)).abs().max() > 1e-3
    # The skip's gradient path reaches the first in-block directly.
    with_skips(x, timestep).pow(2).mean().backward()
    assert with_skips.out_blocks[0].skip_linear.weight.grad.abs().sum() > 0


def test_spatial_uvit_never_mixes_frames():
    model = tiny(attention="spatial")
    x, timestep = inputs()
    before, after = model(x, timestep), model(change_frame(x, 2), timestep)
    others = [0, 1, 3]
    assert torch.allclose(before[:, others], after[:, others], atol=1e-6)
    assert (before[:, 2] - after[:, 2]).abs().max() > 1e-3
    # The factorised model does mix them.
    factorised = tiny(attention="factorised")
    assert (factorised(x, timestep)[:, 0] - factorised(change_frame(x, 2), timestep)[:, 0]).abs().max() > 1e-4


@pytest.mark.parametrize("attention", ["causal", "sparse-causal"])
def test_causal_uvit_never_reads_a_later_frame(attention):
    model = tiny(attention=attention)
    x, timestep = inputs()
    before, after = model(x, timestep), model(change_frame(x, 2), timestep)
    assert torch.allclose(before[:, :2], after[:, :2], atol=1e-6)
    assert (before[:, 3] - after[:, 3]).abs().max() > 1e-4


def test_class_token_and_null_class():
    model = tiny(num_classes=4)
    x, timestep = inputs()
    a = model(x, timestep, torch.tensor([0, 0]))
    b = model(x, timestep, torch.tensor([3, 3]))
    assert (a - b).abs().max() > 1e-4
    assert torch.equal(model(x, timestep, torch.tensor([4, 4])), model(x, timestep, None))
    assert (model(x, torch.tensor([3, 3])) - model(x, torch.tensor([900, 900]))).abs().max() > 1e-4
    assert model.num_parameters() - tiny().num_parameters() == 5 * 32  # 4 classes + the null class


def test_bad_inputs_raise_naming_the_constraint():
    model = tiny()
    x, timestep = inputs()
    with pytest.raises(ValueError, match=r"x must have shape \(b, t, 3, h, w\)"):
        model(x[:, 0], timestep)
    with pytest.raises(ValueError, match="h=7 must be divisible by patch_size=2"):
        model(torch.randn(2, 4, 3, 7, 8), timestep)
    with pytest.raises(ValueError, match=r"timestep must have shape \(b,\) = \(2,\)"):
        model(x, timestep[:1])
    with pytest.raises(ValueError, match="U-ViT was built with num_classes=None"):
        model(x, timestep, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"max_grid = \(4, 4, 4\)"):
        model(torch.randn(2, 8, 3, 8, 8), timestep)
    with pytest.raises(ValueError, match="depth must be odd"):
        UViTConfig(depth=4)
    with pytest.raises(ValueError, match="unknown U-ViT size"):
        UViT.from_name("huge")


def test_overfits_one_batch():
    # The denoising task on one fixed batch: predict the noise mixed into x0 at two steps.
    model = tiny(dim=64).train()
    schedule = NoiseSchedule.from_name("cosine", 1000)
    generator = torch.Generator().manual_seed(4)
    x0 = torch.rand(SHAPE, generator=generator) * 2 - 1
    eps = torch.randn(SHAPE, generator=generator)
    timestep = torch.tensor([300, 700])
    xt = q_sample(schedule, x0, timestep, eps)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(80):
        loss = F.mse_loss(model(xt, timestep), eps)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 8, losses


def test_trains_with_the_trainer_and_samples_with_ddim():
    schedule = NoiseSchedule.from_name("cosine", 100)
    videos = torch.rand(4, *SHAPE[1:], generator=torch.Generator().manual_seed(5)) * 2 - 1
    data = [{"video": video} for video in videos]

    def loss_fn(model, batch, generator):
        return diffusion_loss(schedule, model, batch["video"], generator=generator)

    config = TrainConfig(steps=2, batch_size=2, progress=False, device="cpu")
    trainer = Trainer(tiny(num_classes=3), loss_fn, data, config).fit()
    assert len(trainer.history) == 2 and all(torch.isfinite(torch.tensor(r["loss"])) for r in trainer.history)
    sampler = DDIMSampler(schedule, 2)
    generator = torch.Generator().manual_seed(6)
    sample = sampler.sample(trainer.model.eval(), SHAPE, cond=torch.tensor([0, 2]), generator=generator,
                            guidance_scale=2.0, null_cond=torch.tensor(3))
    assert sample.shape == SHAPE and torch.isfinite(sample).all()


def test_named_sizes_parameters_and_flops():
    assert set(UVIT_CONFIGS) == {"tiny", "small", "base"}
    sizes = {name: UViT.from_name(name).num_parameters() for name in UVIT_CONFIGS}
    assert sizes["tiny"] < sizes["small"] < sizes["base"], sizes
    assert 0.2e6 < sizes["tiny"] < 0.5e6, sizes
    model = UViT.from_name("tiny")
    flops = model.gflops((1, 8, 3, 32, 32))
    assert flops > 0 and model.gflops((2, 8, 3, 32, 32)) == pytest.approx(2 * flops)


def test_join_skip_concatenates_x_first_then_maps_back_to_the_width():
    from tinyvdm.models.uvit import UViTBlock

    torch.manual_seed(0)
    config = UViTConfig(dim=8, heads=2)
    block = UViTBlock(config, skip=True)
    x, skip = torch.randn(2, 3, 2, 2, 8), torch.randn(2, 3, 2, 2, 8)
    weight, bias = block.skip_linear.weight, block.skip_linear.bias
    # By hand: the first d input columns of the weight read x, the last d read the skip.
    expected = x @ weight[:, :8].T + skip @ weight[:, 8:].T + bias
    assert torch.allclose(block.join_skip(x, skip), expected, atol=1e-6)
    assert torch.allclose(block(x, skip), block.block(expected), atol=1e-6)
    with pytest.raises(ValueError, match="skip must have the shape of x"):
        block.join_skip(x, skip[:, :2])
    with pytest.raises(ValueError, match="built without a long skip"):
        UViTBlock(config).join_skip(x, skip)
