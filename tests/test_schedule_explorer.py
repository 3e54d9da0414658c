"""The noise-schedule explorer: it builds, follows its controls, and refuses bad arguments."""

import base64
import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

import tinyvdm.viz.widgets as widgets_module
from tinyvdm.diffusion import NoiseSchedule, q_sample
from tinyvdm.viz import NoiseScheduleExplorer
from tinyvdm.viz.widgets import WIDGET_MIME

T, SIZE = 3, 8


def clip() -> torch.Tensor:
    """A dark clip with a bright square moving right: (t, c, h, w) in [-1, 1]."""
    video = -torch.ones(T, 3, SIZE, SIZE)
    for k in range(T):
        video[k, :, 2:5, 1 + k:4 + k] = 1.0
    return video


def decode(data) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(bytes(data))).convert("RGB"))


@pytest.fixture
def shown(monkeypatch):
    calls = []
    monkeypatch.setattr(widgets_module, "display", lambda *objs, **kwargs: calls.append((objs, kwargs)))
    return calls


def test_builds_and_shows_the_noised_clip_of_the_library():
    explorer = NoiseScheduleExplorer(clip(), schedule="linear", num_steps=100, timestep=40, scale=2, seed=3)
    image = explorer.frame_image()
    assert image.shape == (2 * SIZE, 2 * (T * (SIZE + 1) - 1), 3) and image.dtype == np.uint8
    assert (decode(explorer.image.value) == image).all()
    schedule = NoiseSchedule.from_name("linear", 100)
    eps = torch.randn((1, T, 3, SIZE, SIZE), generator=torch.Generator().manual_seed(3))
    expected = q_sample(schedule, clip()[None], torch.tensor([40]), eps)
    assert torch.allclose(explorer.noised_video(), expected)
    assert "alpha_bar = " in explorer.info.value and "linear" in explorer.info.value
    assert decode(explorer.curves.value).shape[0] > 50


def test_moving_the_slider_changes_the_image_and_the_numbers():
    explorer = NoiseScheduleExplorer(clip(), num_steps=100, timestep=0, scale=1)
    clean, clean_curves, clean_info = explorer.frame_image(), explorer.curves.value, explorer.info.value
    assert explorer.correlation() > 0.99  # step 0 barely touches the clip
    explorer.timestep_slider.value = 99
    noisy = decode(explorer.image.value)
    assert not (noisy == clean).all()
    assert explorer.curves.value != clean_curves and explorer.info.value != clean_info
    assert abs(explorer.correlation()) < 0.2  # the last step is (almost) pure noise


def test_schedule_and_step_count_menus():
    explorer = NoiseScheduleExplorer(clip(), schedule="cosine", num_steps=1000, timestep=500, scale=1)
    cosine = explorer.frame_image()
    explorer.schedule_menu.value = "linear"
    assert not (explorer.frame_image() == cosine).all()
    assert explorer.schedule.num_steps == 1000
    # the linear schedule has destroyed more of the clip than the cosine one by mid-chain
    assert NoiseSchedule.from_name("linear", 1000).alpha_bar[500] < NoiseSchedule.from_name("cosine", 1000).alpha_bar[500]
    explorer.steps_menu.value = 50  # same place along the chain
    assert explorer.timestep_slider.max == 49 and explorer.timestep == 25
    assert explorer.schedule.num_steps == 50
    explorer.schedule_menu.value = "sigmoid"
    assert "sigmoid" in explorer.info.value


def test_show_sends_the_widget_and_a_png(shown):
    explorer = NoiseScheduleExplorer(torch.stack([clip(), -clip()]), num_steps=25, timestep=7, scale=1)
    fig = explorer.static_figure(rows=3)
    assert isinstance(fig, Figure)
    labels = [label.get_text() for label in fig.axes[0].get_yticklabels()]
    assert "> timestep 7" in labels and len(labels) == 4
    plt.close(fig)
    explorer.show()
    assert len(shown) == 1
    (bundle,), kwargs = shown[0]
    assert kwargs.get("raw") is True and WIDGET_MIME in bundle
    png = Image.open(io.BytesIO(base64.b64decode(bundle["image/png"])))
    assert png.format == "PNG" and png.size[0] > 100


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(video=torch.zeros(3, 2, 8, 8)), r"c in \{1, 3\}, got \(3, 2, 8, 8\)"),
        (dict(video=torch.zeros(8, 8)), r"\(t, c, h, w\) or \(b, t, c, h, w\)"),
        (dict(video=[1, 2]), "torch.Tensor or numpy.ndarray"),
        (dict(schedule="quadratic"), "schedule must be one of"),
        (dict(num_steps=30), r"num_steps must be one of step_choices \(25, 50, 100, 250, 1000\), got 30"),
        (dict(num_steps=100, timestep=100), r"timestep must be an int in \[0, 99\], got 100"),
        (dict(timestep=-1), "timestep must be an int"),
        (dict(step_choices=[10, 100], num_steps=100), "ints >= 21"),
        (dict(scale=0), "scale must be a positive int"),
        (dict(seed=-2), "seed must be an int >= 0"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    kwargs = {"video": clip(), **kwargs}
    with pytest.raises(ValueError, match=match):
        NoiseScheduleExplorer(**kwargs)


def test_invalid_view_arguments_raise():
    explorer = NoiseScheduleExplorer(clip(), num_steps=25)
    with pytest.raises(ValueError, match=r"timestep must be an int in \[0, 24\]"):
        explorer.noised_video(25)
    with pytest.raises(ValueError, match="rows must be an int >= 1"):
        explorer.static_figure(rows=0)
