"""Tests for tinyvdm.viz: conversions, mosaics, animations, saved files and widgets."""

from __future__ import annotations

import base64
import io
import re

import imageio.v3 as iio
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from tinyvdm.viz import (
    DatasetBrowser,
    FrameScrubber,
    animate,
    atomic_path,
    display_with_fallback,
    frame_grid,
    gif_bytes,
    grid_image,
    output_dir,
    overlay_frame,
    save_gif,
    save_mp4,
    savefig,
    side_by_side,
    to_uint8,
)
from tinyvdm.viz import figures as figures_module
from tinyvdm.viz import widgets as widgets_module
from tinyvdm.viz.widgets import OBJECT_COLOURS, WIDGET_MIME


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def level_batch(b: int, t: int, c: int = 3, h: int = 4, w: int = 5) -> torch.Tensor:
    """A batch whose every frame is one constant, distinct per (sample, frame)."""
    levels = torch.linspace(-1, 1, b * t).view(b, t, 1, 1, 1)
    return levels.expand(b, t, c, h, w).clone()


def expected_level(batch: torch.Tensor, i: int, j: int) -> int:
    return int(np.rint((float(batch[i, j, 0, 0, 0]) + 1) * 127.5))


def no_temp_files(folder) -> bool:
    return not any(".tmp" in p.name for p in folder.iterdir())


def decode_html_gif(markup: str) -> Image.Image:
    match = re.search(r'src="data:image/gif;base64,([A-Za-z0-9+/=]+)"', markup)
    assert match, "no embedded GIF in the HTML"
    return Image.open(io.BytesIO(base64.b64decode(match.group(1))))


def gif_frames(image: Image.Image) -> list[np.ndarray]:
    frames = []
    for k in range(image.n_frames):
        image.seek(k)
        frames.append(np.asarray(image.convert("RGB")))
    return frames


# --- frames ----------------------------------------------------------------------------------


def test_to_uint8_maps_range_clamps_and_makes_rgb():
    video = torch.tensor([-1.0, 0.0, 1.0, 3.0, -5.0]).view(5, 1, 1, 1)  # (t, c=1, h, w)
    out = to_uint8(video)
    assert out.shape == (1, 5, 1, 1, 3) and out.dtype == np.uint8
    assert out[0, :, 0, 0, 0].tolist() == [0, 128, 255, 255, 0]
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    # numpy in, same answer; channels keep their order
    rgb = np.zeros((2, 1, 3, 2, 2), dtype=np.float32)
    rgb[:, :, 0] = 1.0
    out = to_uint8(rgb)
    assert out.shape == (2, 1, 2, 2, 3)
    assert (out[..., 0] == 255).all() and (out[..., 1:] == 128).all()


@pytest.mark.parametrize(
    "shape", [(3, 4, 4), (2, 3, 2, 4, 4), (1, 2, 3, 3, 4, 4), (0, 3, 4, 4)]
)
def test_bad_shapes_raise_with_expected_and_received(shape):
    bad = torch.zeros(shape)
    for call in (to_uint8, grid_image, frame_grid, animate, gif_bytes, FrameScrubber):
        with pytest.raises(ValueError, match=r"\(t, c, h, w\)") as info:
            call(bad)
        assert str(shape) in str(info.value)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="torch.Tensor or numpy.ndarray"):
        to_uint8([[0.0]])
    with pytest.raises(ValueError, match="pad"):
        grid_image(level_batch(1, 2), pad=-1)
    with pytest.raises(ValueError, match="scale"):
        side_by_side(level_batch(1, 2), scale=1.5)
    with pytest.raises(ValueError, match="titles"):
        frame_grid(level_batch(2, 2), titles=["only one"])
    with pytest.raises(ValueError, match="fps"):
        animate(level_batch(1, 2), fps=0)


def test_grid_image_puts_sample_i_frame_j_in_its_block():
    b, t, h, w, pad = 2, 3, 4, 5, 1
    batch = level_batch(b, t, h=h, w=w)
    grid = grid_image(batch, pad=pad)
    assert grid.shape == (b * (h + pad) - pad, t * (w + pad) - pad, 3)
    for i in range(b):
        for j in range(t):
            block = grid[i * (h + pad) : i * (h + pad) + h, j * (w + pad) : j * (w + pad) + w]
            assert (block == expected_level(batch, i, j)).all(), (i, j)
    assert (grid[h, :] == 255).all() and (grid[:, w] == 255).all()  # the separators
    assert grid_image(batch, pad=0).shape == (b * h, t * w, 3)


def test_side_by_side_upscales_and_gaps():
    batch = level_batch(2, 3, h=2, w=3)
    strip = side_by_side(batch, scale=2, gap=1)
    assert strip.shape == (3, 4, 2 * (3 * 2 + 1) - 1, 3)
    for j in range(3):
        assert (strip[j, :, :6] == expected_level(batch, 0, j)).all()
        assert (strip[j, :, 6] == 255).all()
        assert (strip[j, :, 7:] == expected_level(batch, 1, j)).all()


def test_frame_grid_labels_titles_and_axes():
    batch = level_batch(2, 6)
    fig = frame_grid(batch, titles=["a caption long enough to be wrapped over lines", "b"],
                     max_frames=3)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["t=0", "t=2", "t=5"]
    assert "\n" in ax.get_yticklabels()[0].get_text()
    image = ax.get_images()[0].get_array()
    assert image.shape == (2 * 5 - 1, 3 * 6 - 1, 3)
    # into a given axes
    other, axes = plt.subplots(1, 2)
    assert frame_grid(batch[0], ax=axes[1]) is other
    assert axes[1].get_images() and not axes[0].get_images()


# --- animation -------------------------------------------------------------------------------


def test_animate_embeds_a_looping_gif_with_every_frame():
    b, t, h, w, scale = 2, 5, 3, 4, 3
    batch = level_batch(b, t, h=h, w=w)
    html = animate(batch, fps=10, scale=scale, titles=["<one>", "two"]).data
    assert "&lt;one&gt;" in html and "<one>" not in html
    gif = decode_html_gif(html)
    assert gif.n_frames == t
    assert gif.size == (b * (w * scale + 1) - 1, h * scale)
    assert gif.info.get("loop") == 0
    frames = gif_frames(gif)
    for j, frame in enumerate(frames):
        assert abs(int(frame[0, 0, 0]) - expected_level(batch, 0, j)) <= 2
        assert abs(int(frame[-1, -1, 0]) - expected_level(batch, 1, j)) <= 2
        assert (frame[:, w * scale] == 255).all()  # the 1-pixel gap between samples


def test_animate_caption_string_and_single_video():
    video = level_batch(1, 4)[0]
    html = animate(video, titles="a red circle").data
    assert "<figcaption" in html and "a red circle" in html
    assert decode_html_gif(html).n_frames == 4


def test_save_gif_round_trip_and_atomic(tmp_path):
    batch = level_batch(2, 4, h=6, w=6)
    path = save_gif(batch, tmp_path / "new" / "folder" / "clip.gif", fps=5, scale=2)
    assert path == tmp_path / "new" / "folder" / "clip.gif" and path.exists()
    assert no_temp_files(path.parent)
    frames = gif_frames(Image.open(path))
    assert len(frames) == 4
    assert frames[0].shape == (12, 2 * 13 - 1, 3)
    for j, frame in enumerate(frames):
        assert abs(int(frame[5, 5, 1]) - expected_level(batch, 0, j)) <= 2


def test_save_mp4_round_trip_pads_to_even_size(tmp_path):
    t, h, w = 6, 9, 11  # odd sizes: libx264 needs them padded
    video = level_batch(1, t, h=h, w=w)[0]
    path = save_mp4(video, tmp_path / "clip.mp4", fps=8)
    assert no_temp_files(tmp_path)
    frames = iio.imread(path)
    assert frames.shape == (t, h + 1, w + 1, 3)
    for j in range(t):
        assert abs(float(frames[j, :h, :w].mean()) - expected_level(video[None], 0, j)) < 6


def test_atomic_path_leaves_target_untouched_on_error(tmp_path):
    target = tmp_path / "result.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer crashed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.txt"]


# --- figures ---------------------------------------------------------------------------------


def test_output_dir_reads_environment_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYVDM_OUTPUT", str(tmp_path / "out"))
    folder = output_dir("00_setup")
    assert folder == tmp_path / "out" / "00_setup" and folder.is_dir()
    monkeypatch.delenv("TINYVDM_OUTPUT")
    monkeypatch.setattr(figures_module, "_repo_root", lambda: tmp_path / "repo")
    assert output_dir("01_data") == tmp_path / "repo" / "outputs" / "01_data"
    monkeypatch.setattr(figures_module, "_repo_root", lambda: None)
    monkeypatch.chdir(tmp_path)
    assert output_dir("02_x").resolve() == (tmp_path / "outputs" / "02_x").resolve()
    for bad in ("", "../up", "a/b", ".hidden", 3):
        with pytest.raises(ValueError, match="chapter"):
            output_dir(bad)


def test_repo_root_is_the_checkout():
    root = figures_module._repo_root()
    assert root is not None and (root / "pyproject.toml").is_file()
    assert (root / "tinyvdm" / "viz" / "figures.py").is_file()


def test_savefig_writes_a_png_atomically(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYVDM_OUTPUT", str(tmp_path))
    fig = frame_grid(level_batch(1, 3))
    path = savefig(fig, "00_setup", "grid")
    assert path == tmp_path / "00_setup" / "grid.png"
    assert Image.open(path).format == "PNG"
    assert savefig(fig, "00_setup", "grid.png") == path
    assert no_temp_files(path.parent)
    with pytest.raises(ValueError, match="PNG"):
        savefig(fig, "00_setup", "grid.jpg")
    with pytest.raises(ValueError, match="Figure"):
        savefig("not a figure", "00_setup", "grid")


# --- widgets ---------------------------------------------------------------------------------


@pytest.fixture
def shown(monkeypatch):
    """Every call to IPython's display made by the widgets module."""
    calls = []

    def fake_display(*objs, **kwargs):
        calls.append((objs, kwargs))

    monkeypatch.setattr(widgets_module, "display", fake_display)
    return calls


def assert_widget_and_png(calls) -> dict:
    assert len(calls) == 1
    (bundle,), kwargs = calls[0]
    assert kwargs.get("raw") is True
    assert WIDGET_MIME in bundle and "model_id" in bundle[WIDGET_MIME]
    assert "text/plain" in bundle
    png = Image.open(io.BytesIO(base64.b64decode(bundle["image/png"])))
    assert png.format == "PNG" and png.size[0] > 10
    return bundle


def test_display_with_fallback_sends_one_bundle_with_both_views(shown):
    slider = widgets.IntSlider()
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    display_with_fallback(slider, fig)
    bundle = assert_widget_and_png(shown)
    assert bundle[WIDGET_MIME]["model_id"] == slider.model_id
    assert not plt.fignum_exists(fig.number)  # closed, so the notebook does not show it twice
    with pytest.raises(ValueError, match="Widget"):
        display_with_fallback("not a widget", Figure())


SIZE, T = 12, 4


def fake_item(offset: int = 0, caption: str | None = "a grey square moves right") -> dict:
    """A bouncing-shapes-like item: object 0 a grey 4x4 square moving right, object 1 absent."""
    video = -np.ones((T, 3, SIZE, SIZE), dtype=np.float32)
    masks = np.zeros((T, 2, SIZE, SIZE), dtype=bool)
    trajectory = np.zeros((T, 2, 2), dtype=np.float32)
    for k in range(T):
        x0, y0 = 1 + 2 * k + offset, 4
        video[k, :, y0 : y0 + 4, x0 : x0 + 4] = 0.0
        masks[k, 0, y0 : y0 + 4, x0 : x0 + 4] = True
        trajectory[k, 0] = (x0 + 2.0, y0 + 2.0)  # centre, continuous pixel coordinates
    masks[:, 1, :2, :2] = True  # stale mask of an absent object: must not be drawn
    item = {
        "video": torch.from_numpy(video),
        "present": torch.tensor([True, False]),
        "trajectory": torch.from_numpy(trajectory),
        "masks": torch.from_numpy(masks),
        "label": 3,  # ignored
    }
    if caption is not None:
        item["caption"] = caption
    return item


def decode_png(data) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(bytes(data))).convert("RGB"))


def test_overlay_tints_masked_pixels_only_for_present_objects():
    frame = np.full((4, 4, 3), 100, dtype=np.uint8)
    masks = np.zeros((2, 4, 4), dtype=bool)
    masks[0, 1:3, 1:3] = True
    masks[1, 0, 0] = True
    out = overlay_frame(frame, scale=3, masks=masks, present=np.array([True, False]))
    assert out.shape == (12, 12, 3)
    interior = out[4, 4].astype(int)  # inside object 0, not on its outline
    expected = np.rint(0.55 * 100 + 0.45 * OBJECT_COLOURS[0]).astype(int)
    assert np.abs(interior - expected).max() <= 1
    assert (out[3, 3] == OBJECT_COLOURS[0]).all()  # outline, full colour
    assert (out[0, 0] == 100).all()  # absent object 1: untouched
    assert (out[11, 11] == 100).all()


def test_dataset_browser_draws_overlays_and_follows_the_sliders(shown):
    data = [fake_item(0), fake_item(1, caption="second <clip>")]
    browser = DatasetBrowser(data, scale=2)
    masked, outside = (5 * 2 + 1, 2 * 2 + 1), (0, 2 * SIZE - 1)  # (row, col) on screen
    with_masks = browser.frame_image()
    assert with_masks.shape == (2 * SIZE, 2 * SIZE, 3)
    browser.masks_box.value = False
    browser.trajectory_box.value = False
    plain = browser.frame_image()
    assert not (with_masks[masked] == plain[masked]).all()  # the masked pixel is tinted
    assert (with_masks[outside] == plain[outside]).all()
    assert (plain[masked] == 128).all() and (plain[:4, :4] == 0).all()  # absent object ignored
    # the image widget always shows what frame_image() draws
    assert (decode_png(browser.image.value) == plain).all()
    browser.trajectory_box.value = True
    browser.frame_slider.value = 2
    with_path = decode_png(browser.image.value)
    # frame 2: centre (7, 6) in pixels -> screen pixel (row 11, col 13), the current dot
    assert (with_path[11, 13] == OBJECT_COLOURS[0]).all()
    assert (with_path[11, 5] == OBJECT_COLOURS[0]).all()  # frame 0's centre (3, 6): the path
    assert (with_path == browser.frame_image()).all()
    assert not (with_path == plain).all()
    # a new sample: new caption (escaped), same frame
    assert "grey square" in browser.caption_label.value
    browser.sample_slider.value = 1
    assert browser.caption_label.value == "second &lt;clip&gt;"
    assert browser.frame_slider.value == 2 and browser.frame_slider.max == T - 1
    fig = browser.static_figure()
    assert isinstance(fig, Figure)
    assert "second <clip>" in fig.axes[0].get_title(loc="left")
    assert len(fig.axes[0].get_xticklabels()) == T
    browser.show()
    assert_widget_and_png(shown)


def test_dataset_browser_hides_controls_for_plain_videos(shown):
    data = [{"video": torch.zeros(T, 1, SIZE, SIZE)}, torch.zeros(T, 3, SIZE, SIZE)]
    browser = DatasetBrowser(data, scale=1)
    for control in (browser.masks_box, browser.trajectory_box, browser.caption_label):
        assert control.layout.display == "none"
    assert browser.frame_image().shape == (SIZE, SIZE, 3)
    browser.sample_slider.value = 1
    assert isinstance(browser.static_figure(max_frames=2), Figure)
    browser._ipython_display_()
    assert_widget_and_png(shown)


def test_dataset_browser_rejects_bad_items():
    with pytest.raises(ValueError, match="empty"):
        DatasetBrowser([])
    with pytest.raises(ValueError, match=r"\(t, c, h, w\)"):
        DatasetBrowser([{"video": torch.zeros(2, T, 3, SIZE, SIZE)}])
    item = fake_item()
    item["masks"] = item["masks"][:, :, :5]
    with pytest.raises(ValueError, match=rf"\({T}, objects, {SIZE}, {SIZE}\)"):
        DatasetBrowser([item])
    with pytest.raises(ValueError, match="scale"):
        DatasetBrowser([fake_item()], scale=0)


def test_frame_scrubber_follows_its_slider(shown):
    batch = level_batch(3, 4, h=5, w=6)
    scrubber = FrameScrubber(batch, scale=2, titles=["a", "b", "c"])
    assert scrubber.frame_image().shape == (10, 3 * (6 * 2 + 1) - 1, 3)
    first = bytes(scrubber.image.value)
    scrubber.frame_slider.value = 3
    assert bytes(scrubber.image.value) != first
    shown_now = decode_png(scrubber.image.value)
    assert (shown_now == scrubber.frame_image()).all()
    assert shown_now[0, 0, 0] == expected_level(batch, 0, 3)
    assert scrubber.play.max == 3
    fig = scrubber.static_figure()
    assert isinstance(fig, Figure)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b", "c"]
    scrubber.show()
    assert_widget_and_png(shown)


def test_dataset_browser_on_bouncing_shapes(shown):
    try:
        from tinyvdm.data import BouncingShapes
    except ImportError as error:  # the data package is written separately
        pytest.skip(f"tinyvdm.data.BouncingShapes is not importable: {error}")
    data = BouncingShapes(3, seed=0)
    browser = DatasetBrowser(data, scale=2)
    item = data[0]
    assert browser.caption_label.value  # the dataset's caption is shown
    for control in (browser.masks_box, browser.trajectory_box):
        assert control.layout.display != "none"
    browser.masks_box.value = False
    browser.trajectory_box.value = False
    plain = browser.frame_image()
    browser.masks_box.value = True
    tinted = browser.frame_image()
    masks = np.asarray(item["masks"][0])[np.asarray(item["present"])].any(axis=0)
    changed = (tinted != plain).any(axis=-1)
    assert changed[::2, ::2][masks].any() and not changed[::2, ::2][~masks].any()
    browser.sample_slider.value = 2
    assert isinstance(browser.static_figure(), Figure)
    browser.show()
    assert_widget_and_png(shown)
