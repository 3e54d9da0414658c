"""Tests for tinyvdm.nn.transformer: the pre-norm block, cross-attention, per-frame extra tokens."""

import pytest
import torch

from tinyvdm.nn.transformer import (
    CrossAttention,
    LabelEmbedder,
    TransformerBlock,
    attention_patterns,
    check_denoiser_inputs,
    check_model_attention,
    join_frame_tokens,
    split_frame_tokens,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py

DIM, HEADS = 16, 2


def tokens(shape=(2, 4, 3, 3, DIM), seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def block(attention: str) -> TransformerBlock:
    torch.manual_seed(0)
    return TransformerBlock(DIM, HEADS, attention).eval()


def change_frame(x: torch.Tensor, frame: int) -> torch.Tensor:
    changed = x.clone()
    changed[:, frame] += torch.randn_like(changed[:, frame])
    return changed


def test_patterns_of_each_attention():
    assert attention_patterns("factorised") == ("spatial", "temporal")
    assert attention_patterns("causal") == ("causal",)
    with pytest.raises(ValueError, match="attention must be one of"):
        attention_patterns("axial")
    with pytest.raises(ValueError, match="attention must be one of"):
        check_model_attention("temporal")  # extra tokens would never reach a pixel


@pytest.mark.parametrize("attention", ["spatial", "temporal", "full", "causal", "sparse-causal", "factorised"])
def test_block_shape_and_weights(attention):
    layer = block(attention)
    x = tokens()
    out = layer(x)
    assert out.shape == x.shape and not torch.allclose(out, x)
    again, weights = layer(x, return_weights=True)
    torch.testing.assert_close(again, out, rtol=1e-4, atol=1e-5)  # the teaching path agrees
    assert len(weights) == (2 if attention == "factorised" else 1)
    n = 4 * 3 * 3
    for w in weights:
        assert w.shape == (2, HEADS, n, n)
        torch.testing.assert_close(w.sum(dim=-1), torch.ones(2, HEADS, n))


def test_spatial_block_never_mixes_frames_even_with_extra_tokens():
    layer = block("spatial")
    grid, extra = tokens(), torch.randn(2, 2, DIM)
    before = layer(join_frame_tokens(grid, extra))
    after = layer(join_frame_tokens(change_frame(grid, 2), extra))
    others = [0, 1, 3]
    assert torch.allclose(before[:, others], after[:, others], atol=1e-6)
    assert (before[:, 2] - after[:, 2]).abs().max() > 1e-3


@pytest.mark.parametrize("attention", ["causal", "sparse-causal"])
def test_causal_block_never_reads_a_later_frame(attention):
    layer = block(attention)
    grid, extra = tokens(), torch.randn(2, 1, DIM)
    before = layer(join_frame_tokens(grid, extra))
    after = layer(join_frame_tokens(change_frame(grid, 2), extra))
    assert torch.allclose(before[:, :2], after[:, :2], atol=1e-6)
    assert (before[:, 3] - after[:, 3]).abs().max() > 1e-3  # frame 3 reads frame 2 (its previous one)


def test_factorised_and_full_blocks_mix_frames():
    for attention in ("factorised", "full", "temporal"):
        layer = block(attention)
        x = tokens()
        assert (layer(x)[:, 0] - layer(change_frame(x, 3))[:, 0]).abs().max() > 1e-4


def test_join_and_split_frame_tokens_are_inverse():
    grid, extra = tokens(), torch.randn(2, 2, DIM)
    joined = join_frame_tokens(grid, extra)
    assert joined.shape == (2, 4, 1, 2 + 9, DIM)
    assert torch.equal(joined[:, 3, 0, :2], extra)  # every frame carries a copy
    copies, back = split_frame_tokens(joined, 2, height=3)
    assert torch.equal(back, grid) and torch.equal(copies, extra[:, None].expand(2, 4, 2, DIM))


def test_cross_attention_reads_only_the_condition():
    torch.manual_seed(0)
    layer = CrossAttention(DIM, HEADS, context_dim=8)
    x, context = tokens(), torch.randn(2, 3, 8)
    out = layer(x, context)
    assert out.shape == x.shape
    # Written out: each token's query against the three condition keys.
    q = layer.q(x).reshape(2, -1, HEADS, DIM // HEADS).transpose(1, 2)  # b heads n d
    k, v = layer.kv(context).reshape(2, 3, 2, HEADS, DIM // HEADS).permute(2, 0, 3, 1, 4)  # 2 b heads k d
    weights = (q @ k.transpose(-2, -1) / (DIM // HEADS) ** 0.5).softmax(dim=-1)
    expected = layer.proj((weights @ v).transpose(1, 2).reshape(2, -1, DIM)).reshape(x.shape)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    layer.backend = "sdpa"
    torch.testing.assert_close(layer(x, context), out, rtol=1e-5, atol=1e-5)
    # No token reads another: a changed frame changes only its own outputs.
    changed = layer(change_frame(x, 1), context)
    assert torch.allclose(changed[:, [0, 2, 3]], out[:, [0, 2, 3]], atol=1e-6)


def test_label_embedder_null_class():
    embedder = LabelEmbedder(num_classes=3, dim=DIM)
    null = embedder(torch.tensor([3, 3]), 2, torch.device("cpu"))
    assert torch.equal(embedder(None, 2, torch.device("cpu")), null)
    assert embedder.table.num_embeddings == 4


def test_denoiser_input_checks_name_the_expected_shape():
    x, timestep = torch.zeros(2, 4, 3, 8, 8), torch.zeros(2, dtype=torch.long)

    def check(x=x, timestep=timestep, cond=None, num_classes=None):
        check_denoiser_inputs("Net", x, timestep, cond, 3, 4, 2, num_classes)

    check()
    check(cond=torch.tensor([0, 5]), num_classes=5)
    with pytest.raises(ValueError, match=r"x must have shape \(b, t, 3, h, w\)"):
        check(x=torch.zeros(2, 4, 1, 8, 8))
    with pytest.raises(ValueError, match="h=6 must be divisible by patch_size=4"):
        check(x=torch.zeros(2, 4, 3, 6, 8))
    with pytest.raises(ValueError, match="t=3 frames must be divisible by tubelet=2"):
        check(x=torch.zeros(2, 3, 3, 8, 8))
    with pytest.raises(ValueError, match=r"timestep must have shape \(b,\) = \(2,\)"):
        check(timestep=torch.zeros(1))
    with pytest.raises(ValueError, match="Net was built with num_classes=None"):
        check(cond=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"int64 class labels of shape \(b,\) = \(2,\)"):
        check(cond=torch.tensor([0.0, 1.0]), num_classes=5)


def test_the_three_transformer_configs_share_their_checks():
    from tinyvdm.models.dit import DiTConfig
    from tinyvdm.models.uvit import UViTConfig
    from tinyvdm.models.vit import ViTConfig

    for config in (ViTConfig, UViTConfig, DiTConfig):
        with pytest.raises(ValueError, match="dim must be divisible by heads"):
            config(dim=60, heads=8)
        with pytest.raises(ValueError, match="attention must be one of"):
            config(attention="temporal")
        with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
            config(dropout=1.0)
        with pytest.raises(ValueError, match="depth must be a positive int"):
            config(depth=0)
        assert config(frames=8, tubelet=2, image_size=32, patch_size=4).max_grid == (4, 8, 8)
    # Learned position tables need a whole grid; DiT's sin-cos default takes any clip size.
    for config in (ViTConfig, UViTConfig):
        with pytest.raises(ValueError, match="image_size=30 must be divisible by patch_size=4"):
            config(image_size=30, patch_size=4)
    assert DiTConfig(image_size=30, patch_size=4).image_size == 30
