"""The UNet's fixed-length temporal layer (``temporal="mix"``, :class:`TemporalMix`)."""

import pytest
import torch
import torch.nn.functional as F

from tinyvdm.models.unet import TemporalConv, TemporalMix, UNet, UNetConfig


def awake(layer: TemporalMix, scale: float = 0.1) -> TemporalMix:
    """Random weights in the zero-initialised maps, so the layer does something."""
    torch.manual_seed(5)
    with torch.no_grad():
        layer.mix.weight.normal_(0, scale)
        layer.mix.bias.normal_(0, scale)
    return layer


def reference_mix(layer: TemporalMix, x: torch.Tensor, frames: int) -> torch.Tensor:
    """The layer written out per clip and per (output frame, input frame) pair of weight blocks."""
    c, h, w = x.shape[1:]
    kernel = layer.mix.kernel_size[0]
    out = x.clone()
    for i in range(x.shape[0] // frames):
        clip = x[i * frames:(i + 1) * frames]  # (t, c, h, w)
        hidden = F.silu(F.group_norm(clip, layer.norm.num_groups, layer.norm.weight, layer.norm.bias))
        for target in range(frames):
            rows = slice(target * c, (target + 1) * c)  # the output channels of this frame
            total = layer.mix.bias[rows][:, None, None]
            for source in range(frames):
                cols = slice(source * c, (source + 1) * c)
                weight = layer.mix.weight[rows, cols]  # (c, c, k, k): how frame `source` feeds frame `target`
                total = total + F.conv2d(hidden[source][None], weight, padding=kernel // 2)[0]
            out[i * frames + target] += total
    return out


@pytest.mark.parametrize("kernel", [1, 3])
def test_mix_matches_a_written_out_reference(kernel):
    torch.manual_seed(0)
    layer = awake(TemporalMix(8, frames=3, groups=4, kernel=kernel)).eval()
    x = torch.randn(2 * 3, 8, 5, 5)  # (b t) c h w with b = 2, t = 3
    with torch.no_grad():
        torch.testing.assert_close(layer(x, frames=3), reference_mix(layer, x, 3), rtol=1e-4, atol=1e-5)


def test_mix_links_every_pair_of_frames_at_each_pixel():
    frames, c = 6, 8
    mix = awake(TemporalMix(c, frames, groups=4))
    conv = TemporalConv(c, groups=4)
    with torch.no_grad():
        conv.conv.weight.normal_(0, 0.1)
    for layer, far_frame_reached in [(mix, True), (conv, False)]:
        x = torch.randn(frames, c, 4, 4, requires_grad=True)  # one clip
        layer(x, frames)[frames - 1, :, 0, 0].sum().backward()  # last frame, top-left position
        # A width-3 convolution over time reads frames 4..5 only; the mix reads frame 0 directly.
        assert bool(x.grad[0, :, 0, 0].abs().sum() > 0) is far_frame_reached, type(layer).__name__
    # Clips never mix.
    two = torch.randn(2 * frames, c, 4, 4, requires_grad=True)
    mix(two, frames)[:frames].sum().backward()
    assert two.grad[frames:].abs().sum() == 0


def test_mix_unet_starts_as_the_2d_unet_and_needs_its_clip_length():
    torch.manual_seed(0)
    two_d = UNet.from_name("tiny", temporal=None)
    with torch.no_grad():
        two_d.out_conv.weight.normal_(0, 0.05)
    video = two_d.inflate("mix", frames=4)
    assert any(isinstance(m, TemporalMix) for m in video.modules())
    x, timestep = torch.randn(2, 4, 3, 16, 16), torch.tensor([3, 700])
    with torch.no_grad():
        torch.testing.assert_close(video(x, timestep), two_d(x, timestep), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="exactly frames=4"):
        video(torch.randn(2, 5, 3, 16, 16), timestep)
    with pytest.raises(ValueError, match="needs frames"):
        UNetConfig(temporal="mix")
    with pytest.raises(ValueError, match="mix_kernel"):
        UNetConfig(temporal="mix", frames=4, mix_kernel=2)
    with pytest.raises(ValueError, match="'mix'"):
        two_d.inflate("joint")


def test_mix_unet_learns_to_copy_a_frame_across_the_clip():
    """A task only cross-frame layers can do: output every frame as the first frame's content.

    The frame-by-frame UNet cannot (each frame sees only itself); with mix layers the loss falls.
    """
    torch.manual_seed(0)
    frames = 4
    x = torch.randn(8, frames, 3, 8, 8)
    target = x[:, :1].expand_as(x)
    timestep = torch.zeros(8, dtype=torch.long)
    losses = {}
    for temporal in (None, "mix"):
        torch.manual_seed(1)
        model = UNet(UNetConfig(base_channels=16, channel_mults=(1, 2), heads=2, temporal=temporal,
                                frames=frames, attention_levels=()))
        optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(150):
            loss = (model(x, timestep) - target).pow(2).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        losses[temporal] = loss.item()
    assert losses["mix"] < 0.5 * losses[None], losses
