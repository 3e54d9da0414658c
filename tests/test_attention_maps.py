"""The attention-map viewer: it shows the model's own class-token weights, follows its controls, refuses bad input."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from tinyvdm.models.vit import ViT, ViTConfig, class_token_rows
from tinyvdm.viz.attention_maps import AttentionMapViewer, overlay_attention, select_attention

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def tiny(attention="full", **overrides) -> ViT:
    torch.manual_seed(0)
    config = dict(image_size=16, frames=4, patch_size=4, dim=32, depth=2, heads=2, num_classes=3,
                  attention=attention)
    return ViT(ViTConfig(**{**config, **overrides})).eval()


def clips(b=2, t=4, size=16, seed=3):
    return torch.randn(b, t, 3, size, size, generator=torch.Generator().manual_seed(seed)).clamp(-1, 1)


def test_class_token_rows_pick_the_class_tokens_rows_of_the_full_maps():
    model = tiny()
    x = clips()
    maps = model.attention_maps(x)
    rows = model.class_token_attention(x)
    assert rows.shape == (2, 2, 2, 4, 4, 17)  # layers, b, heads, query frame, key frame, 1 + 4 * 4
    torch.testing.assert_close(rows.sum(dim=(-1, -2)), torch.ones(2, 2, 2, 4))
    # Frame 2's class token is token 2 * 17 of the full map; patch (1, 3) of frame 1 is key 17 + 1 + 1 * 4 + 3.
    for layer, weights in enumerate(maps):
        assert rows[layer, 1, 0, 2, 1, 1 + 1 * 4 + 3] == weights[1, 0, 2 * 17, 17 + 1 + 1 * 4 + 3]
        assert rows[layer, 0, 1, 3, 0, 0] == weights[0, 1, 3 * 17, 0]
    with pytest.raises(ValueError, match=r"n = frames \* \(1 \+ h w\)"):
        class_token_rows(maps[0], 5)


def test_spatial_class_tokens_read_only_their_own_frame():
    model = tiny("spatial")
    rows = model.class_token_attention(clips())
    for query in range(4):
        patches, class_tokens = select_attention(rows[0, 0], head="mean", query=query)
        per_frame = patches.sum(axis=(1, 2)) + class_tokens
        assert per_frame[query] == pytest.approx(1.0)
        assert np.delete(per_frame, query).max() == 0


def test_select_attention_averages_heads_and_queries():
    rows = torch.rand(3, 2, 2, 1 + 9)
    rows = rows / rows.sum(dim=(-1, -2), keepdim=True)
    patches, class_tokens = select_attention(rows, head=1, query=0)
    assert patches.shape == (2, 3, 3) and class_tokens.shape == (2,)
    np.testing.assert_allclose(patches[1, 2, 0], rows[1, 0, 1, 1 + 2 * 3 + 0].item(), rtol=1e-6)
    mean_patches, mean_class = select_attention(rows)
    np.testing.assert_allclose(mean_class, rows[..., 0].mean(dim=(0, 1)).numpy(), rtol=1e-6)
    assert mean_patches.sum() + mean_class.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"head must be 'mean' or an int in \[0, 2\], got 3"):
        select_attention(rows, head=3)
    with pytest.raises(ValueError, match="square token grid"):
        select_attention(torch.rand(1, 2, 2, 1 + 6))


def test_overlay_is_brightest_on_the_most_read_patch():
    frames = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    patches = np.zeros((2, 2, 2))
    patches[1, 0, 1] = 0.9  # frame 1, top-right patch
    patches[0, 1, 0] = 0.1
    image = overlay_attention(frames, patches, scale=1).astype(float).sum(axis=-1)  # (t, 8, 8)
    top_right = image[1, :4, 4:]
    assert top_right.min() > image[0, 4:, :4].max() > 0  # most-read patch brightest, the weaker one lit too
    assert image[0, :4, :4].max() == 0 and image[1, 4:, 4:].max() == 0  # unread patches stay dark
    tubelets = overlay_attention(np.zeros((4, 8, 8, 3), dtype=np.uint8), patches, scale=2)
    assert tubelets.shape == (4, 16, 16, 3)
    assert (tubelets[2] == tubelets[3]).all() and (tubelets[2] != tubelets[1]).any()  # a tubelet = 2 frames
    # Reading spread evenly is a dim wash, not the bright full-scale colour of a concentrated reading.
    even = overlay_attention(frames, np.full((2, 2, 2), 1 / 8), scale=1).astype(float).sum(axis=-1)
    assert 0 < even.max() < 0.5 * image.max()
    with pytest.raises(ValueError, match="patches must have shape"):
        overlay_attention(frames, np.zeros((2, 3, 3)))


def test_viewer_follows_its_controls():
    model = tiny("factorised")
    viewer = AttentionMapViewer(model, clips(b=3), titles=["a", "b", "c"])
    assert viewer.layer_names == ["block 0, spatial", "block 0, temporal", "block 1, spatial", "block 1, temporal"]
    first_image, first_info = viewer.image.value, viewer.info.value
    assert first_info.startswith("a | layer 0 (block 0, spatial), mean over heads")
    viewer.clip_menu.value = 2
    assert viewer.image.value != first_image and viewer.info.value.startswith("c |")
    # A temporal layer: a class token reads only class tokens (the same slot in every frame).
    viewer.layer_slider.value = 1
    patches, class_tokens = viewer.weights()
    assert patches.max() == 0 and class_tokens.sum() == pytest.approx(1.0)
    assert "puts 0% on patches" in viewer.info.value
    # A spatial layer with one query frame: all its weight stays in that frame.
    viewer.layer_slider.value = 2
    viewer.query_menu.value = 3
    viewer.head_menu.value = 1
    patches, class_tokens = viewer.weights()
    assert patches[:3].max() == 0 and patches[3].sum() + class_tokens[3] == pytest.approx(1.0)
    assert "most-read frame 3" in viewer.info.value
    assert viewer.image_array().shape == (16 * 4, 4 * (16 * 4 + 2) - 2, 3)
    fig = viewer.static_figure()
    assert len(fig.axes) == 4  # one row per attention layer
    plt.close(fig)


def test_bad_arguments_are_refused_with_the_expected_form():
    model = tiny()
    with pytest.raises(ValueError, match="model must be a tinyvdm ViT"):
        AttentionMapViewer(torch.nn.Linear(2, 2), clips())
    with pytest.raises(ValueError, match=r"videos must have shape \(b, t, 3, h, w\) with 1 <= b <= 16, got \(2, 4, 1"):
        AttentionMapViewer(model, clips()[:, :, :1])
    with pytest.raises(ValueError, match="titles must be 2 strings"):
        AttentionMapViewer(model, clips(), titles=["only one"])
    with pytest.raises(ValueError, match=r"layer must be an int in \[0, 1\], got 2"):
        AttentionMapViewer(model, clips(), layer=2)
    with pytest.raises(ValueError, match=r"query must be 'mean' or an int in \[0, 3\], got 4"):
        AttentionMapViewer(model, clips(), query=4)
