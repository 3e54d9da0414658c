"""Tests for tinyvdm.models.vit: shapes, attention maps, frame independence, overfitting, errors."""

import pytest
import torch
import torch.nn.functional as F

from tinyvdm.models.vit import VIT_CONFIGS, ViT, ViTConfig

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def tiny(**overrides) -> ViT:
    torch.manual_seed(0)
    config = dict(image_size=16, frames=4, patch_size=4, dim=32, depth=2, heads=2, num_classes=5)
    return ViT(ViTConfig(**{**config, **overrides})).eval()


def awake(model: ViT) -> ViT:
    """Give the zero-initialised head random weights, so logits depend on the input."""
    torch.manual_seed(1)
    with torch.no_grad():
        model.head.weight.normal_(0, 0.5)
    return model


def clips(b=2, t=4, size=16, seed=2):
    return torch.randn(b, t, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("attention", ["factorised", "full", "spatial", "causal", "sparse-causal"])
def test_logits_shape_for_clips_frames_and_tubelets(attention):
    model = tiny(attention=attention)
    assert model(clips()).shape == (2, 5)
    assert torch.equal(model(clips()), torch.zeros(2, 5))  # zero head: uniform first guesses
    assert awake(model)(clips()[:, 0]).shape == (2, 5)  # an image is a clip of one frame
    assert model(clips(t=2, size=8)).shape == (2, 5)  # smaller inputs read the first table rows
    assert tiny(attention=attention, tubelet=2)(clips()).shape == (2, 5)


def test_attention_maps_shape_and_rows():
    model = tiny(attention="factorised")
    maps = model.attention_maps(clips())
    assert len(maps) == 2 * 2  # two blocks, spatial and temporal each
    n = 4 * (1 + 4 * 4)  # frames * (class token + patches)
    for weights in maps:
        assert weights.shape == (2, 2, n, n)
        torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2, 2, n))
    # Spatial layers never look at another frame; temporal ones only at the same position.
    spatial, temporal = maps[0].reshape(2, 2, 4, 17, 4, 17), maps[1].reshape(2, 2, 4, 17, 4, 17)
    off_frame = ~torch.eye(4, dtype=torch.bool)[:, None, :, None].expand(4, 17, 4, 17)
    assert spatial[:, :, off_frame].abs().max() == 0
    off_position = ~torch.eye(17, dtype=torch.bool)[None, :, None, :].expand(4, 17, 4, 17)
    assert temporal[:, :, off_position].abs().max() == 0
    tubelets = tiny(attention="full", tubelet=2).attention_maps(clips(b=1))
    assert len(tubelets) == 2 and tubelets[0].shape == (1, 2, 2 * 17, 2 * 17)


def test_spatial_vit_is_a_vote_of_frame_classifiers():
    # With spatial attention and per-frame patches, each frame's class token sees only its frame:
    # swapping two frames and their temporal position rows leaves the logits unchanged.
    model = awake(tiny(attention="spatial"))
    x = clips()
    swapped_x = x[:, [1, 0, 2, 3]]
    with torch.no_grad():
        logits = model(x)
        model.position.temporal.copy_(model.position.temporal[[1, 0, 2, 3]])
    torch.testing.assert_close(model(swapped_x), logits, rtol=1e-5, atol=1e-6)


def test_causal_vit_maps_never_read_a_later_frame():
    weights = tiny(attention="causal").attention_maps(clips())[0].reshape(2, 2, 4, 17, 4, 17)
    later = torch.ones(4, 4, dtype=torch.bool).triu(diagonal=1)[:, None, :, None].expand(4, 17, 4, 17)
    assert weights[:, :, later].abs().max() == 0


def test_overfits_one_batch():
    torch.manual_seed(0)
    model = tiny().train()
    x, labels = clips(b=8, t=2), torch.arange(8) % 5
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    losses = []
    for _ in range(50):
        loss = F.cross_entropy(model(x), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(torch.log(torch.tensor(5.0)).item(), abs=1e-4)
    assert losses[-1] < losses[0] / 20, losses


def test_bad_inputs_raise_naming_the_constraint():
    model = tiny()
    with pytest.raises(ValueError, match=r"\(b, t, 3, h, w\) or \(b, 3, h, w\)"):
        model(torch.zeros(2, 4, 1, 16, 16))
    with pytest.raises(ValueError, match="h=14 must be divisible by patch_size=4"):
        model(torch.zeros(2, 4, 3, 14, 16))
    with pytest.raises(ValueError, match="t=3 frames must be divisible by tubelet=2"):
        tiny(tubelet=2)(torch.zeros(2, 3, 3, 16, 16))
    with pytest.raises(ValueError, match=r"max_grid = \(4, 4, 4\)"):
        model(torch.zeros(2, 8, 3, 16, 16))
    with pytest.raises(ValueError, match="image_size=30 must be divisible by patch_size=4"):
        ViTConfig(image_size=30)
    with pytest.raises(ValueError, match="attention must be one of"):
        ViTConfig(attention="temporal")
    with pytest.raises(ValueError, match="unknown ViT size"):
        ViT.from_name("huge")


def test_named_sizes_parameters_and_flops():
    assert set(VIT_CONFIGS) == {"tiny", "small", "base"}
    sizes = {name: ViT.from_name(name).num_parameters() for name in VIT_CONFIGS}
    assert sizes["tiny"] < sizes["small"] < sizes["base"]
    assert 0.2e6 < sizes["tiny"] < 0.4e6 and 1e6 < sizes["small"] < 2.5e6, sizes
    model = ViT.from_name("tiny")
    flops = model.gflops((1, 8, 3, 32, 32))
    assert flops > 0 and model.gflops((2, 8, 3, 32, 32)) == pytest.approx(2 * flops)
    assert ViT.from_name("tiny", patch_size=2).gflops((1, 8, 3, 32, 32)) > 3.5 * flops
