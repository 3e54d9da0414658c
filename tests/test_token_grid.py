import matplotlib
import numpy as np
import pytest
import torch

from tinyvdm.viz.token_grid import (
    TokenGridViewer,
    code_colours,
    code_usage,
    codebook_usage_figure,
    token_grid_figure,
    token_image,
)

matplotlib.use("Agg")
pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def grids_and_videos(n=3, t=4, k=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    grids = torch.randint(k, (n, t, 4, 4), generator=gen)
    grids[:, :, :2] = 0  # code 0 is the most used: the background
    videos = torch.rand(n, t, 3, 16, 16, generator=gen) * 2 - 1
    return grids, videos


def test_code_usage_counts_every_code():
    grids, _ = grids_and_videos()
    counts = code_usage(grids, 16)
    assert counts.shape == (16,) and int(counts.sum()) == grids.numel()
    for code in (0, 5, 15):
        assert int(counts[code]) == int((grids == code).sum())
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        code_usage(grids, 8)
    with pytest.raises(ValueError, match="int64"):
        code_usage(grids.float(), 16)


def test_colours_are_fixed_and_background_is_black():
    a, b = code_colours(32), code_colours(32, background=3)
    assert a.shape == (32, 3) and a.dtype == np.uint8
    assert np.array_equal(a[:3], b[:3]) and (b[3] == 0).all() and (a[3] > 0).any()
    assert len({tuple(c) for c in a}) > 28  # nearly all distinct
    with pytest.raises(ValueError, match="background"):
        code_colours(8, background=8)


def test_token_image_paints_codes_and_dims_all_but_the_highlight():
    colours = code_colours(4)
    grid = torch.tensor([[0, 1], [2, 1]])
    image = token_image(grid, colours)
    assert image.shape == (2, 2, 3)
    assert np.array_equal(image[0, 1], colours[1]) and np.array_equal(image[1, 0], colours[2])
    lit = token_image(grid, colours, highlight=1)
    assert np.array_equal(lit[0, 1], colours[1]) and np.array_equal(lit[1, 1], colours[1])
    assert np.array_equal(lit[0, 0], colours[0] // 4)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        token_image(torch.tensor([[4]]), colours)


def test_usage_figure_reports_perplexity_and_codes_used():
    counts = torch.tensor([10, 10, 10, 10, 0, 0, 0, 0])  # four codes equally: perplexity 4
    fig = codebook_usage_figure(counts)
    title = fig.axes[0].get_title()
    assert "4 of 8 codes used" in title and "perplexity 4" in title
    with pytest.raises(ValueError, match="positive sum"):
        codebook_usage_figure(torch.zeros(8))


def test_grid_figure_and_viewer():
    grids, videos = grids_and_videos()
    fig = token_grid_figure(videos, grids, 16, max_clips=2)
    assert len(fig.axes) == 2 * 2 * 4
    viewer = TokenGridViewer(videos, grids, 16, scale=2)
    image = viewer.image(1, 2)
    assert image.shape == (32, 2 * (16 + 2 + 16), 3)
    # The right half is the token grid upscaled: each token a 4 x 4 block (16 px / 4 tokens), then x2.
    right = image[:, 2 * 18:]
    colours = viewer.colours
    assert np.array_equal(right[0, 0], colours[int(grids[1, 2, 0, 0])])
    assert np.array_equal(right[-1, -1], colours[int(grids[1, 2, 3, 3])])
    assert viewer.background == 0 and (colours[0] == 0).all()
    viewer.code.value = 0
    assert "code 0 appears" in viewer.caption.value
    viewer.frame.value = 3
    assert "token frame 3" in viewer.caption.value
    with pytest.raises(ValueError, match="same number"):
        TokenGridViewer(videos[:2], grids, 16)
    with pytest.raises(ValueError, match=r"\(n, t', h', w'\)"):
        TokenGridViewer(videos, grids[0], 16)
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        TokenGridViewer(videos, grids, 8)
