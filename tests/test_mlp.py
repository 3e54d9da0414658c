"""The toy denoiser: shapes, input checks, determinism, and that it learns."""

import pytest
import torch

from tinyvdm.diffusion import DDPMSampler, NoiseSchedule, diffusion_loss
from tinyvdm.models.mlp import MLPConfig, MLPDenoiser


def test_shapes_and_zero_output_at_init():
    torch.manual_seed(0)
    model = MLPDenoiser()
    x, timestep = torch.randn(5, 2), torch.tensor([0, 3, 10, 500, 999])
    out = model(x, timestep)
    assert out.shape == (5, 2)
    assert torch.equal(out, torch.zeros_like(x))  # the output layer starts at zero
    wide = MLPDenoiser(dim=3, width=16, depth=1)
    torch.nn.init.normal_(wide.out_proj.weight)
    assert wide(torch.randn(4, 3), torch.arange(4)).abs().sum() > 0


def test_the_step_changes_the_output():
    torch.manual_seed(0)
    model = MLPDenoiser(width=32, depth=2)
    torch.nn.init.normal_(model.out_proj.weight)
    x = torch.randn(1, 2).repeat(2, 1)
    out = model(x, torch.tensor([1, 900]))
    assert not torch.allclose(out[0], out[1])


def test_seeded_construction_is_deterministic():
    torch.manual_seed(3)
    a = MLPDenoiser(width=16)
    torch.manual_seed(3)
    b = MLPDenoiser(width=16)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_class_conditioning_and_null_class():
    torch.manual_seed(0)
    model = MLPDenoiser(width=16, num_classes=4)
    torch.nn.init.normal_(model.out_proj.weight)
    x, timestep = torch.randn(3, 2), torch.tensor([5, 5, 5])
    null = model(x, timestep, torch.full((3,), 4))
    assert torch.equal(model(x, timestep), null)  # no cond means the null class
    assert not torch.allclose(model(x, timestep, torch.tensor([0, 1, 2])), null)


@pytest.mark.parametrize(
    "x,timestep,cond,match",
    [
        (torch.randn(4, 3), torch.zeros(4, dtype=torch.long), None, r"x must have shape \(b, 2\), got \(4, 3\)"),
        (torch.randn(4), torch.zeros(4, dtype=torch.long), None, r"x must have shape \(b, 2\), got \(4,\)"),
        (torch.randn(4, 2), torch.zeros(3, dtype=torch.long), None, r"timestep must have shape \(b,\) = \(4,\), got \(3,\)"),
        (torch.randn(4, 2), 7, None, r"timestep must have shape \(b,\) = \(4,\), got int"),
        (torch.randn(4, 2), torch.zeros(4, dtype=torch.long), torch.zeros(4, dtype=torch.long), "num_classes=None"),
    ],
)
def test_bad_inputs_name_expected_and_received(x, timestep, cond, match):
    with pytest.raises(ValueError, match=match):
        MLPDenoiser(width=8)(x, timestep, cond)


def test_bad_config_and_bad_cond():
    with pytest.raises(ValueError, match="width must be an int >= 1"):
        MLPDenoiser(width=0)
    with pytest.raises(ValueError, match="num_classes"):
        MLPConfig(num_classes=0)
    with pytest.raises(ValueError, match="config must be an MLPConfig"):
        MLPDenoiser({"width": 8})
    model = MLPDenoiser(width=8, num_classes=2)
    with pytest.raises(ValueError, match=r"cond must be int64 class labels of shape \(b,\) = \(2,\)"):
        model(torch.randn(2, 2), torch.zeros(2, dtype=torch.long), torch.zeros(2))


def test_overfits_one_batch_and_plugs_into_the_sampler():
    torch.manual_seed(0)
    schedule = NoiseSchedule.from_name("cosine", 50)
    model = MLPDenoiser(width=64, depth=2)
    x0 = torch.tensor([[1.0, 1.0], [-1.0, -1.0]]).repeat(32, 1)  # two points
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    timestep = torch.arange(64) % 50  # every step, every time: a fixed batch to overfit
    first = None
    for _ in range(60):
        loss = diffusion_loss(schedule, model, x0, timestep=timestep, generator=generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.5 * first
    samples = DDPMSampler(schedule, clip_x0=False).sample(model.eval(), (16, 2), generator=generator)
    assert samples.shape == (16, 2) and torch.isfinite(samples).all()
