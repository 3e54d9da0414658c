"""The UNet's joint space-time attention option (``joint_levels``, :class:`JointAttention`)."""

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from tinyvdm.models.unet import JointAttention, TemporalAttention, UNet, UNetConfig
from tinyvdm.nn import timestep_embedding


def awake(layer: torch.nn.Module, scale: float = 0.3) -> torch.nn.Module:
    """Random weights in the zero-initialised output projection, so the layer does something."""
    torch.manual_seed(5)
    proj = layer.attention.proj if isinstance(layer, JointAttention) else layer.proj
    with torch.no_grad():
        proj.weight.normal_(0, scale)
        proj.bias.normal_(0, scale)
    return layer


def reference_joint(layer: JointAttention, x: torch.Tensor, frames: int) -> torch.Tensor:
    """The layer written out per clip with explicit loops over clips and heads: softmax(q k^T / sqrt(d)) v."""
    n_clips = x.shape[0] // frames
    c, h, w = x.shape[1:]
    heads = layer.attention.heads
    code = timestep_embedding(torch.arange(frames), c)  # (t, c)
    out = x.clone()
    for i in range(n_clips):
        clip = x[i * frames:(i + 1) * frames]  # (t, c, h, w)
        tokens = clip.permute(0, 2, 3, 1)  # (t, h, w, c)
        tokens = F.layer_norm(tokens, (c,), layer.norm.weight, layer.norm.bias) + code[:, None, None]
        tokens = tokens.reshape(frames * h * w, c)  # (n, c), frame-major
        qkv = tokens @ layer.attention.qkv.weight.T + layer.attention.qkv.bias
        q, k, v = qkv.split(c, dim=1)
        size = c // heads
        mixed = []
        for head in range(heads):
            part = slice(head * size, (head + 1) * size)
            scores = q[:, part] @ k[:, part].T / size**0.5  # (n, n): every token reads every token
            mixed.append(scores.softmax(dim=1) @ v[:, part])
        result = torch.cat(mixed, dim=1) @ layer.attention.proj.weight.T + layer.attention.proj.bias
        out[i * frames:(i + 1) * frames] += result.reshape(frames, h, w, c).permute(0, 3, 1, 2)
    return out


def test_joint_attention_matches_a_written_out_reference():
    torch.manual_seed(0)
    layer = awake(JointAttention(16, heads=2)).eval()
    x = torch.randn(2 * 3, 16, 4, 4)  # (b t) c h w with b = 2, t = 3
    with torch.no_grad():
        torch.testing.assert_close(layer(x, frames=3), reference_joint(layer, x, 3), rtol=1e-4, atol=1e-5)


def test_joint_attention_reads_other_positions_of_other_frames_temporal_does_not():
    torch.manual_seed(0)
    frames, c = 4, 16
    joint = awake(JointAttention(c, heads=2))
    temporal = awake(TemporalAttention(c, heads=2))
    for layer, expected in [(joint, True), (temporal, False)]:
        x = torch.randn(frames, c, 4, 4, requires_grad=True)  # one clip
        layer(x, frames)[frames - 1, :, 0, 0].sum().backward()  # last frame, top-left position
        reached = x.grad[0, :, 3, 3].abs().sum() > 0  # first frame, bottom-right position
        assert bool(reached) is expected, type(layer).__name__
        # Clips never mix: a second clip's input cannot reach the first clip's output.
        two = torch.randn(2 * frames, c, 4, 4, requires_grad=True)
        layer(two, frames)[:frames].sum().backward()
        assert two.grad[frames:].abs().sum() == 0


def test_joint_levels_build_joint_layers_only_where_asked_and_inflate_starts_as_the_2d_unet():
    torch.manual_seed(0)
    two_d = UNet.from_name("tiny", temporal=None)
    with torch.no_grad():
        two_d.out_conv.weight.normal_(0, 0.05)
    video = two_d.inflate("attention", joint_levels=(-1,))
    kinds = {type(m).__name__ for m in video.modules() if isinstance(m, (JointAttention, TemporalAttention))}
    assert kinds == {"JointAttention", "TemporalAttention"}
    coarsest = [block.temporal for block in video.middle if block.temporal is not None]
    assert coarsest and all(isinstance(layer, JointAttention) for layer in coarsest)
    torch.manual_seed(2)
    x, timestep = torch.randn(2, 4, 3, 16, 16), torch.tensor([3, 700])
    with torch.no_grad():
        torch.testing.assert_close(video(x, timestep), two_d(x, timestep), rtol=0, atol=1e-6)
    # Without joint_levels nothing changes: the default network has no joint layer.
    plain = UNet.from_name("tiny", temporal="attention")
    assert not any(isinstance(m, JointAttention) for m in plain.modules())
    # The joint layers' FLOPs are counted.
    factorised = UNet(replace(video.config, joint_levels=()))
    assert video.flops_per_forward((1, 4, 3, 16, 16)) > factorised.flops_per_forward((1, 4, 3, 16, 16))


def test_joint_levels_must_index_the_levels():
    with pytest.raises(ValueError, match="joint_levels"):
        UNetConfig(channel_mults=(1, 2), joint_levels=(2,))
    with pytest.raises(ValueError, match="joint_levels"):
        UNetConfig(channel_mults=(1, 2), joint_levels=(-3,))

