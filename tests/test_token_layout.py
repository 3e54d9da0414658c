"""Tests for tinyvdm.viz.token_layout: the layout matches the model's real token rows, pair counts, skips."""

import itertools

import matplotlib
import pytest
import torch

from tinyvdm.models.uvit import UViT, UViTConfig
from tinyvdm.nn.attention import attention_mask
from tinyvdm.nn.transformer import join_frame_tokens
from tinyvdm.viz.token_layout import (
    TokenLayoutViewer,
    attention_pairs,
    skip_pairs,
    token_layout,
    token_layout_figure,
)

matplotlib.use("Agg")
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("class_token", [True, False])
def test_layout_is_the_order_join_frame_tokens_builds(class_token):
    frames, height, width = 3, 2, 4
    # Tokens that name themselves: width 4 = (kind code, frame, row, col).
    grid = torch.zeros(1, frames, height, width, 4)
    for f, r, c in itertools.product(range(frames), range(height), range(width)):
        grid[0, f, r, c] = torch.tensor([0.0, f, r, c])
    kinds = ["time", "class"] if class_token else ["time"]
    extra = torch.tensor([[[1.0 + i, -1, -1, -1] for i in range(len(kinds))]])
    rows = join_frame_tokens(grid, extra)  # (1, t, 1, k + h w, 4)
    sequence = rows.reshape(-1, 4)
    # Each frame's copy of the extra tokens carries no frame number: fill it in from its row.
    frame_of = torch.arange(frames).repeat_interleave(rows.shape[3])
    layout = token_layout(frames, height, width, class_token)
    assert len(layout) == len(sequence) == frames * (len(kinds) + height * width)
    for token, vector, frame in zip(layout, sequence, frame_of):
        assert token.index == layout.index(token)
        assert token.frame == frame
        if token.kind == "patch":
            assert vector.tolist() == [0.0, token.frame, token.row, token.col]
        else:
            assert vector[0] == 1.0 + kinds.index(token.kind) and token.row is None


@pytest.mark.parametrize("pattern", ["spatial", "full", "causal", "sparse-causal"])
def test_attention_pairs_count_the_allowed_entries_of_the_mask(pattern):
    # The library's (n, n) mask over t frames of h x w tokens: its True entries are the pairs.
    for frames, height, width in [(1, 2, 2), (4, 2, 3), (6, 1, 5)]:
        mask = attention_mask(pattern, frames, height, width)
        assert attention_pairs(pattern, frames, height * width) == int(mask.sum())


def test_factorised_pairs_are_spatial_plus_temporal():
    for frames, m in [(1, 3), (8, 66), (5, 7)]:
        temporal = int(attention_mask("temporal", frames, 1, m).sum())
        assert attention_pairs("factorised", frames, m) == attention_pairs("spatial", frames, m) + temporal
    # Much cheaper than full attention once clips are long.
    assert attention_pairs("factorised", 16, 65) < 0.15 * attention_pairs("full", 16, 65)


def test_skip_pairs_are_the_tensors_the_model_really_joins():
    depth = 7
    model = UViT(UViTConfig(image_size=8, frames=2, patch_size=4, dim=16, depth=depth, heads=2)).eval()
    blocks = list(model.in_blocks) + [model.mid_block] + list(model.out_blocks)
    outputs, received = {}, {}
    hooks = [block.register_forward_hook(lambda m, args, out, i=i: outputs.__setitem__(i, out))
             for i, block in enumerate(blocks)]
    hooks += [block.register_forward_pre_hook(lambda m, args, i=i: received.__setitem__(i, args[1]))
              for i, block in enumerate(blocks) if block.skip_linear is not None]
    with torch.no_grad():
        model(torch.randn(1, 2, 3, 8, 8), torch.tensor([5]))
    for hook in hooks:
        hook.remove()
    pairs = skip_pairs(depth)
    assert pairs == [(2, 4), (1, 5), (0, 6)]
    assert sorted(received) == sorted(target for _, target in pairs)
    for source, target in pairs:
        assert torch.equal(received[target], outputs[source])


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="depth must be odd"):
        skip_pairs(4)
    with pytest.raises(ValueError, match="attention must be one of"):
        attention_pairs("temporal", 4, 3)
    with pytest.raises(ValueError, match="frames must be an int >= 1"):
        token_layout(0, 2, 2)
    with pytest.raises(ValueError, match=r"frames must be an int in \[1, 16\]"):
        token_layout_figure(frames=40)


def test_figure_and_viewer_draw():
    fig = token_layout_figure(frames=3, height=4, width=4, class_token=False, depth=3, long_skips=False,
                              attention="full")
    assert "3 frames x (1 + 4 x 4) = 51 tokens" in fig.axes[0].get_title()
    viewer = TokenLayoutViewer(frames=2, height=2, width=2, depth=3)
    assert "12 tokens" in viewer.describe() and "1 long skips" in viewer.describe()
    viewer.attention_menu.value = "spatial"
    assert "spatial attention scores 72 pairs" in viewer.describe()
    assert viewer.image.value  # redrawn as a PNG
