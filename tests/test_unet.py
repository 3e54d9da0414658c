import pytest
import torch
import torch.nn.functional as F
from einops import rearrange

from tinyvdm.models.unet import (
    UNET_CONFIGS,
    TemporalAttention,
    TemporalConv,
    UNet,
    UNetConfig,
    plain_attention,
)
from tinyvdm.nn import TimestepEmbedder, timestep_embedding

SHAPE = (2, 4, 3, 16, 16)  # b t c h w


def tiny(**overrides) -> UNet:
    torch.manual_seed(0)
    return UNet.from_name("tiny", **overrides).eval()


def wake_up(model: UNet, scale: float = 0.05):
    """Give the zero-initialised layers (final conv, temporal projections) random weights."""
    torch.manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, TemporalAttention):
                module.proj.weight.normal_(0, scale)
            elif isinstance(module, TemporalConv):
                module.conv.weight.normal_(0, scale)
        model.out_conv.weight.normal_(0, scale)
    return model


def inputs(shape=SHAPE):
    torch.manual_seed(2)
    return torch.randn(shape), torch.tensor([3, 700])


@pytest.mark.parametrize("temporal", ["attention", "conv", None])
def test_shapes_and_zero_output_at_init(temporal):
    model = tiny(temporal=temporal)
    x, timestep = inputs()
    out = model(x, timestep)
    assert out.shape == x.shape
    assert torch.equal(out, torch.zeros_like(x))  # the final conv starts at zero
    out = wake_up(model)(x, timestep.float())  # float steps work too
    assert out.shape == x.shape and out.abs().max() > 0
    wide = UNet.from_name("tiny", in_channels=1, out_channels=2, temporal=temporal)
    assert wide(torch.randn(1, 3, 1, 8, 8), torch.tensor([5])).shape == (1, 3, 2, 8, 8)


def test_frame_by_frame_unet_never_mixes_frames():
    model = wake_up(tiny(temporal=None))
    x, timestep = inputs()
    perturbed = x.clone()
    perturbed[:, 2] += torch.randn_like(perturbed[:, 2])
    before, after = model(x, timestep), model(perturbed, timestep)
    others = [0, 1, 3]
    assert torch.allclose(before[:, others], after[:, others], atol=1e-6)
    assert (before[:, 2] - after[:, 2]).abs().max() > 1e-3


@pytest.mark.parametrize("temporal", ["attention", "conv"])
def test_temporal_layers_mix_frames_once_awake(temporal):
    x, timestep = inputs()
    perturbed = x.clone()
    perturbed[:, 2] += torch.randn_like(perturbed[:, 2])
    model = tiny(temporal=temporal)
    with torch.no_grad():
        model.out_conv.weight.normal_(0, 0.05)
    # Zero temporal projections: still frame by frame.
    assert torch.allclose(model(x, timestep)[:, 0], model(perturbed, timestep)[:, 0], atol=1e-6)
    wake_up(model)
    assert (model(x, timestep)[:, 0] - model(perturbed, timestep)[:, 0]).abs().max() > 1e-4


@pytest.mark.parametrize("temporal", ["attention", "conv"])
def test_space_time_unet_at_init_is_the_2d_unet(temporal):
    flat = wake_up(tiny(temporal=None))
    torch.manual_seed(5)
    video = UNet.from_name("tiny", temporal=temporal).eval()
    missing, unexpected = video.load_state_dict(flat.state_dict(), strict=False)
    assert not unexpected and missing and all(".temporal." in key for key in missing)
    x, timestep = inputs()
    assert torch.allclose(video(x, timestep), flat(x, timestep), atol=1e-6)


def test_temporal_attention_paths_agree_and_match_sdpa():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 5, 2, 8, 16)
    assert torch.allclose(plain_attention(q, k, v), F.scaled_dot_product_attention(q, k, v), atol=1e-5)
    layer = TemporalAttention(16, heads=2)
    torch.nn.init.normal_(layer.proj.weight, 0, 0.2)
    x = torch.randn(2 * 6, 16, 4, 4)  # (b t) c h w
    layer.impl = "sdpa"
    fused = layer(x, frames=6)
    layer.impl = "plain"
    assert torch.allclose(layer(x, frames=6), fused, atol=1e-5)
    layer.impl = "auto"
    assert not layer.use_sdpa(x, 6) and layer.use_sdpa(x, 64)  # CPU: plain for short clips only


def test_temporal_conv_is_a_zero_padded_conv1d_over_frames():
    torch.manual_seed(0)
    layer = TemporalConv(16, groups=8)
    torch.nn.init.normal_(layer.conv.weight, 0, 0.2)
    b, t, h, w = 2, 5, 3, 4
    x = torch.randn(b * t, 16, h, w)
    hidden = rearrange(F.silu(layer.norm(x)), "(b t) c h w -> (b h w) c t", t=t)
    reference = F.conv1d(hidden, layer.conv1d_weight(), padding=1)  # (b h w) c t
    reference = x + rearrange(reference, "(b h w) c t -> (b t) c h w", b=b, h=h)
    assert torch.allclose(layer(x, frames=t), reference, atol=1e-5)


def test_class_conditioning_and_null_class():
    model = wake_up(tiny(num_classes=4))
    x, timestep = inputs()
    a = model(x, timestep, torch.tensor([0, 0]))
    b = model(x, timestep, torch.tensor([3, 3]))
    assert (a - b).abs().max() > 1e-4
    null = torch.tensor([4, 4])  # label num_classes is "no class"
    assert torch.equal(model(x, timestep, null), model(x, timestep, None))
    with pytest.raises(ValueError, match=r"\(b,\) = \(2,\)"):
        model(x, timestep, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="num_classes=None"):
        tiny()(x, timestep, torch.tensor([0, 1]))


def test_bad_shapes_raise_value_errors():
    model = tiny()
    x, timestep = inputs()
    with pytest.raises(ValueError, match=r"\(b, t, 3, h, w\)"):
        model(x[:, 0], timestep)
    with pytest.raises(ValueError, match=r"\(b, t, 3, h, w\)"):
        model(x[:, :, :1], timestep)
    with pytest.raises(ValueError, match=r"divisible by patch_size \* 2 \*\* \(levels - 1\) = 4"):
        model(torch.randn(2, 4, 3, 18, 16), timestep)
    with pytest.raises(ValueError, match=r"timestep must have shape \(b,\) = \(2,\)"):
        model(x, timestep[:1])
    with pytest.raises(ValueError, match="temporal"):
        UNetConfig(temporal="3d")
    with pytest.raises(ValueError, match="divisible"):
        UNetConfig(base_channels=12)
    with pytest.raises(ValueError, match="unknown UNet size"):
        UNet.from_name("huge")


def test_timestep_embedding_properties():
    steps = torch.tensor([0, 1, 10, 999])
    embedding = timestep_embedding(steps, 32)
    assert embedding.shape == (4, 32) and embedding.dtype == torch.float32
    assert torch.equal(embedding[0, :16], torch.ones(16)) and torch.equal(embedding[0, 16:], torch.zeros(16))
    assert torch.cdist(embedding, embedding).fill_diagonal_(1).min() > 0.1  # all different
    assert torch.allclose(timestep_embedding(steps.float(), 32), embedding)  # int and float agree
    odd = timestep_embedding(steps, 33)
    assert odd.shape == (4, 33) and torch.equal(odd[:, -1], torch.zeros(4))
    with pytest.raises(ValueError, match=r"\(b,\)"):
        timestep_embedding(torch.zeros(2, 1), 8)
    embedder = TimestepEmbedder(24)
    assert embedder(steps).shape == (4, 24)


def test_overfits_one_batch():
    torch.manual_seed(0)
    model = UNet.from_name("tiny", temporal="attention")
    x = torch.randn(2, 4, 3, 8, 8)
    timestep = torch.tensor([10, 500])
    target = torch.randn_like(x)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = F.mse_loss(model(x, timestep), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 5, losses


def test_named_sizes_and_flops():
    sizes = {name: UNet.from_name(name).num_parameters() for name in ("tiny", "compact", "small")}
    assert 0.3e6 <= sizes["tiny"] <= 1e6 and 2e6 <= sizes["small"] <= 3.5e6, sizes
    # The benchmark compares "small" with video-diffusion-pytorch's Unet3D (3.16M parameters).
    assert abs(sizes["small"] - 3.16e6) < 0.1e6, sizes
    assert 0.6e6 <= sizes["compact"] <= 1.2e6 and UNet.from_name("compact").config.patch_size == 2
    assert set(UNET_CONFIGS) == {"tiny", "compact", "small", "wide", "base"}
    wide = UNet.from_name("wide")
    # Also matched to Unet3D, with every level at least 64 channels wide.
    assert abs(wide.num_parameters() - 3.16e6) < 0.25e6 and wide.config.patch_size == 2
    assert min(wide.config.channel_mults) * wide.config.base_channels >= 64
    model = tiny()
    flops = model.flops_per_forward(SHAPE)
    assert flops > 0 and model.flops_per_forward((4, *SHAPE[1:])) == 2 * flops


def test_runs_under_bfloat16_autocast():
    model = wake_up(tiny(num_classes=3))
    x, timestep = inputs()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x, timestep, torch.tensor([0, 3]))
    assert out.shape == x.shape and torch.isfinite(out).all()
    reference = model(x, timestep, torch.tensor([0, 3]))
    assert (out.float() - reference).abs().max() < 0.1 * reference.abs().max() + 1e-3


def test_patch_size_folds_pixels_into_channels():
    # Patch 2 runs the network at half resolution: same output shape, about a quarter of the FLOPs.
    full = UNet.from_name("tiny", temporal=None)
    patched = UNet.from_name("tiny", temporal=None, patch_size=2)
    x = torch.randn(2, 3, 3, 16, 16)
    timestep = torch.tensor([3, 700])
    assert patched(x, timestep).shape == x.shape
    ratio = patched.flops_per_forward(tuple(x.shape)) / full.flops_per_forward(tuple(x.shape))
    assert 0.2 < ratio < 0.35, ratio
    with pytest.raises(ValueError, match=r"= 8"):
        patched(torch.randn(2, 3, 3, 12, 12), timestep)
    with pytest.raises(ValueError, match="patch_size"):
        UNetConfig(patch_size=0)


def test_pixel_unshuffle_and_shuffle_are_inverse_in_the_unet_layout():
    x = torch.randn(6, 3, 8, 8)
    folded = torch.nn.functional.pixel_unshuffle(x, 2)
    assert folded.shape == (6, 12, 4, 4)
    assert torch.equal(torch.nn.functional.pixel_shuffle(folded, 2), x)


@pytest.mark.parametrize("temporal", ["attention", "conv"])
def test_inflate_starts_as_the_frame_by_frame_network(temporal):
    torch.manual_seed(0)
    two_d = UNet.from_name("tiny", temporal=None)
    for p in two_d.parameters():  # non-zero everywhere, so the comparison means something
        p.data.normal_(0, 0.05)
    video = two_d.inflate(temporal)
    assert video.config.temporal == temporal
    assert video.num_parameters() > two_d.num_parameters()
    x, timestep = torch.randn(2, 4, 3, 16, 16), torch.tensor([10, 900])
    torch.testing.assert_close(video(x, timestep), two_d(x, timestep), rtol=1e-5, atol=1e-6)
    # One step of training wakes the temporal layers up: frames start to exchange information.
    video(x, timestep).pow(2).mean().backward()
    temporal_grads = [p.grad.abs().sum() for n, p in video.named_parameters() if ".temporal." in n and p.grad is not None]
    assert temporal_grads and sum(temporal_grads) > 0
    with pytest.raises(ValueError, match="temporal=None"):
        video.inflate()
    with pytest.raises(ValueError, match="change the 2-D weights"):
        two_d.inflate(base_channels=32)
