"""Frame mixing for the transformer denoisers (:class:`tinyvdm.nn.frame_mix.FrameMix`, ``frame_mix=True``)."""

import pytest
import torch
import torch.nn.functional as F

from tinyvdm.models.dit import DiT, DiTConfig
from tinyvdm.models.uvit import UViT, UViTConfig
from tinyvdm.nn.frame_mix import FrameMix


def awake(layer: FrameMix, scale: float = 0.1) -> FrameMix:
    """Random weights in the zero-initialised map (and the norm), so the layer does something."""
    torch.manual_seed(5)
    with torch.no_grad():
        layer.mix.weight.normal_(0, scale)
        layer.mix.bias.normal_(0, scale)
        layer.norm.weight.normal_(1, scale)
        layer.norm.bias.normal_(0, scale)
    return layer


def reference_mix(layer: FrameMix, x: torch.Tensor) -> torch.Tensor:
    """The layer written out per clip, position and (target frame, source frame) block of weights."""
    b, t, h, w, d = x.shape
    out = x.clone()
    for i in range(b):
        for row in range(h):
            for col in range(w):
                normed = [F.layer_norm(x[i, f, row, col], (d,), layer.norm.weight, layer.norm.bias) for f in range(t)]
                for target in range(t):
                    rows = slice(target * d, (target + 1) * d)
                    total = layer.mix.bias[rows].clone()
                    for source in range(t):
                        weight = layer.mix.weight[rows, source * d:(source + 1) * d]  # how `source` feeds `target`
                        total = total + weight @ normed[source]
                    out[i, target, row, col] += total
    return out


def test_frame_mix_matches_a_written_out_reference():
    layer = awake(FrameMix(dim=6, frames=3))
    x = torch.randn(2, 3, 2, 3, 6, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(layer(x), reference_mix(layer, x), rtol=1e-5, atol=1e-5)


def test_frames_mix_but_positions_and_clips_never_do():
    frames = 5
    layer = awake(FrameMix(dim=4, frames=frames))
    x = torch.randn(2, frames, 3, 3, 4, requires_grad=True)
    layer(x)[0, frames - 1, 1, 2].sum().backward()  # clip 0, last frame, one position
    reached = x.grad.abs().sum(dim=-1) > 0  # (b, t, h, w)
    assert reached[0, :, 1, 2].all()  # every frame of that position, the first one included
    reached[0, :, 1, 2] = False
    assert not reached.any()  # no other position, no other clip


def test_zero_initialised_frame_mix_is_the_identity():
    x = torch.randn(2, 4, 3, 3, 8)
    torch.testing.assert_close(FrameMix(8, 4)(x), x, rtol=0, atol=0)


@pytest.mark.parametrize("family", ["uvit", "dit"])
def test_models_with_frame_mix_start_as_the_models_without(family):
    torch.manual_seed(0)
    if family == "uvit":
        with_mix = UViT.from_name("tiny", frames=4, frame_mix=True)
        without = UViT.from_name("tiny", frames=4)
    else:
        with_mix = DiT.from_name("mini/4", frames=4, frame_mix=True)
        without = DiT.from_name("mini/4", frames=4)
        with torch.no_grad():  # wake adaLN-Zero's zeroed output so the comparison is not 0 == 0
            for p in with_mix.parameters():
                if p.abs().sum() == 0 and p.ndim > 1:
                    p.normal_(0, 0.05)
            for mix in with_mix.frame_mixes:
                mix.initialize_weights()
    mixes = [m for m in with_mix.modules() if isinstance(m, FrameMix)]
    assert len(mixes) == with_mix.config.depth and all(m.mix.weight.abs().sum() == 0 for m in mixes)
    missing, unexpected = without.load_state_dict(with_mix.state_dict(), strict=False)
    assert not missing and unexpected and all("frame_mix" in key for key in unexpected)
    x, timestep = torch.randn(2, 4, 3, 16, 16), torch.tensor([3, 700])
    with torch.no_grad():
        out = with_mix(x, timestep)
        assert out.abs().sum() > 0
        torch.testing.assert_close(out, without(x, timestep), rtol=0, atol=1e-6)


@pytest.mark.parametrize("family", ["uvit", "dit"])
def test_models_with_frame_mix_read_other_frames_and_need_their_clip_length(family):
    torch.manual_seed(0)
    build = {"uvit": lambda: UViT.from_name("tiny", frames=4, attention="spatial", position="sincos", frame_mix=True),
             "dit": lambda: DiT.from_name("mini/4", frames=4, attention="spatial", conditioning="in_context",
                                          frame_mix=True)}[family]
    model = build()
    for mix in (m for m in model.modules() if isinstance(m, FrameMix)):
        awake(mix)
    # Spatial attention never leaves a frame: only the frame mixing can carry frame 0 to frame 3.
    x = torch.randn(1, 4, 3, 16, 16, requires_grad=True)
    model(x, torch.tensor([500]))[0, 3].sum().backward()
    assert x.grad[0, 0].abs().sum() > 0
    with pytest.raises(ValueError, match="exactly frames=4"):
        model(torch.randn(1, 5, 3, 16, 16), torch.tensor([500]))


def test_bad_inputs_raise_clear_errors():
    layer = FrameMix(8, 4)
    with pytest.raises(ValueError, match="exactly frames=4"):
        layer(torch.randn(1, 3, 2, 2, 8))
    with pytest.raises(ValueError, match=r"\(b, t, h, w, 8\)"):
        layer(torch.randn(1, 4, 2, 8))
    with pytest.raises(ValueError, match="frames must be a positive int"):
        FrameMix(8, 0)
    with pytest.raises(ValueError, match="dim must be a positive int"):
        FrameMix(True, 4)
    with pytest.raises(ValueError, match="frame_mix must be a bool"):
        UViTConfig(frame_mix=1)
    with pytest.raises(ValueError, match="frame_mix must be a bool"):
        DiTConfig(frame_mix="yes")
    with pytest.raises(ValueError, match="divisible by tubelet"):
        DiTConfig(frames=5, tubelet=2, frame_mix=True)
