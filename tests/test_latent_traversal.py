"""The latent traversal: a slider moves exactly its own latent unit, the view decodes it, bad input raises."""

import base64
import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

import tinyvdm.viz.widgets as widgets_module
from tinyvdm.data import BouncingShapes
from tinyvdm.models.vae import VideoVAE
from tinyvdm.viz.latent_traversal import LatentTraversal
from tinyvdm.viz.widgets import WIDGET_MIME

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py

FRAMES, SIZE = 4, 16


def vae(**overrides) -> VideoVAE:
    torch.manual_seed(0)
    return VideoVAE.from_name("tiny", **overrides).eval()


def clip() -> torch.Tensor:
    return BouncingShapes(1, frames=FRAMES, size=SIZE, seed=0)[0]["video"]  # (t, c, h, w)


def decode(data) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(bytes(data))).convert("RGB"))


@pytest.fixture
def shown(monkeypatch):
    calls = []
    monkeypatch.setattr(widgets_module, "display", lambda *objs, **kwargs: calls.append((objs, kwargs)))
    return calls


def test_starts_at_the_reconstruction_and_picks_the_units_with_the_largest_kl():
    model = vae()
    traversal = LatentTraversal(model, clip(), num_sliders=5, scale=1)
    assert traversal.grid_shape == (FRAMES, 4, 4, 4)  # (t', z, h', w')
    assert torch.allclose(traversal.decoded(), model.reconstruct(clip()[None]), atol=1e-6)
    posterior = model.encode(clip()[None])
    kl = 0.5 * (posterior.mean ** 2 + posterior.var - 1 - posterior.logvar)  # per unit, by hand
    expected = torch.argsort(kl.flatten(), descending=True)[:5].tolist()
    assert traversal.units == expected
    assert (decode(traversal.image.value) == traversal.frame_image()).all()
    assert traversal.frame_image().shape == (3 * SIZE + 2, FRAMES * (SIZE + 1) - 1, 3)
    assert "All offsets 0" in traversal.info.value


def test_moving_a_slider_changes_exactly_its_own_latent_unit():
    model = vae()
    traversal = LatentTraversal(model, clip(), units=[(1, 2, 0, 3), 5, (3, 0, 2, 2)], scale=1)
    before_image = traversal.image.value
    traversal.sliders[0].value = 2.0
    latent = traversal.latent()
    changed = (latent != traversal.mean).flatten().nonzero().flatten().tolist()
    unit = int(np.ravel_multi_index((1, 2, 0, 3), traversal.grid_shape))
    assert changed == [unit] == [traversal.units[0]]
    assert latent.flatten()[unit] == pytest.approx(traversal.mean.flatten()[unit].item() + 2.0)
    with torch.no_grad():
        expected = model.decode(latent)
    assert torch.equal(traversal.decoded(), expected)
    assert not torch.allclose(traversal.decoded(), traversal.reconstruction)
    assert traversal.image.value != before_image
    assert "t1 z2 (0,3) +2.00" in traversal.info.value
    traversal.reset()
    assert traversal.offsets == [0.0, 0.0, 0.0]
    assert torch.equal(traversal.latent(), traversal.mean)
    assert traversal.image.value == before_image


def test_in_a_frame_by_frame_vae_a_unit_only_changes_its_own_frame():
    model = vae(temporal=False)  # no layer mixes frames: a unit of latent frame 2 reaches frame 2 only
    traversal = LatentTraversal(model, clip(), units=[(2, 1, 1, 1)], scale=1)
    traversal.sliders[0].value = -3.0
    difference = (traversal.decoded() - traversal.reconstruction).abs().flatten(2).amax(dim=2)[0]  # (t,)
    assert difference[2] > 1e-3
    assert torch.equal(difference[[0, 1, 3]], torch.zeros(3))


def test_with_temporal_downsampling_the_units_live_on_the_coarser_grid():
    model = vae(temporal_downsample=2)
    traversal = LatentTraversal(model, clip(), num_sliders=3, scale=1)
    assert traversal.grid_shape == (FRAMES // 2, 4, 4, 4)
    fig = traversal.sweep_figure([-1.0, 0.0, 1.0])
    assert isinstance(fig, Figure)
    plt.close(fig)


def test_sweep_figure_shows_each_unit_moved_alone(shown):
    model = vae()
    traversal = LatentTraversal(model, clip(), num_sliders=2, scale=1)
    fig = traversal.sweep_figure([-2.0, 0.0, 2.0])
    labels = [label.get_text() for label in fig.axes[0].get_yticklabels()]
    assert len(labels) == 2 and labels[0].startswith(traversal.label(traversal.units[0]))
    assert [label.get_text() for label in fig.axes[0].get_xticklabels()] == ["-2.0", "+0.0", "+2.0"]
    plt.close(fig)
    traversal.show()
    assert len(shown) == 1
    (bundle,), kwargs = shown[0]
    assert kwargs.get("raw") is True and WIDGET_MIME in bundle
    png = Image.open(io.BytesIO(base64.b64decode(bundle["image/png"])))
    assert png.format == "PNG" and png.size[0] > 100


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(video=torch.zeros(2, FRAMES, 3, SIZE, SIZE)), r"one clip of shape \(t, c, h, w\) or \(1, t, c, h, w\), "
                                                            r"got \(2, 4, 3, 16, 16\)"),
        (dict(video=torch.zeros(SIZE, SIZE)), r"got \(16, 16\)"),
        (dict(video=[1, 2]), "torch.Tensor or numpy.ndarray"),
        (dict(model="not a model"), "model must be a VAE"),
        (dict(units=[(0, 0, 0, 4)]), r"within the latent grid \(4, 4, 4, 4\), got \(0, 0, 0, 4\)"),
        (dict(units=[256]), r"flat index in \[0, 255\]"),
        (dict(units=[3, 3]), "distinct"),
        (dict(units=[]), "non-empty list"),
        (dict(num_sliders=0), r"num_sliders must be an int in \[1, 256\]"),
        (dict(value_range=0.0), "value_range must be a positive number"),
        (dict(scale=0), "scale must be a positive int"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    kwargs = {"model": vae(), "video": clip(), **kwargs}
    with pytest.raises(ValueError, match=match):
        LatentTraversal(**kwargs)


def test_invalid_offsets_raise():
    traversal = LatentTraversal(vae(), clip(), num_sliders=2, value_range=2.0, scale=1)
    with pytest.raises(ValueError, match=r"offsets must be a list of 2 numbers"):
        traversal.latent([1.0])
    with pytest.raises(ValueError, match=r"offset must be in \[-2.0, 2.0\]"):
        traversal.decoded([0.0, 2.5])
    with pytest.raises(ValueError, match="finite number"):
        traversal.latent([float("nan"), 0.0])
    with pytest.raises(ValueError, match="non-empty list of offsets"):
        traversal.sweep_figure([])
