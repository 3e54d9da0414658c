"""The local feed-forward layer (:class:`tinyvdm.nn.transformer.LocalMLP`) and the DiT's ``local_mlp`` option."""

import pytest
import torch
import torch.nn.functional as F

from tinyvdm.models.dit import DiT, DiTConfig
from tinyvdm.models.uvit import UViT, UViTBlock, UViTConfig
from tinyvdm.nn.transformer import MLP, LocalMLP

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def layer(dim=6, hidden=10) -> LocalMLP:
    torch.manual_seed(0)
    return LocalMLP(dim, hidden).eval()


def test_matches_a_written_out_reference():
    mlp = layer()
    x = torch.randn(2, 3, 4, 5, 6)  # b t h w d
    expected = torch.empty_like(x)
    kernel = mlp.local.weight[:, 0]  # (hidden, 3, 3): one 3x3 kernel per hidden unit
    for b in range(2):
        for t in range(3):
            hidden = x[b, t] @ mlp.fc.weight.T + mlp.fc.bias  # (h, w, hidden)
            padded = F.pad(hidden.permute(2, 0, 1), (1, 1, 1, 1))  # (hidden, h + 2, w + 2), zeros outside
            mixed = torch.zeros_like(hidden.permute(2, 0, 1))
            for dy in range(3):
                for dx in range(3):
                    mixed += kernel[:, dy, dx, None, None] * padded[:, dy:dy + 4, dx:dx + 5]
            mixed = mixed + mlp.local.bias[:, None, None]
            expected[b, t] = F.gelu(mixed.permute(1, 2, 0)) @ mlp.out.weight.T + mlp.out.bias
    torch.testing.assert_close(mlp(x), expected, rtol=1e-5, atol=1e-5)


def test_a_token_reaches_only_its_3x3_neighbourhood_in_its_own_frame():
    mlp = layer()
    x = torch.randn(1, 3, 6, 6, 6)
    changed = x.clone()
    changed[0, 1, 2, 3] += 1.0  # one token of frame 1
    moved = (mlp(changed) - mlp(x)).abs().amax(dim=-1)[0] > 1e-6  # (t, h, w)
    expected = torch.zeros(3, 6, 6, dtype=torch.bool)
    expected[1, 1:4, 2:5] = True
    assert torch.equal(moved, expected)


def test_plain_mlp_is_position_blind_and_the_local_one_is_not():
    # The same token content at two places gives the same plain-MLP output; with the
    # convolution it depends on the neighbours.
    torch.manual_seed(1)
    plain, local = MLP(6, 10).eval(), layer()
    x = torch.randn(1, 1, 4, 4, 6)
    x[0, 0, 3, 3] = x[0, 0, 1, 1]
    assert torch.allclose(plain(x)[0, 0, 3, 3], plain(x)[0, 0, 1, 1])
    assert not torch.allclose(local(x)[0, 0, 3, 3], local(x)[0, 0, 1, 1])


def test_needs_a_token_grid():
    with pytest.raises(ValueError, match=r"token grid of shape \(b, t, h, w, d\), got \(2, 16, 6\)"):
        layer()(torch.randn(2, 16, 6))


def test_dit_option():
    config = dict(patch_size=2, dim=32, depth=2, heads=2, frequency_dim=32, num_classes=3)
    torch.manual_seed(0)
    plain = DiT(DiTConfig(**config))
    torch.manual_seed(0)
    local = DiT(DiTConfig(**config, local_mlp=True))
    assert all(isinstance(block.mlp, LocalMLP) for block in local.blocks)
    assert not any(isinstance(block.mlp, LocalMLP) for block in plain.blocks)
    # One depthwise 3x3 kernel and bias per hidden unit (4 * 32 of them) per block.
    assert local.num_parameters() - plain.num_parameters() == 2 * 128 * (9 + 1)
    x, timestep = torch.randn(2, 4, 3, 8, 8), torch.tensor([3, 700])
    assert torch.equal(local(x, timestep), torch.zeros_like(x))  # adaLN-Zero: still exactly 0 at initialisation
    with pytest.raises(ValueError, match="local_mlp must be a bool"):
        DiTConfig(local_mlp=1)
    with pytest.raises(ValueError, match="in_context conditioning adds tokens"):
        DiTConfig(local_mlp=True, conditioning="in_context")


def test_uvit_rows_convolve_the_grid_and_pass_the_extra_tokens_through():
    # U-ViT's layout: each frame one row of k extra tokens, then the h x w grid.
    mlp = layer()
    grid, extra = torch.randn(2, 3, 4, 5, 6), torch.randn(2, 3, 2, 6)
    rows = torch.cat([extra, grid.flatten(2, 3)], dim=2)[:, :, None]  # (b, t, 1, k + h w, d)
    out = mlp(rows, layout=(2, 4))
    assert out.shape == rows.shape
    torch.testing.assert_close(out[:, :, 0, 2:].unflatten(2, (4, 5)), mlp(grid))
    plain = F.gelu(mlp.fc(extra)) @ mlp.out.weight.T + mlp.out.bias  # no convolution for the extra tokens
    torch.testing.assert_close(out[:, :, 0, :2], plain)


def test_uvit_option():
    torch.manual_seed(0)
    plain = UViT.from_name("tiny", frames=4, image_size=8, patch_size=2, num_classes=3)
    torch.manual_seed(0)
    local = UViT.from_name("tiny", frames=4, image_size=8, patch_size=2, num_classes=3, local_mlp=True)
    assert all(isinstance(block.block.mlp, LocalMLP) for block in local.modules() if isinstance(block, UViTBlock))
    x, timestep, cond = torch.randn(2, 4, 3, 8, 8), torch.tensor([3, 700]), torch.tensor([0, 2])
    assert local(x, timestep, cond).shape == x.shape
    assert not torch.allclose(local(x, timestep, cond), plain(x, timestep, cond))
    with pytest.raises(ValueError, match="local_mlp must be a bool"):
        UViTConfig(local_mlp="yes")


def reach(mlp: LocalMLP, x: torch.Tensor) -> torch.Tensor:
    """Which output tokens ``(t, h, w)`` change when token (frame 2, row 2, column 3) of ``x`` does."""
    changed = x.clone()
    changed[0, 2, 2, 3] += 1.0
    return (mlp(changed) - mlp(x)).abs().amax(dim=-1)[0] > 1e-6


# That token's 3 x 3 neighbourhood in frames 1, 2 and 3 of a (5, 6, 6) grid.
SPACE_TIME_NEIGHBOURS = torch.zeros(5, 6, 6, dtype=torch.bool)
SPACE_TIME_NEIGHBOURS[1:4, 1:4, 2:5] = True


def test_a_space_time_kernel_reaches_the_neighbouring_frames_only():
    torch.manual_seed(0)
    mlp = LocalMLP(6, 10, frames=3).eval()
    x = torch.randn(1, 5, 6, 6, 6)
    changed = x.clone()
    changed[0, 2, 2, 3] += 1.0  # one token of frame 2
    assert torch.equal(reach(mlp, x), SPACE_TIME_NEIGHBOURS)
    # In U-ViT's rows too, and there the extra tokens still read nothing but themselves.
    extra = torch.randn(1, 5, 1, 6)
    rows = torch.cat([extra, x.flatten(2, 3)], dim=2)[:, :, None]
    rows_changed = torch.cat([extra, changed.flatten(2, 3)], dim=2)[:, :, None]
    moved_rows = (mlp(rows_changed, layout=(1, 6)) - mlp(rows, layout=(1, 6))).abs().amax(dim=-1)[0, :, 0] > 1e-6
    assert not moved_rows[:, 0].any()
    assert torch.equal(moved_rows[:, 1:].unflatten(1, (6, 6)), SPACE_TIME_NEIGHBOURS)


@pytest.mark.parametrize("frames", [0, 2, True, 1.0])
def test_the_time_extent_must_be_an_odd_positive_int(frames):
    with pytest.raises(ValueError, match="must be an odd positive int"):
        LocalMLP(6, 10, frames=frames)


def test_the_factorised_kernel_equals_a_3d_kernel_of_rank_one():
    # Independent reference: a depthwise Conv3d whose (frames, 3, 3) kernel is the outer product of
    # each channel's temporal taps and its 3x3 kernel, with the same bias, zeros beyond the clip.
    torch.manual_seed(0)
    mlp = LocalMLP(6, 10, frames=3, factorised=True).eval()
    with torch.no_grad():
        mlp.time_taps.copy_(torch.randn(10, 3))
    reference = torch.nn.Conv3d(10, 10, (3, 3, 3), padding=1, groups=10)
    with torch.no_grad():
        reference.weight.copy_(mlp.time_taps[:, None, :, None, None] * mlp.local.weight[:, :, None])
        reference.bias.copy_(mlp.local.bias)
    x = torch.randn(2, 5, 4, 5, 6)
    hidden = mlp.fc(x).permute(0, 4, 1, 2, 3)  # (b, e, t, h, w)
    expected = mlp.out(F.gelu(reference(hidden).permute(0, 2, 3, 4, 1)))
    torch.testing.assert_close(mlp(x), expected, rtol=1e-5, atol=1e-5)


def test_the_factorised_kernel_starts_as_the_per_frame_one_and_reaches_the_neighbouring_frames():
    torch.manual_seed(0)
    per_frame = LocalMLP(6, 10).eval()
    torch.manual_seed(0)
    factorised = LocalMLP(6, 10, frames=3, factorised=True).eval()
    x = torch.randn(1, 5, 6, 6, 6)
    torch.testing.assert_close(factorised(x), per_frame(x))  # taps (0, 1, 0): each frame reads only itself
    with torch.no_grad():
        factorised.time_taps.add_(0.5)
    assert torch.equal(reach(factorised, x), SPACE_TIME_NEIGHBOURS)
    # 3 temporal taps and a 3x3 kernel per hidden unit, against 27 weights for the 3-D kernel.
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(factorised) - count(per_frame) == 10 * 3
    assert count(LocalMLP(6, 10, frames=3)) - count(per_frame) == 10 * 18


def test_factorised_options_are_checked():
    with pytest.raises(ValueError, match="it needs frames > 1, got frames=1"):
        LocalMLP(6, 10, factorised=True)
    with pytest.raises(ValueError, match="factorised must be a bool"):
        LocalMLP(6, 10, frames=3, factorised="yes")
    with pytest.raises(ValueError, match="needs local_mlp=True and local_frames > 1, got local_mlp=True, local_frames=1"):
        DiTConfig(local_mlp=True, local_factorised=True)
    with pytest.raises(ValueError, match="got local_mlp=False, local_frames=3"):
        UViTConfig(local_frames=3, local_factorised=True)
    with pytest.raises(ValueError, match="local_frames .* must be an odd positive int, got 2"):
        UViTConfig(local_mlp=True, local_frames=2)
    with pytest.raises(ValueError, match="local_factorised must be a bool"):
        DiTConfig(local_mlp=True, local_frames=3, local_factorised=1)


def test_models_take_the_factorised_kernel():
    uvit = UViT.from_name("tiny", frames=4, image_size=8, patch_size=2, num_classes=3, local_mlp=True, local_frames=3,
                          local_factorised=True)
    dit = DiT(DiTConfig(patch_size=2, dim=32, depth=2, heads=2, frequency_dim=32, num_classes=3, local_mlp=True,
                        local_frames=3, local_factorised=True))
    mlps = [m for m in list(uvit.modules()) + list(dit.modules()) if isinstance(m, LocalMLP)]
    assert len(mlps) == 5 + 2 and all(m.factorised and m.frames == 3 for m in mlps)
    x, timestep, cond = torch.randn(2, 4, 3, 8, 8), torch.tensor([3, 700]), torch.tensor([0, 2])
    assert uvit(x, timestep, cond).shape == dit(x, timestep, cond).shape == x.shape
