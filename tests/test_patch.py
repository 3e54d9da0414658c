"""Tests for tinyvdm.nn.patch: patchify / unpatchify, the patch embedding, the position codes."""

import pytest
import torch
import torch.nn.functional as F
from einops import rearrange

from tinyvdm.nn.patch import (
    PatchEmbed,
    SpaceTimePositionEmbedding,
    patchify,
    sincos_position_embedding,
    unpatchify,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def clip(shape=(2, 4, 3, 8, 12), seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def reference_patchify(x: torch.Tensor, p: int, pt: int) -> torch.Tensor:
    """The same cut written with reshape and permute, box by box in the (pt, p, p, c) order."""
    b, t, c, h, w = x.shape
    boxes = x.reshape(b, t // pt, pt, c, h // p, p, w // p, p)  # b t' pt c h' p w' p
    boxes = boxes.permute(0, 1, 4, 6, 2, 5, 7, 3)  # b t' h' w' pt p p c
    return boxes.reshape(b, t // pt, h // p, w // p, pt * p * p * c)


@pytest.mark.parametrize("p, pt", [(1, 1), (2, 1), (4, 1), (2, 2), (4, 4)])
def test_patchify_matches_a_reshape_and_unpatchify_inverts_it(p, pt):
    x = clip()
    tokens = patchify(x, p, pt)
    assert tokens.shape == (2, 4 // pt, 8 // p, 12 // p, pt * p * p * 3)
    assert torch.equal(tokens, reference_patchify(x, p, pt))
    assert torch.equal(unpatchify(tokens, p, pt), x)
    # And the other way round: any grid of boxes is a clip.
    grid = torch.randn_like(tokens)
    assert torch.equal(patchify(unpatchify(grid, p, pt), p, pt), grid)


def test_one_box_holds_the_pixels_it_covers():
    x = clip()
    tokens = patchify(x, 4, 2)
    # Token (frame 1, row 0, column 2) covers frames 2-3, rows 0-3, columns 8-11, ordered (pt p p c).
    box = x[0, 2:4, :, 0:4, 8:12]  # pt c p p
    assert torch.equal(tokens[0, 1, 0, 2], rearrange(box, "pt c p1 p2 -> (pt p1 p2 c)"))


def test_bad_shapes_name_the_constraint():
    with pytest.raises(ValueError, match="h=30 must be divisible by patch_size=4"):
        patchify(torch.zeros(1, 2, 3, 30, 32), 4)
    with pytest.raises(ValueError, match="w=6 must be divisible by patch_size=4"):
        patchify(torch.zeros(1, 2, 3, 8, 6), 4)
    with pytest.raises(ValueError, match="t=5 frames must be divisible by tubelet=2"):
        patchify(torch.zeros(1, 5, 3, 8, 8), 2, tubelet=2)
    with pytest.raises(ValueError, match=r"\(b, t, c, h, w\)"):
        patchify(torch.zeros(3, 8, 8), 2)
    with pytest.raises(ValueError, match="patch_size must be a positive int"):
        patchify(torch.zeros(1, 2, 3, 8, 8), 0)
    with pytest.raises(ValueError, match=r"divisible by tubelet \* patch_size\*\*2 = 8"):
        unpatchify(torch.zeros(1, 2, 2, 2, 12), 2, tubelet=2)
    with pytest.raises(ValueError, match=r"\(b, t, h, w, pt p p c\)"):
        unpatchify(torch.zeros(2, 2, 12), 2)


def test_patch_embed_is_a_strided_conv3d():
    torch.manual_seed(0)
    embed = PatchEmbed(3, 16, patch_size=4, tubelet=2)
    x = clip()
    tokens = embed(x)
    assert tokens.shape == (2, 2, 2, 3, 16)
    # The linear weight, each row unflattened to its (c, pt, p, p) box, is a Conv3d kernel.
    kernel = rearrange(embed.proj.weight, "d (pt p1 p2 c) -> d c pt p1 p2", pt=2, p1=4, p2=4)
    conv = F.conv3d(rearrange(x, "b t c h w -> b c t h w"), kernel, embed.proj.bias, stride=(2, 4, 4))
    torch.testing.assert_close(tokens, rearrange(conv, "b d t h w -> b t h w d"), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"\(b, t, 3, h, w\)"):
        embed(torch.zeros(1, 2, 1, 8, 8))


def test_sincos_code_is_factorised_and_tells_every_token_apart():
    code = sincos_position_embedding(4, 5, 6, 32)
    assert code.shape == (4, 5, 6, 32) and code.dtype == torch.float32
    assert torch.equal(code, sincos_position_embedding(4, 5, 6, 32))
    # The first quarter codes the frame only, the next three eighths the row, the rest the column.
    assert torch.equal(code[:, :1, :1, :8].expand(4, 5, 6, 8), code[..., :8])
    assert torch.equal(code[:1, :, :1, 8:20].expand(4, 5, 6, 12), code[..., 8:20])
    assert torch.equal(code[:1, :1, :, 20:].expand(4, 5, 6, 12), code[..., 20:])
    flat = code.reshape(-1, 32)
    assert torch.cdist(flat, flat).fill_diagonal_(1).min() > 0.1  # all 120 positions differ
    assert sincos_position_embedding(2, 2, 2, 13).shape == (2, 2, 2, 13)  # odd widths work
    with pytest.raises(ValueError, match="dim must be an int >= 4"):
        sincos_position_embedding(2, 2, 2, 3)


def test_learned_code_is_a_sum_of_temporal_and_spatial_tables():
    torch.manual_seed(0)
    position = SpaceTimePositionEmbedding(8, "learned", max_grid=(4, 3, 5))
    assert sum(p.numel() for p in position.parameters()) == 4 * 8 + 3 * 5 * 8  # t + h w vectors, not t h w
    code = position.code(4, 3, 5)
    assert torch.allclose(code[2, 1, 4], position.temporal[2] + position.spatial[1, 4])
    assert torch.equal(position.code(2, 2, 2), code[:2, :2, :2])  # a smaller grid reads the first rows
    tokens = torch.randn(2, 3, 2, 4, 8)
    assert torch.equal(position(tokens), tokens + code[:3, :2, :4])
    with pytest.raises(ValueError, match=r"max_grid = \(4, 3, 5\)"):
        position.code(5, 3, 5)
    with pytest.raises(ValueError, match="needs max_grid"):
        SpaceTimePositionEmbedding(8, "learned")
    with pytest.raises(ValueError, match="kind must be one of"):
        SpaceTimePositionEmbedding(8, "rotary")
    with pytest.raises(ValueError, match=r"\(b, t, h, w, d\) with d = 8"):
        position(torch.zeros(2, 3, 2, 4, 6))
    fixed = SpaceTimePositionEmbedding(8)
    assert not list(fixed.parameters())
    assert torch.equal(fixed(tokens), tokens + sincos_position_embedding(3, 2, 4, 8))
